"""CCS, CCS-CP, DRoP, NUCS, BalancedScore: hand-computed cases, allocation agreement, errors."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.utils._param_validation import InvalidParameterError

from coreset3d import CCS, CCSCP, NUCS, BalancedScore, DRoP, ScalarScore, select_nucs_window
from coreset3d.allocation import (
    balanced_allocation,
    ccs_cp_allocation,
    drop_allocation,
    nucs_allocation,
)
from coreset3d.sklearn import CoresetClassifier


def zeros(n):
    return np.zeros((n, 1))


def sizes_of(y):
    return {c: int((y == c).sum()) for c in np.unique(y).tolist()}


# ------------------------------------------------------------------------ CCS
#            row:  0    1     2    3    4    5     6    7    8     9
S10 = np.array([0.0, 0.05, 0.1, 0.2, 0.3, 0.55, 0.6, 0.9, 0.95, 1.0])
# hard_cutoff=0.2 drops floor(2.0) = 2 rows, the hardest: 9 and 8. The kept range [0, 0.9]
# in 2 strata of width 0.45: stratum 0 = rows 0-4 (5 rows), stratum 1 = rows 5-7 (3 rows).


def ccs(budget, scores=S10, seed=0, **params):
    params = {"hard_cutoff": 0.2, "n_strata": 2, **params}
    sel = CCS(budget=budget, random_state=seed, **params)
    return sel.fit(zeros(scores.shape[0]), scores=scores)


def test_ccs_small_stratum_gives_back_its_unused_share():
    # budget 8: stratum 1 (3 rows) first, share floor(8 / 2) = 4 > 3: takes 3, gives 1
    # back; stratum 0 takes the 5 left. Strata from low scores up.
    sel = ccs(8)
    assert sel.n_hard_dropped_ == 2
    order = sel.sample_indices_.tolist()
    assert sorted(order[:5]) == [0, 1, 2, 3, 4] and sorted(order[5:]) == [5, 6, 7]
    np.testing.assert_array_equal(sel.gains_, S10[sel.sample_indices_])


@pytest.mark.parametrize("seed", range(5))
def test_ccs_equal_shares_random_within_strata(seed):
    # budget 4: stratum 1 takes min(3, floor(4 / 2)) = 2, stratum 0 the other 2
    picked = ccs(4, seed=seed).sample_indices_
    assert np.isin(picked[:2], [0, 1, 2, 3, 4]).all()
    assert np.isin(picked[2:], [5, 6, 7]).all()


def test_ccs_draws_depend_on_the_seed():
    draws = {tuple(ccs(4, seed=seed).sample_indices_.tolist()) for seed in range(8)}
    assert len(draws) > 1
    np.testing.assert_array_equal(ccs(4, seed=3).sample_indices_, ccs(4, seed=3).sample_indices_)


def test_ccs_cutoff_never_leaves_less_than_the_budget():
    # budget 9 of 10: the cutoff drops min(2, 10 - 9) = 1 row, the hardest (row 9)
    sel = ccs(9)
    assert sel.n_hard_dropped_ == 1
    assert sorted(sel.sample_indices_.tolist()) == list(range(9))


def test_ccs_equal_sized_strata_lower_scores_first():
    # rows 0, 1 in stratum 0 and rows 2, 3 in stratum 1 (3 -> index 2, clipped to 1);
    # equal sizes: stratum 0 is visited first and takes floor(3 / 2) = 1, stratum 1 takes 2
    for seed in range(5):
        sel = CCS(3, hard_cutoff=0.0, n_strata=2, random_state=seed)
        picked = sel.fit(zeros(4), scores=np.array([0.0, 1.0, 2.0, 3.0])).sample_indices_
        assert np.isin(picked[:1], [0, 1]).all() and sorted(picked[1:].tolist()) == [2, 3]


def test_ccs_empty_strata_and_constant_scores():
    # scores 0, 0, 0, 10 in 3 strata: stratum 1 is empty, stratum 2 holds row 3 alone;
    # budget 2: the empty one takes 0, row 3's stratum min(1, floor(2 / 2)) = 1, then 1 more
    sel = CCS(2, hard_cutoff=0.0, n_strata=3, random_state=0)
    picked = sel.fit(zeros(4), scores=np.array([0.0, 0.0, 0.0, 10.0])).sample_indices_.tolist()
    assert 3 in picked and len(set(picked) & {0, 1, 2}) == 1
    sel = CCS(3, hard_cutoff=0.0, n_strata=5, random_state=0).fit(zeros(6), scores=np.ones(6))
    assert np.unique(sel.sample_indices_).size == 3


def test_ccs_cutoff_ties_and_decimal_reading():
    # three rows tie for hardest: the lower row index counts as harder, row 0 is dropped
    sel = CCS(3, hard_cutoff=0.25, n_strata=1, random_state=0)
    assert sorted(sel.fit(zeros(4), scores=np.array([1.0, 1.0, 1.0, 0.0])).sample_indices_) == [
        1, 2, 3,
    ]
    # 0.29 * 100 is 28.999... in binary; the cutoff reads 0.29 as the decimal: 29 rows
    sel = CCS(10, hard_cutoff=0.29, random_state=0).fit(zeros(100), scores=np.arange(100.0))
    assert sel.n_hard_dropped_ == 29
    assert sel.sample_indices_.max() <= 70


def test_ccs_warm_start_and_labels_are_optional():
    y = np.array([0] * 5 + [1] * 5)
    sel = CCS(5, hard_cutoff=0.2, n_strata=2, random_state=0)
    sel.fit(zeros(10), y, scores=S10, initial_indices=[9, 8])
    # the cutoff runs over the 8 other rows: floor(1.6) = 1 (row 7) is dropped
    assert sel.sample_indices_[:2].tolist() == [9, 8] and 7 not in sel.sample_indices_
    assert sel.n_hard_dropped_ == 1
    assert sum(sel.sampling_strategy_.values()) == 5
    assert CCS(3, random_state=0).fit(zeros(10), scores=S10).sampling_strategy_ == {}


def _strata_of(values, k):
    lo, hi = values.min(), values.max()
    if hi == lo:
        return np.zeros(values.size, dtype=int)
    return np.minimum(np.floor((values - lo) / (hi - lo) * k).astype(int), k - 1)


@settings(max_examples=80, deadline=None)
@given(
    values=st.lists(st.integers(0, 8), min_size=1, max_size=40),
    data=st.data(),
    hard_cutoff=st.sampled_from([0.0, 0.1, 0.3, 0.5]),
    n_strata=st.integers(1, 6),
)
def test_ccs_properties(values, data, hard_cutoff, n_strata):
    scores = np.array(values, dtype=np.float64)
    n = scores.size
    k = data.draw(st.integers(1, n))
    sel = CCS(k, hard_cutoff=hard_cutoff, n_strata=n_strata, random_state=0)
    idx = sel.fit(zeros(n), scores=scores).sample_indices_
    assert idx.shape == (k,) and np.unique(idx).size == k
    # the hardest rows, ties to the lower row, are never picked
    n_drop = min(int(Fraction(str(hard_cutoff)) * n), n - k)
    assert sel.n_hard_dropped_ == n_drop
    hardest = sorted(range(n), key=lambda i: (-values[i], i))
    assert not np.isin(hardest[:n_drop], idx).any()
    # water-filling over the strata: strata not taken in full differ by at most one, and
    # a stratum taken in full is no larger than the others' shares (+1)
    kept = np.array(sorted(hardest[n_drop:]))
    stratum = _strata_of(scores[kept], n_strata)
    size = np.bincount(stratum, minlength=n_strata)
    take = np.bincount(stratum[np.isin(kept, idx)], minlength=n_strata)
    partial = take < size
    if partial.any():
        assert take[partial].max() - take[partial].min() <= 1
        assert np.all(size[~partial & (size > 0)] <= take[partial].min() + 1)


# ---------------------------------------------------------------------- CCS-CP
def test_ccscp_golden():
    # class 0 rows 0-5, class 1 rows 6-9; ccs_cp_allocation([6, 4], 8, 1) = {0: 5, 1: 3}
    y = np.array([0] * 6 + [1] * 4)
    s = np.array([0.0, 0.1, 0.2, 0.8, 0.9, 1.0, 0.1, 0.2, 0.3, 0.4])
    for seed in range(4):
        sel = CCSCP(8, min_per_class=1, hard_cutoff=0.2, n_strata=2, random_state=seed)
        sel.fit(zeros(10), y, scores=s)
        assert sel.sampling_strategy_ == {0: 5, 1: 3} == ccs_cp_allocation([6, 4], 8, 1)
        order = sel.sample_indices_.tolist()
        # class 0: cutoff floor(1.2) = 1 drops row 5; strata {0, 1, 2} and {3, 4}; 5 of 5
        assert sorted(order[:5]) == [0, 1, 2, 3, 4]
        # class 1: no cutoff (floor(0.8) = 0); strata {6, 7} and {8, 9} of equal size: the
        # lower takes floor(3 / 2) = 1, the upper 2
        assert len(set(order[5:6]) & {6, 7}) == 1 and sorted(order[6:]) == [8, 9]
        assert sel.n_hard_dropped_ == 1


def test_ccscp_on_one_class_is_ccs():
    s = np.random.default_rng(0).random(30)
    a = CCSCP(12, hard_cutoff=0.1, n_strata=4, random_state=7).fit(zeros(30), np.ones(30), scores=s)
    b = CCS(12, hard_cutoff=0.1, n_strata=4, random_state=7).fit(zeros(30), scores=s)
    np.testing.assert_array_equal(a.sample_indices_, b.sample_indices_)


def test_ccscp_minimum_too_large_for_the_budget():
    y = np.array([0] * 6 + [1] * 4)
    with pytest.raises(ValueError, match=r"min_per_class=3 needs 6 samples .* budget=4"):
        CCSCP(4, min_per_class=3).fit(zeros(10), y, scores=np.arange(10.0))


@settings(max_examples=60, deadline=None)
@given(
    labels=st.lists(st.integers(0, 3), min_size=1, max_size=40),
    data=st.data(),
    m=st.integers(0, 3),
)
@pytest.mark.filterwarnings("ignore:.*have no selected sample:UserWarning")  # m = 0, B < C
def test_ccscp_counts_equal_the_allocation(labels, data, m):
    y = np.array(labels)
    scores = np.array(data.draw(st.lists(st.floats(0, 5), min_size=y.size, max_size=y.size)))
    k = data.draw(st.integers(1, y.size))
    sizes = sizes_of(y)
    assume(sum(min(m, n) for n in sizes.values()) <= k)
    sel = CCSCP(k, min_per_class=m, n_strata=3, random_state=0).fit(zeros(y.size), y, scores=scores)
    assert np.unique(sel.sample_indices_).size == k
    assert sel.sampling_strategy_ == ccs_cp_allocation(sizes, k, m)


# ------------------------------------------------------------------------ DRoP
Y10 = np.array([0] * 5 + [1] * 5)
#          class 0: rows 0-4             class 1: rows 5-9
S_DROP = np.array([0.5, 0.9, 0.1, 0.7, 0.3, 0.2, 0.8, 0.6, 0.4, 0.95])


def test_drop_golden_by_score():
    # counts ∝ size x (1 - recall) = 5 x 0.2 : 5 x 0.6 = 1 : 3; class 0 keeps row 1 (0.9),
    # class 1 rows 9, 6, 7 (0.95, 0.8, 0.6); merged by score
    sel = DRoP(4, within="score").fit(zeros(10), Y10, recall=[0.8, 0.4], scores=S_DROP)
    assert sel.sampling_strategy_ == {0: 1, 1: 3} == drop_allocation([5, 5], 4, [0.8, 0.4])
    assert sel.sample_indices_.tolist() == [9, 1, 6, 7]
    np.testing.assert_array_equal(sel.gains_, [0.95, 0.9, 0.8, 0.6])


def test_drop_recall_as_dict_with_string_labels_and_random_within():
    y = np.where(Y10 == 0, "lamp", "chair")  # sorted classes: chair (rows 5-9), lamp
    recall = {"lamp": 0.8, "chair": 0.4}
    a = DRoP(4, random_state=0).fit(zeros(10), y, recall=recall)
    b = DRoP(4, random_state=0).fit(zeros(10), y, recall=[0.4, 0.8])  # aligned with classes_
    assert a.sampling_strategy_ == {"chair": 3, "lamp": 1}
    np.testing.assert_array_equal(a.sample_indices_, b.sample_indices_)
    assert not hasattr(a, "gains_")
    c = DRoP(4, random_state=0).fit(zeros(10), y, recall=recall, scores=S_DROP)
    np.testing.assert_array_equal(c.sample_indices_, a.sample_indices_)  # scores only fill gains_
    np.testing.assert_array_equal(c.gains_, S_DROP[c.sample_indices_])


def test_drop_warm_start_splits_the_rest_over_the_free_rows():
    # row 2 (class 0) is in; the 3 others split over free sizes 4 : 5 with weights
    # 4 x 0.2 : 5 x 0.6 = 0.8 : 3 -> quotas 0.63, 2.37 -> 1, 2 (largest remainder)
    sel = DRoP(4, within="score").fit(
        zeros(10), Y10, recall=[0.8, 0.4], scores=S_DROP, initial_indices=[2]
    )
    assert sel.sample_indices_.tolist() == [2, 9, 1, 6]
    assert sel.sampling_strategy_ == {0: 2, 1: 2}


@settings(max_examples=60, deadline=None)
@given(
    labels=st.lists(st.integers(0, 3), min_size=1, max_size=40),
    data=st.data(),
    within=st.sampled_from(["random", "score"]),
)
@pytest.mark.filterwarnings("ignore:.*have no selected sample:UserWarning")
def test_drop_counts_equal_the_allocation(labels, data, within):
    y = np.array(labels)
    sizes = sizes_of(y)
    recall = data.draw(st.lists(st.floats(0, 1), min_size=len(sizes), max_size=len(sizes)))
    scores = np.array(data.draw(st.lists(st.floats(-5, 5), min_size=y.size, max_size=y.size)))
    k = data.draw(st.integers(1, y.size))
    sel = DRoP(k, within=within, random_state=1).fit(zeros(y.size), y, recall=recall, scores=scores)
    idx = sel.sample_indices_
    assert idx.shape == (k,) and np.unique(idx).size == k
    assert sel.sampling_strategy_ == drop_allocation(sizes, k, recall)
    if within == "score":  # each class keeps its top scores
        for c in sizes:
            rows = np.flatnonzero(y == c)
            kept = np.intersect1d(idx, rows)
            if 0 < kept.size < rows.size:
                assert scores[kept].min() >= scores[np.setdiff1d(rows, kept)].max()


# ------------------------------------------------------------------------ NUCS
Y9 = np.array([0] * 6 + [1] * 3)
#          class 0: rows 0-5 (mean 0.35)       class 1: rows 6-8 (mean 0.8)
S_NUCS = np.array([0.6, 0.1, 0.5, 0.2, 0.4, 0.3, 0.9, 0.7, 0.8])
# counts ∝ 6 x 0.35 : 3 x 0.8 = 2.1 : 2.4 -> B = 3: quotas 1.4, 1.6 -> {0: 1, 1: 2}.
# ascending: class 0 rows 1, 3, 5, 4, 2, 0; class 1 rows 7, 8, 6.


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        (0.0, [1, 7, 8]),  # the easiest of each class
        (0.3, [5, 7, 8]),  # starts floor(0.3 x 5 + 0.5) = 2 and floor(0.3 x 1 + 0.5) = 0
        (0.5, [4, 8, 6]),  # starts floor(3.0) = 3 and floor(1.0) = 1
        (1.0, [0, 8, 6]),  # the hardest
    ],
)
def test_nucs_golden_windows(window, expected):
    sel = NUCS(3, window=window).fit(zeros(9), Y9, scores=S_NUCS)
    assert sel.sampling_strategy_ == {0: 1, 1: 2}
    np.testing.assert_allclose(sel.class_difficulty_, [0.35, 0.8])
    assert sel.sample_indices_.tolist() == expected
    np.testing.assert_array_equal(sel.gains_, S_NUCS[expected])


def test_nucs_every_class_gets_one_and_winsorised_means():
    # class 1 has difficulty 0 but still gets one row
    y = np.array([0] * 5 + [1] * 5)
    s = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    assert NUCS(4).fit(zeros(10), y, scores=s).sampling_strategy_ == {0: 3, 1: 1}
    # winsorize=0.2 clips one value at each end of 5: [0, 1, 2, 3, 100] -> [1, 1, 2, 3, 3]
    s = np.array([0.0, 1.0, 2.0, 3.0, 100.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    sel = NUCS(4, winsorize=0.2).fit(zeros(10), y, scores=s)
    np.testing.assert_allclose(sel.class_difficulty_, [2.0, 1.0])
    assert NUCS(4).fit(zeros(10), y, scores=s).class_difficulty_[0] == pytest.approx(21.2)


def test_nucs_negative_class_mean_is_refused():
    with pytest.raises(ValueError, match=r"mean score of each class, which must be >= 0; class 1"):
        NUCS(2).fit(zeros(4), [0, 0, 1, 1], scores=[0.5, 0.5, -1.0, 0.2])


@settings(max_examples=60, deadline=None)
@given(
    labels=st.lists(st.integers(0, 3), min_size=1, max_size=40),
    data=st.data(),
    window=st.floats(0, 1),
)
@pytest.mark.filterwarnings("ignore:.*have no selected sample:UserWarning")
def test_nucs_counts_and_windows(labels, data, window):
    y = np.array(labels)
    values = data.draw(st.lists(st.integers(0, 6), min_size=y.size, max_size=y.size))
    scores = np.array(values, dtype=np.float64)
    k = data.draw(st.integers(1, y.size))
    sel = NUCS(k, window=window).fit(zeros(y.size), y, scores=scores)
    idx = sel.sample_indices_
    assert idx.shape == (k,) and np.unique(idx).size == k
    sizes = sizes_of(y)
    means = [scores[y == c].mean() for c in sizes]
    np.testing.assert_allclose(sel.class_difficulty_, means)
    assert sel.sampling_strategy_ == nucs_allocation(sizes, k, sel.class_difficulty_)
    for c in sizes:  # each class keeps the window of its ranking where `window` puts it
        rows = np.flatnonzero(y == c)
        ascending = sorted(rows.tolist(), key=lambda i: (values[i], i))
        b = sel.sampling_strategy_[c]
        start = int(np.floor(window * (rows.size - b) + 0.5))
        assert sorted(np.intersect1d(idx, rows).tolist()) == sorted(ascending[start : start + b])


def test_select_nucs_window_by_a_toy_validation_score():
    y = np.repeat([0, 1], 10)
    s = np.tile(np.arange(10.0), 2)
    # a toy validation: best when the subset's mean score is nearest 3
    evaluate = lambda sel: -abs(s[sel.sample_indices_].mean() - 3.0)  # noqa: E731
    sel, values = select_nucs_window(zeros(20), y, s, 4, evaluate)
    # window w keeps ranks start..start+1 with start = floor(8 w + 0.5), mean start + 0.5:
    # nearest 3 is start 2 or 3 (|2.5 - 3| = |3.5 - 3|), first reached at w = 0.2 (start 2)
    assert values.shape == (11,)
    assert sel.window == pytest.approx(0.2) and isinstance(sel, NUCS)
    assert values[2] == values.max() == -0.5
    assert s[sel.sample_indices_].mean() == 2.5
    # ties go to the earlier window in the list
    sel, _ = select_nucs_window(zeros(20), y, s, 4, lambda sel: 1.0, windows=[0.7, 0.1])
    assert sel.window == 0.7


def test_select_nucs_window_errors():
    y = np.repeat([0, 1], 5)
    s = np.arange(10.0)
    with pytest.raises(ValueError, match=r"windows must lie in \[0, 1\]"):
        select_nucs_window(zeros(10), y, s, 4, lambda sel: 0.0, windows=[0.5, 1.5])
    with pytest.raises(ValueError, match=r"windows must be a non-empty 1-D"):
        select_nucs_window(zeros(10), y, s, 4, lambda sel: 0.0, windows=[])
    with pytest.raises(ValueError, match=r"evaluate returned nan for window=0.0"):
        select_nucs_window(zeros(10), y, s, 4, lambda sel: float("nan"), windows=[0.0])
    with pytest.raises(TypeError, match=r"evaluate must be a callable"):
        select_nucs_window(zeros(10), y, s, 4, 0.5)


# --------------------------------------------------------------- BalancedScore
def test_balanced_score_golden_and_ties_with_scalar_score():
    y = np.array(["cup", "lamp", "cup", "lamp", "cup", "lamp", "cup", "cup"])
    s = np.array([0.3, 0.9, 0.1, 0.5, 0.9, 0.7, 0.8, 0.2])
    # cup rows 0, 2, 4, 6, 7 (0.3, 0.1, 0.9, 0.8, 0.2); lamp rows 1, 3, 5 (0.9, 0.5, 0.7)
    sel = BalancedScore(4).fit(zeros(8), y, scores=s)
    assert sel.sampling_strategy_ == {"cup": 2, "lamp": 2}
    assert sel.sampling_strategy_ == balanced_allocation({"cup": 5, "lamp": 3}, 4)
    assert sel.sample_indices_.tolist() == [1, 4, 6, 5]
    sel = BalancedScore(4, mode="bottom").fit(zeros(8), y, scores=s)
    assert sel.sample_indices_.tolist() == [2, 7, 3, 5]


@settings(max_examples=40, deadline=None)
@given(
    labels=st.lists(st.integers(0, 3), min_size=1, max_size=30),
    data=st.data(),
    mode=st.sampled_from(["top", "bottom", "middle"]),
)
@pytest.mark.filterwarnings("ignore:.*have no selected sample:UserWarning")
def test_balanced_score_is_scalar_score_balanced(labels, data, mode):
    y = np.array(labels)
    scores = np.array(data.draw(st.lists(st.floats(-5, 5), min_size=y.size, max_size=y.size)))
    k = data.draw(st.integers(1, y.size))
    a = BalancedScore(k, mode=mode).fit(zeros(y.size), y, scores=scores)
    b = ScalarScore(k, mode=mode, class_policy="balanced").fit(zeros(y.size), y, scores=scores)
    np.testing.assert_array_equal(a.sample_indices_, b.sample_indices_)
    assert a.sampling_strategy_ == balanced_allocation(sizes_of(y), k)


# ---------------------------------------------------------------------- errors
ALL = [
    CCS(3, random_state=0),
    CCSCP(3, random_state=0),
    DRoP(3, within="score"),
    NUCS(3),
    BalancedScore(3),
]
Y6 = np.array([0, 0, 0, 1, 1, 1])


def fit(sel, **params):
    if isinstance(sel, DRoP):
        params = {"recall": [0.5, 0.5], **params}
    return sel.fit(zeros(6), Y6, **params)


@pytest.mark.parametrize("sel", ALL, ids=lambda s: type(s).__name__)
def test_scores_errors(sel):
    name = type(sel).__name__
    with pytest.raises(ValueError, match=rf"{name}.fit needs scores.*one score per row of X"):
        fit(sel)
    with pytest.raises(ValueError, match=r"scores has 5 values but X has 6 rows"):
        fit(sel, scores=np.ones(5))
    with pytest.raises(ValueError, match=r"scores holds 1 NaN or inf values \(rows \[2\]\)"):
        fit(sel, scores=[0.1, 0.2, np.nan, 0.4, 0.5, 0.6])
    with pytest.raises(TypeError, match=r"got unexpected arguments \['score'\]"):
        fit(sel, score=np.ones(6))


@pytest.mark.parametrize("sel", ALL[1:], ids=lambda s: type(s).__name__)
def test_per_class_selectors_need_labels(sel):
    with pytest.raises(ValueError, match=r"requires y to be passed"):
        sel.fit(zeros(6), None, scores=np.ones(6))


def test_recall_errors():
    X, s = zeros(6), np.ones(6)
    with pytest.raises(ValueError, match=r"DRoP.fit needs recall.*\(2 classes\)"):
        DRoP(3).fit(X, Y6)
    with pytest.raises(ValueError, match=r"recall has shape \(3,\) but there are 2 classes"):
        DRoP(3).fit(X, Y6, recall=[0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match=r"recall must be in \[0, 1\]; got 1.5 for class 1"):
        DRoP(3).fit(X, Y6, recall=[0.5, 1.5])
    with pytest.raises(ValueError, match=r"recall must be in \[0, 1\]; got -0.1 for class 0"):
        DRoP(3).fit(X, Y6, recall={0: -0.1, 1: 0.5})
    with pytest.raises(ValueError, match=r"recall must have one entry per class; missing .*\[1\]"):
        DRoP(3).fit(X, Y6, recall={0: 0.5})
    with pytest.raises(ValueError, match=r"DRoP.fit needs scores \(within='score' ranks by them\)"):
        DRoP(3, within="score").fit(X, Y6, recall=[0.5, 0.5])
    DRoP(3, random_state=0).fit(X, Y6, recall=[0.5, 0.5], scores=s)  # scores optional here


@pytest.mark.parametrize(
    ("sel", "match"),
    [
        (CCS(hard_cutoff=1.0), r"'hard_cutoff' parameter of CCS must be a float in the range "
                               r"\[0.0, 1.0\)\. Got 1.0"),
        (CCS(hard_cutoff=-0.1), r"'hard_cutoff' parameter of CCS must be a float in the range"),
        (CCSCP(hard_cutoff=1.2), r"'hard_cutoff' parameter of CCSCP must be a float"),
        (CCS(n_strata=0), r"'n_strata' parameter of CCS must be an int in the range \[1, inf\)"),
        (CCSCP(n_strata=0), r"'n_strata' parameter of CCSCP must be an int"),
        (CCSCP(min_per_class=-1), r"'min_per_class' parameter of CCSCP must be an int"),
        (NUCS(window=1.5), r"'window' parameter of NUCS must be a float in the range "
                           r"\[0.0, 1.0\]\. Got 1.5"),
        (NUCS(window=-0.1), r"'window' parameter of NUCS must be a float in the range"),
        (NUCS(winsorize=0.5), r"'winsorize' parameter of NUCS must be a float"),
        (DRoP(within="hard"), r"'within' parameter of DRoP must be a str among"),
        (BalancedScore(mode="random"), r"'mode' parameter of BalancedScore must be a str among"),
    ],
)
def test_parameter_errors(sel, match):
    with pytest.raises(InvalidParameterError, match=match):
        fit(sel, scores=np.ones(6))


# ------------------------------------------------- CoresetClassifier + GridSearchCV
@pytest.mark.parametrize(
    ("selector", "grid"),
    [
        (CCS(0.5, random_state=0), {"selector__hard_cutoff": [0.0, 0.2]}),
        (CCSCP(0.5, random_state=0), {"selector__min_per_class": [0, 2]}),
        (DRoP(0.5, random_state=0), {"selector__within": ["random", "score"]}),
        (NUCS(0.5), {"selector__window": [0.0, 1.0]}),
        (BalancedScore(0.5), {"selector__mode": ["top", "bottom"]}),
    ],
    ids=lambda p: type(p).__name__ if not isinstance(p, dict) else "",
)
def test_grid_search_with_scores_as_a_fit_param(selector, grid):
    X, y = make_classification(
        90, n_features=5, n_informative=3, n_redundant=0, n_classes=3, random_state=0
    )
    scores = np.abs(X[:, 0])
    params = {"selector__scores": scores}
    if isinstance(selector, DRoP):
        params["selector__recall"] = {0: 0.9, 1: 0.5, 2: 0.7}  # per class: not split by the folds
    clf = CoresetClassifier(selector, LogisticRegression())
    search = GridSearchCV(clf, grid, cv=2).fit(X, y, **params)
    assert len(search.cv_results_["params"]) == 2
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    best = search.best_estimator_.selector_
    assert best.n_selected_ == 45
    np.testing.assert_array_equal(best.gains_, scores[best.sample_indices_])
