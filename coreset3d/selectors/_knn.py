"""The RBF kernel restricted to a k-nearest-neighbour graph, as a symmetric CSR matrix.

Neighbours come from an exact blocked search (small data) or from faiss's
inverted-file index (``IndexIVFFlat``, the ``scale`` extra). The choice of
faiss over pynndescent was made by measurement (``benchmarks/bench_knn.py``,
recorded in ``docs/benchmarks.md``).

Everything reads the embeddings through a :class:`~coreset3d._blocks.RowBlocks`
in row blocks, so a memmap, h5py or zarr array is never loaded whole (faiss
keeps its own float32 copy of the rows inside the index).
"""

import math

import numpy as np
from scipy import sparse

from .._blocks import RowBlocks
from .._kernels._sparse import (
    csr_fl_gains,
    csr_fl_update,
    csr_lazy_greedy,
    csr_stochastic_steps,
)
from ._similarity import median_sigma, power_of_two_scale, rbf_gamma, unit_rows

__all__ = ["EXACT_MAX_ROWS", "TransformedRows", "exact_neighbors", "faiss_neighbors",
           "knn_kernel", "knn_rbf_graph", "sparse_greedy"]

#: knn_algorithm="auto" searches exactly up to this many rows, with faiss above.
EXACT_MAX_ROWS = 10_000


class TransformedRows:
    """Row blocks of X after the selector's preprocessing (L2 rows, or X / scale)."""

    def __init__(self, rows, *, normalize, scale=1.0):
        self.rows = rows if isinstance(rows, RowBlocks) else RowBlocks(rows)
        self.shape, self.dtype = self.rows.shape, self.rows.dtype
        self.normalize = normalize
        self.scale = self.dtype.type(scale)

    def _apply(self, block):
        return unit_rows(block) if self.normalize else block / self.scale

    def blocks(self, block_rows=None):
        for start, block in self.rows.blocks(block_rows):
            yield start, self._apply(block)

    def take(self, rows):
        return self._apply(self.rows.take(rows))


def _top_k(d2, idx, k):
    """The k smallest of each row of ``d2`` with their ``idx``, sorted by (distance, index)."""
    if d2.shape[1] > k:
        part = np.argpartition(d2, k - 1, axis=1)[:, :k]
        d2, idx = np.take_along_axis(d2, part, 1), np.take_along_axis(idx, part, 1)
    order = np.lexsort((idx, d2), axis=1)
    return np.take_along_axis(d2, order, 1), np.take_along_axis(idx, order, 1)


