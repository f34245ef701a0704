"""Greedy k-center: the covering-distance update."""

import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True, nogil=True)
def kcenter_update(X, centers, min_sq, block_size):
    """Lower each row's squared distance to its nearest center, in place.

    ``min_sq[i] = min(min_sq[i], min_j ||X[i] - centers[j]||^2)``. The
    differences are taken in the dtype of ``X`` (float32 stays float32), the
    squares are summed in float64 in feature order, so a pair's distance is the
    same bit for bit whichever call computes it. Rows are processed in blocks
    of ``block_size`` (one block per parallel task, every center against the
    block while it is in cache); the result does not depend on ``block_size``.
    A row whose ``min_sq`` is negative (the caller's mark for "selected")
    keeps its value.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), C-contiguous
    centers : ndarray of shape (n_centers, n_features), same dtype as ``X``
    min_sq : ndarray of shape (n_samples,), float64, updated in place
    block_size : int >= 1
    """
    n_samples, n_features = X.shape
    n_blocks = (n_samples + block_size - 1) // block_size
    for b in prange(n_blocks):
        lo = b * block_size
        hi = min(lo + block_size, n_samples)
        for j in range(centers.shape[0]):
            for i in range(lo, hi):
                acc = 0.0
                for k in range(n_features):
                    diff = np.float64(X[i, k] - centers[j, k])
                    acc += diff * diff
                if acc < min_sq[i]:
                    min_sq[i] = acc
