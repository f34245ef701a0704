"""Doctest collection settings for the package (pytest runs with --doctest-modules)."""

import sys

import pytest

collect_ignore = []
try:
    import torch  # noqa: F401
    import tqdm  # noqa: F401
except ImportError:
    # The optional extra is not installed: importing coreset3d.torch raises ImportError.
    collect_ignore.append("torch")
try:
    import dask.array  # noqa: F401
    import distributed  # noqa: F401
except ImportError:
    # Likewise for coreset3d.distributed without the "distributed" extra.
    collect_ignore.append("distributed")


@pytest.fixture(autouse=True)
def _torch_single_thread():
    """Tiny doctest models run faster on one thread than on shared, busy cores."""
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(1)
