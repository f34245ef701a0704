"""Per-class budgets: how many samples each class gets out of a total budget.

Every rule here turns a total budget ``B`` and the class sizes (plus a
per-class statistic where the rule needs one) into an integer count per class
that sums to exactly ``B`` (except :func:`floor_allocation`, a seed quota) and
never exceeds a class's size. They share one procedure:

1. *Water-filling.* The rule gives each class a weight ``w_c``; the
   continuous quota is ``q_c = clip(tau * w_c, lo_c, n_c)`` with the level
   ``tau`` set so that ``sum_c q_c = B``. Equivalently: give every class its
   share ``B w_c / sum w``; cap the classes whose share exceeds their size;
   hand what they could not take to the uncapped classes by the same rule;
   repeat until no class is over its size. ``lo_c`` is 0 except where a rule
   asks for a floor (NUCS, CCS-CP).
2. *Largest-remainder rounding.* Each class gets ``floor(q_c)``; the samples
   left over go one each to the classes with the largest fractional parts,
   ties to the lower class index (the position in ``class_sizes``).

Quotas are computed in exact rational arithmetic (:class:`fractions.Fraction`)
from the given sizes and weights, so ties are real ties and the result does
not depend on floating-point noise.

If every class still open has weight 0 while budget remains (e.g. DRoP with a
recall of 1 in every class that is not yet full), the rest is shared in
proportion to class size among those classes.
"""

import math
from fractions import Fraction
from numbers import Integral, Real

import numpy as np

__all__ = [
    "proportional_allocation",
    "balanced_allocation",
    "floor_allocation",
    "optimal_allocation",
    "drop_allocation",
    "nucs_allocation",
    "ccs_cp_allocation",
]


# ---------------------------------------------------------------- public rules
def proportional_allocation(class_sizes, budget):
    """Split ``budget`` across classes in proportion to their sizes.

    Parameters
    ----------
    class_sizes : dict or array-like of shape (n_classes,)
        Number of samples of each class: a dict ``class -> size`` or a 1-D
        array of non-negative ints (classes ``0..n_classes-1``).
    budget : int
        Total number of samples, in ``[0, sum(class_sizes)]``.

    Returns
    -------
    allocation : dict
        ``class -> count`` (python ints) in the order of ``class_sizes``;
        the counts sum to ``budget`` and ``0 <= count <= size``.

    See Also
    --------
    balanced_allocation : The same count for every class.

    Notes
    -----
    The quota ``B n_c / n`` never exceeds ``n_c``, so no class is capped;
    rounding is by largest remainder (Hamilton's method). Like every
    largest-remainder method it is not house-monotone: raising ``B`` by one
    can take a sample from a class (the Alabama paradox; e.g. sizes
    ``[6, 6, 2]`` give ``[4, 4, 2]`` for ``B=10`` and ``[5, 5, 1]`` for
    ``B=11``). A count never moves by more than one from its exact quota
    ``B n_c / n``. Time ``O(C log C)`` for ``C`` classes.

    Examples
    --------
    >>> proportional_allocation([50, 30, 20], 10)
    {0: 5, 1: 3, 2: 2}
    >>> proportional_allocation({"chair": 7, "lamp": 2, "cup": 1}, 5)
    {'chair': 4, 'lamp': 1, 'cup': 0}
    """
    keys, sizes = _check_class_sizes(class_sizes)
    budget = _check_budget(budget, int(sizes.sum()))
    counts = _allocate([Fraction(int(s)) for s in sizes], sizes, budget)
    return _as_dict(keys, counts)


def balanced_allocation(class_sizes, budget):
    """Split ``budget`` equally across classes, capped at each class's size.

    Parameters
    ----------
    class_sizes : dict or array-like of shape (n_classes,)
        Number of samples of each class (see :func:`proportional_allocation`).
    budget : int
        Total number of samples, in ``[0, sum(class_sizes)]``.

    Returns
    -------
    allocation : dict
        ``class -> count``; the counts sum to ``budget``.

    See Also
    --------
    proportional_allocation : Counts in proportion to class size.

    Notes
    -----
    A class smaller than the equal share ``B / C`` keeps all its samples and
    the rest is shared equally among the other classes (water-filling): the
    counts are ``min(n_c, t)`` or ``min(n_c, t + 1)``, the extra ones going
    to the lowest class indices. The counts grow monotonically with ``B``.
    Time ``O(C^2)`` in the worst case (one class capped per round).

    Examples
    --------
    >>> balanced_allocation([50, 30, 2], 20)
    {0: 9, 1: 9, 2: 2}
    """
    keys, sizes = _check_class_sizes(class_sizes)
    budget = _check_budget(budget, int(sizes.sum()))
    counts = _allocate([Fraction(1)] * sizes.shape[0], sizes, budget)
    return _as_dict(keys, counts)


