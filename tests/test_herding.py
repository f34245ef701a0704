"""Herding: golden cases, the brute-force argmin rule, warm start and errors."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coreset3d import Herding

LINE = np.array([[0.0], [1.0], [2.0], [3.0], [10.0]])  # mean 3.2

def herding_brute_force(X, n_select, initial=()):
    """The argmin rule written out: every candidate's ||mu - (s + x_j) / (t + 1)||^2."""
    X = X.astype(np.float64)
    mu = X.mean(axis=0)
    order = list(initial)
    while len(order) < n_select:
        s, t = X[order].sum(axis=0), len(order)
        cost = ((mu - (s + X) / (t + 1)) ** 2).sum(axis=1)
        cost[order] = np.inf
        order.append(int(np.argmin(cost)))
    return order


def mean_gaps(X, order):
    X = X.astype(np.float64)
    return [np.linalg.norm(X.mean(axis=0) - X[order[: t + 1]].mean(axis=0))
            for t in range(len(order))]


# ----------------------------------------------------------------- golden cases
def test_golden_points_on_a_line():
    # mu = 3.2. Targets (t+1) mu - s: 3.2 -> row 3 (3); 3.4 -> row 2 (2);
    # 4.6 -> row 1 (1); 6.8 -> row 4 (10); then row 0. Means 3, 2.5, 2, 4, 3.2.
    sel = Herding(budget=5).fit(LINE)
    assert sel.sample_indices_.tolist() == [3, 2, 1, 4, 0]
    np.testing.assert_allclose(sel.gains_, [0.2, 0.7, 1.2, 0.8, 0.0], atol=1e-14)


def test_golden_ties_go_to_the_lowest_row():
    # mu = 0: rows 0 and 1 tie (distance 1) -> row 0; target 1 -> row 1 (mean 0);
    # target 0: rows 2 and 3 tie (distance 5) -> row 2; target -5 -> row 3.
    X = np.array([[-1.0], [1.0], [5.0], [-5.0]])
    sel = Herding(budget=4).fit(X)
    assert sel.sample_indices_.tolist() == [0, 1, 2, 3]
    np.testing.assert_allclose(sel.gains_, [1.0, 0.0, 5.0 / 3.0, 0.0], atol=1e-15)


def test_argmin_not_deepcores_argmax():
    # The farthest-from-the-mean row (DeepCore's pick) is row 4; herding takes row 3.
    first = Herding(budget=1).fit(LINE).sample_indices_[0]
    assert first == 3
    assert np.argmax(np.abs(LINE[:, 0] - LINE.mean())) == 4


@pytest.mark.parametrize("seed", range(4))
def test_first_pick_is_the_row_nearest_the_mean(seed):
    X = np.random.RandomState(seed).randn(80, 6)
    sel = Herding(budget=1).fit(X)
    assert sel.sample_indices_[0] == np.argmin(np.linalg.norm(X - X.mean(axis=0), axis=1))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("seed", range(4))
def test_matches_brute_force(dtype, seed):
    rng = np.random.RandomState(seed)
    X = (rng.randn(70, 5) * rng.uniform(0.1, 3.0, size=5) + rng.randn(5)).astype(dtype)
    sel = Herding(budget=30).fit(X)
    assert sel.sample_indices_.tolist() == herding_brute_force(X, 30)
    np.testing.assert_allclose(sel.gains_, mean_gaps(X, sel.sample_indices_), rtol=1e-10)


def test_running_mean_approaches_the_mean():
    X = np.random.RandomState(5).randn(200, 3)
    sel = Herding(budget=1.0).fit(X)
    assert sel.gains_[-1] < 1e-12  # every row selected: the means coincide
    # Herding's error falls about as 1/t, far faster than a random subset's 1/sqrt(t).
    random_gap = np.linalg.norm(X[:40].mean(axis=0) - X.mean(axis=0))
    assert sel.gains_[39] < random_gap / 5


