"""Imbalance-aware baselines: CCS, CCS-CP, DRoP, NUCS and Balance-EL2N.

Each one ranks or samples rows by a per-sample score computed beforehand
(EL2N, loss, AUM, ...) and, except :class:`CCS`, splits the budget across
classes with a rule of :mod:`coreset3d.allocation`; ``sampling_strategy_``
is that rule's output.

Warm start (``initial_indices``), common to the per-class selectors: the
warm-start rows are kept and count toward the budget; the class rule then
splits the rest of the budget over the rows not yet taken (class sizes are
those free rows), so without a warm start ``sampling_strategy_`` equals the
allocation function called on the class sizes and the budget.
"""

import math
from fractions import Fraction
from functools import partial
from numbers import Integral, Real

import numpy as np
from scipy.stats.mstats import winsorize as _winsorize
from sklearn.utils._param_validation import Interval, StrOptions

from ..allocation import ccs_cp_allocation, drop_allocation, nucs_allocation
from ..base import BaseSelector
from ._random import _taken_mask
from ._scalar import ScalarScore, _check_scores, _rank

__all__ = ["CCS", "CCSCP", "DRoP", "NUCS", "BalancedScore", "select_nucs_window"]

_HARD_CUTOFF = [Interval(Real, 0, 1, closed="left")]
_N_STRATA = [Interval(Integral, 1, None, closed="left")]


class _ScoredSelector(BaseSelector):
    """A selector whose ``fit`` takes per-sample ``scores``."""

    _fit_params = ("scores",)
    _sample_fit_params = ("scores",)

    def fit(self, X, y=None, *, scores=None, initial_indices=None, **fit_params):
        """Select rows of ``X`` by their per-sample ``scores``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Embeddings, one row per sample (only their number of rows is
            used; float32 stays float32 in ``transform``).
        y : array-like of shape (n_samples,), default=None
            Class labels; required by every selector here but :class:`CCS`,
            where they only set ``weights_`` and ``sampling_strategy_``.
        scores : array-like of shape (n_samples,)
            One finite difficulty score per row, higher is harder (e.g. the
            EL2N or loss of a teacher). Required.
        initial_indices : array-like of int, default=None
            Rows already selected (a warm start); they open
            ``sample_indices_`` and count toward the budget.
        **fit_params : dict
            Nothing else is accepted: an unknown name raises a TypeError that
            lists the accepted ones.

        Returns
        -------
        self : object
            The fitted selector.
        """
        return super().fit(X, y, initial_indices=initial_indices, scores=scores, **fit_params)