def floor_allocation(class_sizes, budget, k):
    """Seed quota of Seeded Global Selection: ``min(n_c, floor(k B / C))`` per class.

    This quota does *not* sum to ``budget``: it is phase 1 of Seeded Global
    Selection, which guarantees every class a floor; the rest of the budget
    (``budget - sum(allocation.values())``) is spent by the global phase.

    Parameters
    ----------
    class_sizes : dict or array-like of shape (n_classes,)
        Number of samples of each class (see :func:`proportional_allocation`).
    budget : int
        Total budget ``B`` of the whole selection, in ``[0, sum(class_sizes)]``.
    k : float in [0, 1]
        Share of the budget spent on the per-class floor. ``k`` is read as
        the decimal it prints as, so ``k=0.29`` with ``B=100``, ``C=1`` gives
        29 (not 28, as the binary float ``0.29 * 100`` would).

    Returns
    -------
    allocation : dict
        ``class -> min(n_c, floor(k B / C))``; the sum is at most ``k B``.

    See Also
    --------
    coreset3d.selectors.SeededGlobalSelector : Uses this quota.

    Notes
    -----
    ``C`` counts every class of ``class_sizes``, empty ones included. A
    class smaller than the floor gives all its samples and the shortfall is
    *not* redistributed (the global phase spends it). Time ``O(C)``.

    References
    ----------
    .. [1] Exploring 3D Dataset Pruning, Sec. 3.3 (Seeded Global Selection).

    Examples
    --------
    >>> floor_allocation([40, 4, 1], 20, 0.5)
    {0: 3, 1: 3, 2: 1}
    """
    keys, sizes = _check_class_sizes(class_sizes)
    budget = _check_budget(budget, int(sizes.sum()))
    if isinstance(k, bool) or not isinstance(k, Real):
        raise TypeError(
            f"k must be a number in [0, 1] (the share of the budget spent on the per-class "
            f"floor); got {type(k).__name__} {k!r}."
        )
    if not 0 <= k <= 1:
        raise ValueError(
            f"k={k!r} is outside [0, 1]; pass the share of the budget spent on the per-class "
            "floor as a fraction in [0, 1], e.g. k=0.4."
        )
    share = Fraction(str(k)) * budget / sizes.shape[0]
    floor = share.numerator // share.denominator
    return _as_dict(keys, np.minimum(sizes, floor))


