"""Facility location on an RBF kernel (FL-RBF), greedy."""

import heapq
import math
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions
from threadpoolctl import threadpool_limits

from .._blocks import RowBlocks
from .._kernels._rbf import fl_gains, fl_gains_serial, fl_update, lazy_greedy_dense
from .._kernels._sparse import csr_fl_update
from ..base import BaseSelector
from ._knn import knn_kernel, sparse_greedy
from ._similarity import (
    RBFRows,
    _threaded,
    median_sigma,
    parse_memory,
    power_of_two_scale,
    unit_rows,
)

__all__ = ["FacilityLocationRBF"]


class FacilityLocationRBF(BaseSelector):
    """Greedy facility location on an RBF kernel: coverage of the embedding space.

    Maximises ``F(S) = sum_i max_{j in S} K(x_i, x_j)`` with
    ``K(x, x') = exp(-||x - x'||^2 / (2 sigma^2))``: every sample should have
    a selected sample close to it. ``F`` is monotone submodular, so the greedy
    selection is within ``1 - 1/e`` of the best subset of its size.

    Parameters
    ----------
    budget : int or float, default=0.1
        Subset size: an int count or a float fraction in (0, 1].
    sigma : float or "median", default="median"
        RBF bandwidth. "median" sets it to the median pairwise Euclidean
        distance between rows (after normalisation), estimated on a random
        subset of 2,000 rows when there are more. The paper uses 0.5 on
        L2-normalised embeddings.
    normalize : bool, default=True
        L2-normalise rows before the kernel (the paper's setting).
    optimizer : {"lazy", "naive", "stochastic"}, default="lazy"
        "lazy": lazy greedy (Minoux 1978), the same ranking as "naive" at a
        fraction of the gain evaluations. "naive": every remaining gain at
        every step. "stochastic": stochastic greedy (Mirzasoleiman et al.
        2015), which scores a random sample of
        ``(n / budget) * log(1 / epsilon)`` candidates per step.
    epsilon : float, default=0.01
        Accuracy of the stochastic greedy, in (0, 1).
    similarity : {"dense", "knn"}, default="dense"
        "dense": the full RBF kernel. "knn": the RBF kernel restricted to a
        k-nearest-neighbour graph, ``K[i, j] = 0`` unless ``j`` is among the
        ``n_neighbors`` nearest rows of ``i`` or ``i`` among those of ``j``
        (the union keeps the kernel symmetric), with ``K[i, i] = 1``: memory
        and time grow about linearly in ``n`` instead of quadratically.
        X may then be a ``numpy.memmap``, h5py or zarr array: it is read in
        row blocks, never whole.
    n_neighbors : int, default=20
        Neighbours per row of the "knn" graph, itself excluded; below the
        number of rows. Ignored by "dense".
    knn_algorithm : {"auto", "exact", "approximate"}, default="auto"
        Neighbour search of the "knn" graph. "exact": blocked brute force,
        ``O(n^2 d)``. "approximate": faiss's inverted-file index
        (``IndexIVFFlat``, about ``2 sqrt(n)`` lists, 8 probed; the
        ``scale`` extra), which holds a float32 copy of the rows. "auto":
        exact up to 10,000 rows, approximate above. faiss was chosen over
        pynndescent by measurement (``benchmarks/bench_knn.py``): at
        10^5 x 128 it was faster (6.8 s against 10.1 s) at a higher
        recall@20 (0.994 against 0.989) with no numba compilation (about
        20 s in each new process); at 10^6 pynndescent was about 20 %
        faster at a recall of 0.85 against 0.80 (``docs/benchmarks.md``).
    max_memory : int, str or "auto", default="auto"
        Most bytes of kernel rows held at once by "dense" ("auto": 30 % of
        RAM, which holds the float32 kernel of 40,000 samples on a 24 GiB
        machine). When the ``n x n`` kernel fits, it is kept; otherwise the
        rows of the most promising candidates are kept and the others
        recomputed on demand.
    target_prior : {"empirical", "uniform"} or dict, default="empirical"
        Class prior that ``weights_`` steer toward (see :class:`BaseSelector`).
    random_state : int, RandomState instance or None, default=None
        Seed for the median estimate and the stochastic greedy.

    Attributes
    ----------
    sample_indices_ : ndarray of shape (n_selected_,)
        Selected rows in greedy order (warm-start rows first).
    gains_ : ndarray of shape (n_selected_,)
        Marginal gain of each pick; ``gains_.sum()`` is ``F(S)``.
    sigma_ : float
        Bandwidth used.
    n_kernel_rows_computed_ : int
        Kernel rows computed from X (n when the kernel fits in
        ``max_memory``; more when rows had to be recomputed; n for "knn").
    kernel_nnz_ : int
        Stored entries of the "knn" kernel, diagonal included (``n^2`` for
        "dense").
    weights_, n_selected_, n_samples_fit_, classes_, sampling_strategy_, n_features_in_
        See :class:`BaseSelector`.

    See Also
    --------
    KCenterGreedy : Minimax coverage instead of summed similarity.
    SeededGlobalSelector : Per-class floor before global selection.

    Notes
    -----
    A gain is ``O(n)`` given its kernel row; a row costs ``O(n d)``. The
    first pass computes all ``n`` rows once (``O(n^2 d)``, BLAS), the lazy
    greedy then re-scores few candidates per step, so time is about
    ``O(n^2 d + B r n)`` for ``r`` re-scores per step. Memory is
    ``min(n^2, max_memory)`` plus ``O(n d)``. Gains are summed in float64.

    With ``similarity="knn"`` a gain costs ``O(k)`` for the ``k`` (up to
    ``2 n_neighbors + 1``) stored entries of its row, the greedy
    ``O(n k + B r k)``, the approximate search about ``O(n^1.5 d)``; memory
    is ``O(n (d + k))``. ``benchmarks/bench_scale.py`` compares it with the
    dense greedy on the dense objective.

    References
    ----------
    .. [1] Exploring 3D Dataset Pruning, Sec. 3 (FL-RBF on teacher
       embeddings, sigma = 0.5 on normalised embeddings).
    .. [2] Mirzasoleiman et al., "Lazier than lazy greedy", AAAI 2015.

    Examples
    --------
    >>> import numpy as np
    >>> from coreset3d import FacilityLocationRBF
    >>> X = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]])
    >>> sel = FacilityLocationRBF(budget=2, sigma=1.0, normalize=False).fit(X)
    >>> sorted(sel.sample_indices_.tolist())
    [0, 2]
    """

    _parameter_constraints = {
        **BaseSelector._parameter_constraints,
        "sigma": [Interval(Real, 0, None, closed="neither"), StrOptions({"median"})],
        "normalize": ["boolean"],
        "optimizer": [StrOptions({"lazy", "naive", "stochastic"})],
        "epsilon": [Interval(Real, 0, 1, closed="neither")],
        "similarity": [StrOptions({"dense", "knn"})],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "knn_algorithm": [StrOptions({"auto", "exact", "approximate"})],
        "max_memory": [Interval(Integral, 1, None, closed="left"), str],
    }

    def __init__(
        self,
        budget=0.1,
        *,
        sigma="median",
        normalize=True,
        optimizer="lazy",
        epsilon=0.01,
        similarity="dense",
        n_neighbors=20,
        knn_algorithm="auto",
        max_memory="auto",
        target_prior="empirical",
        random_state=None,
    ):
        super().__init__(budget, target_prior=target_prior, random_state=random_state)
        self.sigma = sigma
        self.normalize = normalize
        self.optimizer = optimizer
        self.epsilon = epsilon
        self.similarity = similarity
        self.n_neighbors = n_neighbors
        self.knn_algorithm = knn_algorithm
        self.max_memory = max_memory

    def _accepts_blocks(self):
        return self.similarity == "knn"

    def _select(self, X, y, n_select, initial, random_state, **fit_params):
        if isinstance(self.sigma, Real) and not math.isfinite(self.sigma):
            raise ValueError(f"sigma={self.sigma!r} must be a finite float > 0 or 'median'.")
        if self.similarity == "knn":
            return self._select_knn(X, n_select, initial, random_state)
        max_memory = parse_memory(self.max_memory)
        if self.normalize:
            X, scale = unit_rows(X), 1.0
        else:
            # K depends on distances over sigma only: work on X / s with sigma / s, s a power
            # of two (exact), so squared norms and dot products stay inside X's dtype.
            scale = power_of_two_scale(X)
            X = X / X.dtype.type(scale)
        if self.sigma == "median":
            self.sigma_ = median_sigma(X, random_state) * scale
        else:
            self.sigma_ = float(self.sigma)

        kernel = RBFRows(X, self.sigma_ / scale, max_memory)
        if kernel.full:
            kernel.build_full()
        best = np.zeros(X.shape[0], dtype=X.dtype)
        order = list(initial.tolist())
        gains = [fl_update(kernel.row(j), best) for j in order]
        candidates = np.setdiff1d(np.arange(X.shape[0]), initial)
        n_new = n_select - len(order)
        if n_new > 0:
            pick = {"lazy": _lazy_greedy, "naive": _naive_greedy, "stochastic": _stochastic_greedy}
            new, new_gains = pick[self.optimizer](
                kernel, best, candidates, n_new, random_state=random_state, epsilon=self.epsilon
            )
            order += new
            gains += new_gains
        self.n_kernel_rows_computed_ = kernel.n_computed
        self.kernel_nnz_ = X.shape[0] ** 2
        return np.array(order, dtype=np.intp), np.array(gains)

    def _select_knn(self, X, n_select, initial, random_state):
        rows = X if isinstance(X, RowBlocks) else RowBlocks(X)
        n = rows.shape[0]
        if self.n_neighbors >= n:
            raise ValueError(
                f"n_neighbors={self.n_neighbors} must be below the number of rows of X, but "
                f"X has {n} sample{'s' if n != 1 else ''}; pass n_neighbors <= {n - 1} or "
                "similarity='dense'."
            )
        K, self.sigma_ = knn_kernel(
            rows, n_neighbors=self.n_neighbors, sigma=self.sigma, normalize=self.normalize,
            algorithm=self.knn_algorithm, random_state=random_state,
        )
        best = np.zeros(n, dtype=rows.dtype)
        order = initial.tolist()
        gains = [csr_fl_update(K.indptr, K.indices, K.data, best, j) for j in order]
        n_new = n_select - len(order)
        if n_new > 0:
            new, new_gains = sparse_greedy(
                K, best, np.setdiff1d(np.arange(n), initial), n_new,
                optimizer=self.optimizer, random_state=random_state, epsilon=self.epsilon,
            )
            order += new
            gains += new_gains
        self.n_kernel_rows_computed_ = n
        self.kernel_nnz_ = int(K.nnz)
        return np.array(order, dtype=np.intp), np.array(gains)