class CCS(_ScoredSelector):
    """Coverage-centric coreset selection: stratified sampling over the score range.

    Drops the hardest ``hard_cutoff`` share of the rows (highest scores),
    cuts the score range of the rest into ``n_strata`` equal-width strata
    and samples the budget across them, the smallest stratum first, each
    taking an equal share of what is left, at random within a stratum.
    Class-agnostic: labels are optional (see :class:`CCSCP` for the
    per-class variant).

    Parameters
    ----------
    budget : int or float, default=0.1
        Subset size: an int count or a float fraction in (0, 1].
    hard_cutoff : float in [0, 1), default=0.1
        Share ``beta`` of the rows, the highest scores, dropped before
        sampling (``floor(beta m)`` of ``m`` rows; ``beta`` is read as the
        decimal it prints as). Never more than the budget leaves room for:
        at most ``m - budget`` rows are dropped.
    n_strata : int >= 1, default=50
        Number ``k`` of equal-width strata of the score range.
    target_prior : {"empirical", "uniform"} or dict, default="empirical"
        Class prior that ``weights_`` steer toward (see :class:`BaseSelector`).
    random_state : int, RandomState instance or None, default=None
        Seed of the draws within strata.

    Attributes
    ----------
    sample_indices_ : ndarray of shape (n_selected_,)
        Warm-start rows first, then the strata from the lowest scores up,
        each stratum's rows in the order drawn.
    gains_ : ndarray of shape (n_selected_,)
        The score of each selected row, aligned with ``sample_indices_``.
    n_hard_dropped_ : int
        Number of rows the hard cutoff removed from the candidates.
    weights_, n_selected_, n_samples_fit_, classes_, sampling_strategy_, n_features_in_
        See :class:`BaseSelector`.

    See Also
    --------
    CCSCP : CCS inside each class, with class-proportional budgets.
    ScalarScore : Top, bottom or middle scores without strata.

    Notes
    -----
    Algorithm 1 of [1]_: with the kept scores in ``[lo, hi]``, row ``i`` is
    in stratum ``min(floor(k (s_i - lo) / (hi - lo)), k - 1)`` (all in
    stratum 0 when ``hi == lo``), so the strata are ``[lo + j w,
    lo + (j + 1) w)`` with ``w = (hi - lo) / k`` and the last one closed.
    The strata are visited by increasing size (ties: the lower scores
    first); with ``m`` samples still to place over ``r`` strata still to
    visit, a stratum of size ``n_j`` takes ``min(n_j, floor(m / r))``. A
    stratum smaller than its share gives the rest back to the larger ones,
    and the last one takes what is left, so the budget is met exactly
    whenever the candidates hold it (which the cap on the cutoff ensures).
    Ties in the cutoff: among equal scores the lower row index counts as
    harder. With a warm start the cutoff, strata and shares run over the
    other rows with the rest of the budget. Time ``O(n log n + k)``, memory
    ``O(n)``; ``X`` is only used for its number of rows.

    References
    ----------
    .. [1] Zheng, Liu, Li and Prakash, "Coverage-centric Coreset Selection
       for High Pruning Rates", ICLR 2023, Algorithm 1 (hard cutoff
       ``beta``, ``k`` strata, per-stratum budget
       ``min(|B_min|, floor(m / |B|))``).

    Examples
    --------
    >>> import numpy as np
    >>> from coreset3d import CCS
    >>> s = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9, 1.0])
    >>> sel = CCS(budget=4, hard_cutoff=0.1, n_strata=2, random_state=0)
    >>> sel.fit(np.zeros((10, 1)), scores=s).n_hard_dropped_
    1
    >>> np.bincount(s[sel.sample_indices_] >= 0.45)  # 2 picks in each half of [0, 0.9]
    array([2, 2])
    """

    _parameter_constraints = {
        **BaseSelector._parameter_constraints,
        "hard_cutoff": _HARD_CUTOFF,
        "n_strata": _N_STRATA,
    }

    def __init__(
        self,
        budget=0.1,
        *,
        hard_cutoff=0.1,
        n_strata=50,
        target_prior="empirical",
        random_state=None,
    ):
        super().__init__(budget, target_prior=target_prior, random_state=random_state)
        self.hard_cutoff = hard_cutoff
        self.n_strata = n_strata

    def _select(self, X, y, n_select, initial, random_state, scores=None, **fit_params):
        scores = _required_scores(self, scores, X.shape[0])
        free = np.flatnonzero(~_taken_mask(X.shape[0], initial))
        n_new = n_select - initial.shape[0]
        picks, self.n_hard_dropped_ = _ccs(
            free, scores, n_new, self.hard_cutoff, self.n_strata, random_state
        )
        order = np.concatenate([initial, picks])
        return order, scores[order]


