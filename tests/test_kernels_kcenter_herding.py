"""The k-center and herding numba kernels against their pure-numpy twins."""

import numpy as np
import pytest

from coreset3d._kernels._herding import herding_sq_dists
from coreset3d._kernels._kcenter import kcenter_update


def kcenter_update_numpy(X, centers, min_sq):
    """Twin of ``kcenter_update``: differences in X's dtype, squares summed in float64."""
    diff = (X[:, None, :] - centers[None, :, :]).astype(np.float64)
    d2 = (diff**2).sum(axis=2).min(axis=1)
    return np.minimum(min_sq, d2)


def herding_sq_dists_numpy(X, target, selected):
    """Twin of ``herding_sq_dists``."""
    d2 = ((target[None, :] - X.astype(np.float64)) ** 2).sum(axis=1)
    return np.where(selected, np.inf, d2)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("block_size", [1, 3, 7, 1024])
@pytest.mark.parametrize("n_centers", [1, 4])
def test_kcenter_update_matches_numpy(dtype, block_size, n_centers):
    rng = np.random.RandomState(0)
    X = rng.randn(23, 9).astype(dtype)
    centers = rng.randn(n_centers, 9).astype(dtype)
    min_sq = rng.uniform(0, 30, size=23)
    min_sq[[2, 11]] = -1.0  # rows marked as selected keep their mark
    expected = kcenter_update_numpy(X, centers, min_sq)
    kcenter_update(X, centers, min_sq, block_size)
    np.testing.assert_allclose(min_sq, expected, rtol=1e-12, atol=0)
    assert min_sq[2] == min_sq[11] == -1.0
    assert ((min_sq > 0) & (min_sq < 30)).sum() >= 5  # both branches of the min were taken


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kcenter_update_from_inf_is_the_nearest_center(dtype):
    rng = np.random.RandomState(1)
    X = rng.randn(40, 5).astype(dtype)
    centers = X[[3, 17, 30]]
    min_sq = np.full(40, np.inf)
    kcenter_update(X, centers, min_sq, 8)
    np.testing.assert_allclose(min_sq, kcenter_update_numpy(X, centers, np.full(40, np.inf)),
                               rtol=1e-12, atol=0)
    assert min_sq[[3, 17, 30]].tolist() == [0.0, 0.0, 0.0]


def test_kcenter_update_takes_differences_in_xs_dtype():
    # 2**24 - 0.5 is not a float32 number: the float32 difference rounds to 2**24.
    X = np.array([[2.0**24]], dtype=np.float32)
    centers = np.array([[0.5]], dtype=np.float32)
    min_sq = np.array([np.inf])
    kcenter_update(X, centers, min_sq, 4)
    assert min_sq[0] == 2.0**48
    min_sq[0] = np.inf
    kcenter_update(X.astype(np.float64), centers.astype(np.float64), min_sq, 4)
    assert min_sq[0] == (2.0**24 - 0.5) ** 2


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_herding_sq_dists_matches_numpy(dtype):
    rng = np.random.RandomState(2)
    X = rng.randn(31, 6).astype(dtype)
    target = rng.randn(6)
    selected = np.zeros(31, dtype=bool)
    selected[[0, 5, 30]] = True
    out = np.full(31, -7.0)
    herding_sq_dists(X, target, selected, out)
    expected = herding_sq_dists_numpy(X, target, selected)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=0)
    assert np.isinf(out[[0, 5, 30]]).all()
    assert np.isfinite(np.delete(out, [0, 5, 30])).all()


def test_herding_sq_dists_keeps_the_float64_target():
    # The target is not rounded to X's dtype: 0.1 is not a float32 number.
    X = np.array([[0.0]], dtype=np.float32)
    out = np.empty(1)
    herding_sq_dists(X, np.array([0.1]), np.zeros(1, dtype=bool), out)
    assert out[0] == 0.1 * 0.1
