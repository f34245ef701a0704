"""RBF similarity blocks and facility-location gains."""

import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=True, nogil=True)
def rbf_from_dot(block, sq_rows, sq_cols, gamma):
    """Turn a block of dot products into RBF similarities, in place.

    ``block[r, i] = exp(-gamma * max(sq_rows[r] + sq_cols[i] - 2 block[r, i], 0))``
    where ``sq_*`` are squared row norms. The clamp removes the small negative
    squared distances that cancellation leaves between near-identical rows.
    """
    n_rows, n_cols = block.shape
    for r in prange(n_rows):
        for i in range(n_cols):
            d2 = sq_rows[r] + sq_cols[i] - 2.0 * block[r, i]
            if d2 < 0.0:
                d2 = 0.0
            block[r, i] = np.exp(-gamma * d2)


@njit(parallel=True, cache=True, nogil=True)
def fl_gains(rows, best, out):
    """Facility-location marginal gains of candidate rows.

    ``out[r] = sum_i max(rows[r, i] - best[i], 0)``: how much adding the
    candidate whose similarity row is ``rows[r]`` raises
    ``F(S) = sum_i max_{j in S} K(i, j)`` when ``best[i] = max_{j in S} K(i, j)``.
    Sums run in float64 in a fixed order, so a candidate's gain is the same
    bit for bit wherever it is computed (the lazy and naive greedy agree).
    """
    for r in prange(rows.shape[0]):
        total = 0.0
        for i in range(rows.shape[1]):
            diff = np.float64(rows[r, i]) - np.float64(best[i])
            if diff > 0.0:
                total += diff
        out[r] = total


@njit(cache=True, nogil=True)
def fl_gain(row, best):
    """Gain of one candidate row; the serial twin of :func:`fl_gains`."""
    total = 0.0
    for i in range(row.shape[0]):
        diff = np.float64(row[i]) - np.float64(best[i])
        if diff > 0.0:
            total += diff
    return total


@njit(cache=True, nogil=True)
def fl_update(row, best):
    """Add a facility: ``best = max(best, row)`` in place; return the gain."""
    total = 0.0
    for i in range(row.shape[0]):
        diff = np.float64(row[i]) - np.float64(best[i])
        if diff > 0.0:
            total += diff
            best[i] = row[i]
    return total