class CCSCP(_ScoredSelector):
    """CCS-CP: coverage-centric selection inside each class, class-proportional budgets.

    Class ``c`` gets ``max(floor(B n_c / n), m)`` rows (capped at its size,
    rebalanced to sum to ``B``, see
    :func:`~coreset3d.allocation.ccs_cp_allocation`); within the class the
    rows are chosen by :class:`CCS` (hard cutoff, equal-width strata of the
    class's own score range, random within a stratum).

    Parameters
    ----------
    budget : int or float, default=0.1
        Subset size: an int count or a float fraction in (0, 1].
    min_per_class : int >= 0, default=1
        Minimum count ``m`` of each class (all of a class smaller than
        ``m``). ``budget`` must cover ``sum_c min(m, n_c)``.
    hard_cutoff : float in [0, 1), default=0.1
        Share of each class's rows, its highest scores, dropped before
        sampling (never more than the class budget leaves room for).
    n_strata : int >= 1, default=50
        Number of equal-width strata of each class's score range.
    target_prior : {"empirical", "uniform"} or dict, default="empirical"
        Class prior that ``weights_`` steer toward (see :class:`BaseSelector`).
    random_state : int, RandomState instance or None, default=None
        Seed of the draws within strata.

    Attributes
    ----------
    sample_indices_ : ndarray of shape (n_selected_,)
        Warm-start rows first, then class by class (in the order of
        ``classes_``), each class's rows as :class:`CCS` orders them.
    gains_ : ndarray of shape (n_selected_,)
        The score of each selected row.
    sampling_strategy_ : dict
        Class -> number of selected rows; without a warm start this is
        ``ccs_cp_allocation(class_sizes, n_selected_, min_per_class)``.
    n_hard_dropped_ : int
        Rows removed by the hard cutoff, summed over the classes.
    weights_, n_selected_, n_samples_fit_, classes_, n_features_in_
        See :class:`BaseSelector`.

    See Also
    --------
    CCS : The class-agnostic original.
    coreset3d.allocation.ccs_cp_allocation : The class budgets.

    Notes
    -----
    Needs labels. Each class runs the procedure of :class:`CCS` on its own
    rows with its own budget (so the strata follow the class's score range
    and the cutoff removes ``floor(beta n_c)`` of its rows), which is what
    keeps the class proportions of [1]_ when difficulty clusters by class.
    Time ``O(n log n + C (k + C))``, memory ``O(n)``.

    References
    ----------
    .. [1] Tsai, Zheng and Prakash, "Class-Proportional Coreset Selection
       for Difficulty-Separable Data", 2025 (CCS-CP: class budget
       ``B_c = max(floor(B n_c / n), m)``, CCS within each class).
    .. [2] Zheng et al., "Coverage-centric Coreset Selection for High
       Pruning Rates", ICLR 2023, Algorithm 1.

    Examples
    --------
    >>> import numpy as np
    >>> from coreset3d import CCSCP
    >>> y = np.array([0] * 8 + [1] * 2)
    >>> s = np.linspace(0.0, 1.0, 10)
    >>> sel = CCSCP(budget=4, min_per_class=2, random_state=0).fit(np.zeros((10, 1)), y, scores=s)
    >>> sel.sampling_strategy_
    {0: 2, 1: 2}
    """

    _parameter_constraints = {
        **BaseSelector._parameter_constraints,
        "min_per_class": [Interval(Integral, 0, None, closed="left")],
        "hard_cutoff": _HARD_CUTOFF,
        "n_strata": _N_STRATA,
    }
    _requires_labels = True

    def __init__(
        self,
        budget=0.1,
        *,
        min_per_class=1,
        hard_cutoff=0.1,
        n_strata=50,
        target_prior="empirical",
        random_state=None,
    ):
        super().__init__(budget, target_prior=target_prior, random_state=random_state)
        self.min_per_class = min_per_class
        self.hard_cutoff = hard_cutoff
        self.n_strata = n_strata

    def _select(self, X, y, n_select, initial, random_state, scores=None, **fit_params):
        scores = _required_scores(self, scores, X.shape[0])
        rule = partial(ccs_cp_allocation, min_per_class=self.min_per_class)
        groups, needs = _class_plan(self.classes_, y, initial, n_select, rule)
        picks, dropped = [initial], 0
        for rows, need in zip(groups, needs, strict=True):
            chosen, n_dropped = _ccs(
                rows, scores, need, self.hard_cutoff, self.n_strata, random_state
            )
            picks.append(chosen)
            dropped += n_dropped
        self.n_hard_dropped_ = dropped
        order = np.concatenate(picks)
        return order, scores[order]


