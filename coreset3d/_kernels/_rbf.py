"""RBF similarity blocks, facility-location gains and the dense lazy greedy.

Gains are sums of many small terms that feed an argmax, so their order of
summation is fixed here, not left to the compiler: ``LANES`` float64 partial
sums (lane ``k`` adds terms ``k, k + LANES, k + 2 LANES, ...`` in order),
combined by halving, then the tail. A candidate's gain is the same bit for
bit wherever it is computed, and the lazy and naive greedy agree exactly.

No ``fastmath`` anywhere: the loops below are written so that LLVM's loop
vectoriser can run them on SIMD registers without reordering a single
floating-point operation (each vector lane is one of the partial sums, or one
independent entry). ``tests/test_kernels_rbf.py`` checks the packed
instructions on x86-64 and every kernel against its pure-numpy twin.
"""

import heapq
import types

import numpy as np
from numba import njit, prange

#: Partial sums of a gain. A constant trip count the vectoriser accepts (a
#: loop of 8 or 16 is unrolled into scalars first, and numba leaves the SLP
#: vectoriser off); 64 float64 lanes fill eight 512-bit or sixteen 256-bit
#: registers.
LANES = 64
#: Rows scored in one pass by ``_rows_gains`` (which spells out four of them): the
#: stale candidates the lazy greedy re-scores together, the row groups of fl_gains.
BATCH = 4


def _rbf_exponent(block, sq_rows, sq_cols, gamma):
    """Turn dot products into RBF exponents, in place (``exp`` is applied after).

    ``block[r, i] = -gamma * max(sq_rows[r] + sq_cols[i] - 2 block[r, i], 0)``
    where ``sq_*`` are squared row norms. The clamp removes the small negative
    squared distances that cancellation leaves between near-identical rows.
    """
    for r in prange(block.shape[0]):
        row = block[r]  # contiguous when block is: the inner loop vectorises
        s = sq_rows[r]
        for i in range(row.shape[0]):
            d2 = s + sq_cols[i] - 2.0 * row[i]
            row[i] = -gamma * max(d2, 0.0)


def _serial_twin(py_func):
    """A copy of ``py_func`` under its own name, for the serial build of a parallel kernel.

    numba names a cache file after the function and keys its entries by the
    signature and the bytecode, not by the jit options (numba issue 6845):
    ``njit(parallel=True)`` and ``njit()`` of one function shared an entry,
    and every later process loaded whichever build was cached first for both,
    so a "parallel" kernel ran serially or a serial one woke the thread pool.
    """
    twin = types.FunctionType(
        py_func.__code__, py_func.__globals__, py_func.__name__ + "_serial",
        py_func.__defaults__, py_func.__closure__,
    )
    twin.__qualname__ = py_func.__qualname__ + "_serial"
    twin.__doc__ = py_func.__doc__
    return twin


# Each parallel kernel has a serial twin for small arrays: waking the thread pool
# costs more than the work, and a parallel region right after a BLAS call competes
# with BLAS threads that are still spinning.
rbf_exponent = njit(parallel=True, cache=True, nogil=True)(_rbf_exponent)
rbf_exponent_serial = njit(cache=True, nogil=True)(_serial_twin(_rbf_exponent))


@njit(cache=True, nogil=True)
def rbf_exponent_tile(K, i0, i1, j0, j1, sq, gamma):
    """:func:`rbf_exponent` on the tile ``K[i0:i1, j0:j1]`` of a C-contiguous ``K``.

    ``sq`` holds the squared norms of all rows. Taking the whole ``K`` (not a
    strided view of the tile) lets each tile row be a contiguous slice.
    """
    sq_cols = sq[j0:j1]
    for r in range(i0, i1):
        row = K[r, j0:j1]
        s = sq[r]
        for i in range(row.shape[0]):
            d2 = s + sq_cols[i] - 2.0 * row[i]
            row[i] = -gamma * max(d2, 0.0)


@njit(cache=True, nogil=True)
def mirror_tile(K, i0, i1, j0, j1):
    """Copy the tile ``K[i0:i1, j0:j1]`` to ``K[j0:j1, i0:i1]``, transposed.

    The two tiles must not overlap. Sixteen source rows at a time: each
    destination row gets sixteen contiguous entries (one cache line of
    float32) from sixteen source lines that stay in L1 across the columns.
    """
    for r0 in range(i0, i1, 16):
        r1 = min(r0 + 16, i1)
        for c in range(j0, j1):
            dst = K[c, r0:r1]
            for k in range(dst.shape[0]):
                dst[k] = K[r0 + k, c]


@njit(cache=True, nogil=True, inline="always")
def _finish_gain(lanes, row, best, n_main):
    # the tail after the last full group of LANES, then the lanes halved pairwise
    tail = 0.0
    for i in range(n_main, row.shape[0]):
        tail += max(np.float64(row[i]) - np.float64(best[i]), 0.0)
    width = LANES
    while width > 1:
        width //= 2
        for k in range(width):
            lanes[k] += lanes[k + width]
    return lanes[0] + tail


