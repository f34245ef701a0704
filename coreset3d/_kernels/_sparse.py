"""Facility location on a sparse (kNN) RBF kernel held as CSR arrays.

The kernel is symmetric, so row ``j`` of the CSR arrays lists the samples
that candidate ``j`` covers and the similarity of each. A gain is summed in
float64 in the stored (ascending column) order, one term at a time, so it is
the same bit for bit wherever it is computed: the naive, lazy and stochastic
greedy rank the same values.
"""

import heapq

import numpy as np
from numba import njit, prange


@njit(cache=True, nogil=True, inline="always")
def _csr_gain(indptr, indices, data, best, j):
    acc = 0.0
    for p in range(indptr[j], indptr[j + 1]):
        i = indices[p]
        acc += max(np.float64(data[p]) - np.float64(best[i]), 0.0)
    return acc


@njit(parallel=True, cache=True, nogil=True)
def csr_fl_gains(indptr, indices, data, best, rows, out):
    """Facility-location gains of candidate ``rows``: ``out[r] = sum_i max(K[j, i] - best[i], 0)``.

    Parameters
    ----------
    indptr, indices, data : the CSR arrays of the symmetric kernel (n x n)
    best : ndarray of shape (n,), the current coverage ``max_{s in S} K[i, s]``
    rows : ndarray of int64, the candidates ``j``
    out : ndarray of shape (len(rows),), float64, filled in place
    """
    for r in prange(rows.shape[0]):
        out[r] = _csr_gain(indptr, indices, data, best, rows[r])


@njit(cache=True, nogil=True)
def csr_fl_update(indptr, indices, data, best, j):
    """Add facility ``j``: ``best = max(best, K[j])`` in place; return its gain."""
    gain = _csr_gain(indptr, indices, data, best, j)
    for p in range(indptr[j], indptr[j + 1]):
        i = indices[p]
        if data[p] > best[i]:
            best[i] = data[p]
    return gain


@njit(cache=True, nogil=True)
def csr_lazy_greedy(indptr, indices, data, best, candidates, first_gains, n_new, order, gains):
    """Lazy greedy facility location on a CSR kernel.

    Heap entries are ``(-gain, row, step)``; an entry stamped with an earlier
    step is an upper bound (submodularity) and is re-scored before it may be
    picked. Ties go to the lower row, as in the naive greedy. Fills ``order``
    and ``gains`` (length ``n_new``), updates ``best``; returns the number of
    gain evaluations after the first pass.
    """
    heap = [(-first_gains[0], candidates[0], np.int64(0))]
    for c in range(1, candidates.shape[0]):
        heap.append((-first_gains[c], candidates[c], np.int64(0)))
    heapq.heapify(heap)
    n_evals = 0
    for step in range(n_new):
        while heap[0][2] != step:
            j = heapq.heappop(heap)[1]
            g = _csr_gain(indptr, indices, data, best, j)
            heapq.heappush(heap, (-g, j, np.int64(step)))
            n_evals += 1
        neg_gain, j, _ = heapq.heappop(heap)
        csr_fl_update(indptr, indices, data, best, j)
        order[step] = j
        gains[step] = -neg_gain
    return n_evals


@njit(cache=True, nogil=True)
def csr_stochastic_steps(indptr, indices, data, best, pool, n_pool, uniforms, order, gains):
    """Steps of the stochastic greedy on a CSR kernel; returns the pool size left.

    ``pool[:n_pool]`` holds the candidates not yet picked. Each step draws
    ``m = uniforms.shape[1]`` of them without replacement (a partial
    Fisher-Yates shuffle of the pool driven by the step's row of
    ``uniforms``, numbers in [0, 1) drawn by the caller), picks the one of
    highest gain (the first drawn among equals), and removes it from the
    pool. Fills ``order`` and ``gains`` (one entry per row of ``uniforms``).
    """
    m_max = uniforms.shape[1]
    for step in range(uniforms.shape[0]):
        m = min(m_max, n_pool)
        best_gain = -1.0
        best_pos = 0
        for t in range(m):
            k = t + int(uniforms[step, t] * (n_pool - t))
            k = min(k, n_pool - 1)
            pool[t], pool[k] = pool[k], pool[t]
            g = _csr_gain(indptr, indices, data, best, pool[t])
            if g > best_gain:
                best_gain = g
                best_pos = t
        j = pool[best_pos]
        csr_fl_update(indptr, indices, data, best, j)
        order[step] = j
        gains[step] = best_gain
        n_pool -= 1
        pool[best_pos] = pool[n_pool]
        pool[n_pool] = j
    return n_pool