class DRoP(BaseSelector):
    """DRoP: keep a larger share of the classes a preliminary model gets wrong.

    The kept share of class ``c`` is proportional to its validation error
    ``1 - recall_c``, so its count is ``∝ n_c (1 - recall_c)``, capped at
    ``n_c`` with the excess redistributed
    (:func:`~coreset3d.allocation.drop_allocation`); within a class the rows
    are drawn at random (the paper's Random+DRoP) or taken by score.

    Parameters
    ----------
    budget : int or float, default=0.1
        Subset size: an int count or a float fraction in (0, 1].
    within : {"random", "score"}, default="random"
        How rows are chosen inside a class: "random", uniformly without
        replacement; "score", the highest ``scores`` first (pass negated
        scores to keep the lowest).
    target_prior : {"empirical", "uniform"} or dict, default="empirical"
        Class prior that ``weights_`` steer toward (see :class:`BaseSelector`).
    random_state : int, RandomState instance or None, default=None
        Seed of the draws (``within="random"``).

    Attributes
    ----------
    sample_indices_ : ndarray of shape (n_selected_,)
        Warm-start rows first, then the picks: in a random order
        (``within="random"``) or by score, highest first, ties to the lower
        row (``within="score"``).
    gains_ : ndarray of shape (n_selected_,)
        The score of each selected row; only set when ``scores`` are given.
    sampling_strategy_ : dict
        Class -> number of selected rows; without a warm start this is
        ``drop_allocation(class_sizes, n_selected_, recall)``.
    weights_, n_selected_, n_samples_fit_, classes_, n_features_in_
        See :class:`BaseSelector`.

    See Also
    --------
    NUCS : The same shape of budget from a mean difficulty score.
    coreset3d.allocation.drop_allocation : The class budgets, and how they
        differ from the released code (which can leave budget unspent).

    Notes
    -----
    Needs labels and the per-class ``recall`` of a model trained on the
    full set, measured on held-out data. Time ``O(n log n + C^2)``, memory
    ``O(n)``.

    References
    ----------
    .. [1] Vysogorets, Ahuja and Kempe, "DRoP: Distributionally Robust Data
       Pruning", ICLR 2025, Algorithm 1 (class densities
       ``d_k = d (1 - r_k) / Z``, random pruning within a class).

    Examples
    --------
    >>> import numpy as np
    >>> from coreset3d import DRoP
    >>> y = np.repeat(["chair", "lamp", "cup"], 10)
    >>> sel = DRoP(budget=6, random_state=0)
    >>> sel.fit(np.zeros((30, 1)), y, recall={"chair": 0.9, "cup": 0.6, "lamp": 0.8})
    DRoP(budget=6, random_state=0)
    >>> sel.sampling_strategy_
    {'chair': 1, 'cup': 3, 'lamp': 2}
    """

    _parameter_constraints = {
        **BaseSelector._parameter_constraints,
        "within": [StrOptions({"random", "score"})],
    }
    _fit_params = ("recall", "scores")
    _sample_fit_params = ("scores",)
    _requires_labels = True

    def __init__(self, budget=0.1, *, within="random", target_prior="empirical", random_state=None):
        super().__init__(budget, target_prior=target_prior, random_state=random_state)
        self.within = within

    def fit(self, X, y, *, recall=None, scores=None, initial_indices=None, **fit_params):
        """Select rows of ``X`` with DRoP class budgets.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Embeddings, one row per sample (only their number of rows is
            used).
        y : array-like of shape (n_samples,)
            Class labels. Required.
        recall : dict or array-like of shape (n_classes,)
            Validation recall in [0, 1] of each class: a dict
            ``class -> recall`` or an array aligned with the sorted classes
            (``np.unique(y)``, i.e. ``classes_``). Required.
        scores : array-like of shape (n_samples,), default=None
            One finite score per row; required when ``within="score"``,
            otherwise only used to fill ``gains_``.
        initial_indices : array-like of int, default=None
            Rows already selected (a warm start).
        **fit_params : dict
            Nothing else is accepted: an unknown name raises a TypeError that
            lists the accepted ones.

        Returns
        -------
        self : object
            The fitted selector.
        """
        return super().fit(
            X, y, initial_indices=initial_indices, recall=recall, scores=scores, **fit_params
        )

    def _select(
        self, X, y, n_select, initial, random_state, recall=None, scores=None, **fit_params
    ):
        if recall is None:
            raise ValueError(
                "DRoP.fit needs recall: pass fit(X, y, recall=r) with the validation recall "
                "of each class of a model trained on the full set, a dict class -> recall "
                f"or an array aligned with np.unique(y) ({self.classes_.shape[0]} classes)."
            )
        if self.within == "score":
            scores = _required_scores(self, scores, X.shape[0], " (within='score' ranks by them)")
        elif scores is not None:
            scores = _check_scores(scores, X.shape[0])
        rule = partial(drop_allocation, recall=recall)
        groups, needs = _class_plan(self.classes_, y, initial, n_select, rule)
        if self.within == "random":
            drawn = [
                random_state.choice(rows, need, replace=False)
                for rows, need in zip(groups, needs, strict=True)
            ]
            picks = random_state.permutation(np.concatenate(drawn))
        else:
            picks = np.concatenate([
                rows[_rank(rows, scores[rows], "top", None)][:need]
                for rows, need in zip(groups, needs, strict=True)
            ])
            picks = picks[np.lexsort((picks, -scores[picks]))]
        order = np.concatenate([initial, picks]).astype(np.intp)
        return order, None if scores is None else scores[order]