def exact_neighbors(data, k, query_rows=1024):
    """Exact k nearest neighbours of every row (itself excluded), by blocked brute force.

    Squared distances are ``|q|^2 + |x|^2 - 2 q.x`` in float64, clamped at 0.
    Every query block reads all of ``data`` once, so the cost is
    ``O(n^2 d)``: meant for ``n`` up to about 10^4 or for checking.

    Returns
    -------
    neighbors : ndarray of shape (n, k), int64, nearest first
    sq_dists : ndarray of shape (n, k), float64
    """
    n = data.shape[0]
    query_rows = min(query_rows, data.rows.block_rows)
    data_rows = min(data.rows.block_rows, max(1, 2**20 // query_rows))  # 8 MiB of float64
    neighbors = np.empty((n, k), dtype=np.int64)
    sq_dists = np.empty((n, k), dtype=np.float64)
    for q0, Q in data.blocks(query_rows):
        Q = Q.astype(np.float64)  # a copy: never the same operand twice in a product
        sq_q = np.einsum("ij,ij->i", Q, Q)
        m = Q.shape[0]
        best_d = np.full((m, 0), np.inf)
        best_i = np.empty((m, 0), dtype=np.int64)
        for d0, D in data.blocks(data_rows):
            D = D.astype(np.float64)
            d2 = sq_q[:, None] + np.einsum("ij,ij->i", D, D)[None, :] - 2.0 * (Q @ D.T)
            np.maximum(d2, 0.0, out=d2)
            own = np.arange(max(q0, d0), min(q0 + m, d0 + D.shape[0]))
            d2[own - q0, own - d0] = np.inf  # a row is not its own neighbour
            cols = np.broadcast_to(np.arange(d0, d0 + D.shape[0], dtype=np.int64), d2.shape)
            best_d, best_i = _top_k(np.hstack([best_d, d2]), np.hstack([best_i, cols]), k)
        neighbors[q0 : q0 + m], sq_dists[q0 : q0 + m] = best_i, best_d
    return neighbors, sq_dists


def _import_faiss():
    try:
        import faiss
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "FacilityLocationRBF(similarity='knn') uses faiss for approximate neighbours "
            f"above {EXACT_MAX_ROWS} rows (knn_algorithm='auto') or with "
            "knn_algorithm='approximate'; install it with pip install 'coreset3d[scale]' "
            "(faiss-cpu), or pass knn_algorithm='exact'."
        ) from exc
    return faiss


def ivf_settings(n):
    """Inverted lists, lists probed per query and training rows for ``n`` rows.

    About ``2 sqrt(n)`` lists (each about ``sqrt(n) / 2`` rows), 8 of them
    probed: recall@20 of 0.99 on the benchmark mixture at 10^5 rows.
    """
    nlist = max(1, min(int(2 * math.sqrt(n)), n // 40))
    return nlist, min(nlist, 8), min(n, 40 * nlist)


def faiss_neighbors(data, k, random_state):
    """Approximate k nearest neighbours of every row (itself excluded) with faiss IVF-Flat.

    The coarse quantiser is trained (k-means, 10 iterations, seeded from
    ``random_state``) on a random sample of rows; rows are added and
    searched block by block in float32. A row whose probed lists hold fewer
    than ``k`` other rows gets ``-1`` in its missing places.

    Returns
    -------
    neighbors : ndarray of shape (n, k), int64, nearest first (-1: none)
    sq_dists : ndarray of shape (n, k), float64 (inf where none)
    """
    faiss = _import_faiss()
    n, d = data.shape
    nlist, nprobe, n_train = ivf_settings(n)
    index = faiss.IndexIVFFlat(faiss.IndexFlatL2(d), d, nlist)
    index.cp.niter = 10
    index.cp.seed = int(random_state.randint(2**31 - 1))
    train = data.take(np.sort(random_state.choice(n, n_train, replace=False)))
    index.train(np.ascontiguousarray(train, dtype=np.float32))
    for _, block in data.blocks():
        index.add(np.ascontiguousarray(block, dtype=np.float32))
    index.nprobe = nprobe
    neighbors = np.empty((n, k), dtype=np.int64)
    sq_dists = np.empty((n, k), dtype=np.float64)
    for start, block in data.blocks():
        dist, idx = index.search(np.ascontiguousarray(block, dtype=np.float32), k + 1)
        own = np.arange(start, start + block.shape[0])[:, None]
        drop = (idx == own) | (idx < 0)
        keep = np.argsort(drop, axis=1, kind="stable")[:, :k]  # itself and misses last
        idx, dist = np.take_along_axis(idx, keep, 1), np.take_along_axis(dist, keep, 1)
        missing = np.take_along_axis(drop, keep, 1)
        idx[missing], dist[missing] = -1, np.inf
        neighbors[start : start + block.shape[0]] = idx
        sq_dists[start : start + block.shape[0]] = np.maximum(dist, 0.0)
    return neighbors, sq_dists


def knn_rbf_graph(neighbors, sq_dists, sigma, dtype):
    """The symmetric sparse RBF kernel on a neighbour graph, with unit diagonal.

    ``K[i, j] = exp(-||x_i - x_j||^2 / (2 sigma^2))`` where ``j`` is among the
    neighbours of ``i`` or ``i`` among those of ``j`` (the union: the kernel
    stays symmetric, as the dense one is), ``K[i, i] = 1``, and 0 elsewhere.

    Parameters
    ----------
    neighbors : ndarray of shape (n, k), int, -1 for none
    sq_dists : ndarray of shape (n, k), squared distances of those pairs
    sigma : float
    dtype : numpy dtype of the stored similarities

    Returns
    -------
    K : scipy.sparse.csr_matrix of shape (n, n), sorted indices
    """
    n = neighbors.shape[0]
    gamma = float(rbf_gamma(sigma, np.dtype(np.float64)))
    valid = neighbors >= 0
    rows = np.concatenate([np.nonzero(valid)[0], np.arange(n)])
    cols = np.concatenate([neighbors[valid], np.arange(n)])
    values = np.concatenate([np.exp(-gamma * sq_dists[valid]), np.ones(n)]).astype(dtype)
    K = sparse.csr_matrix((values, (rows, cols)), shape=(n, n))
    K.sum_duplicates()
    K = K.maximum(K.T.tocsr()).tocsr()
    K.sort_indices()
    return K


def knn_kernel(rows, *, n_neighbors, sigma, normalize, algorithm, random_state):
    """The kNN RBF kernel of FacilityLocationRBF(similarity="knn") and its bandwidth.

    Rows are preprocessed as for the dense kernel (L2-normalised, or divided
    by an exact power of two near ``max |X|``); sigma="median" is estimated
    on the same random rows as there.

    Returns
    -------
    K : scipy.sparse.csr_matrix of shape (n, n), in the dtype of ``rows``
    sigma : float
        The bandwidth on the scale of X.
    """
    n = rows.shape[0]
    scale = 1.0
    if not normalize:
        scale = power_of_two_scale(np.array([rows.validate().abs_max]))
    data = TransformedRows(rows, normalize=normalize, scale=scale)
    if sigma == "median":
        sample = np.arange(n)
        if n > 2000:
            sample = np.sort(random_state.choice(n, 2000, replace=False))
        sigma = median_sigma(data.take(sample), random_state) * scale
    sigma = float(sigma)
    if algorithm == "auto":
        algorithm = "exact" if n <= EXACT_MAX_ROWS else "approximate"
    if algorithm == "exact":
        neighbors, sq_dists = exact_neighbors(data, n_neighbors)
    else:
        neighbors, sq_dists = faiss_neighbors(data, n_neighbors, random_state)
    return knn_rbf_graph(neighbors, sq_dists, sigma / scale, rows.dtype), sigma


# ------------------------------------------------------------------ greedy on the CSR kernel
def sparse_greedy(K, best, candidates, n_new, *, optimizer, random_state, epsilon):
    """Facility-location greedy on a CSR kernel; ``best`` is updated in place.

    Returns the ``n_new`` picks and their gains (lists). "lazy" and "naive"
    give the same picks; "stochastic" scores ``ceil(n / n_new * log(1 /
    epsilon))`` random candidates per step (Mirzasoleiman et al. 2015).
    """
    args = (K.indptr, K.indices, K.data, best)
    candidates = candidates.astype(np.int64)
    order, gains = np.empty(n_new, dtype=np.int64), np.empty(n_new)
    if optimizer == "lazy":
        first = np.empty(candidates.shape[0])
        csr_fl_gains(*args, candidates, first)
        csr_lazy_greedy(*args, candidates, first, n_new, order, gains)
    elif optimizer == "naive":
        remaining = np.ones(candidates.shape[0], dtype=bool)
        step_gains = np.empty(candidates.shape[0])
        for step in range(n_new):
            csr_fl_gains(*args, candidates, step_gains)
            step_gains[~remaining] = -np.inf
            k = int(np.argmax(step_gains))  # first maximum: ties go to the lower row
            remaining[k] = False
            order[step], gains[step] = candidates[k], step_gains[k]
            csr_fl_update(*args, candidates[k])
    else:
        n_sample = min(candidates.shape[0], math.ceil(candidates.shape[0] / n_new
                                                      * math.log(1 / epsilon)))
        pool, n_pool = candidates.copy(), candidates.shape[0]
        chunk = max(1, 2**22 // n_sample)  # steps whose random numbers are drawn at once
        for s0 in range(0, n_new, chunk):
            s1 = min(s0 + chunk, n_new)
            uniforms = random_state.random_sample((s1 - s0, n_sample))
            n_pool = csr_stochastic_steps(*args, pool, n_pool, uniforms, order[s0:s1],
                                          gains[s0:s1])
    return order.tolist(), gains.tolist()