def optimal_allocation(prior, complexity, budget, beta, class_sizes=None):
    """Class budgets that minimise the prior-weighted risk bound (Theorem 3.3).

    Solves ``min_n sum_c pi_c C_c n_c^(-beta)`` subject to
    ``sum_c n_c = B`` (and ``n_c <= size_c`` when ``class_sizes`` is given),
    whose solution is ``n_c ∝ (pi_c C_c)^(1 / (1 + beta))``; then rounds.

    Parameters
    ----------
    prior : dict or array-like of shape (n_classes,)
        Target class prior ``pi_c`` (non-negative; need not sum to 1).
    complexity : dict or array-like of shape (n_classes,)
        Per-class complexity constant ``C_c`` of the risk bound
        (non-negative).
    budget : int
        Total budget ``B`` (at most ``sum(class_sizes)`` when given).
    beta : float > 0
        Exponent of the per-class risk decay ``n_c^(-beta)``.
    class_sizes : dict or array-like of shape (n_classes,), default=None
        Class sizes: the caps. None means no cap.

    Returns
    -------
    allocation : dict
        ``class -> count`` summing to ``budget``; class keys are those of
        ``class_sizes`` if given, else of ``prior`` (``0..C-1`` for arrays).

    See Also
    --------
    proportional_allocation : The case ``pi_c C_c ∝ n_c^(1 + beta)``.

    Notes
    -----
    *Derivation.* Write ``a_c = pi_c C_c >= 0``. The objective
    ``f(n) = sum_c a_c n_c^(-beta)`` is convex on ``n > 0`` (each term is),
    so a KKT point is the global minimum. The Lagrangian is
    ``L = sum_c a_c n_c^(-beta) + lam (sum_c n_c - B)``;
    ``dL/dn_c = -beta a_c n_c^(-beta-1) + lam = 0`` gives
    ``n_c = (beta a_c / lam)^(1/(1+beta)) ∝ a_c^(1/(1+beta))``, and
    ``sum_c n_c = B`` fixes ``lam``:
    ``n_c = B a_c^(1/(1+beta)) / sum_k a_k^(1/(1+beta))``.
    With caps ``n_c <= s_c`` each cap gets a multiplier ``mu_c >= 0`` with
    ``mu_c (s_c - n_c) = 0`` and stationarity reads
    ``beta a_c n_c^(-beta-1) = lam + mu_c``: a capped class (``mu_c > 0``)
    sits at ``s_c < (beta a_c / lam)^(1/(1+beta))``, so
    ``n_c = min(s_c, (beta a_c / lam)^(1/(1+beta)))``: exactly the
    water-filling of the module docstring with weights
    ``a_c^(1/(1+beta))``. The continuous optimum is then rounded by largest
    remainder. A class with ``a_c = 0`` gets 0 (its term vanishes), unless
    the others are full, in which case the rest goes in proportion to size
    (equally without ``class_sizes``). Time ``O(C^2)`` worst case.

    References
    ----------
    .. [1] Exploring 3D Dataset Pruning, Theorem 3.3 (optimal class budgets).

    Examples
    --------
    >>> optimal_allocation([0.5, 0.5], [1.0, 4.0], 30, beta=1.0)
    {0: 10, 1: 20}
    >>> optimal_allocation([0.5, 0.5], [1.0, 4.0], 30, beta=1.0, class_sizes=[100, 15])
    {0: 15, 1: 15}
    """
    if class_sizes is not None:
        keys, sizes = _check_class_sizes(class_sizes)
        budget = _check_budget(budget, int(sizes.sum()))
    else:
        keys = _keys_of(prior, "prior")
        sizes = None
        budget = _check_budget(budget, None)
    prior = _check_per_class(prior, "prior", keys)
    complexity = _check_per_class(complexity, "complexity", keys)
    if isinstance(beta, bool) or not isinstance(beta, Real):
        raise TypeError(f"beta must be a number > 0; got {type(beta).__name__} {beta!r}.")
    if not (math.isfinite(beta) and beta > 0):
        raise ValueError(
            f"beta={beta!r} must be a finite number > 0 (the exponent of the per-class risk "
            "n_c^(-beta)); pass e.g. beta=0.5."
        )
    weights = np.zeros_like(prior)
    positive = (prior > 0) & (complexity > 0)
    if positive.any():
        # (pi_c C_c)^(1/(1+beta)) in logs, scaled by the largest: tiny or huge values
        # neither underflow nor overflow (the allocation depends on ratios only)
        log_w = (np.log(prior[positive]) + np.log(complexity[positive])) / (1.0 + beta)
        weights[positive] = np.exp(log_w - log_w.max())
    counts = _allocate([Fraction(float(w)) for w in weights], sizes, budget)
    return _as_dict(keys, counts)


def drop_allocation(class_sizes, budget, recall):
    """DRoP class budgets: keep more of the classes the model gets wrong.

    The share of class ``c`` that is kept (its density ``d_c``) is
    proportional to its error ``1 - recall_c``, so its count is
    ``n_c ∝ size_c (1 - recall_c)``; classes that would need more than all
    their samples keep all of them and the excess goes to the others by the
    same rule.

    Parameters
    ----------
    class_sizes : dict or array-like of shape (n_classes,)
        Number of samples of each class (see :func:`proportional_allocation`).
    budget : int
        Total number of samples, in ``[0, sum(class_sizes)]``.
    recall : dict or array-like of shape (n_classes,)
        Per-class recall in ``[0, 1]`` of a preliminary model, measured on
        held-out data.

    Returns
    -------
    allocation : dict
        ``class -> count`` summing to ``budget``.

    See Also
    --------
    nucs_allocation : The same shape with a difficulty score.

    Notes
    -----
    This follows Algorithm 1 of the paper (densities ``d_c ∝ 1 - r_c``,
    saturated classes leave the pool, the excess is redistributed until none
    is left), done exactly: the released active-learning code removes
    classes from the list it is iterating over and floors every quota, so
    part of the budget can stay unallocated; here the quotas are
    water-filled and rounded by largest remainder, so the counts always sum
    to ``budget``. That code also makes the *count* ``∝ 1 - r_c``; it equals
    this rule when classes have the same size. If every class has recall 1
    (no error to steer by) the allocation is proportional to size, the
    same fallback that spends what is left once all classes with errors are
    full. Time ``O(C^2)`` worst case.

    References
    ----------
    .. [1] Vysogorets, Ahuja and Kempe, "DRoP: Distributionally Robust Data
       Pruning", ICLR 2025, Algorithm 1 (``d_k = d (1 - r_k) / Z``).

    Examples
    --------
    >>> drop_allocation([100, 100, 100], 60, [0.9, 0.8, 0.7])
    {0: 10, 1: 20, 2: 30}
    """
    keys, sizes = _check_class_sizes(class_sizes)
    budget = _check_budget(budget, int(sizes.sum()))
    recall = _check_per_class(recall, "recall", keys, upper=1.0)
    weights = [int(s) * (1 - Fraction(float(r))) for s, r in zip(sizes, recall, strict=True)]
    return _as_dict(keys, _allocate(weights, sizes, budget))


