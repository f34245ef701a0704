"""RandomSelector and StratifiedSelector: budgets, class counts, seeds, warm start, errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.utils._param_validation import InvalidParameterError

from coreset3d import RandomSelector, StratifiedSelector
from coreset3d.allocation import balanced_allocation, proportional_allocation


def assert_valid_selection(sel, n_samples, n_select):
    idx = sel.sample_indices_
    assert idx.shape == (n_select,) and sel.n_selected_ == n_select
    assert np.unique(idx).size == n_select
    assert idx.min() >= 0 and idx.max() < n_samples


# ------------------------------------------------------------ RandomSelector
@pytest.mark.parametrize(("budget", "n_select"), [(1, 1), (7, 7), (0.25, 5), (1.0, 20)])
def test_random_exact_budget_unique_in_range(budget, n_select):
    X = np.random.RandomState(0).randn(20, 3)
    sel = RandomSelector(budget=budget, random_state=0).fit(X)
    assert_valid_selection(sel, 20, n_select)
    assert sel.weights_.tolist() == [1.0] * n_select and sel.sampling_strategy_ == {}


def test_random_budget_n_takes_every_row():
    X = np.zeros((6, 2))
    sel = RandomSelector(budget=6, random_state=3).fit(X)
    assert sorted(sel.sample_indices_.tolist()) == [0, 1, 2, 3, 4, 5]
    assert sel.get_support().all()


def test_random_same_seed_same_rows_other_seed_other_rows():
    X = np.zeros((50, 2))
    a = RandomSelector(budget=10, random_state=7).fit(X).sample_indices_
    b = RandomSelector(budget=10, random_state=7).fit(X).sample_indices_
    c = RandomSelector(budget=10, random_state=8).fit(X).sample_indices_
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(np.sort(a), np.sort(c))


def test_random_is_uniform_over_rows():
    # each of 10 rows is in a 3-subset with probability 0.3: 600 of 2000 draws, sd ~ 20.5
    X = np.zeros((10, 1))
    rng = np.random.RandomState(0)
    hits = np.zeros(10)
    for _ in range(2000):
        hits[RandomSelector(budget=3, random_state=rng).fit(X).sample_indices_] += 1
    assert np.all(np.abs(hits - 600) < 100)


def test_random_warm_start_keeps_initial_rows_and_draws_the_rest_from_the_others():
    X = np.zeros((12, 2))
    initial = [9, 2, 5]
    sel = RandomSelector(budget=8, random_state=0).fit(X, initial_indices=initial)
    assert_valid_selection(sel, 12, 8)
    assert sel.sample_indices_[:3].tolist() == initial
    assert not set(sel.sample_indices_[3:].tolist()) & set(initial)
    full = RandomSelector(budget=3, random_state=0).fit(X, initial_indices=initial)
    assert full.sample_indices_.tolist() == initial  # the warm start fills the budget


def test_random_float32_stays_float32_and_string_labels():
    X = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.array(["lamp"] * 7 + ["cup"] * 3)
    sel = RandomSelector(budget=10, random_state=0).fit(X, y)
    Xt = sel.transform(X)
    assert Xt.dtype == np.float32
    np.testing.assert_array_equal(Xt, X[sel.sample_indices_])
    assert sel.sampling_strategy_ == {"cup": 3, "lamp": 7}


def test_random_rejects_unknown_fit_arguments():
    with pytest.raises(TypeError, match=r"RandomSelector.fit got unexpected arguments \['sco"):
        RandomSelector(budget=2).fit(np.zeros((4, 2)), scores=np.arange(4))


# -------------------------------------------------------- StratifiedSelector
def test_stratified_balanced_golden_forced_rows():
    # classes a: rows 1, 4; b: row 0; c: rows 2, 3, 5. balanced, B=5: 5/3 each, b capped
    # at 1, the other 4 split 2 / 2. So rows 0, 1, 4 are certain, plus 2 of {2, 3, 5}.
    X = np.zeros((6, 2))
    y = np.array(["b", "a", "c", "c", "a", "c"])
    for seed in range(5):
        sel = StratifiedSelector(budget=5, strategy="balanced", random_state=seed).fit(X, y)
        chosen = set(sel.sample_indices_.tolist())
        assert {0, 1, 4} <= chosen and len(chosen & {2, 3, 5}) == 2
        assert sel.sampling_strategy_ == {"a": 2, "b": 1, "c": 2}


def test_stratified_proportional_golden_tie_goes_to_lower_class():
    # sizes 1 and 9, B=5: quotas 0.5 and 4.5, the tie gives class 0 its one row (row 3)
    X = np.zeros((10, 1))
    y = np.array([1, 1, 1, 0, 1, 1, 1, 1, 1, 1])
    sel = StratifiedSelector(budget=5, random_state=0).fit(X, y)
    assert 3 in sel.sample_indices_.tolist()
    assert sel.sampling_strategy_ == {0: 1, 1: 4}


@pytest.mark.filterwarnings("ignore:.*have no selected sample:UserWarning")  # B < C is legal
@settings(max_examples=40, deadline=None)
@given(
    labels=st.lists(st.integers(0, 4), min_size=1, max_size=40),
    fraction=st.floats(0.01, 1.0),
    strategy=st.sampled_from(["proportional", "balanced"]),
    seed=st.integers(0, 2**31 - 1),
)
def test_stratified_class_counts_equal_the_allocation(labels, fraction, strategy, seed):
    y = np.array(labels)
    X = np.zeros((y.size, 2))
    sel = StratifiedSelector(budget=fraction, strategy=strategy, random_state=seed).fit(X, y)
    n_select = sel.n_selected_
    assert_valid_selection(sel, y.size, n_select)
    sizes = {int(c): int((y == c).sum()) for c in np.unique(y)}
    rule = proportional_allocation if strategy == "proportional" else balanced_allocation
    assert sel.sampling_strategy_ == rule(sizes, n_select)
    kept = np.bincount(y[sel.sample_indices_], minlength=5)
    assert {c: int(kept[c]) for c in sizes} == sel.sampling_strategy_
    again = StratifiedSelector(budget=fraction, strategy=strategy, random_state=seed).fit(X, y)
    np.testing.assert_array_equal(sel.sample_indices_, again.sample_indices_)


def test_stratified_warm_start_counts_toward_the_quota():
    X = np.zeros((10, 2))
    y = np.array([0] * 6 + [1] * 4)
    # quotas 3 / 2; row 0 (class 0) is already in, so class 0 gets 2 more and class 1 gets 2
    sel = StratifiedSelector(budget=5, random_state=0).fit(X, y, initial_indices=[0])
    assert sel.sample_indices_[0] == 0 and sel.sampling_strategy_ == {0: 3, 1: 2}
    # three class-1 rows already exceed its quota of 2: it keeps them, class 0 gets the other 2
    sel = StratifiedSelector(budget=5, random_state=0).fit(X, y, initial_indices=[6, 7, 8])
    assert sel.sample_indices_[:3].tolist() == [6, 7, 8]
    assert sel.sampling_strategy_ == {0: 2, 1: 3}
    assert_valid_selection(sel, 10, 5)


def test_stratified_seed_float32_strings():
    X = np.random.RandomState(0).randn(30, 4).astype(np.float32)
    y = np.array(["chair", "lamp", "cup"] * 10)
    a = StratifiedSelector(budget=0.5, strategy="balanced", random_state=11).fit(X, y)
    b = StratifiedSelector(budget=0.5, strategy="balanced", random_state=11).fit(X, y)
    np.testing.assert_array_equal(a.sample_indices_, b.sample_indices_)
    assert a.transform(X).dtype == np.float32
    assert a.sampling_strategy_ == {"chair": 5, "cup": 5, "lamp": 5}


def test_stratified_order_is_not_grouped_by_class():
    # the drawn rows come in one random order, so a prefix is not a single class
    X = np.zeros((200, 1))
    y = np.repeat([0, 1], 100)
    sel = StratifiedSelector(budget=100, random_state=0).fit(X, y)
    assert set(y[sel.sample_indices_[:20]].tolist()) == {0, 1}


def test_stratified_needs_labels():
    with pytest.raises(ValueError, match="StratifiedSelector requires y to be passed.*labels y"):
        StratifiedSelector(budget=2).fit(np.zeros((4, 2)))


def test_stratified_rejects_a_bad_strategy():
    with pytest.raises(InvalidParameterError, match="'strategy' parameter"):
        StratifiedSelector(strategy="equal").fit(np.zeros((4, 2)), [0, 0, 1, 1])


def test_stratified_rejects_unknown_fit_arguments():
    with pytest.raises(TypeError, match="StratifiedSelector.fit got unexpected arguments"):
        StratifiedSelector(budget=2).fit(np.zeros((4, 2)), [0, 0, 1, 1], scores=np.ones(4))


def test_tiny_inputs_like_the_common_checks():
    X1 = np.array([[0.5]])
    assert RandomSelector().fit(X1).sample_indices_.tolist() == [0]
    assert StratifiedSelector().fit(X1, [3]).sampling_strategy_ == {3: 1}
    X = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]  # a list, one class
    sel = StratifiedSelector(budget=2, random_state=0).fit(X, [1, 1, 1])
    assert sel.fit_transform(X, [1, 1, 1]).shape == (2, 2)
