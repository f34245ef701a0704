"""KCenterGreedy: golden cases, the 2-approximation, warm start and errors."""

from itertools import combinations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cdist
from sklearn.utils._param_validation import InvalidParameterError

from coreset3d import KCenterGreedy

LINE = np.array([[0.0], [1.0], [2.0], [6.0], [10.0]])

def covering_radius(X, centers):
    return cdist(X, X[centers]).min(axis=1).max()


def optimal_radius(X, k):
    """Best k-center radius by enumerating every subset of k rows."""
    return min(covering_radius(X, list(c)) for c in combinations(range(X.shape[0]), k))


# ----------------------------------------------------------------- golden cases
def test_golden_points_on_a_line():
    # From 0: farthest is 10 (d=10); then 6 (min(6, 4) = 4); then 2 (min(2, 4, 8) = 2).
    sel = KCenterGreedy(budget=4, start=0).fit(LINE)
    assert sel.sample_indices_.tolist() == [0, 4, 3, 2]
    assert sel.gains_.tolist() == [np.inf, 10.0, 4.0, 2.0]
    assert sel.radius_ == 1.0  # row 1 is 1 away from row 0 and row 2
    assert sel.start_ == 0


def test_golden_ties_go_to_the_lowest_row():
    # From the middle point both ends are 2 away: row 0 wins the tie.
    X = np.array([[0.0], [2.0], [4.0]])
    sel = KCenterGreedy(budget=3, start=1).fit(X)
    assert sel.sample_indices_.tolist() == [1, 0, 2]
    assert sel.gains_.tolist() == [np.inf, 2.0, 2.0]
    assert sel.radius_ == 0.0


def test_golden_cosine_uses_directions_only():
    # Unit directions: (1,0), (0,1), (1,1)/sqrt2, (-1,0).
    X = np.array([[2.0, 0.0], [0.0, 3.0], [1.0, 1.0], [-1.0, 0.0]])
    cos = KCenterGreedy(budget=3, metric="cosine", start=0).fit(X)
    # chordal distances from (1,0): sqrt2, sqrt(2 - sqrt2), 2 -> row 3; then row 1
    # (sqrt2 from both centers) beats row 2 (sqrt(2 - sqrt2)).
    assert cos.sample_indices_.tolist() == [0, 3, 1]
    np.testing.assert_allclose(cos.gains_[1:], [2.0, np.sqrt(2.0)], rtol=1e-15)
    np.testing.assert_allclose(cos.radius_, np.sqrt(2.0 - np.sqrt(2.0)), rtol=1e-15)
    # On the raw rows, (0,3) is farthest from (2,0) (sqrt13 > 3).
    euc = KCenterGreedy(budget=3, metric="euclidean", start=0).fit(X)
    assert euc.sample_indices_.tolist() == [0, 1, 3]


def test_cosine_ignores_row_scale():
    rng = np.random.RandomState(3)
    X = rng.randn(30, 4)
    scaled = X * rng.uniform(0.01, 100.0, size=(30, 1))
    a = KCenterGreedy(budget=8, metric="cosine", random_state=0).fit(X)
    b = KCenterGreedy(budget=8, metric="cosine", random_state=0).fit(scaled)
    assert a.sample_indices_.tolist() == b.sample_indices_.tolist()
    np.testing.assert_allclose(a.gains_, b.gains_, rtol=1e-12)


def test_cosine_handles_tiny_and_huge_rows():
    X = np.array([[1e-30, 0.0], [0.0, 1e-30], [3e30, 3e30]], dtype=np.float32)
    sel = KCenterGreedy(budget=3, metric="cosine", start=0).fit(X)
    assert sel.sample_indices_.tolist() == [0, 1, 2]
    np.testing.assert_allclose(sel.gains_[1:], [np.sqrt(2.0), np.sqrt(2.0 - np.sqrt(2.0))],
                               rtol=1e-6)