def nucs_allocation(class_sizes, budget, difficulty):
    """NUCS class budgets: harder classes keep a larger share, every class at least one.

    The share of class ``c`` that is kept is proportional to its mean
    difficulty ``S_c`` (e.g. the mean EL2N or loss of its samples), so its
    count is ``n_c ∝ size_c S_c``, with at least one sample per non-empty
    class when ``budget`` allows it.

    Parameters
    ----------
    class_sizes : dict or array-like of shape (n_classes,)
        Number of samples of each class (see :func:`proportional_allocation`).
    budget : int
        Total number of samples, in ``[0, sum(class_sizes)]``.
    difficulty : dict or array-like of shape (n_classes,)
        Non-negative mean difficulty of each class (the paper uses a
        winsorised mean of per-sample scores).

    Returns
    -------
    allocation : dict
        ``class -> count`` summing to ``budget``.

    See Also
    --------
    drop_allocation : The same shape with the error rate.

    Notes
    -----
    The quotas are ``clip(tau size_c S_c, 1, size_c)`` water-filled to sum
    to ``budget`` and rounded by largest remainder. The floor of one
    applies when ``budget`` is at least the number of non-empty classes;
    below that, no floor (some classes get 0). Time ``O(C^2)`` worst case.

    References
    ----------
    .. [1] Zhang et al., "Non-Uniform Class-Wise Coreset Selection", 2025
       (``b_j = (1 - alpha) S_j N_j / T`` with ``T = sum_i S_i N_i / N``).

    Examples
    --------
    >>> nucs_allocation([100, 100, 100], 30, [1.0, 2.0, 0.0])
    {0: 10, 1: 19, 2: 1}
    """
    keys, sizes = _check_class_sizes(class_sizes)
    budget = _check_budget(budget, int(sizes.sum()))
    difficulty = _check_per_class(difficulty, "difficulty", keys)
    weights = [int(s) * Fraction(float(d)) for s, d in zip(sizes, difficulty, strict=True)]
    lower = np.minimum(sizes, 1)
    if budget < lower.sum():
        lower = None
    return _as_dict(keys, _allocate(weights, sizes, budget, lower=lower))