def _lazy_greedy(kernel, best, candidates, n_new, **_):
    """Lazy greedy with stale upper bounds in a heap of (-gain, row, step)."""
    first = kernel.initial_gains(best, candidates)
    if kernel.full:
        order, gains = np.empty(n_new, dtype=np.int64), np.empty(n_new)
        candidates = candidates.astype(np.int64)
        lazy_greedy_dense(kernel.cache, best, candidates, first, n_new, order, gains)
        return order.tolist(), gains.tolist()
    heap = [(-g, int(j), 0) for g, j in zip(first.tolist(), candidates.tolist(), strict=True)]
    heapq.heapify(heap)
    with threadpool_limits(limits=1, user_api="blas"):
        return _lazy_loop(kernel, best, heap, n_new)


def _lazy_loop(kernel, best, heap, n_new, batch=16):
    """The lazy greedy over a row cache: stale candidates re-scored in small batches.

    Called with BLAS limited to one thread: small products gain nothing from
    threads, and BLAS threads left spinning between calls starve the numba
    kernels that follow.
    """
    out = np.empty(batch, dtype=np.float64)
    order, gains = [], []
    for step in range(n_new):
        # Entries stamped with an earlier step are upper bounds (submodularity).
        while heap[0][2] != step:
            stale = [heapq.heappop(heap)[1]]
            while heap and len(stale) < batch and heap[0][2] != step:
                stale.append(heapq.heappop(heap)[1])
            rows = np.array(stale, dtype=np.intp)
            block, computed = kernel.get(rows)
            fresh = out[: rows.shape[0]]
            fl_gains_serial(block, best, fresh)
            kernel.bound[rows] = fresh
            kernel.offer(rows[computed], block[computed], fresh[computed])
            for j, g in zip(stale, fresh.tolist(), strict=True):
                heapq.heappush(heap, (-g, j, step))
        neg_gain, j, _ = heapq.heappop(heap)
        fl_update(kernel.row(j), best)
        kernel.release(j)
        order.append(j)
        gains.append(-neg_gain)
    return order, gains