# ------------------------------------------------------------ approximation
@pytest.mark.parametrize("seed", range(12))
def test_radius_within_twice_the_optimum(seed):
    rng = np.random.RandomState(seed)
    n = rng.randint(4, 11)
    X = rng.randn(n, 2) * rng.uniform(0.5, 3.0, size=2)
    for k in range(1, min(n, 5)):
        sel = KCenterGreedy(budget=k, random_state=seed).fit(X)
        opt = optimal_radius(X, k)
        assert sel.radius_ <= 2.0 * opt * (1 + 1e-12)
        assert sel.radius_ >= opt * (1 - 1e-12)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gains_and_radius_match_scipy(metric, dtype):
    rng = np.random.RandomState(4)
    X = rng.randn(60, 7).astype(dtype)
    sel = KCenterGreedy(budget=15, metric=metric, random_state=1).fit(X)
    Z = X / np.linalg.norm(X.astype(np.float64), axis=1, keepdims=True) if metric == "cosine" else X
    Z = Z.astype(np.float64)
    order = sel.sample_indices_
    earlier = [cdist(Z[order[t : t + 1]], Z[order[:t]]).min() for t in range(1, 15)]
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(sel.gains_[1:], earlier, rtol=rtol)
    assert sel.gains_[0] == np.inf
    np.testing.assert_allclose(sel.radius_, covering_radius(Z, order), rtol=rtol)
    # Farthest-first: each pick is the farthest row, so the radius never grows.
    assert np.all(np.diff(sel.gains_[1:]) <= 0)
    assert sel.radius_ <= sel.gains_[-1]


