"""Selection by a per-sample score (loss, EL2N, forgetting, ...): top, bottom, middle, random."""

import numpy as np
from sklearn.utils._param_validation import StrOptions

from ..base import BaseSelector
from ._random import _class_groups, _taken_mask

__all__ = ["ScalarScore"]


class ScalarScore(BaseSelector):
    """Keep the samples whose score ranks highest, lowest, middle, or at random.

    The score is any per-sample number computed beforehand (e.g. the loss,
    EL2N or forgetting count of a teacher): ``fit(X, y, scores=s)``.

    Parameters
    ----------
    budget : int or float, default=0.1
        Subset size: an int count or a float fraction in (0, 1].
    mode : {"top", "bottom", "middle", "random"}, default="top"
        Which ranks to keep. "top": the highest scores (the hardest samples
        for a loss or EL2N); "bottom": the lowest; "middle": the window of
        ``budget`` consecutive ranks centred on the median rank; "random":
        a uniform random subset (a sanity baseline that ignores the
        scores, which still fill ``gains_``).
    class_policy : {"global", "stratified", "balanced"}, default="global"
        "global" ranks all rows together; "stratified" and "balanced" rank
        within each class and take the class budgets of
        :func:`~coreset3d.allocation.proportional_allocation` and
        :func:`~coreset3d.allocation.balanced_allocation` (both need ``y``).
    target_prior : {"empirical", "uniform"} or dict, default="empirical"
        Class prior that ``weights_`` steer toward (see :class:`BaseSelector`).
    random_state : int, RandomState instance or None, default=None
        Seed of ``mode="random"`` (unused otherwise).

    Attributes
    ----------
    sample_indices_ : ndarray of shape (n_selected_,)
        Warm-start rows first, then the picks by rank, best first: highest
        score first ("top"), lowest first ("bottom"), closest to the median
        rank first ("middle"), in the order drawn ("random"). With a class
        policy, "top" and "bottom" order all picks by score; "middle"
        orders them by closeness to their class's median rank.
    gains_ : ndarray of shape (n_selected_,)
        The score of each selected row, aligned with ``sample_indices_``.
    weights_, n_selected_, n_samples_fit_, classes_, sampling_strategy_, n_features_in_
        See :class:`BaseSelector`.

    See Also
    --------
    StratifiedSelector : Random within classes, the same class budgets.
    coreset3d.allocation.proportional_allocation : The "stratified" budgets.

    Notes
    -----
    Equal scores rank by the lower row index first. "middle" on ``m``
    candidates keeps ranks ``s .. s+k-1`` of the ascending ranking with
    ``s = floor((m - k) / 2)``; ordering by distance to the median rank
    (ties to the lower rank) makes every prefix the middle window of its
    own size. With a warm start the warm-start rows are kept (and count
    toward their class's budget) and the ranking runs over the other rows.
    Time ``O(n log n + C^2)``, memory ``O(n)``.

    References
    ----------
    .. [1] Paul, Ganguli and Dziugaite, "Deep Learning on a Data Diet:
       Finding Important Examples Early in Training", NeurIPS 2021 (EL2N).
    .. [2] Zheng et al., "Coverage-centric Coreset Selection for High
       Pruning Rates", ICLR 2023 (hard-only selection fails at high
       pruning rates; the "middle" and "random" baselines).

    Examples
    --------
    >>> import numpy as np
    >>> from coreset3d import ScalarScore
    >>> X = np.zeros((6, 2))
    >>> s = np.array([0.3, 0.9, 0.1, 0.5, 0.9, 0.7])
    >>> ScalarScore(budget=3).fit(X, scores=s).sample_indices_.tolist()
    [1, 4, 5]
    >>> ScalarScore(budget=2, mode="middle").fit(X, scores=s).sample_indices_.tolist()
    [3, 5]
    """

    _parameter_constraints = {
        **BaseSelector._parameter_constraints,
        "mode": [StrOptions({"top", "bottom", "middle", "random"})],
        "class_policy": [StrOptions({"global", "stratified", "balanced"})],
    }

    def __init__(
        self,
        budget=0.1,
        *,
        mode="top",
        class_policy="global",
        target_prior="empirical",
        random_state=None,
    ):
        super().__init__(budget, target_prior=target_prior, random_state=random_state)
        self.mode = mode
        self.class_policy = class_policy

    _fit_params = ("scores",)
    _sample_fit_params = ("scores",)

    def fit(self, X, y=None, *, scores=None, initial_indices=None):
        """Select the rows of ``X`` by their ``scores``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Embeddings, one row per sample (only their number of rows is
            used; float32 stays float32 in ``transform``).
        y : array-like of shape (n_samples,), default=None
            Class labels; needed unless ``class_policy="global"``.
        scores : array-like of shape (n_samples,)
            One finite score per row of ``X``. Required.
        initial_indices : array-like of int, default=None
            Rows already selected (a warm start); they open
            ``sample_indices_`` and count toward the budget.

        Returns
        -------
        self : object
            The fitted selector.
        """
        return super().fit(X, y, initial_indices=initial_indices, scores=scores)

    def _select(self, X, y, n_select, initial, random_state, scores=None, **fit_params):
        scores = _check_scores(scores, X.shape[0])
        taken = _taken_mask(X.shape[0], initial)
        if self.class_policy == "global":
            groups, needs = [np.flatnonzero(~taken)], [n_select - initial.shape[0]]
        elif y is None:
            raise ValueError(
                f"ScalarScore(class_policy={self.class_policy!r}) ranks within each class and "
                "needs class labels: pass y, one label per row of X, or use class_policy='global'."
            )
        else:
            strategy = "proportional" if self.class_policy == "stratified" else "balanced"
            groups, needs = _class_groups(y, taken, initial, n_select, strategy)

        # one random order over all candidates, so "random" picks read as a single draw
        position = np.zeros(X.shape[0], dtype=np.intp)
        if self.mode == "random":
            candidates = np.flatnonzero(~taken)
            position[random_state.permutation(candidates)] = np.arange(candidates.shape[0])

        picks, keys = [], []
        for rows, need in zip(groups, needs, strict=True):
            ranked = rows[_rank(rows, scores[rows], self.mode, position[rows])][:need]
            picks.append(ranked)
            if self.mode == "top":
                keys.append(-scores[ranked])
            elif self.mode == "bottom":
                keys.append(scores[ranked])
            elif self.mode == "middle":
                keys.append(np.arange(ranked.shape[0], dtype=np.float64))
            else:
                keys.append(position[ranked].astype(np.float64))
        picks, keys = np.concatenate(picks), np.concatenate(keys)
        order = np.concatenate([initial, picks[np.lexsort((picks, keys))]])
        return order, scores[order]