def ccs_cp_allocation(class_sizes, budget, min_per_class):
    """CCS-CP class budgets: proportional to size, with a per-class minimum.

    Each class gets ``max(floor(B n_c / n), m)`` samples, capped at
    ``n_c``, then the counts are rebalanced to sum to ``B``.

    Parameters
    ----------
    class_sizes : dict or array-like of shape (n_classes,)
        Number of samples of each class (see :func:`proportional_allocation`).
    budget : int
        Total number of samples, in ``[0, sum(class_sizes)]``.
    min_per_class : int >= 0
        Minimum count ``m`` of each class (all of a class smaller than
        ``m``).

    Returns
    -------
    allocation : dict
        ``class -> count`` summing to ``budget``, each at least
        ``min(m, n_c)``.

    Raises
    ------
    ValueError
        If ``budget < sum_c min(m, n_c)``: the minimum cannot be kept.

    See Also
    --------
    proportional_allocation : The same rule without the minimum.

    Notes
    -----
    *Rebalancing rule.* The counts are the largest-remainder rounding of the
    water-filled quotas ``clip(tau n_c, min(m, n_c), n_c)``: classes whose
    proportional share is below ``m`` are raised to ``m``, and the samples
    this costs are taken from the other classes *in proportion to their
    size* (their shares shrink by a common factor ``tau <= B / n``). When no
    class is raised this is plain :func:`proportional_allocation`, i.e.
    ``floor(B n_c / n)`` plus the leftover samples by largest remainder.
    A class whose share falls below ``m`` once others were raised is raised
    too. Time ``O(C^2)`` worst case.

    References
    ----------
    .. [1] Tsai, Zheng and Prakash, "Class-Proportional Coreset Selection
       for Difficulty-Separable Data", 2025 (CCS-CP).

    Examples
    --------
    >>> ccs_cp_allocation([90, 8, 2], 20, 3)
    {0: 15, 1: 3, 2: 2}
    """
    keys, sizes = _check_class_sizes(class_sizes)
    budget = _check_budget(budget, int(sizes.sum()))
    if isinstance(min_per_class, bool) or not isinstance(min_per_class, Integral):
        raise TypeError(
            "min_per_class must be an int >= 0 (a count of samples); got "
            f"{type(min_per_class).__name__} {min_per_class!r}."
        )
    if min_per_class < 0:
        raise ValueError(f"min_per_class={min_per_class} is negative; pass an int >= 0.")
    lower = np.minimum(sizes, int(min_per_class))
    if lower.sum() > budget:
        raise ValueError(
            f"min_per_class={min_per_class} needs {int(lower.sum())} samples "
            f"(sum of min(m, n_c) over {sizes.shape[0]} classes) but budget={budget}; "
            f"raise budget to >= {int(lower.sum())} or lower min_per_class."
        )
    counts = _allocate([Fraction(int(s)) for s in sizes], sizes, budget, lower=lower)
    return _as_dict(keys, counts)


# ---------------------------------------------------- shared with the selectors
def _class_quotas(strategy, class_counts, budget, lower=None):
    """Counts per class (an int array) for a selector's ``strategy``.

    ``strategy`` is "proportional" or "balanced"; ``lower`` (e.g. the warm
    start rows already taken per class) is kept as a floor, the rest of the
    budget water-filled over it. Without ``lower`` this is exactly
    :func:`proportional_allocation` / :func:`balanced_allocation`.
    """
    sizes = np.asarray(class_counts, dtype=np.int64)
    if strategy == "proportional":
        weights = [Fraction(int(s)) for s in sizes]
    else:
        weights = [Fraction(1)] * sizes.shape[0]
    return _allocate(weights, sizes, int(budget), lower=lower)


# --------------------------------------------------------------- the machinery
def _allocate(weights, sizes, budget, lower=None):
    """Water-fill ``budget`` over ``weights`` within ``[lower, sizes]``, then round."""
    quotas = _water_fill(weights, lower, sizes, budget)
    return _largest_remainder(quotas, budget)


def _water_fill(weights, lower, upper, budget):
    """Exact quotas ``q_c = clip(tau w_c, lower_c, upper_c)`` with ``sum q_c = budget``.

    ``weights`` are non-negative Fractions; ``lower`` an int array or None
    (zeros); ``upper`` an int array or None (no cap). The caller guarantees
    ``sum(lower) <= budget <= sum(upper)``. Each round either fixes every
    class over its cap (when the capped excess is at least the deficit of
    the classes under their floor, the level can only rise, so they stay
    capped) or every class under its floor (the level can only fall).
    """
    n = len(weights)
    lo = [0] * n if lower is None else [int(v) for v in lower]
    hi = [None] * n if upper is None else [int(v) for v in upper]
    quotas = [None] * n
    for c in range(n):
        if hi[c] is not None and hi[c] <= lo[c]:
            quotas[c] = Fraction(hi[c])
    while True:
        active = [c for c in range(n) if quotas[c] is None]
        if not active:
            return quotas
        remaining = budget - sum(q for q in quotas if q is not None)
        w = {c: weights[c] for c in active}
        total = sum(w.values())
        if total == 0:  # no class left with weight: share the rest by size
            w = {c: Fraction(1 if hi[c] is None else hi[c]) for c in active}
            total = sum(w.values())
        share = {c: remaining * w[c] / total for c in active}
        over = [c for c in active if hi[c] is not None and share[c] > hi[c]]
        under = [c for c in active if share[c] < lo[c]]
        if not over and not under:
            for c in active:
                quotas[c] = share[c]
            return quotas
        excess = sum(share[c] - hi[c] for c in over)
        deficit = sum(lo[c] - share[c] for c in under)
        if over and excess >= deficit:
            for c in over:
                quotas[c] = Fraction(hi[c])
        else:
            for c in under:
                quotas[c] = Fraction(lo[c])


