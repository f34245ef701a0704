"""Greedy k-center (farthest-point) selection."""

from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions

from .._blocks import RowBlocks
from .._kernels._kcenter import kcenter_update
from ..base import BaseSelector
from ._similarity import unit_rows

__all__ = ["KCenterGreedy"]

#: min_sq value that marks a selected row (kcenter_update leaves negatives alone).
_SELECTED = -1.0


class KCenterGreedy(BaseSelector):
    """Greedy k-center: each pick is the sample farthest from those already picked.

    Keeps ``min_dist[i]``, the distance from sample ``i`` to its nearest
    selected center, and at every step selects ``argmax_i min_dist[i]`` (ties
    go to the lowest row), then lowers ``min_dist`` with the new center. The
    result is a 2-approximation of the minimax (k-center) cover: its covering
    radius ``max_i min_dist[i]`` is at most twice the best radius any subset
    of the same size reaches.

    Parameters
    ----------
    budget : int or float, default=0.1
        Subset size: an int count or a float fraction in (0, 1].
    metric : {"euclidean", "cosine"}, default="euclidean"
        "euclidean": distances between the rows of ``X``. "cosine": Euclidean
        distances between the L2-normalised rows, ``sqrt(2 - 2 cos)``, which
        orders pairs exactly as the cosine distance ``1 - cos`` does; rows of
        zero norm are refused.
    start : "random" or int, default="random"
        First center when there is no warm start: a row drawn from
        ``random_state``, or the given row index. ``initial_indices`` in
        ``fit`` replace it.
    block_size : int, default=1024
        Rows per block in the distance update (one block per parallel task,
        each block swept against every new center while in cache). Affects
        speed only, never the result.
    target_prior : {"empirical", "uniform"} or dict, default="empirical"
        Class prior that ``weights_`` steer toward (see :class:`BaseSelector`).
    random_state : int, RandomState instance or None, default=None
        Seed of the random start.

    Attributes
    ----------
    sample_indices_ : ndarray of shape (n_selected_,)
        Selected rows in greedy order (warm-start rows first).
    gains_ : ndarray of shape (n_selected_,)
        Covering radius at the time of each pick: the distance from the pick
        to the nearest earlier pick, which for a greedy pick is
        ``max_i min_dist[i]``. ``inf`` for the first row (no earlier center).
    radius_ : float
        Covering radius of the whole selection, ``max_i min_dist[i]`` after
        the last pick (0 when every row is selected).
    start_ : int
        Row of the first center (``sample_indices_[0]``).
    weights_, n_selected_, n_samples_fit_, classes_, sampling_strategy_, n_features_in_
        See :class:`BaseSelector`.

    See Also
    --------
    Herding : Match the mean of the data instead of covering it.
    FacilityLocationRBF : Summed similarity coverage instead of the worst case.

    Notes
    -----
    Each step costs ``O(N d)`` (one distance per row to the new center) and
    memory stays ``O(N)`` beyond ``X``: no ``N x N`` matrix is formed, so
    ``B`` picks take ``O(N d B)`` time. A warm start with ``m`` rows costs
    ``O(N d m)`` to initialise ``min_dist`` and ``O(m^2 d)`` for their gains.
    Differences are taken in the dtype of ``X`` and squared distances summed
    in float64, since they feed an argmax; ``metric="cosine"`` adds one
    normalised copy of ``X``.

    A ``numpy.memmap``, h5py or zarr ``X`` is never read whole: every step
    sweeps it in row blocks (normalising each block for "cosine"), so memory
    is ``O(N)`` plus one block, and the picks are the same as in memory.

    References
    ----------
    .. [1] T. F. Gonzalez, "Clustering to minimize the maximum intercluster
       distance", Theoretical Computer Science 38, 1985 (the 2-approximation).
    .. [2] O. Sener and S. Savarese, "Active Learning for Convolutional Neural
       Networks: A Core-Set Approach", ICLR 2018, Algorithm 1 (k-Center-Greedy).

    Examples
    --------
    >>> import numpy as np
    >>> from coreset3d import KCenterGreedy
    >>> X = np.array([[0.0], [1.0], [2.0], [6.0], [10.0]])
    >>> sel = KCenterGreedy(budget=3, start=0).fit(X)
    >>> sel.sample_indices_.tolist(), sel.gains_.tolist(), sel.radius_
    ([0, 4, 3], [inf, 10.0, 4.0], 2.0)
    """

    _parameter_constraints = {
        **BaseSelector._parameter_constraints,
        "metric": [StrOptions({"euclidean", "cosine"})],
        "start": [StrOptions({"random"}), Interval(Integral, 0, None, closed="left")],
        "block_size": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(
        self,
        budget=0.1,
        *,
        metric="euclidean",
        start="random",
        block_size=1024,
        target_prior="empirical",
        random_state=None,
    ):
        super().__init__(budget, target_prior=target_prior, random_state=random_state)
        self.metric = metric
        self.start = start
        self.block_size = block_size

    def _accepts_blocks(self):
        return True

    def _select(self, X, y, n_select, initial, random_state, **fit_params):
        n_samples = X.shape[0]
        rows = _Rows(X, cosine=self.metric == "cosine")
        block_size = int(self.block_size)

        if initial.shape[0] == 0:
            initial = np.array([self._start_row(n_samples, random_state)], dtype=np.intp)
        self.start_ = int(initial[0])

        centers = rows.take(initial)
        min_sq = np.full(n_samples, np.inf)
        rows.update(centers, min_sq, block_size)
        min_sq[initial] = _SELECTED
        gains = np.empty(n_select)
        gains[: initial.shape[0]] = _sequential_gains(centers, block_size)

        order = np.empty(n_select, dtype=np.intp)
        order[: initial.shape[0]] = initial
        for t in range(initial.shape[0], n_select):
            j = int(np.argmax(min_sq))  # first maximum: ties go to the lowest row
            order[t] = j
            gains[t] = np.sqrt(min_sq[j])
            min_sq[j] = _SELECTED
            rows.update(rows.take(np.array([j])), min_sq, block_size)
        self.radius_ = float(np.sqrt(max(min_sq.max(), 0.0)))
        return order, gains

    def _start_row(self, n_samples, random_state):
        if isinstance(self.start, str):
            return random_state.randint(n_samples)
        if self.start >= n_samples:
            raise ValueError(
                f"start={self.start!r} is not a row of X, which has {n_samples} rows; "
                f"pass start in [0, {n_samples}) or start='random'."
            )
        return int(self.start)


class _Rows:
    """X for the k-center sweeps: in memory (one block) or read in row blocks."""

    def __init__(self, X, *, cosine):
        self.cosine = cosine
        self.blocked = X if isinstance(X, RowBlocks) else None
        if self.blocked is None:
            self.X = np.ascontiguousarray(_unit_rows(X) if cosine else X)
        elif cosine:  # refuse zero rows before the first sweep
            zero = [start + np.flatnonzero(~block.any(axis=1))
                    for start, block in self.blocked.blocks()]
            _refuse_zero_rows(np.concatenate(zero))

    def take(self, rows):
        if self.blocked is None:
            return self.X[rows]
        part = self.blocked.take(rows)
        return _unit_rows(part) if self.cosine else part

    def update(self, centers, min_sq, block_size):
        """Lower ``min_sq`` with ``centers`` (rows as ``take`` returns them)."""
        if self.blocked is None:
            kcenter_update(self.X, centers, min_sq, block_size)
            return
        for start, block in self.blocked.blocks():
            if self.cosine:
                block = unit_rows(block)
            kcenter_update(block, centers, min_sq[start : start + block.shape[0]], block_size)


def _unit_rows(X):
    """L2-normalised copy of ``X`` (same dtype); refuse rows of zero norm."""
    _refuse_zero_rows(np.flatnonzero(~X.any(axis=1)))
    return unit_rows(X)


def _refuse_zero_rows(zero):
    if zero.shape[0]:
        raise ValueError(
            f"metric='cosine' needs rows of X with non-zero norm, but X has {zero.shape[0]} "
            f"all-zero rows (e.g. rows {zero[:5].tolist()}); drop those rows or use "
            "metric='euclidean'."
        )


def _sequential_gains(C, block_size):
    """Distance from each row of ``C`` to the nearest earlier row (inf for the first)."""
    gains = np.full(C.shape[0], np.inf)
    nearest_sq = np.empty(1)
    for t in range(1, C.shape[0]):
        nearest_sq[0] = np.inf
        kcenter_update(C[t : t + 1], C[:t], nearest_sq, block_size)
        gains[t] = np.sqrt(nearest_sq[0])
    return gains
