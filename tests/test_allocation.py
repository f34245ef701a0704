"""Per-class budgets: golden cases computed by hand, properties, the optimum of Thm 3.3, errors."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

from coreset3d.allocation import (
    _water_fill,
    balanced_allocation,
    ccs_cp_allocation,
    drop_allocation,
    floor_allocation,
    nucs_allocation,
    optimal_allocation,
    proportional_allocation,
)


def counts(allocation):
    return list(allocation.values())


# ------------------------------------------------------------- proportional
@pytest.mark.parametrize(
    ("sizes", "budget", "expected"),
    [
        ([50, 30, 20], 10, [5, 3, 2]),  # exact quotas
        ([2, 8, 5], 5, [1, 3, 1]),  # remainders 2/3, 2/3, 2/3: a real tie, lower index first
        ([6, 6, 2], 10, [4, 4, 2]),  # 4.29, 4.29, 1.43: the extra one to class 2
        ([6, 6, 2], 11, [5, 5, 1]),  # 4.71, 4.71, 1.57: Alabama paradox, class 2 loses one
        ([1, 99], 50, [1, 49]),  # 0.5, 49.5: tie, class 0 first
        ([0, 4], 2, [0, 2]),  # an empty class
        ([5, 3, 2], 1, [1, 0, 0]),  # B == 1
        ([1, 1, 1], 1, [1, 0, 0]),  # B == 1, three-way tie
        ([5, 3, 2], 0, [0, 0, 0]),  # B == 0
        ([5, 3, 2], 10, [5, 3, 2]),  # B == n
    ],
)
def test_proportional_golden(sizes, budget, expected):
    assert counts(proportional_allocation(sizes, budget)) == expected


def test_proportional_keeps_dict_keys_and_order():
    out = proportional_allocation({"chair": 7, "lamp": 2, "cup": 1}, 5)
    assert out == {"chair": 4, "lamp": 1, "cup": 0}  # 3.5, 1.0, 0.5: tie chair/cup -> chair
    assert list(out) == ["chair", "lamp", "cup"]
    assert all(type(v) is int for v in out.values())
    assert list(proportional_allocation(np.array([3, 1]), 2)) == [0, 1]


# ----------------------------------------------------------------- balanced
@pytest.mark.parametrize(
    ("sizes", "budget", "expected"),
    [
        ([50, 30, 2], 20, [9, 9, 2]),  # class 2 capped at 2, 18 shared by two
        ([1, 2, 3, 10], 12, [1, 2, 3, 6]),  # 3 each; 0 and 1 capped, then 4.5 > 3 caps 2
        ([5, 5, 5, 5], 10, [3, 3, 2, 2]),  # 2.5 each, extras to the lowest indices
        ([1, 1, 1], 2, [1, 1, 0]),
        ([1, 1, 1], 3, [1, 1, 1]),  # B == n, every class of 1
        ([4, 0, 4], 3, [2, 0, 1]),  # the empty class takes nothing
        ([3, 7], 0, [0, 0]),
        ([3, 7], 1, [1, 0]),
    ],
)
def test_balanced_golden(sizes, budget, expected):
    assert counts(balanced_allocation(sizes, budget)) == expected


def test_all_classes_smaller_than_the_quota_take_everything():
    assert counts(balanced_allocation([1, 2, 3], 6)) == [1, 2, 3]
    assert counts(proportional_allocation([1, 2, 3], 6)) == [1, 2, 3]


# -------------------------------------------------------------------- floor
@pytest.mark.parametrize(
    ("sizes", "budget", "k", "expected"),
    [
        ([40, 4, 1], 20, 0.5, [3, 3, 1]),  # floor(10 / 3) = 3, class 2 has only 1
        ([10, 10], 7, 1.0, [3, 3]),  # floor(3.5): does not sum to B by design
        ([10, 10], 7, 0, [0, 0]),
        ([100], 100, 0.29, [29]),  # read as the decimal 0.29, not 0.28999...
        ([10, 0, 10], 9, 1, [3, 0, 3]),  # empty classes count in C
        ([40, 4], 10, 0.4, [2, 2]),
    ],
)
def test_floor_golden(sizes, budget, k, expected):
    assert counts(floor_allocation(sizes, budget, k)) == expected


# ------------------------------------------------------------------ optimal
@pytest.mark.parametrize(
    ("prior", "complexity", "budget", "beta", "sizes", "expected"),
    [
        ([0.5, 0.5], [1.0, 4.0], 30, 1.0, None, [10, 20]),  # sqrt(a): 1 : 2
        ([0.5, 0.5], [1.0, 4.0], 30, 1.0, [100, 15], [15, 15]),  # class 1 capped
        ([1, 1], [1, 8], 25, 0.5, None, [5, 20]),  # 8^(2/3) = 4
        ([0, 1], [1, 1], 10, 1.0, None, [0, 10]),  # a zero prior takes nothing
        ([0, 1], [1, 1], 10, 1.0, [20, 4], [6, 4]),  # ... until the others are full
        ([0, 0], [1, 1], 5, 1.0, None, [3, 2]),  # no signal, no caps: equal
    ],
)
def test_optimal_golden(prior, complexity, budget, beta, sizes, expected):
    out = optimal_allocation(prior, complexity, budget, beta, class_sizes=sizes)
    assert counts(out) == expected


def test_optimal_keys_and_dict_statistics():
    out = optimal_allocation({"a": 1.0, "b": 1.0}, {"b": 4.0, "a": 1.0}, 30, 1.0)
    assert out == {"a": 10, "b": 20}
    out = optimal_allocation([1, 1], [1, 4], 30, 1.0, class_sizes={"x": 100, "y": 100})
    assert out == {"x": 10, "y": 20}


def test_optimal_handles_extreme_magnitudes():
    out = optimal_allocation([1e-300, 1e-300], [1e-10, 1e-10], 10, 0.1)
    assert counts(out) == [5, 5]
    out = optimal_allocation([1e300, 1e300], [1e300, 4e300], 6, 1.0)
    assert counts(out) == [2, 4]


@pytest.mark.parametrize("seed", range(6))
def test_optimal_matches_a_numerical_minimiser(seed):
    rng = np.random.RandomState(seed)
    n_classes = rng.randint(2, 7)
    prior = rng.dirichlet(np.ones(n_classes))
    complexity = rng.uniform(0.5, 5.0, n_classes)
    beta = rng.uniform(0.2, 2.0)
    sizes = rng.randint(5, 80, n_classes)
    budget = int(rng.randint(n_classes, sizes.sum()))
    a = prior * complexity

    def objective(n):
        return float(np.sum(a * n ** (-beta)))

    def gradient(n):
        return -beta * a * n ** (-beta - 1)

    res = minimize(
        objective,
        np.full(n_classes, budget / n_classes).clip(1e-3, sizes),
        jac=gradient,
        method="SLSQP",
        bounds=[(1e-3, s) for s in sizes],
        constraints=[
            {"type": "eq", "fun": lambda n: n.sum() - budget, "jac": lambda n: np.ones_like(n)}
        ],
        options={"ftol": 1e-14, "maxiter": 1000},
    )
    assert res.success, res.message
    weights = [Fraction(float(w)) for w in a ** (1 / (1 + beta))]
    exact = np.array([float(q) for q in _water_fill(weights, None, sizes, budget)])
    np.testing.assert_allclose(exact, res.x, rtol=1e-4, atol=1e-4)
    assert objective(exact) <= objective(res.x) + 1e-9

    # the integers are the largest-remainder rounding of that optimum
    out = np.array(counts(optimal_allocation(prior, complexity, budget, beta, class_sizes=sizes)))
    assert out.sum() == budget
    floors = np.floor(exact + 1e-9).astype(int)
    assert np.all((out == floors) | (out == floors + 1))
    extra = out - floors
    fractions = exact - floors
    if extra.any() and not extra.all():  # every +1 goes to a larger remainder than any non +1
        assert fractions[extra == 1].min() >= fractions[extra == 0].max() - 1e-9


# --------------------------------------------------------------------- DRoP
@pytest.mark.parametrize(
    ("sizes", "budget", "recall", "expected"),
    [
        ([100, 100, 100], 60, [0.75, 0.5, 0.25], [10, 20, 30]),  # errors 1 : 2 : 3
        ([100, 100, 100], 60, [0.9, 0.8, 0.7], [10, 20, 30]),  # same, decimal recalls
        ([200, 100], 30, [0.5, 0.5], [20, 10]),  # density ∝ error, so count ∝ size * error
        ([100, 10, 100], 70, [0.875, 0.0, 0.875], [30, 10, 30]),  # class 1 capped at 10
        ([50, 30, 20], 10, [1.0, 1.0, 1.0], [5, 3, 2]),  # no errors: proportional
        ([10, 4], 8, [1.0, 0.5], [4, 4]),  # class 1 full, the rest by size
        ([10, 10, 10], 10, [0.5, 0.5, 0.5], [4, 3, 3]),  # flooring alone would leave 1 unspent
    ],
)
def test_drop_golden(sizes, budget, recall, expected):
    assert counts(drop_allocation(sizes, budget, recall)) == expected


# --------------------------------------------------------------------- NUCS
@pytest.mark.parametrize(
    ("sizes", "budget", "difficulty", "expected"),
    [
        ([100, 100, 100], 30, [1.0, 2.0, 0.0], [10, 19, 1]),  # class 2 raised to its floor of 1
        ([5, 5, 5], 2, [1.0, 2.0, 3.0], [0, 1, 1]),  # B < C: no floor; 1/3, 2/3, 1
        ([2, 100], 20, [10.0, 1.0], [2, 18]),  # class 0 capped
        ([0, 10, 10], 4, [1.0, 1.0, 1.0], [0, 2, 2]),  # empty class: no floor
        ([3, 6], 3, [2.0, 1.0], [2, 1]),  # 6 : 6 of the shares -> 1.5 / 1.5, tie to class 0
    ],
)
def test_nucs_golden(sizes, budget, difficulty, expected):
    assert counts(nucs_allocation(sizes, budget, difficulty)) == expected


# ------------------------------------------------------------------- CCS-CP
@pytest.mark.parametrize(
    ("sizes", "budget", "m", "expected"),
    [
        ([90, 8, 2], 20, 3, [15, 3, 2]),  # 18, 1.6, 0.4 -> raise to 3 and 2 (all of it)
        ([50, 30, 20], 10, 1, [5, 3, 2]),  # nobody below the minimum: proportional
        ([60, 35, 5], 20, 7, [8, 7, 5]),  # class 1 (7.0) falls to 5.5 once class 2 is raised
        ([5, 5, 5], 6, 2, [2, 2, 2]),  # the minimum uses the whole budget
        ([5, 3, 2], 10, 4, [5, 3, 2]),  # B == n
    ],
)
def test_ccs_cp_golden(sizes, budget, m, expected):
    assert counts(ccs_cp_allocation(sizes, budget, m)) == expected


# --------------------------------------------------------------- properties
def sizes_and_budget(max_classes=8, max_size=25):
    @st.composite
    def build(draw):
        sizes = draw(st.lists(st.integers(0, max_size), min_size=1, max_size=max_classes))
        budget = draw(st.integers(0, sum(sizes)))
        return sizes, budget

    return build()


def assert_valid(allocation, sizes, budget):
    values = np.array(counts(allocation))
    assert values.sum() == budget
    assert np.all(values >= 0) and np.all(values <= np.array(sizes))
    assert all(type(v) is int for v in allocation.values())


unit = st.floats(0, 1, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(sizes_and_budget(), st.data())
def test_every_rule_sums_to_the_budget_within_caps(case, data):
    sizes, budget = case
    n_classes = len(sizes)
    stats = data.draw(st.lists(unit, min_size=n_classes, max_size=n_classes))
    prior = data.draw(st.lists(unit, min_size=n_classes, max_size=n_classes))
    beta = data.draw(st.floats(0.05, 5.0))
    results = [
        proportional_allocation(sizes, budget),
        balanced_allocation(sizes, budget),
        drop_allocation(sizes, budget, stats),
        nucs_allocation(sizes, budget, stats),
        optimal_allocation(prior, stats, budget, beta, class_sizes=sizes),
    ]
    for allocation in results:
        assert_valid(allocation, sizes, budget)
    # determinism, and dict input gives the same counts as array input
    keyed = {f"c{i}": s for i, s in enumerate(sizes)}
    assert counts(drop_allocation(keyed, budget, stats)) == counts(results[2])
    assert counts(nucs_allocation(np.array(sizes), budget, np.array(stats))) == counts(results[3])
    if budget >= sum(min(s, 1) for s in sizes):  # NUCS floor of one per non-empty class
        assert all(v >= min(s, 1) for v, s in zip(counts(results[3]), sizes, strict=True))


@settings(max_examples=60, deadline=None)
@given(sizes_and_budget(), st.integers(0, 6))
def test_ccs_cp_keeps_the_minimum(case, m):
    sizes, budget = case
    floor = [min(s, m) for s in sizes]
    if sum(floor) > budget:
        with pytest.raises(ValueError, match="min_per_class"):
            ccs_cp_allocation(sizes, budget, m)
        return
    out = ccs_cp_allocation(sizes, budget, m)
    assert_valid(out, sizes, budget)
    assert all(v >= f for v, f in zip(counts(out), floor, strict=True))
    if m == 0:
        assert out == proportional_allocation(sizes, budget)


@settings(max_examples=60, deadline=None)
@given(sizes_and_budget(), st.floats(0, 1))
def test_floor_is_capped_and_below_k_budget(case, k):
    sizes, budget = case
    out = counts(floor_allocation(sizes, budget, k))
    per_class = int(Fraction(str(k)) * budget / len(sizes))
    assert out == [min(s, per_class) for s in sizes]
    assert sum(out) <= k * budget + 1e-9


@settings(max_examples=80, deadline=None)
@given(sizes_and_budget())
def test_balanced_is_monotone_in_budget(case):
    sizes, budget = case
    if budget == sum(sizes):
        return
    low = np.array(counts(balanced_allocation(sizes, budget)))
    high = np.array(counts(balanced_allocation(sizes, budget + 1)))
    assert np.all(high >= low) and (high - low).sum() == 1


@settings(max_examples=80, deadline=None)
@given(sizes_and_budget())
def test_proportional_stays_within_one_of_its_quota(case):
    # Largest remainder is not house-monotone (the Alabama paradox, see the golden case
    # [6, 6, 2]); what holds is the quota property, so a count drops by at most one as B grows.
    sizes, budget = case
    total = sum(sizes)
    out = np.array(counts(proportional_allocation(sizes, budget)))
    for value, size in zip(out, sizes, strict=True):
        quota = Fraction(budget * size, total) if total else Fraction(0)
        assert abs(value - quota) < 1
    if budget < total:
        higher = np.array(counts(proportional_allocation(sizes, budget + 1)))
        assert np.all(higher >= out - 1)


@settings(max_examples=60, deadline=None)
@given(sizes_and_budget(), st.data())
def test_water_filled_quotas_are_monotone_in_budget(case, data):
    sizes, budget = case
    if budget == sum(sizes):
        return
    weights = [Fraction(w) for w in data.draw(st.lists(st.integers(0, 9), min_size=len(sizes),
                                                        max_size=len(sizes)))]
    low = _water_fill(weights, None, sizes, budget)
    high = _water_fill(weights, None, sizes, budget + 1)
    assert sum(low) == budget and sum(high) == budget + 1
    assert all(h >= lo for h, lo in zip(high, low, strict=True))


# ------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: proportional_allocation([3, 4], 8), ValueError,
         r"budget=8 is outside \[0, 7\] \(the classes hold 7 samples in all\); pass an int "
         r"budget in \[0, 7\]"),
        (lambda: balanced_allocation([3, 4], -1), ValueError, r"budget=-1 is outside \[0, 7\]"),
        (lambda: proportional_allocation([3, 4], 0.5), TypeError,
         r"budget must be an int count of samples; got float 0.5.*resolve_budget"),
        (lambda: proportional_allocation([3, 4], True), TypeError, "budget must be an int"),
        (lambda: optimal_allocation([1], [1], -2, 1.0), ValueError,
         r"budget=-2 is negative; pass an int budget >= 0"),
        (lambda: proportional_allocation([[1, 2]], 1), ValueError,
         r"class_sizes must be a non-empty 1-D array .* got shape \(1, 2\)"),
        (lambda: proportional_allocation([], 0), ValueError, "class_sizes must be a non-empty"),
        (lambda: proportional_allocation({}, 0), ValueError, "class_sizes is empty"),
        (lambda: proportional_allocation([3, -1], 1), ValueError,
         r"class_sizes must be >= 0; classes \[1\] have negative sizes"),
        (lambda: proportional_allocation([2.5, 1], 1), ValueError,
         "class_sizes must hold whole numbers"),
        (lambda: proportional_allocation(["a", "b"], 1), TypeError,
         "class_sizes must hold int counts"),
        (lambda: drop_allocation([3, 4], 2, [0.5]), ValueError,
         r"recall has shape \(1,\) but there are 2 classes; pass one value per class"),
        (lambda: drop_allocation([3, 4], 2, [0.5, np.nan]), ValueError,
         r"recall holds NaN or inf for classes \[1\]; pass finite values"),
        (lambda: drop_allocation([3, 4], 2, [0.5, 1.2]), ValueError,
         r"recall must be in \[0, 1\]; got 1.2 for class 1"),
        (lambda: nucs_allocation([3, 4], 2, [-1.0, 1.0]), ValueError,
         "difficulty must be >= 0; got -1 for class 0"),
        (lambda: nucs_allocation([3, 4], 2, [np.inf, 1.0]), ValueError,
         "difficulty holds NaN or inf"),
        (lambda: nucs_allocation([3, 4], 2, ["x", "y"]), TypeError,
         "difficulty must hold numbers"),
        (lambda: drop_allocation({"a": 3, "b": 4}, 2, {"a": 0.5, "c": 0.5}), ValueError,
         r"recall must have one entry per class; missing classes \['b'\], unknown classes "
         r"\['c'\]"),
        (lambda: floor_allocation([3, 4], 2, 1.5), ValueError,
         r"k=1.5 is outside \[0, 1\]; pass the share of the budget"),
        (lambda: floor_allocation([3, 4], 2, -0.1), ValueError, r"k=-0.1 is outside \[0, 1\]"),
        (lambda: floor_allocation([3, 4], 2, "half"), TypeError, "k must be a number in"),
        (lambda: optimal_allocation([1, 1], [1, 1], 2, 0.0), ValueError,
         r"beta=0.0 must be a finite number > 0"),
        (lambda: optimal_allocation([1, 1], [1, 1], 2, np.nan), ValueError,
         "beta=nan must be a finite number > 0"),
        (lambda: optimal_allocation([1, 1], [1, 1], 2, "1"), TypeError, "beta must be a number"),
        (lambda: optimal_allocation([1, 1], [1], 2, 1.0), ValueError,
         r"complexity has shape \(1,\) but there are 2 classes"),
        (lambda: optimal_allocation([1, -1], [1, 1], 2, 1.0), ValueError,
         "prior must be >= 0; got -1 for class 1"),
        (lambda: optimal_allocation([1, 1], [1, 1], 9, 1.0, class_sizes=[4, 4]), ValueError,
         r"budget=9 is outside \[0, 8\]"),
        (lambda: ccs_cp_allocation([5, 5, 5], 5, 2), ValueError,
         r"min_per_class=2 needs 6 samples \(sum of min\(m, n_c\) over 3 classes\) but "
         r"budget=5; raise budget to >= 6 or lower min_per_class"),
        (lambda: ccs_cp_allocation([5, 5], 5, -1), ValueError,
         "min_per_class=-1 is negative; pass an int >= 0"),
        (lambda: ccs_cp_allocation([5, 5], 5, 1.5), TypeError,
         "min_per_class must be an int >= 0"),
    ],
)
def test_error_messages(call, error, match):
    with pytest.raises(error, match=match):
        call()