class NUCS(_ScoredSelector):
    """NUCS: class budgets from class difficulty, a window over the difficulty ranking.

    Class ``c`` keeps a share proportional to its mean difficulty ``S_c``
    (the mean score of its rows), so its count is ``∝ n_c S_c``, at least
    one per class (:func:`~coreset3d.allocation.nucs_allocation`). Within
    the class, its rows ranked by score from easiest to hardest, NUCS keeps
    a window of consecutive ranks whose position is ``window``.

    Parameters
    ----------
    budget : int or float, default=0.1
        Subset size: an int count or a float fraction in (0, 1].
    window : float in [0, 1], default=0.5
        Position of the window over each class's ranking: 0 keeps the
        easiest rows, 1 the hardest, 0.5 the middle. With ``m`` candidate
        rows and a class budget ``b``, the window starts at rank
        ``floor(window (m - b) + 1/2)`` of the ascending ranking. The paper
        tunes it on validation data: see :func:`select_nucs_window`.
    winsorize : float in [0, 0.5), default=0.0
        Share of each class's scores clipped at each tail before the class
        mean (a winsorised mean, as :func:`scipy.stats.mstats.winsorize`
        computes it); 0 is the plain mean.
    target_prior : {"empirical", "uniform"} or dict, default="empirical"
        Class prior that ``weights_`` steer toward (see :class:`BaseSelector`).
    random_state : int, RandomState instance or None, default=None
        Unused (NUCS is deterministic); kept for the common contract.

    Attributes
    ----------
    sample_indices_ : ndarray of shape (n_selected_,)
        Warm-start rows first, then class by class (in the order of
        ``classes_``), each window from its easiest row to its hardest.
    gains_ : ndarray of shape (n_selected_,)
        The score of each selected row.
    class_difficulty_ : ndarray of shape (n_classes,)
        Mean (winsorised) score ``S_c`` of each class, over all its rows.
    sampling_strategy_ : dict
        Class -> number of selected rows; without a warm start this is
        ``nucs_allocation(class_sizes, n_selected_, class_difficulty_)``.
    weights_, n_selected_, n_samples_fit_, classes_, n_features_in_
        See :class:`BaseSelector`.

    See Also
    --------
    select_nucs_window : Picks ``window`` by a validation score.
    DRoP : The same shape of budget from validation recall.
    coreset3d.allocation.nucs_allocation : The class budgets.

    Notes
    -----
    Needs labels and non-negative class means (EL2N, losses and other
    difficulty scores are). Equal scores rank by the lower row index
    first. Time ``O(n log n + C^2)``, memory ``O(n)``.

    References
    ----------
    .. [1] Zhang et al., "Non-Uniform Class-Wise Coreset Selection:
       Characterizing Category Difficulty for Data-Efficient Transfer
       Learning", arXiv:2504.13234, 2025 (class budget
       ``b_j = (1 - alpha) S_j N_j / T`` with ``T = sum_i S_i N_i / N``,
       ``S_j`` the winsorised mean difficulty; samples within a difficulty
       window per class).

    Examples
    --------
    >>> import numpy as np
    >>> from coreset3d import NUCS
    >>> y = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    >>> s = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8])
    >>> sel = NUCS(budget=4, window=1.0).fit(np.zeros((8, 1)), y, scores=s)
    >>> sel.sampling_strategy_, sel.sample_indices_.tolist()
    ({0: 1, 1: 3}, [3, 5, 6, 7])
    """

    _parameter_constraints = {
        **BaseSelector._parameter_constraints,
        "window": [Interval(Real, 0, 1, closed="both")],
        "winsorize": [Interval(Real, 0, 0.5, closed="left")],
    }
    _requires_labels = True

    def __init__(
        self, budget=0.1, *, window=0.5, winsorize=0.0, target_prior="empirical", random_state=None
    ):
        super().__init__(budget, target_prior=target_prior, random_state=random_state)
        self.window = window
        self.winsorize = winsorize

    def _select(self, X, y, n_select, initial, random_state, scores=None, **fit_params):
        scores = _required_scores(self, scores, X.shape[0])
        difficulty = _class_means(scores, y, self.classes_.shape[0], self.winsorize)
        if np.any(difficulty < 0):
            c = int(np.flatnonzero(difficulty < 0)[0])
            raise ValueError(
                "NUCS sizes class budgets by the mean score of each class, which must be >= 0; "
                f"class {self.classes_.tolist()[c]!r} has mean {difficulty[c]:g}. Pass "
                "non-negative difficulty scores (EL2N, loss), e.g. shifted by their minimum."
            )
        self.class_difficulty_ = difficulty
        rule = partial(nucs_allocation, difficulty=difficulty)
        groups, needs = _class_plan(self.classes_, y, initial, n_select, rule)
        picks = [initial]
        for rows, need in zip(groups, needs, strict=True):
            ascending = rows[_rank(rows, scores[rows], "bottom", None)]
            start = math.floor(self.window * (rows.shape[0] - need) + 0.5)
            picks.append(ascending[start : start + need])
        order = np.concatenate(picks)
        return order, scores[order]


