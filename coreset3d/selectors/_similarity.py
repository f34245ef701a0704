"""RBF similarity rows on demand, under a memory budget.

Everything here multiplies two distinct arrays (``X[rows] @ X.T`` with
``X[rows]`` a fancy-indexed copy; tiles of the full kernel take disjoint row
ranges of X, or a copy on the diagonal). numpy hands ``X @ X.T`` to a
symmetric BLAS routine that, in some OpenBLAS builds, crashes or returns wrong
numbers on large matrices; ``tests/test_similarity.py`` guards the blocked
path.
"""

import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import get_num_threads
from scipy.spatial.distance import pdist
from threadpoolctl import ThreadpoolController

from .._kernels._rbf import (
    fl_gains,
    fl_gains_serial,
    mirror_tile,
    rbf_exponent,
    rbf_exponent_serial,
    rbf_exponent_tile,
)

#: Blocks smaller than this many entries run the serial kernels.
PARALLEL_MIN = 2**21
#: Bytes of one tile of the full-kernel build: it stays in a core's L2 cache from
#: the product through exp to its mirror.
TILE_BYTES = 2**20
#: Bytes of one block of similarity rows computed on the fly (at most).
ROW_BLOCK_BYTES = 64 * 2**20


def _threaded(parallel, serial, size):
    return parallel if size >= PARALLEL_MIN else serial


_blas = []  # one ThreadpoolController, made on first use (it scans the loaded libraries)


def _single_threaded_blas():
    if not _blas:
        _blas.append(ThreadpoolController())
    return _blas[0].limit(limits=1, user_api="blas")


def _run_tasks(task, items, size):
    """``task(item)`` for every item, on numba's thread count when ``size`` entries are many.

    Each thread takes the next item when it is done with one (sizes may vary);
    BLAS runs single-threaded meanwhile, so the threads neither oversubscribe
    the cores nor wait for BLAS threads that spin. The first error is re-raised.
    """
    n_threads = min(get_num_threads(), len(items)) if size >= PARALLEL_MIN else 1
    if n_threads <= 1:
        for item in items:
            task(item)
        return
    queue, lock = iter(items), threading.Lock()

    def worker():
        while True:
            with lock:
                item = next(queue, None)
            if item is None:
                return
            task(item)

    with _single_threaded_blas(), ThreadPoolExecutor(n_threads - 1) as pool:
        others = [pool.submit(worker) for _ in range(n_threads - 1)]
        try:
            worker()
        finally:
            for future in others:
                future.result()

__all__ = ["RBFRows", "median_sigma", "parse_memory", "rbf_gamma", "rbf_similarity", "unit_rows"]

_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def parse_memory(max_memory):
    """Bytes from an int, a size string ("512MiB", "4GB") or "auto" (30 % of RAM)."""
    if isinstance(max_memory, str):
        text = max_memory.strip().lower()
        if text == "auto":
            try:
                total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
            except (ValueError, OSError, AttributeError):
                total = 8 * 2**30
            return int(0.3 * total)
        match = re.fullmatch(r"([0-9]*\.?[0-9]+)\s*([kmgt]i?b|b)?", text)
        if match is None:
            raise ValueError(
                f"max_memory={max_memory!r} is not a size; pass bytes as an int, a string "
                "such as '2GiB' or '500MB', or 'auto'."
            )
        return int(float(match.group(1)) * _UNITS[match.group(2) or ""])
    return int(max_memory)


def median_sigma(X, random_state, max_rows=2000):
    """Median heuristic: sigma = median pairwise Euclidean distance of the rows.

    On more than ``max_rows`` rows the median is taken over a random subset of
    ``max_rows`` of them (drawn from ``random_state``), which estimates it to
    about 1 % at a fraction of the cost.
    """
    if X.shape[0] > max_rows:
        X = X[np.sort(random_state.choice(X.shape[0], max_rows, replace=False))]
    if X.shape[0] < 2:
        return 1.0
    sigma = float(np.median(pdist(np.asarray(X, dtype=np.float64))))
    return sigma if sigma > 0 else 1.0


def unit_rows(X):
    """L2-normalised copy of ``X`` in its dtype; all-zero rows stay zero.

    Rows are divided by their largest entry first, so the squared norms can
    neither overflow nor underflow, in float32 too.
    """
    scale = np.abs(X).max(axis=1, keepdims=True)
    scale[scale == 0] = 1
    X = X / scale
    norms = np.sqrt(np.einsum("ij,ij->i", X, X, dtype=np.float64))[:, None]
    norms[norms == 0] = 1
    return (X / norms).astype(X.dtype, copy=False)