# ------------------------------------------------------------------ contract
@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 40),
    d=st.integers(1, 5),
    frac=st.floats(0.01, 1.0),
    seed=st.integers(0, 2**31 - 1),
    duplicates=st.booleans(),
)
def test_exact_budget_unique_in_range(n, d, frac, seed, duplicates):
    rng = np.random.RandomState(seed % 1000)
    X = rng.randn(n, d)
    if duplicates:  # many identical rows: the greedy must still pick distinct rows
        X = X[rng.randint(0, max(1, n // 4), size=n)]
    sel = KCenterGreedy(budget=frac, random_state=seed).fit(X)
    idx = sel.sample_indices_
    expected = min(n, max(1, int(np.floor(frac * n + 0.5))))
    assert idx.shape == (expected,) == (sel.n_selected_,)
    assert np.unique(idx).shape[0] == expected
    assert idx.min() >= 0 and idx.max() < n
    assert sel.gains_.shape == (expected,)


def test_all_identical_rows():
    X = np.ones((6, 3))
    sel = KCenterGreedy(budget=4, start=2).fit(X)
    assert sel.sample_indices_.tolist() == [2, 0, 1, 3]
    assert sel.gains_.tolist() == [np.inf, 0.0, 0.0, 0.0]
    assert sel.radius_ == 0.0


def test_budget_equal_to_n_selects_everything():
    sel = KCenterGreedy(budget=1.0, start=0).fit(LINE)
    assert sorted(sel.sample_indices_.tolist()) == [0, 1, 2, 3, 4]
    assert sel.radius_ == 0.0


@pytest.mark.parametrize("block_size", [1, 2, 5, 64])
def test_block_size_does_not_change_the_result(block_size):
    rng = np.random.RandomState(5)
    X = rng.randn(70, 6).astype(np.float32)
    ref = KCenterGreedy(budget=20, random_state=2).fit(X)
    sel = KCenterGreedy(budget=20, block_size=block_size, random_state=2).fit(X)
    assert sel.sample_indices_.tolist() == ref.sample_indices_.tolist()
    assert sel.gains_.tolist() == ref.gains_.tolist()
    warm = KCenterGreedy(budget=20, block_size=block_size).fit(
        X, initial_indices=ref.sample_indices_[:6]
    )
    assert warm.sample_indices_.tolist() == ref.sample_indices_.tolist()


def test_same_seed_same_result_and_seed_picks_the_start():
    X = np.random.RandomState(6).randn(50, 3)
    a = KCenterGreedy(budget=10, random_state=7).fit(X)
    b = KCenterGreedy(budget=10, random_state=7).fit(X)
    assert a.sample_indices_.tolist() == b.sample_indices_.tolist()
    assert a.start_ == np.random.RandomState(7).randint(50)
    starts = {KCenterGreedy(budget=2, random_state=s).fit(X).start_ for s in range(10)}
    assert len(starts) > 1


def test_prefix_property():
    X = np.random.RandomState(8).randn(40, 4)
    long = KCenterGreedy(budget=20, random_state=3).fit(X).sample_indices_
    short = KCenterGreedy(budget=7, random_state=3).fit(X).sample_indices_
    assert short.tolist() == long[:7].tolist()


@pytest.mark.parametrize("n_initial", [1, 3])
def test_warm_start_continues_the_cold_run(n_initial):
    X = np.random.RandomState(9).randn(45, 5)
    cold = KCenterGreedy(budget=12, random_state=4).fit(X)
    warm = KCenterGreedy(budget=12, start=0).fit(
        X, initial_indices=cold.sample_indices_[:n_initial]
    )
    assert warm.sample_indices_.tolist() == cold.sample_indices_.tolist()
    assert warm.gains_.tolist() == cold.gains_.tolist()
    assert warm.radius_ == cold.radius_


def test_warm_start_replaces_start_and_leads_the_order():
    sel = KCenterGreedy(budget=4, start=0).fit(LINE, initial_indices=[2, 1])
    # From {2, 1}: row 4 is 8 away, row 3 is 4, row 0 is 1.
    assert sel.sample_indices_.tolist() == [2, 1, 4, 3]
    assert sel.start_ == 2
    assert sel.gains_.tolist() == [np.inf, 1.0, 8.0, 4.0]
    assert sel.radius_ == 1.0


def test_float32_stays_float32():
    X = np.random.RandomState(10).randn(30, 4).astype(np.float32)
    for metric in ("euclidean", "cosine"):
        sel = KCenterGreedy(budget=5, metric=metric, random_state=0).fit(X)
        assert sel.transform(X).dtype == np.float32
        assert sel.gains_.dtype == np.float64
    # Same picks as on the float64 copy (no near-ties in this data).
    sel32 = KCenterGreedy(budget=5, random_state=0).fit(X)
    sel64 = KCenterGreedy(budget=5, random_state=0).fit(X.astype(np.float64))
    assert sel32.sample_indices_.tolist() == sel64.sample_indices_.tolist()
    np.testing.assert_allclose(sel32.gains_, sel64.gains_, rtol=1e-5)


def test_labels_give_sampling_strategy():
    X = np.random.RandomState(11).randn(20, 2)
    y = np.array(["a"] * 15 + ["b"] * 5)
    sel = KCenterGreedy(budget=6, random_state=0).fit(X, y)
    assert sum(sel.sampling_strategy_.values()) == 6
    assert set(sel.sampling_strategy_) == {"a", "b"}


# -------------------------------------------------------------------- errors
def test_cosine_refuses_zero_rows():
    X = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 2.0], [0.0, 0.0]])
    with pytest.raises(
        ValueError,
        match=r"metric='cosine' needs rows of X with non-zero norm, but X has 2 all-zero rows "
        r"\(e.g. rows \[1, 3\]\); drop those rows or use metric='euclidean'",
    ):
        KCenterGreedy(budget=2, metric="cosine").fit(X)
    # The same rows are fine for the Euclidean metric.
    assert KCenterGreedy(budget=2, start=0).fit(X).sample_indices_.tolist() == [0, 2]


def test_start_outside_the_rows():
    with pytest.raises(
        ValueError, match=r"start=5 is not a row of X, which has 5 rows; pass start in \[0, 5\)"
    ):
        KCenterGreedy(budget=2, start=5).fit(LINE)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"metric": "manhattan"}, r"'metric' parameter of KCenterGreedy must be a str among"),
        ({"start": -1}, r"'start' parameter of KCenterGreedy must be"),
        ({"start": "first"}, r"'start' parameter of KCenterGreedy must be"),
        ({"block_size": 0}, r"'block_size' parameter of KCenterGreedy must be an int"),
        ({"block_size": 2.5}, r"'block_size' parameter of KCenterGreedy must be an int"),
    ],
)
def test_invalid_parameters(params, match):
    with pytest.raises(InvalidParameterError, match=match):
        KCenterGreedy(budget=2, **params).fit(LINE)


def test_unexpected_fit_argument():
    with pytest.raises(
        TypeError, match=r"KCenterGreedy.fit got unexpected arguments \['scores'\]; it takes X"
    ):
        KCenterGreedy(budget=2).fit(LINE, scores=np.ones(5))