class BalancedScore(_ScoredSelector):
    """Balance-EL2N: equal class budgets, the top (or bottom, middle) scores within a class.

    The budget is split equally across classes, capped at each class's size
    with the rest shared among the others
    (:func:`~coreset3d.allocation.balanced_allocation`); each class keeps
    its rows by score rank, as :class:`ScalarScore` with
    ``class_policy="balanced"`` does.

    Parameters
    ----------
    budget : int or float, default=0.1
        Subset size: an int count or a float fraction in (0, 1].
    mode : {"top", "bottom", "middle"}, default="top"
        Which ranks each class keeps: its highest scores (the hardest for
        EL2N, the Balance-EL2N baseline), its lowest, or the window of
        consecutive ranks centred on its median rank.
    target_prior : {"empirical", "uniform"} or dict, default="empirical"
        Class prior that ``weights_`` steer toward (see :class:`BaseSelector`).
    random_state : int, RandomState instance or None, default=None
        Unused (the selection is deterministic); kept for the common
        contract.

    Attributes
    ----------
    sample_indices_ : ndarray of shape (n_selected_,)
        Warm-start rows first, then the picks ordered as in
        :class:`ScalarScore` (by score for "top" and "bottom").
    gains_ : ndarray of shape (n_selected_,)
        The score of each selected row.
    sampling_strategy_ : dict
        Class -> number of selected rows; without a warm start this is
        ``balanced_allocation(class_sizes, n_selected_)``.
    weights_, n_selected_, n_samples_fit_, classes_, n_features_in_
        See :class:`BaseSelector`.

    See Also
    --------
    ScalarScore : The same ranking with global or proportional budgets.
    coreset3d.allocation.balanced_allocation : The class budgets.

    Notes
    -----
    Needs labels. With a warm start, the warm-start rows count toward their
    class's equal share (see :class:`StratifiedSelector`). Time
    ``O(n log n + C^2)``, memory ``O(n)``.

    References
    ----------
    .. [1] Paul, Ganguli and Dziugaite, "Deep Learning on a Data Diet:
       Finding Important Examples Early in Training", NeurIPS 2021, Eq. 2
       (EL2N score ``E || p(x) - y ||_2``).
    .. [2] Exploring 3D Dataset Pruning: the Balance-EL2N baseline (EL2N
       ranking under equal class budgets).

    Examples
    --------
    >>> import numpy as np
    >>> from coreset3d import BalancedScore
    >>> y = np.array([0, 0, 0, 0, 1, 1])
    >>> s = np.array([0.9, 0.8, 0.7, 0.6, 0.2, 0.1])
    >>> BalancedScore(budget=4).fit(np.zeros((6, 1)), y, scores=s).sample_indices_.tolist()
    [0, 1, 4, 5]
    """

    _parameter_constraints = {
        **BaseSelector._parameter_constraints,
        "mode": [StrOptions({"top", "bottom", "middle"})],
    }
    _requires_labels = True

    def __init__(self, budget=0.1, *, mode="top", target_prior="empirical", random_state=None):
        super().__init__(budget, target_prior=target_prior, random_state=random_state)
        self.mode = mode

    def _select(self, X, y, n_select, initial, random_state, scores=None, **fit_params):
        scores = _required_scores(self, scores, X.shape[0])
        ranker = ScalarScore(mode=self.mode, class_policy="balanced")
        return ranker._select(X, y, n_select, initial, random_state, scores=scores)