def _rank(rows, values, mode, position):
    """Positions into ``rows`` in the order ``mode`` picks them (best first)."""
    if mode == "top":
        return np.lexsort((rows, -values))
    if mode == "bottom":
        return np.lexsort((rows, values))
    if mode == "random":
        return np.argsort(position, kind="stable")
    ascending = np.lexsort((rows, values))
    m = ascending.shape[0]
    rank = np.arange(m)
    # distance to the median rank (m - 1) / 2, doubled to stay integral; ties to the lower rank
    return ascending[np.lexsort((rank, np.abs(2 * rank - (m - 1))))]


def _check_scores(scores, n_samples):
    if scores is None:
        raise ValueError(
            "ScalarScore.fit needs scores: pass fit(X, y, scores=s) with one score per row "
            "of X (e.g. the per-sample loss or EL2N)."
        )
    try:
        values = np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"scores must hold numbers, one per row of X; got {np.asarray(scores).dtype} values."
        ) from exc
    if values.ndim != 1:
        raise ValueError(
            f"scores must be 1-D, one score per row of X; got shape {values.shape}. "
            "Pass a single score per sample (e.g. np.ravel for a column)."
        )
    if values.shape[0] != n_samples:
        raise ValueError(
            f"scores has {values.shape[0]} values but X has {n_samples} rows; "
            "pass one score per row of X."
        )
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise ValueError(
            f"scores holds {bad.size} NaN or inf values (rows {bad[:10].tolist()}); pass finite "
            "scores, e.g. drop those rows or replace them with np.nan_to_num."
        )
    return values
