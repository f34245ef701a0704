"""Kernel herding: the distance of each candidate to the herding target."""

import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True, nogil=True)
def herding_sq_dists(X, target, selected, out):
    """Squared distance of every unselected row to ``target``, in place.

    ``out[i] = ||target - X[i]||^2`` summed in float64 in feature order, and
    ``out[i] = inf`` where ``selected[i]`` is True, so ``argmin(out)`` is the
    nearest unselected row.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64, C-contiguous
    target : ndarray of shape (n_features,), float64
    selected : ndarray of shape (n_samples,), bool
    out : ndarray of shape (n_samples,), float64, filled in place
    """
    n_samples, n_features = X.shape
    for i in prange(n_samples):
        if selected[i]:
            out[i] = np.inf
            continue
        acc = 0.0
        for k in range(n_features):
            diff = target[k] - np.float64(X[i, k])
            acc += diff * diff
        out[i] = acc