def power_of_two_scale(X):
    """A power of two near ``max |X|`` (1.0 for an all-zero X); dividing by it is exact."""
    top = float(np.abs(X).max()) if X.size else 0.0
    return 1.0 if top == 0 or not np.isfinite(top) else float(2.0 ** np.ceil(np.log2(top)))


def rbf_gamma(sigma, dtype):
    """``1 / (2 sigma^2)`` in ``dtype``, capped at its largest finite value.

    A sigma so small that gamma overflows means every distinct pair has
    similarity 0; the cap keeps ``gamma * 0 = 0`` on the diagonal (``inf * 0``
    would be nan).
    """
    sq = float(sigma) ** 2
    gamma = 0.5 / sq if sq > 0 else np.inf
    return dtype.type(min(gamma, float(np.finfo(dtype).max)))


def _sq_norms(X):
    return np.einsum("ij,ij->i", X, X, dtype=np.float64).astype(X.dtype)


def rbf_similarity(X, rows=None, *, sigma):
    """RBF similarities ``exp(-||x_r - x_i||^2 / (2 sigma^2))`` of some rows to all rows.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    rows : array-like of int, default=None
        Rows to compute (all when None).
    sigma : float
        Bandwidth.

    Returns
    -------
    K : ndarray of shape (len(rows), n_samples), in X's dtype.

    Examples
    --------
    >>> X = np.array([[0.0, 0.0], [1.0, 0.0]])
    >>> rbf_similarity(X, sigma=1.0).round(4)
    array([[1.    , 0.6065],
           [0.6065, 1.    ]])
    """
    X = np.ascontiguousarray(X)
    rows = np.arange(X.shape[0]) if rows is None else np.asarray(rows, dtype=np.intp)
    sq = _sq_norms(X)
    block = X[rows] @ X.T
    exponent = _threaded(rbf_exponent, rbf_exponent_serial, block.size)
    exponent(block, sq[rows], sq, rbf_gamma(sigma, X.dtype))
    return np.exp(block, out=block)