@njit(cache=True, nogil=True, inline="always")
def _row_gain(row, best, acc):
    # ``acc`` is scratch of LANES float64. The inner loop over k runs in vector
    # registers, one partial sum per lane: the same operations in the same order
    # as the scalar loop it replaces.
    acc[:] = 0.0
    n_main = row.shape[0] - row.shape[0] % LANES
    for start in range(0, n_main, LANES):
        for k in range(LANES):
            acc[k] += max(np.float64(row[start + k]) - np.float64(best[start + k]), 0.0)
    return _finish_gain(acc, row, best, n_main)


@njit(cache=True, nogil=True, inline="always")
def _rows_gains(K, rows, best, acc, out):
    # The gains of rows rows[0..BATCH) of K, each summed exactly as _row_gain does
    # (acc: BATCH x LANES scratch), but the rows are read in one pass: a core keeps
    # several memory streams in flight at once, and one row alone is latency-bound.
    acc[:] = 0.0
    r0, r1, r2, r3 = K[rows[0]], K[rows[1]], K[rows[2]], K[rows[3]]
    a0, a1, a2, a3 = acc[0], acc[1], acc[2], acc[3]
    n_main = K.shape[1] - K.shape[1] % LANES
    for start in range(0, n_main, LANES):
        for k in range(LANES):
            b = np.float64(best[start + k])
            a0[k] += max(np.float64(r0[start + k]) - b, 0.0)
            a1[k] += max(np.float64(r1[start + k]) - b, 0.0)
            a2[k] += max(np.float64(r2[start + k]) - b, 0.0)
            a3[k] += max(np.float64(r3[start + k]) - b, 0.0)
    out[0] = _finish_gain(a0, r0, best, n_main)
    out[1] = _finish_gain(a1, r1, best, n_main)
    out[2] = _finish_gain(a2, r2, best, n_main)
    out[3] = _finish_gain(a3, r3, best, n_main)


@njit(cache=True, nogil=True)
def fl_gain(row, best):
    """Facility-location gain of one candidate: ``sum_i max(row[i] - best[i], 0)``.

    ``row[i] = K(i, j)`` for candidate ``j`` and ``best[i] = max_{s in S} K(i, s)``.
    """
    return _row_gain(row, best, np.empty(LANES))


def _fl_gains(rows, best, out):
    """Gains of many candidate rows at once: ``out[r] = fl_gain(rows[r], best)``."""
    n = rows.shape[0]
    for batch in prange((n + BATCH - 1) // BATCH):
        start = batch * BATCH
        m = min(BATCH, n - start)
        index = np.empty(BATCH, dtype=np.int64)
        for t in range(BATCH):
            index[t] = start + t if t < m else start  # a short batch repeats its first row
        fresh = np.empty(BATCH)
        _rows_gains(rows, index, best, np.empty((BATCH, LANES)), fresh)
        out[start : start + m] = fresh[:m]


fl_gains = njit(parallel=True, cache=True, nogil=True)(_fl_gains)
fl_gains_serial = njit(cache=True, nogil=True)(_serial_twin(_fl_gains))


@njit(cache=True, nogil=True, inline="always")
def _add_facility(row, best, acc):
    gain = _row_gain(row, best, acc)
    for i in range(row.shape[0]):
        best[i] = max(best[i], row[i])  # row[i] where it is larger: vectorises
    return gain


@njit(cache=True, nogil=True)
def fl_update(row, best):
    """Add a facility: ``best = max(best, row)`` in place; return its gain."""
    return _add_facility(row, best, np.empty(LANES))


@njit(cache=True, nogil=True)
def lazy_greedy_dense(K, best, candidates, first_gains, n_new, order, gains):
    """Lazy greedy facility location on a dense kernel held in memory.

    Heap entries are ``(-gain, row, step)``; an entry stamped with an earlier
    step is an upper bound (submodularity) and is re-scored before it may be
    picked. Ties go to the lower row, as in the naive greedy. Fills ``order``
    and ``gains`` (length ``n_new``) and updates ``best``; returns the number
    of gain evaluations.

    Up to ``BATCH`` stale entries from the top are re-scored together. Any
    re-scoring order gives the same picks: an entry is picked only when it
    is fresh and on top, so every other gain is at most its gain (ties to the
    lower row by the tuple order). The extra work is at most ``BATCH - 1``
    re-scores a step.
    """
    acc = np.empty((BATCH, LANES))
    rows = np.empty(BATCH, dtype=np.int64)
    fresh = np.empty(BATCH)
    heap = [(-first_gains[0], candidates[0], np.int64(0))]
    for c in range(1, candidates.shape[0]):
        heap.append((-first_gains[c], candidates[c], np.int64(0)))
    heapq.heapify(heap)
    n_evals = 0
    for step in range(n_new):
        while heap[0][2] != step:
            m = 0
            while m < BATCH and len(heap) > 0 and heap[0][2] != step:
                rows[m] = heapq.heappop(heap)[1]
                m += 1
            rows[m:] = rows[0]  # a short batch re-reads a row that is in cache
            _rows_gains(K, rows, best, acc, fresh)
            for t in range(m):
                heapq.heappush(heap, (-fresh[t], rows[t], np.int64(step)))
            n_evals += m
        neg_gain, j, _ = heapq.heappop(heap)
        _add_facility(K[j], best, acc[0])
        order[step] = j
        gains[step] = -neg_gain
    return n_evals
