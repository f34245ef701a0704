"""Doctest collection settings for the package (pytest runs with --doctest-modules)."""

import importlib.util
import sys

import pytest

if importlib.util.find_spec("torch") is None or importlib.util.find_spec("tqdm") is None:
    # The optional extra is not installed: importing coreset3d.torch raises ImportError.
    collect_ignore = ["torch"]


@pytest.fixture(autouse=True)
def _torch_single_thread():
    """Tiny doctest models run faster on one thread than on shared, busy cores."""
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
