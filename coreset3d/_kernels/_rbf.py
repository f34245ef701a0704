"""RBF similarity blocks, facility-location gains and the dense lazy greedy.

Gains are sums of many small terms that feed an argmax, so their order of
summation is fixed here (eight interleaved float64 partial sums, combined
pairwise), not left to the compiler: a candidate's gain is the same bit for
bit wherever it is computed, and the lazy and naive greedy agree exactly.
"""

import heapq

import numpy as np
from numba import njit, prange


def _rbf_exponent(block, sq_rows, sq_cols, gamma):
    """Turn dot products into RBF exponents, in place (``exp`` is applied after).

    ``block[r, i] = -gamma * max(sq_rows[r] + sq_cols[i] - 2 block[r, i], 0)``
    where ``sq_*`` are squared row norms. The clamp removes the small negative
    squared distances that cancellation leaves between near-identical rows.
    """
    n_rows, n_cols = block.shape
    for r in prange(n_rows):
        for i in range(n_cols):
            d2 = sq_rows[r] + sq_cols[i] - 2.0 * block[r, i]
            block[r, i] = -gamma * max(d2, 0.0)


# Each parallel kernel has a serial twin for small arrays: waking the thread pool
# costs more than the work, and a parallel region right after a BLAS call competes
# with BLAS threads that are still spinning.
rbf_exponent = njit(parallel=True, cache=True, nogil=True)(_rbf_exponent)
rbf_exponent_serial = njit(cache=True, nogil=True)(_rbf_exponent)


def _mirror_lower(K, start, stop):
    """Copy ``K[start:stop, :start]`` to ``K[:start, start:stop]`` (transposed), by tiles."""
    tile = 64
    n_tiles = (start + tile - 1) // tile
    for t in prange(n_tiles):
        j0 = t * tile
        j1 = min(j0 + tile, start)
        for i in range(start, stop):
            for j in range(j0, j1):
                K[j, i] = K[i, j]


mirror_lower = njit(parallel=True, cache=True, nogil=True)(_mirror_lower)
mirror_lower_serial = njit(cache=True, nogil=True)(_mirror_lower)


@njit(cache=True, nogil=True, inline="always")
def _row_gain(row, best):
    # Eight partial sums in scalars (not an array: no allocation per call), so
    # the compiler can keep them in one vector register without reordering.
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = 0.0
    n = row.shape[0]
    n_main = n - n % 8
    for i in range(0, n_main, 8):
        a0 += max(np.float64(row[i]) - np.float64(best[i]), 0.0)
        a1 += max(np.float64(row[i + 1]) - np.float64(best[i + 1]), 0.0)
        a2 += max(np.float64(row[i + 2]) - np.float64(best[i + 2]), 0.0)
        a3 += max(np.float64(row[i + 3]) - np.float64(best[i + 3]), 0.0)
        a4 += max(np.float64(row[i + 4]) - np.float64(best[i + 4]), 0.0)
        a5 += max(np.float64(row[i + 5]) - np.float64(best[i + 5]), 0.0)
        a6 += max(np.float64(row[i + 6]) - np.float64(best[i + 6]), 0.0)
        a7 += max(np.float64(row[i + 7]) - np.float64(best[i + 7]), 0.0)
    tail = 0.0
    for i in range(n_main, n):
        tail += max(np.float64(row[i]) - np.float64(best[i]), 0.0)
    return (((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7))) + tail


@njit(cache=True, nogil=True)
def fl_gain(row, best):
    """Facility-location gain of one candidate: ``sum_i max(row[i] - best[i], 0)``.

    ``row[i] = K(i, j)`` for candidate ``j`` and ``best[i] = max_{s in S} K(i, s)``.
    """
    return _row_gain(row, best)


def _fl_gains(rows, best, out):
    """Gains of many candidate rows at once: ``out[r] = fl_gain(rows[r], best)``."""
    for r in prange(rows.shape[0]):
        out[r] = _row_gain(rows[r], best)


fl_gains = njit(parallel=True, cache=True, nogil=True)(_fl_gains)
fl_gains_serial = njit(cache=True, nogil=True)(_fl_gains)


@njit(cache=True, nogil=True)
def fl_update(row, best):
    """Add a facility: ``best = max(best, row)`` in place; return its gain."""
    gain = _row_gain(row, best)
    for i in range(row.shape[0]):
        if row[i] > best[i]:
            best[i] = row[i]
    return gain


@njit(cache=True, nogil=True)
def lazy_greedy_dense(K, best, candidates, first_gains, n_new, order, gains):
    """Lazy greedy facility location on a dense kernel held in memory.

    Heap entries are ``(-gain, row, step)``; an entry stamped with an earlier
    step is an upper bound (submodularity) and is re-scored before it may be
    picked. Ties go to the lower row, as in the naive greedy. Fills ``order``
    and ``gains`` (length ``n_new``) and updates ``best``; returns the number
    of gain evaluations.
    """
    heap = [(-first_gains[0], candidates[0], np.int64(0))]
    for c in range(1, candidates.shape[0]):
        heap.append((-first_gains[c], candidates[c], np.int64(0)))
    heapq.heapify(heap)
    n_evals = 0
    for step in range(n_new):
        while heap[0][2] != step:
            j = heapq.heappop(heap)[1]
            heapq.heappush(heap, (-_row_gain(K[j], best), j, np.int64(step)))
            n_evals += 1
        neg_gain, j, _ = heapq.heappop(heap)
        fl_update(K[j], best)
        order[step] = j
        gains[step] = -neg_gain
    return n_evals
