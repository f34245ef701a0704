"""ScalarScore: hand-ranked golden cases, a sorted() reference, class policies, errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.utils._param_validation import InvalidParameterError

from coreset3d import ScalarScore
from coreset3d.allocation import balanced_allocation, proportional_allocation

#            row:  0    1    2    3    4    5
SCORES = np.array([0.3, 0.9, 0.1, 0.5, 0.9, 0.7])
X6 = np.zeros((6, 2))


def picks(budget, scores=SCORES, X=None, y=None, **params):
    X = np.zeros((scores.shape[0], 2)) if X is None else X
    return ScalarScore(budget=budget, **params).fit(X, y, scores=scores).sample_indices_.tolist()


# ----------------------------------------------------------- golden, by hand
@pytest.mark.parametrize(
    ("mode", "budget", "expected"),
    [
        ("top", 3, [1, 4, 5]),  # 0.9 (rows 1, 4: tie -> lower row first), 0.7
        ("top", 1, [1]),
        ("bottom", 3, [2, 0, 3]),  # 0.1, 0.3, 0.5
        # ascending ranks 0..5 = rows 2, 0, 3, 5, 1, 4; median rank 2.5
        ("middle", 1, [3]),  # ranks 2 and 3 are equally close: the lower rank (row 3)
        ("middle", 2, [3, 5]),  # ranks 2, 3
        ("middle", 3, [3, 5, 0]),  # window start floor((6 - 3) / 2) = 1: ranks 2, 3, then 1
        ("middle", 6, [3, 5, 0, 1, 2, 4]),  # ranks 2, 3, 1, 4, 0, 5
    ],
)
def test_golden_global(mode, budget, expected):
    assert picks(budget, mode=mode) == expected


def test_golden_middle_odd_count():
    # rows 0..4 scores 5, 1, 4, 2, 3 -> ascending rows 1, 3, 4, 2, 0; median rank 2 is row 4
    scores = np.array([5.0, 1.0, 4.0, 2.0, 3.0])
    assert picks(3, scores, mode="middle") == [4, 3, 2]  # ranks 2, 1, 3
    assert picks(2, scores, mode="middle") == [4, 3]  # start floor((5 - 2) / 2) = 1


def test_ties_go_to_the_lower_index():
    assert picks(3, np.ones(5)) == [0, 1, 2]
    assert picks(3, np.ones(5), mode="bottom") == [0, 1, 2]
    assert picks(3, np.array([2.0, 1.0, 1.0, 2.0]), mode="bottom") == [1, 2, 0]
    assert picks(3, np.array([2.0, 1.0, 1.0, 2.0]), mode="top") == [0, 3, 1]


def test_gains_are_the_scores_of_the_picks():
    sel = ScalarScore(budget=3).fit(X6, scores=SCORES)
    np.testing.assert_array_equal(sel.gains_, [0.9, 0.9, 0.7])
    assert sel.gains_.dtype == np.float64


# rows 0-5 class 0 (scores 0.1 .. 0.6), rows 6-7 class 1 (0.05, 0.01)
Y8 = np.array([0, 0, 0, 0, 0, 0, 1, 1])
S8 = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.05, 0.01])


@pytest.mark.parametrize(
    ("mode", "policy", "expected"),
    [
        ("top", "global", [5, 4, 3, 2]),
        ("top", "stratified", [5, 4, 3, 6]),  # quotas 3 / 1; merged by score
        ("top", "balanced", [5, 4, 6, 7]),  # quotas 2 / 2
        ("bottom", "balanced", [7, 6, 0, 1]),  # 0.01, 0.05, 0.1, 0.2
        ("bottom", "global", [7, 6, 0, 1]),
        # class 0: window of 3 of 6 -> ranks 2, 3, 1 = rows 2, 3, 1; class 1: 1 of 2 ->
        # ascending rows 7, 6, both 0.5 from the median, the lower rank: row 7. Merged by the
        # position within the class, then the row: 2, 7, 3, 1
        ("middle", "stratified", [2, 7, 3, 1]),
    ],
)
@pytest.mark.filterwarnings("ignore:1 classes with a positive:UserWarning")  # top global: no 1
def test_golden_class_policies(mode, policy, expected):
    assert picks(4, S8, y=Y8, mode=mode, class_policy=policy) == expected


def test_warm_start_first_then_ranking_over_the_rest():
    sel = ScalarScore(budget=3).fit(X6, scores=SCORES, initial_indices=[2])
    assert sel.sample_indices_.tolist() == [2, 1, 4]
    np.testing.assert_array_equal(sel.gains_, [0.1, 0.9, 0.9])
    # middle over the 5 other rows: ascending rows 0, 3, 5, 1, 4, median rank 2 -> row 5
    sel = ScalarScore(budget=2, mode="middle").fit(X6, scores=SCORES, initial_indices=[2])
    assert sel.sample_indices_.tolist() == [2, 5]


def test_warm_start_counts_toward_the_class_quota():
    # quotas 3 / 1 for B=4; rows 6 and 7 (class 1) are already in: class 1 keeps both,
    # class 0 takes the 2 others, its top two (rows 5, 4)
    sel = ScalarScore(budget=4, class_policy="stratified").fit(
        np.zeros((8, 1)), Y8, scores=S8, initial_indices=[7, 6]
    )
    assert sel.sample_indices_.tolist() == [7, 6, 5, 4]
    assert sel.sampling_strategy_ == {0: 2, 1: 2}


# ------------------------------------------------- a sorted() reference twin
def reference(scores, k, mode):
    n = len(scores)
    if mode == "top":
        return sorted(range(n), key=lambda i: (-scores[i], i))[:k]
    if mode == "bottom":
        return sorted(range(n), key=lambda i: (scores[i], i))[:k]
    ascending = sorted(range(n), key=lambda i: (scores[i], i))
    start = (n - k) // 2
    return ascending[start:start + k]


@settings(max_examples=80, deadline=None)
@given(
    values=st.lists(st.integers(0, 5), min_size=1, max_size=30),  # small ints: many ties
    data=st.data(),
    mode=st.sampled_from(["top", "bottom", "middle"]),
)
def test_matches_the_sorted_reference(values, data, mode):
    scores = np.array(values, dtype=np.float64)
    k = data.draw(st.integers(1, len(values)))
    sel = ScalarScore(budget=k, mode=mode).fit(np.zeros((len(values), 1)), scores=scores)
    expected = reference(values, k, mode)
    if mode == "middle":  # the window is the set; the order is by closeness to the median
        assert sorted(sel.sample_indices_.tolist()) == sorted(expected)
    else:
        assert sel.sample_indices_.tolist() == expected
    np.testing.assert_array_equal(sel.gains_, scores[sel.sample_indices_])


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(st.integers(0, 5), min_size=3, max_size=30),
    data=st.data(),
)
def test_middle_prefixes_are_middle_windows(values, data):
    scores = np.array(values, dtype=np.float64)
    k = data.draw(st.integers(1, len(values)))
    order = picks(len(values), scores, mode="middle")
    assert sorted(order[:k]) == sorted(reference(values, k, "middle"))


@pytest.mark.filterwarnings("ignore:.*have no selected sample:UserWarning")  # B < C is legal
@settings(max_examples=40, deadline=None)
@given(
    labels=st.lists(st.integers(0, 3), min_size=1, max_size=30),
    data=st.data(),
    mode=st.sampled_from(["top", "bottom", "middle", "random"]),
    policy=st.sampled_from(["stratified", "balanced"]),
)
def test_class_counts_equal_the_allocation(labels, data, mode, policy):
    y = np.array(labels)
    scores = np.array(data.draw(st.lists(st.floats(-5, 5), min_size=y.size, max_size=y.size)))
    k = data.draw(st.integers(1, y.size))
    sel = ScalarScore(budget=k, mode=mode, class_policy=policy, random_state=0).fit(
        np.zeros((y.size, 1)), y, scores=scores
    )
    idx = sel.sample_indices_
    assert idx.shape == (k,) and np.unique(idx).size == k
    sizes = {int(c): int((y == c).sum()) for c in np.unique(y)}
    rule = proportional_allocation if policy == "stratified" else balanced_allocation
    assert sel.sampling_strategy_ == rule(sizes, k)
    if mode == "top":  # within each class the kept rows are its top scores
        for c in sizes:
            rows = np.flatnonzero(y == c)
            kept = np.intersect1d(idx, rows)
            if 0 < kept.size < rows.size:
                assert scores[kept].min() >= scores[np.setdiff1d(rows, kept)].max()


def test_random_mode_is_seeded_and_uniform_in_budget():
    scores = np.arange(40, dtype=np.float64)
    X = np.zeros((40, 1))
    a = ScalarScore(budget=10, mode="random", random_state=5).fit(X, scores=scores)
    b = ScalarScore(budget=10, mode="random", random_state=5).fit(X, scores=scores)
    c = ScalarScore(budget=10, mode="random", random_state=6).fit(X, scores=scores)
    np.testing.assert_array_equal(a.sample_indices_, b.sample_indices_)
    assert not np.array_equal(np.sort(a.sample_indices_), np.sort(c.sample_indices_))
    assert np.unique(a.sample_indices_).size == 10
    np.testing.assert_array_equal(a.gains_, scores[a.sample_indices_])
    assert a.sample_indices_.tolist() != sorted(a.sample_indices_.tolist())


def test_float32_strings_and_fit_transform():
    X = np.arange(12, dtype=np.float32).reshape(6, 2)
    y = np.array(["cup", "lamp", "cup", "lamp", "cup", "lamp"])
    sel = ScalarScore(budget=4, class_policy="balanced")
    Xt = sel.fit_transform(X, y, scores=SCORES)
    assert Xt.dtype == np.float32
    # cup rows 0, 2, 4 (0.3, 0.1, 0.9) -> 4, 0; lamp rows 1, 3, 5 (0.9, 0.5, 0.7) -> 1, 5
    assert sel.sample_indices_.tolist() == [1, 4, 5, 0]
    assert sel.sampling_strategy_ == {"cup": 2, "lamp": 2}
    np.testing.assert_array_equal(Xt, X[[1, 4, 5, 0]])


def test_tiny_inputs_like_the_common_checks():
    sel = ScalarScore().fit(np.array([[1.0]]), scores=[0.5])
    assert sel.sample_indices_.tolist() == [0]
    X = [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]
    sel = ScalarScore(budget=2, class_policy="stratified").fit(X, [0, 0, 0], scores=[1, 3, 2])
    assert sel.sample_indices_.tolist() == [1, 2]
    with pytest.warns(UserWarning, match=r"have no selected sample \(e.g. \[1\]\)"):
        sel = ScalarScore(budget=0.5).fit(np.ones((4, 1), dtype=np.float32), [1, 1, 2, 2],
                                          scores=np.array([[1], [2], [3], [4]]).ravel())
    assert sel.sample_indices_.tolist() == [3, 2]  # the global top-2 are both class 2


# ------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("scores", "error", "match"),
    [
        (None, ValueError, r"ScalarScore.fit needs scores: pass fit\(X, y, scores=s\)"),
        (np.ones(5), ValueError,
         "scores has 5 values but X has 6 rows; pass one score per row of X"),
        (np.ones((6, 1)), ValueError,
         r"scores must be 1-D, one score per row of X; got shape \(6, 1\)"),
        (np.array([0.1, np.nan, 0.3, np.inf, 0.5, 0.6]), ValueError,
         r"scores holds 2 NaN or inf values \(rows \[1, 3\]\); pass finite scores"),
        (np.array(["a", "b", "c", "d", "e", "f"]), TypeError,
         "scores must hold numbers, one per row of X"),
    ],
)
def test_score_errors(scores, error, match):
    with pytest.raises(error, match=match):
        ScalarScore(budget=2).fit(X6, scores=scores)


def test_class_policy_needs_labels():
    with pytest.raises(ValueError, match=r"ScalarScore\(class_policy='balanced'\) ranks within "
                                         "each class and needs class labels: pass y"):
        ScalarScore(budget=2, class_policy="balanced").fit(X6, scores=SCORES)


@pytest.mark.parametrize(("param", "value"), [("mode", "hardest"), ("class_policy", "per_class")])
def test_bad_parameters(param, value):
    with pytest.raises(InvalidParameterError, match=f"'{param}' parameter"):
        ScalarScore(**{param: value}).fit(X6, scores=SCORES)


def test_unknown_fit_arguments():
    with pytest.raises(TypeError, match="unexpected keyword argument 'weights'"):
        ScalarScore().fit(X6, scores=SCORES, weights=np.ones(6))