def select_nucs_window(X, y, scores, budget, evaluate, windows=None, **nucs_params):
    """Pick the NUCS window position by a validation score.

    Fits ``NUCS(budget, window=w, **nucs_params)`` for each ``w`` in
    ``windows`` and keeps the one whose ``evaluate(selector)`` is highest:
    the validation tuning of the window described in the NUCS paper, with
    the training and evaluation left to the caller.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Embeddings (only their number of rows is used by NUCS).
    y : array-like of shape (n_samples,)
        Class labels.
    scores : array-like of shape (n_samples,)
        Non-negative difficulty scores, one per row.
    budget : int or float
        Subset size, as in :class:`NUCS`.
    evaluate : callable
        ``evaluate(selector) -> float``: given a fitted :class:`NUCS`, train
        on its subset (``selector.sample_indices_``, ``selector.weights_``)
        and return a validation score, higher is better (e.g. the mean
        class accuracy of the model on a held-out split).
    windows : array-like of float in [0, 1], default=None
        Window positions to try, in order; None means
        ``np.linspace(0, 1, 11)``.
    **nucs_params : dict
        Other parameters of :class:`NUCS` (``winsorize``, ``target_prior``).

    Returns
    -------
    selector : NUCS
        The fitted selector with the best window (``selector.window``).
    values : ndarray of shape (n_windows,)
        ``evaluate`` of each window, aligned with ``windows``.

    See Also
    --------
    NUCS : The selector tuned here.

    Notes
    -----
    Ties go to the earlier window in ``windows``. Cost: ``len(windows)``
    NUCS fits (``O(n log n)`` each) plus ``len(windows)`` calls of
    ``evaluate``, which usually dominate.

    References
    ----------
    .. [1] Zhang et al., "Non-Uniform Class-Wise Coreset Selection", 2025
       (the intra-class difficulty range chosen on validation data).

    Examples
    --------
    >>> import numpy as np
    >>> y = np.repeat([0, 1], 10)
    >>> s = np.tile(np.arange(10.0), 2)
    >>> hardest = lambda sel: float(s[sel.sample_indices_].mean())  # a toy validation score
    >>> sel, values = select_nucs_window(np.zeros((20, 1)), y, s, 4, hardest, windows=[0, 0.5, 1])
    >>> sel.window, values.tolist()
    (1.0, [0.5, 4.5, 8.5])
    """
    windows = np.linspace(0.0, 1.0, 11) if windows is None else windows
    grid = np.asarray(windows, dtype=np.float64)
    if grid.ndim != 1 or grid.shape[0] == 0:
        raise ValueError(
            f"windows must be a non-empty 1-D list of positions in [0, 1]; got shape {grid.shape}."
        )
    if not np.all((grid >= 0) & (grid <= 1)):
        raise ValueError(
            f"windows must lie in [0, 1] (0: easiest rows, 1: hardest); got {grid.tolist()[:10]}."
        )
    if not callable(evaluate):
        raise TypeError(
            "evaluate must be a callable evaluate(selector) -> float; got "
            f"{type(evaluate).__name__}."
        )
    values = np.empty(grid.shape[0])
    fitted = []
    for i, w in enumerate(grid.tolist()):
        selector = NUCS(budget, window=w, **nucs_params).fit(X, y, scores=scores)
        value = float(evaluate(selector))
        if not math.isfinite(value):
            raise ValueError(
                f"evaluate returned {value} for window={w}; it must return a finite validation "
                "score (higher is better)."
            )
        values[i] = value
        fitted.append(selector)
    return fitted[int(np.argmax(values))], values


