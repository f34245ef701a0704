"""Random baselines: uniform random rows, and random rows within each class."""

import numpy as np
from sklearn.utils._param_validation import StrOptions

from ..allocation import _class_quotas
from ..base import BaseSelector

__all__ = ["RandomSelector", "StratifiedSelector"]


class RandomSelector(BaseSelector):
    """Uniform random subset of the rows: the baseline every selector must beat.

    Parameters
    ----------
    budget : int or float, default=0.1
        Subset size: an int count or a float fraction in (0, 1].
    target_prior : {"empirical", "uniform"} or dict, default="empirical"
        Class prior that ``weights_`` steer toward (see :class:`BaseSelector`).
    random_state : int, RandomState instance or None, default=None
        Seed of the draw.

    Attributes
    ----------
    sample_indices_ : ndarray of shape (n_selected_,)
        Selected rows: the warm-start rows first, then the drawn rows in the
        order drawn (every prefix of the drawn part is a uniform sample).
    weights_, n_selected_, n_samples_fit_, classes_, sampling_strategy_, n_features_in_
        See :class:`BaseSelector`.

    See Also
    --------
    StratifiedSelector : Random within each class, with fixed class budgets.

    Notes
    -----
    With ``initial_indices`` the warm-start rows are kept and the rest is
    drawn uniformly without replacement from the other rows. ``X`` is only
    used for its number of rows. Time ``O(n)``, memory ``O(n)``.

    Examples
    --------
    >>> import numpy as np
    >>> from coreset3d import RandomSelector
    >>> X = np.zeros((10, 2))
    >>> sel = RandomSelector(budget=4, random_state=0).fit(X, initial_indices=[7])
    >>> int(sel.sample_indices_[0]), sel.n_selected_, len(set(sel.sample_indices_.tolist()))
    (7, 4, 4)
    """

    def __init__(self, budget=0.1, *, target_prior="empirical", random_state=None):
        super().__init__(budget, target_prior=target_prior, random_state=random_state)

    def _select(self, X, y, n_select, initial, random_state, **fit_params):
        others = np.flatnonzero(~_taken_mask(X.shape[0], initial))
        drawn = random_state.choice(others, n_select - initial.shape[0], replace=False)
        return np.concatenate([initial, drawn]), None


class StratifiedSelector(BaseSelector):
    """Random rows within each class, with class budgets from :mod:`coreset3d.allocation`.

    Parameters
    ----------
    budget : int or float, default=0.1
        Subset size: an int count or a float fraction in (0, 1].
    strategy : {"proportional", "balanced"}, default="proportional"
        Class budgets: in proportion to class size
        (:func:`~coreset3d.allocation.proportional_allocation`, keeps the
        class prior) or equal, capped at each class's size
        (:func:`~coreset3d.allocation.balanced_allocation`, favours the
        tail classes).
    target_prior : {"empirical", "uniform"} or dict, default="empirical"
        Class prior that ``weights_`` steer toward (see :class:`BaseSelector`).
    random_state : int, RandomState instance or None, default=None
        Seed of the draws.

    Attributes
    ----------
    sample_indices_ : ndarray of shape (n_selected_,)
        Selected rows: the warm-start rows first, then the drawn rows in a
        random order (not grouped by class).
    sampling_strategy_ : dict
        Class -> number of selected rows; without a warm start this equals
        the allocation function's output for ``strategy``.
    weights_, n_selected_, n_samples_fit_, classes_, n_features_in_
        See :class:`BaseSelector`.

    See Also
    --------
    RandomSelector : Uniform over all rows.
    coreset3d.allocation.proportional_allocation : The "proportional" budgets.
    coreset3d.allocation.balanced_allocation : The "balanced" budgets.

    Notes
    -----
    Needs labels. With ``initial_indices`` the warm-start rows count toward
    their class's budget and each class is topped up to it; a class whose
    warm-start rows already exceed its budget keeps them all, and the
    budgets of the other classes are recomputed by the same rule over what
    is left (the allocation water-filled above a floor of the warm-start
    counts). Time ``O(n log n + C^2)`` for ``C`` classes, memory ``O(n)``.

    Examples
    --------
    >>> import numpy as np
    >>> from coreset3d import StratifiedSelector
    >>> X = np.zeros((12, 2))
    >>> y = np.array([0] * 9 + [1] * 3)
    >>> StratifiedSelector(budget=4, random_state=0).fit(X, y).sampling_strategy_
    {0: 3, 1: 1}
    >>> StratifiedSelector(4, strategy="balanced", random_state=0).fit(X, y).sampling_strategy_
    {0: 2, 1: 2}
    """

    _parameter_constraints = {
        **BaseSelector._parameter_constraints,
        "strategy": [StrOptions({"proportional", "balanced"})],
    }
    _requires_labels = True

    def __init__(
        self, budget=0.1, *, strategy="proportional", target_prior="empirical", random_state=None
    ):
        super().__init__(budget, target_prior=target_prior, random_state=random_state)
        self.strategy = strategy

    def _select(self, X, y, n_select, initial, random_state, **fit_params):
        taken = _taken_mask(X.shape[0], initial)
        groups, needs = _class_groups(y, taken, initial, n_select, self.strategy)
        drawn = [
            random_state.choice(rows, need, replace=False)
            for rows, need in zip(groups, needs, strict=True)
        ]
        drawn = random_state.permutation(np.concatenate(drawn))
        return np.concatenate([initial, drawn]), None


def _taken_mask(n_samples, initial):
    taken = np.zeros(n_samples, dtype=bool)
    taken[initial] = True
    return taken


def _class_groups(y, taken, initial, n_select, strategy):
    """Free rows of each class and how many more each class gets.

    The class budgets follow ``strategy`` ("proportional" or "balanced") with
    the warm-start rows of each class kept as a floor.

    Returns
    -------
    groups : list of ndarray
        For each class ``c`` (encoded ``0..C-1``), its rows not in
        ``initial``, ascending.
    needs : ndarray of shape (n_classes,)
        How many rows to add per class; ``needs.sum()`` is
        ``n_select - initial.size``.
    """
    n_classes = int(y.max()) + 1
    sizes = np.bincount(y, minlength=n_classes)
    already = np.bincount(y[initial], minlength=n_classes)
    quotas = _class_quotas(strategy, sizes, n_select, lower=already)
    free = np.flatnonzero(~taken)
    by_class = free[np.argsort(y[free], kind="stable")]
    groups = np.split(by_class, np.cumsum(sizes - already)[:-1])
    return groups, quotas - already