class RBFRows:
    """Similarity rows of an RBF kernel, cached under a memory budget.

    The first pass (:meth:`initial_gains`) computes every row once, in blocks,
    to get each candidate's first gain, and keeps the rows of the candidates
    with the highest gains, as many as ``max_memory`` holds: those are the
    rows the greedy asks for again. Other rows are recomputed when asked.
    With enough memory the whole kernel is kept and nothing is recomputed.
    """

    def __init__(self, X, sigma, max_memory, block_bytes=None):
        self.X = np.ascontiguousarray(X)
        self.n = X.shape[0]
        self.dtype = X.dtype
        self.gamma = rbf_gamma(sigma, X.dtype)
        self.sq = _sq_norms(self.X)
        row_bytes = self.n * self.dtype.itemsize
        if block_bytes is None:  # ROW_BLOCK_BYTES, or a quarter of the budget (at least a row)
            block_bytes = min(ROW_BLOCK_BYTES, max(row_bytes, max_memory // 4))
        self.block_rows = int(max(1, min(self.n, block_bytes // row_bytes)))
        side = int(np.sqrt(TILE_BYTES // self.dtype.itemsize)) // 16 * 16
        self.tile_rows = min(self.block_rows, side)  # tiles of build_full
        work = 2 * self.block_rows * row_bytes
        self.capacity = int(min(self.n, max(0, (max_memory - work) // row_bytes)))
        self.cache = np.empty((self.capacity, self.n), dtype=self.dtype)
        self.slot = np.full(self.n, -1, dtype=np.intp)  # row -> cache slot
        self.owner = np.full(self.capacity, -1, dtype=np.intp)  # cache slot -> row
        self.bound = np.full(self.n, -np.inf)  # last known gain of each row
        self.n_computed = 0

    @property
    def full(self):
        return self.capacity == self.n

    def compute(self, rows):
        """Similarity rows computed from X (never the cache)."""
        rows = np.asarray(rows, dtype=np.intp)
        block = self.X[rows] @ self.X.T  # X[rows] is a copy: distinct operands
        exponent = _threaded(rbf_exponent, rbf_exponent_serial, block.size)
        exponent(block, self.sq[rows], self.sq, self.gamma)
        self.n_computed += rows.shape[0]
        return np.exp(block, out=block)

    def build_full(self):
        """Compute the whole kernel into the cache, tile by tile below the diagonal.

        Each tile is a product of two distinct arrays written straight into the
        cache, turned into exponents, exponentiated and copied to its mirror
        tile above the diagonal while it is in cache; threads take tiles in turn.
        """
        K, X, sq, gamma, size = self.cache, self.X, self.sq, self.gamma, self.tile_rows
        starts = range(0, self.n, size)

        def tile(ij):
            i0, j0 = ij
            i1, j1 = min(i0 + size, self.n), min(j0 + size, self.n)
            part = K[i0:i1, j0:j1]
            # a copy on the diagonal: numpy sends X[a] @ X[a].T to the unsafe symmetric routine
            left = X[i0:i1].copy() if i0 == j0 else X[i0:i1]
            np.matmul(left, X[j0:j1].T, out=part)
            rbf_exponent_tile(K, i0, i1, j0, j1, sq, gamma)
            np.exp(part, out=part)
            if j0 < i0:
                mirror_tile(K, i0, i1, j0, j1)

        _run_tasks(tile, [(i, j) for i in starts for j in starts if j <= i], K.size)
        self.slot = np.arange(self.n)
        self.n_computed += self.n

    def get(self, rows):
        """Similarity rows for ``rows`` and a mask of those that were computed anew."""
        rows = np.asarray(rows, dtype=np.intp)
        slots = self.slot[rows]
        hit = slots >= 0
        if hit.all():
            return self.cache[slots], ~hit
        out = np.empty((rows.shape[0], self.n), dtype=self.dtype)
        out[hit] = self.cache[slots[hit]]
        miss = np.flatnonzero(~hit)
        for start in range(0, miss.shape[0], self.block_rows):
            part = miss[start : start + self.block_rows]
            out[part] = self.compute(rows[part])
        return out, ~hit

    def row(self, j):
        """One similarity row, a view into the cache where held."""
        s = self.slot[j]
        if s >= 0:
            return self.cache[s]
        return self.compute(np.array([j]))[0]

    def offer(self, rows, block, bounds):
        """Cache computed rows whose gain bound beats the weakest cached rows.

        ``bounds`` are the candidates' current gains (upper bounds on every
        later gain): the greedy re-scores high-bound candidates again and
        again, so those rows are the ones worth keeping.
        """
        if self.capacity == 0 or rows.shape[0] == 0:
            return
        self.bound[rows] = bounds
        owners = self.owner
        free = np.flatnonzero(owners < 0)
        order = np.argsort(-bounds, kind="stable")
        n_free = min(free.shape[0], order.shape[0])
        self._place(rows[order[:n_free]], block[order[:n_free]], free[:n_free])
        rest = order[n_free:][: self.capacity]
        if rest.shape[0] == 0:
            return
        # the strongest newcomers against the weakest residents, pair by pair
        weakest = np.argsort(self.bound[owners], kind="stable")[: rest.shape[0]]
        better = bounds[rest] > self.bound[owners[weakest]]
        if better.any():
            slots = weakest[better]
            self.slot[owners[slots]] = -1
            self._place(rows[rest[better]], block[rest[better]], slots)

    def release(self, j):
        """Free the slot of a row the greedy will not ask for again."""
        s = self.slot[j]
        self.bound[j] = -np.inf
        if s >= 0 and not self.full:
            self.slot[j] = -1
            self.owner[s] = -1

    def _place(self, rows, block, slots):
        self.cache[slots] = block
        self.slot[rows] = slots
        self.owner[slots] = rows

    def initial_gains(self, best, candidates):
        """Gains of every candidate against ``best``; fills the cache as it goes."""
        if self.full:
            gains = np.empty(self.n, dtype=np.float64)

            def rows(start):
                stop = min(start + self.tile_rows, self.n)
                fl_gains_serial(self.cache[start:stop], best, gains[start:stop])

            _run_tasks(rows, range(0, self.n, self.tile_rows), self.cache.size)
            return gains[candidates]
        gains = np.empty(candidates.shape[0], dtype=np.float64)
        for start in range(0, candidates.shape[0], self.block_rows):
            rows = candidates[start : start + self.block_rows]
            block = self.compute(rows)
            gains_of = _threaded(fl_gains, fl_gains_serial, block.size)
            gains_of(block, best, gains[start : start + rows.shape[0]])
            self.offer(rows, block, gains[start : start + rows.shape[0]])
        return gains