# ------------------------------------------------------------------ contract
@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 40),
    d=st.integers(1, 5),
    frac=st.floats(0.01, 1.0),
    seed=st.integers(0, 999),
    duplicates=st.booleans(),
)
def test_exact_budget_unique_in_range(n, d, frac, seed, duplicates):
    rng = np.random.RandomState(seed)
    X = rng.randn(n, d)
    if duplicates:
        X = X[rng.randint(0, max(1, n // 4), size=n)]
    sel = Herding(budget=frac).fit(X)
    idx = sel.sample_indices_
    expected = min(n, max(1, int(np.floor(frac * n + 0.5))))
    assert idx.shape == (expected,) == sel.gains_.shape
    assert np.unique(idx).shape[0] == expected
    assert idx.min() >= 0 and idx.max() < n


def test_deterministic_whatever_the_seed():
    X = np.random.RandomState(6).randn(50, 4)
    results = {tuple(Herding(budget=10, random_state=s).fit(X).sample_indices_) for s in
               (None, 0, 1, np.random.RandomState(2))}
    assert len(results) == 1


def test_prefix_property():
    X = np.random.RandomState(7).randn(40, 3)
    long = Herding(budget=25).fit(X).sample_indices_
    short = Herding(budget=9).fit(X).sample_indices_
    assert short.tolist() == long[:9].tolist()


@pytest.mark.parametrize("n_initial", [1, 4])
def test_warm_start_continues_the_cold_run(n_initial):
    X = np.random.RandomState(8).randn(50, 4)
    cold = Herding(budget=15).fit(X)
    warm = Herding(budget=15).fit(X, initial_indices=cold.sample_indices_[:n_initial])
    assert warm.sample_indices_.tolist() == cold.sample_indices_.tolist()
    assert warm.gains_.tolist() == cold.gains_.tolist()


def test_warm_start_from_arbitrary_rows():
    X = np.random.RandomState(9).randn(40, 3)
    initial = [39, 0, 17]
    sel = Herding(budget=12).fit(X, initial_indices=initial)
    assert sel.sample_indices_.tolist() == herding_brute_force(X, 12, initial)
    np.testing.assert_allclose(sel.gains_, mean_gaps(X, sel.sample_indices_), rtol=1e-10)


def test_warm_start_on_the_line():
    # s = 10 (row 4); target 2 * 3.2 - 10 = -3.6 -> row 0 (mean 5); target 9.6 - 10 = -0.4
    # -> row 1 (mean 11 / 3, 1.4 / 3 from 3.2).
    sel = Herding(budget=3).fit(LINE, initial_indices=[4])
    assert sel.sample_indices_.tolist() == [4, 0, 1]
    np.testing.assert_allclose(sel.gains_, [6.8, 1.8, 1.4 / 3], rtol=1e-12)


def test_float32_stays_float32():
    X = np.random.RandomState(10).randn(30, 4).astype(np.float32)
    sel = Herding(budget=6).fit(X)
    assert sel.transform(X).dtype == np.float32
    assert sel.gains_.dtype == np.float64
    assert sel.sample_indices_.tolist() == Herding(budget=6).fit(
        X.astype(np.float64)).sample_indices_.tolist()


def test_labels_give_sampling_strategy():
    X = np.random.RandomState(11).randn(20, 2)
    y = np.array([0] * 12 + [1] * 8)
    sel = Herding(budget=8).fit(X, y)
    assert sum(sel.sampling_strategy_.values()) == 8
    assert sel.weights_.shape == (8,)


# -------------------------------------------------------------------- errors
def test_unexpected_fit_argument():
    with pytest.raises(
        TypeError, match=r"Herding.fit got unexpected arguments \['scores'\]; it takes X"
    ):
        Herding(budget=2).fit(LINE, scores=np.ones(5))


def test_budget_larger_than_x():
    with pytest.raises(
        ValueError, match=r"budget=9 selects 9 samples but X has only 5 rows; pass budget <= 5"
    ):
        Herding(budget=9).fit(LINE)
