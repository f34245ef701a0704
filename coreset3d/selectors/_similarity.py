"""RBF similarity rows on demand, under a memory budget.

Everything here multiplies two distinct arrays (``X[rows] @ X.T`` with
``X[rows]`` a fancy-indexed copy). numpy hands ``X @ X.T`` to a symmetric
BLAS routine that, in some OpenBLAS builds, crashes or returns wrong numbers
on large matrices; ``tests/test_similarity.py`` guards the blocked path.
"""

import os
import re

import numpy as np
from scipy.spatial.distance import pdist

from .._kernels._rbf import fl_gains, rbf_from_dot

__all__ = ["RBFRows", "median_sigma", "parse_memory", "rbf_similarity"]

_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def parse_memory(max_memory):
    """Bytes from an int, a size string ("512MiB", "4GB") or "auto" (20 % of RAM)."""
    if isinstance(max_memory, str):
        text = max_memory.strip().lower()
        if text == "auto":
            try:
                total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
            except (ValueError, OSError, AttributeError):
                total = 8 * 2**30
            return int(0.2 * total)
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
    rbf_from_dot(block, sq[rows], sq, X.dtype.type(1.0 / (2.0 * sigma**2)))
    return block


class RBFRows:
    """Similarity rows of an RBF kernel, cached under a memory budget.

    The first pass (:meth:`initial_gains`) computes every row once, in blocks,
    to get each candidate's first gain, and keeps the rows of the candidates
    with the highest gains, as many as ``max_memory`` holds: those are the
    rows the greedy asks for again. Other rows are recomputed when asked.
    With enough memory the whole kernel is kept and nothing is recomputed.
    """

    def __init__(self, X, sigma, max_memory, block_bytes=64 * 2**20):
        self.X = np.ascontiguousarray(X)
        self.n = X.shape[0]
        self.dtype = X.dtype
        self.gamma = X.dtype.type(1.0 / (2.0 * sigma**2))
        self.sq = _sq_norms(self.X)
        row_bytes = self.n * self.dtype.itemsize
        self.block_rows = int(max(1, min(self.n, block_bytes // row_bytes)))
        work = 2 * self.block_rows * row_bytes
        self.capacity = int(min(self.n, max(0, (max_memory - work) // row_bytes)))
        self.cache = np.empty((self.capacity, self.n), dtype=self.dtype)
        self.slot = np.full(self.n, -1, dtype=np.intp)
        self.n_computed = 0

    @property
    def full(self):
        return self.capacity == self.n

    def compute(self, rows):
        """Similarity rows computed from X (never the cache)."""
        rows = np.asarray(rows, dtype=np.intp)
        block = self.X[rows] @ self.X.T  # X[rows] is a copy: distinct operands
        rbf_from_dot(block, self.sq[rows], self.sq, self.gamma)
        self.n_computed += rows.shape[0]
        return block

    def get(self, rows):
        """Similarity rows for ``rows``: from the cache where held, else computed."""
        rows = np.asarray(rows, dtype=np.intp)
        slots = self.slot[rows]
        if np.all(slots >= 0):
            return self.cache[slots]
        out = np.empty((rows.shape[0], self.n), dtype=self.dtype)
        hit = slots >= 0
        out[hit] = self.cache[slots[hit]]
        miss = np.flatnonzero(~hit)
        for start in range(0, miss.shape[0], self.block_rows):
            part = miss[start : start + self.block_rows]
            out[part] = self.compute(rows[part])
        return out

    def row(self, j):
        """One similarity row, a view into the cache where held."""
        s = self.slot[j]
        if s >= 0:
            return self.cache[s]
        return self.compute(np.array([j]))[0]

    def initial_gains(self, best, candidates):
        """Gains of every candidate against ``best``; fills the cache as it goes."""
        gains = np.empty(candidates.shape[0], dtype=np.float64)
        cached_gain = np.empty(0)
        cached_rows = np.empty(0, dtype=np.intp)
        for start in range(0, candidates.shape[0], self.block_rows):
            rows = candidates[start : start + self.block_rows]
            block = self.compute(rows)
            fl_gains(block, best, gains[start : start + rows.shape[0]])
            if self.capacity == 0:
                continue
            cached_gain, cached_rows = self._keep_best(
                block, rows, gains[start : start + rows.shape[0]], cached_gain, cached_rows
            )
        return gains

    def _keep_best(self, block, rows, gains, cached_gain, cached_rows):
        """Streaming top-capacity: keep the highest-gain rows seen so far."""
        n_cached = cached_rows.shape[0]
        free = self.capacity - n_cached
        if free >= rows.shape[0]:
            slots = np.arange(n_cached, n_cached + rows.shape[0])
            self.cache[slots] = block
            self.slot[rows] = slots
            return np.concatenate([cached_gain, gains]), np.concatenate([cached_rows, rows])
        all_gain = np.concatenate([cached_gain, gains])
        all_rows = np.concatenate([cached_rows, rows])
        # ties -> lower row index, so the cache content does not depend on blocking order
        keep = np.lexsort((all_rows, -all_gain))[: self.capacity]
        keep_mask = np.zeros(all_rows.shape[0], dtype=bool)
        keep_mask[keep] = True
        evicted = all_rows[:n_cached][~keep_mask[:n_cached]]
        freed = list(self.slot[evicted])
        self.slot[evicted] = -1
        empty = list(range(n_cached, self.capacity))
        for b in np.flatnonzero(keep_mask[n_cached:]):
            s = empty.pop() if empty else freed.pop()
            self.cache[s] = block[b]
            self.slot[rows[b]] = s
        return all_gain[keep_mask], all_rows[keep_mask]
