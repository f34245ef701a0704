"""Selectors leave torch's CPU thread count as the caller set it."""

import numpy as np
import pytest

from coreset3d import FacilityLocationRBF, KCenterGreedy, SeededGlobalSelector
from coreset3d.base import _torch_threads_kept
from coreset3d.metrics import signal_audit

torch = pytest.importorskip("torch")


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("make", [
    lambda: KCenterGreedy(60, random_state=0),
    lambda: SeededGlobalSelector(FacilityLocationRBF(), budget=60, k=0.5, random_state=0),
])
def test_fit_keeps_torch_threads(one_thread, make):
    # numba's parallel kernels share libgomp with torch and used to leave 2 here
    rng = np.random.RandomState(0)
    X = rng.randn(3000, 16).astype(np.float32)
    make().fit(X, np.arange(3000) % 4)
    assert torch.get_num_threads() == 1


def test_guard_restores_a_changed_count(one_thread):
    with _torch_threads_kept():
        torch.set_num_threads(2)
    assert torch.get_num_threads() == 1


def test_signal_audit_keeps_torch_threads(one_thread):
    # the embedding audit runs the same parallel RBF kernel outside any fit
    rng = np.random.RandomState(0)
    X = rng.randn(3000, 16).astype(np.float32)
    signal_audit(X, np.arange(3000) % 4, budget=60)
    assert torch.get_num_threads() == 1