# ------------------------------------------------------------------ helpers
def _required_scores(selector, scores, n_samples, why=""):
    if scores is None:
        raise ValueError(
            f"{type(selector).__name__}.fit needs scores{why}: pass fit(X, y, scores=s) with one "
            "score per row of X (e.g. the per-sample EL2N or loss of a teacher)."
        )
    return _check_scores(scores, n_samples)


def _class_plan(classes, y, initial, n_select, rule):
    """Free rows of each class and how many each class adds, by an allocation ``rule``.

    ``rule(class_sizes, budget) -> dict`` is an allocation function; it
    splits ``n_select - len(initial)`` over the rows not in ``initial``.

    Returns
    -------
    groups : list of ndarray
        For each encoded class, its free rows, ascending.
    needs : ndarray of shape (n_classes,)
        Rows to add per class.
    """
    n_classes = classes.shape[0]
    free = np.flatnonzero(~_taken_mask(y.shape[0], initial))
    free_sizes = np.bincount(y[free], minlength=n_classes)
    by_class = free[np.argsort(y[free], kind="stable")]
    groups = np.split(by_class, np.cumsum(free_sizes)[:-1])
    keys = classes.tolist()
    counts = rule(dict(zip(keys, free_sizes.tolist(), strict=True)), n_select - initial.shape[0])
    return groups, np.array([counts[k] for k in keys], dtype=np.intp)


def _class_means(scores, y, n_classes, winsorize):
    if winsorize == 0:
        return np.bincount(y, weights=scores, minlength=n_classes) / np.bincount(
            y, minlength=n_classes
        )
    return np.array([
        float(_winsorize(scores[y == c], limits=(winsorize, winsorize)).mean())
        for c in range(n_classes)
    ])


def _ccs(rows, scores, n_keep, hard_cutoff, n_strata, random_state):
    """CCS (Zheng et al. 2023, Algorithm 1) over candidate ``rows``.

    Returns the picked rows (strata from low to high scores, draws in the
    order drawn) and the number of rows the hard cutoff removed.
    """
    m = rows.shape[0]
    share = Fraction(str(float(hard_cutoff))) * m
    n_drop = min(share.numerator // share.denominator, m - n_keep)
    if n_keep == 0:
        return np.empty(0, dtype=np.intp), n_drop
    hardest_first = rows[_rank(rows, scores[rows], "top", None)]
    kept = np.sort(hardest_first[n_drop:])
    stratum = _strata(scores[kept], n_strata)
    sizes = np.bincount(stratum, minlength=n_strata)
    takes = _stratum_budgets(sizes, n_keep)
    pools = np.split(kept[np.argsort(stratum, kind="stable")], np.cumsum(sizes)[:-1])
    drawn = [
        random_state.choice(pool, take, replace=False)
        for pool, take in zip(pools, takes, strict=True)
        if take > 0
    ]
    return np.concatenate(drawn).astype(np.intp), n_drop


def _strata(values, n_strata):
    """Equal-width stratum of each value over ``[min, max]`` (last stratum closed)."""
    lo, hi = values.min(), values.max()
    if not hi > lo:
        return np.zeros(values.shape[0], dtype=np.intp)
    index = np.floor((values - lo) / (hi - lo) * n_strata).astype(np.intp)
    return np.minimum(index, n_strata - 1)


def _stratum_budgets(sizes, n_keep):
    """Smallest stratum first, each ``min(size, floor(left / strata left))``."""
    order = np.argsort(sizes, kind="stable")
    takes = np.zeros(sizes.shape[0], dtype=np.intp)
    left = int(n_keep)
    for i, j in enumerate(order.tolist()):
        takes[j] = min(int(sizes[j]), left // (order.shape[0] - i))
        left -= int(takes[j])
    return takes