def _naive_greedy(kernel, best, candidates, n_new, **_):
    """Every remaining candidate's gain at every step (the reference)."""
    remaining = np.ones(candidates.shape[0], dtype=bool)
    gains_all = np.empty(candidates.shape[0], dtype=np.float64)
    order, gains = [], []
    for step in range(n_new):
        if step == 0:
            gains_all[:] = kernel.initial_gains(best, candidates)
        else:
            for start in range(0, candidates.shape[0], kernel.block_rows):
                stop = min(start + kernel.block_rows, candidates.shape[0])
                rows = kernel.get(candidates[start:stop])[0]
                _threaded(fl_gains, fl_gains_serial, rows.size)(rows, best, gains_all[start:stop])
        gains_all[~remaining] = -np.inf
        k = int(np.argmax(gains_all))  # first maximum: ties go to the lower row
        remaining[k] = False
        j = int(candidates[k])
        fl_update(kernel.row(j), best)
        order.append(j)
        gains.append(float(gains_all[k]))
    return order, gains


def _stochastic_greedy(kernel, best, candidates, n_new, *, random_state, epsilon):
    """Stochastic greedy: the best of a random sample of candidates per step."""
    n_sample = math.ceil(candidates.shape[0] / n_new * math.log(1 / epsilon))
    n_sample = min(candidates.shape[0], n_sample)
    remaining = candidates.copy()
    out = np.empty(n_sample, dtype=np.float64)
    order, gains = [], []
    with threadpool_limits(limits=1, user_api="blas"):
        for _ in range(n_new):
            m = min(n_sample, remaining.shape[0])
            pos = np.sort(random_state.choice(remaining.shape[0], m, replace=False))
            rows = remaining[pos]
            for start in range(0, m, kernel.block_rows):
                stop = min(start + kernel.block_rows, m)
                block = kernel.get(rows[start:stop])[0]
                _threaded(fl_gains, fl_gains_serial, block.size)(block, best, out[start:stop])
            k = int(np.argmax(out[:m]))
            j = int(rows[k])
            fl_update(kernel.row(j), best)
            order.append(j)
            gains.append(float(out[k]))
            remaining = np.delete(remaining, pos[k])
    return order, gains