def _largest_remainder(quotas, budget):
    """Round exact quotas summing to ``budget`` to ints summing to ``budget``."""
    floors = np.array([q.numerator // q.denominator for q in quotas], dtype=np.int64)
    left = budget - int(floors.sum())
    if left > 0:
        remainders = [q - int(f) for q, f in zip(quotas, floors, strict=True)]
        order = sorted(range(len(quotas)), key=lambda c: (-remainders[c], c))
        floors[order[:left]] += 1
    return floors


def _as_dict(keys, counts):
    return {key: int(count) for key, count in zip(keys, counts, strict=True)}


# ------------------------------------------------------------------ validation
def _keys_of(values, name):
    if isinstance(values, dict):
        if not values:
            raise ValueError(f"{name} is empty; pass one entry per class.")
        return list(values)
    array = np.asarray(values)
    if array.ndim != 1 or array.shape[0] == 0:
        raise ValueError(
            f"{name} must be a non-empty 1-D array (one value per class) or a dict; "
            f"got shape {array.shape}."
        )
    return list(range(array.shape[0]))


def _check_class_sizes(class_sizes):
    """Return ``(keys, sizes)``: the class keys and an int64 array of sizes."""
    keys = _keys_of(class_sizes, "class_sizes")
    values = list(class_sizes.values()) if isinstance(class_sizes, dict) else class_sizes
    sizes = np.asarray(values)
    if sizes.dtype == bool or not np.issubdtype(sizes.dtype, np.number):
        raise TypeError(
            f"class_sizes must hold int counts of samples per class; got dtype {sizes.dtype}."
        )
    if not np.all(np.isfinite(sizes)) or np.any(sizes != np.round(sizes)):
        raise ValueError(
            "class_sizes must hold whole numbers (counts of samples per class); "
            f"got {sizes.tolist()[:10]}."
        )
    if np.any(sizes < 0):
        bad = [keys[c] for c in np.flatnonzero(sizes < 0)[:10]]
        raise ValueError(f"class_sizes must be >= 0; classes {bad} have negative sizes.")
    return keys, sizes.astype(np.int64)


def _check_budget(budget, total):
    if isinstance(budget, bool) or not isinstance(budget, Integral):
        raise TypeError(
            f"budget must be an int count of samples; got {type(budget).__name__} {budget!r}. "
            "Turn a fraction into a count first, e.g. coreset3d.base.resolve_budget."
        )
    budget = int(budget)
    if total is None and budget < 0:
        raise ValueError(f"budget={budget} is negative; pass an int budget >= 0.")
    if total is not None and not 0 <= budget <= total:
        raise ValueError(
            f"budget={budget} is outside [0, {total}] (the classes hold {total} samples in "
            f"all); pass an int budget in [0, {total}]."
        )
    return budget


def _check_per_class(values, name, keys, upper=None):
    """A per-class statistic as a float64 array aligned with ``keys``."""
    n_classes = len(keys)
    if isinstance(values, dict):
        missing = [k for k in keys if k not in values]
        unknown = [k for k in values if k not in set(keys)]
        if missing or unknown:
            raise ValueError(
                f"{name} must have one entry per class; missing classes {missing[:10]}, "
                f"unknown classes {unknown[:10]}."
            )
        values = [values[k] for k in keys]
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must hold numbers, one per class; got {values!r}.") from exc
    if array.ndim != 1 or array.shape[0] != n_classes:
        raise ValueError(
            f"{name} has shape {array.shape} but there are {n_classes} classes; "
            f"pass one value per class (shape ({n_classes},))."
        )
    bad = ~np.isfinite(array)
    if bad.any():
        raise ValueError(
            f"{name} holds NaN or inf for classes {[keys[c] for c in np.flatnonzero(bad)[:10]]}; "
            "pass finite values."
        )
    out = (array < 0) if upper is None else (array < 0) | (array > upper)
    if out.any():
        c = int(np.flatnonzero(out)[0])
        expected = ">= 0" if upper is None else f"in [0, {upper:g}]"
        raise ValueError(f"{name} must be {expected}; got {array[c]:g} for class {keys[c]!r}.")
    return array
