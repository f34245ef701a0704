"""Seeded Global Selection (SGS): a per-class floor, then global selection."""

import warnings
from numbers import Real

import numpy as np
from sklearn.base import clone
from sklearn.utils._param_validation import Interval, StrOptions

from .._blocks import take_rows
from ..allocation import floor_allocation
from ..base import BaseSelector, EmptyClassWarning

__all__ = ["SeededGlobalSelector"]


class SeededGlobalSelector(BaseSelector):
    """Seeded Global Selection: a per-class safety floor steered by ``k``.

    Phase 1 seeds every class with ``floor(k * B / C)`` samples (capped at
    the class size), chosen by ``base`` within the class or at random. Phase 2
    runs ``base`` on all samples for the rest of the budget, continuing from
    the seeds (a warm start, so no sample is picked twice). ``k = 0`` is
    ``base`` alone (global selection, leaning to overall accuracy); ``k = 1``
    splits the whole budget equally over the classes (leaning to mean class
    accuracy). What a class too small for its quota cannot take goes to
    phase 2.

    Parameters
    ----------
    base : selector, default=None
        Any coreset3d selector; its ``budget`` is set by SGS. None means
        ``FacilityLocationRBF()``.
    budget : int or float, default=0.1
        Total subset size B: an int count or a float fraction in (0, 1].
    k : float, default=0.4
        Share of the budget spent on the per-class floor, in [0, 1].
    seed_strategy : {"base", "random"}, default="base"
        How phase 1 picks inside a class: ``base`` fitted on the class's rows
        (as the paper's release does), or uniformly at random.
    target_prior : {"empirical", "uniform"} or dict, default="empirical"
        Class prior that ``weights_`` steer toward (see :class:`BaseSelector`).
    random_state : int, RandomState instance or None, default=None
        Seeds the random phase-1 picks and, where ``base`` has no seed of its
        own, ``base``'s randomness.

    Attributes
    ----------
    seed_indices_ : ndarray of shape (n_seeds,)
        Rows chosen in phase 1 (they open ``sample_indices_``).
    seed_allocation_ : dict
        Class -> phase-1 quota actually given.
    base_ : selector
        The phase-2 selector, fitted.
    gains_ : ndarray of shape (n_selected_,)
        Phase-2 marginal gains, where ``base`` reports them.
    sample_indices_, weights_, n_selected_, n_samples_fit_, classes_, sampling_strategy_
        See :class:`BaseSelector`.

    See Also
    --------
    FacilityLocationRBF : The default base.
    coreset3d.allocation.floor_allocation : The phase-1 quota.

    Notes
    -----
    Cost: one ``base`` fit per class on ``n_c`` rows plus one on all ``n``
    rows; for FL-RBF about ``O(sum_c n_c^2 d + n^2 d)``.

    Where ``base`` reads X in row blocks (``KCenterGreedy``,
    ``FacilityLocationRBF(similarity="knn")``), a ``numpy.memmap``, h5py or
    zarr X is never loaded whole: phase 1 reads the rows of one class at a
    time, phase 2 hands X on to ``base``. A class with no more rows than a
    kNN base's ``n_neighbors`` is seeded with every other row as neighbour.

    References
    ----------
    .. [1] Exploring 3D Dataset Pruning, Sec. 3.3 (Seeded Global Selection).

    Examples
    --------
    >>> import numpy as np
    >>> from coreset3d import FacilityLocationRBF, SeededGlobalSelector
    >>> rng = np.random.RandomState(0)
    >>> X = np.vstack([rng.randn(40, 2), rng.randn(4, 2) + 3])
    >>> y = np.array([0] * 40 + [1] * 4)
    >>> sel = SeededGlobalSelector(FacilityLocationRBF(sigma=1.0), budget=10, k=0.4).fit(X, y)
    >>> sel.seed_allocation_, sel.n_selected_
    ({0: 2, 1: 2}, 10)
    """

    _parameter_constraints = {
        **BaseSelector._parameter_constraints,
        "base": [BaseSelector, None],
        "k": [Interval(Real, 0, 1, closed="both")],
        "seed_strategy": [StrOptions({"base", "random"})],
    }
    _requires_labels = True

    def __init__(
        self,
        base=None,
        budget=0.1,
        *,
        k=0.4,
        seed_strategy="base",
        target_prior="empirical",
        random_state=None,
    ):
        super().__init__(budget, target_prior=target_prior, random_state=random_state)
        self.base = base
        self.k = k
        self.seed_strategy = seed_strategy

    def _make_base(self, budget, random_state):
        if self.base is None:
            from ._facility_location import FacilityLocationRBF

            base = FacilityLocationRBF()
        else:
            base = clone(self.base)
        params = {"budget": budget}
        if random_state is not None and base.get_params().get("random_state", 0) is None:
            params["random_state"] = random_state.randint(np.iinfo(np.int32).max)
        return base.set_params(**params)

    def _accepted_fit_params(self):
        return self._make_base(1, None)._accepted_fit_params()

    def _accepts_blocks(self):  # a memmap/h5py/zarr X stays on disk where base reads blocks
        return self._make_base(1, None)._accepts_blocks()

    def _select(self, X, y, n_select, initial, random_state, **fit_params):
        n_samples = X.shape[0]
        n_classes = self.classes_.shape[0]
        if self.k > 0 and n_classes < 2:
            raise ValueError(
                f"k={self.k} asks for a per-class floor but y holds one class "
                f"({self.classes_.tolist()[0]!r}); pass k=0 (global selection) or labels of "
                "several classes."
            )
        per_sample = self._make_base(1, None)._sample_fit_params
        for key in per_sample:
            value = fit_params.get(key)
            if value is not None and np.ndim(value) >= 1 and np.shape(value)[0] != n_samples:
                raise ValueError(
                    f"{key} has {np.shape(value)[0]} values but X has {n_samples} rows; "
                    f"pass one value of {key} per row of X."
                )
        quota = floor_allocation(self._class_counts, n_select - initial.shape[0], self.k)
        taken = np.zeros(n_samples, dtype=bool)
        taken[initial] = True
        seeds = []
        allocation = {}
        for c, label in enumerate(self.classes_.tolist()):
            rows = np.flatnonzero((y == c) & ~taken)
            n_c = min(quota[c], rows.shape[0])
            allocation[label] = int(n_c)
            if n_c == 0:
                continue
            if self.seed_strategy == "random":
                picked = rows[random_state.choice(rows.shape[0], n_c, replace=False)]
            else:
                sub = self._make_base(int(n_c), random_state)
                n_neighbors = sub.get_params().get("n_neighbors")
                if n_neighbors is not None and n_neighbors >= rows.shape[0]:
                    if rows.shape[0] == 1:  # a one-row class: nothing to search
                        seeds.append(rows)
                        continue
                    sub.set_params(n_neighbors=rows.shape[0] - 1)  # every other row
                sub_params = {
                    key: np.asarray(v)[rows] if key in per_sample and v is not None else v
                    for key, v in fit_params.items()
                }
                with warnings.catch_warnings():  # the inner weights are not used
                    warnings.simplefilter("ignore", EmptyClassWarning)
                    sub.fit(take_rows(X, rows), y[rows], **sub_params)
                picked = rows[sub.sample_indices_]
            seeds.append(picked)
        self.seed_indices_ = np.concatenate(seeds) if seeds else np.empty(0, dtype=np.intp)
        self.seed_allocation_ = allocation

        self.base_ = self._make_base(n_select, random_state)
        warm = np.concatenate([initial, self.seed_indices_]).astype(np.intp)
        with warnings.catch_warnings():  # SGS reports its own weights
            warnings.simplefilter("ignore", EmptyClassWarning)
            self.base_.fit(X, y, initial_indices=warm, **fit_params)
        return self.base_.sample_indices_, getattr(self.base_, "gains_", None)
