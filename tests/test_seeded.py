"""SeededGlobalSelector (SGS): the per-class floor, phase 1 + phase 2, every base, weights,
golden cases, properties and errors."""

import math
import warnings
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.utils._param_validation import InvalidParameterError

from coreset3d import (
    FacilityLocationRBF,
    Herding,
    KCenterGreedy,
    RandomSelector,
    ScalarScore,
    SeededGlobalSelector,
)
from coreset3d.base import EmptyClassWarning

# Seven points on a line (see tests/test_facility_location.py): cluster A = {0.0, 0.1, 0.2}
# (rows 1, 6, 4) and cluster B = {10.0, 10.1, 10.3} (rows 5, 3, 0) are class 0; the outlier
# 30.0 (row 2) is class 1. With sigma = 1, K = exp(-d^2 / 2):
GOLDEN_X = np.array([[10.3], [0.0], [30.0], [10.1], [0.2], [10.0], [0.1]])
GOLDEN_Y = np.array([0, 0, 1, 0, 0, 0, 0])
GAIN_A = 1 + 2 * math.exp(-0.005)  # row 6 (0.1) opening cluster A
GAIN_B = 1 + math.exp(-0.005) + math.exp(-0.02)  # row 3 (10.1) opening cluster B
GAIN_OUT = 1.0  # row 2, the outlier
GAIN_103 = 1 - math.exp(-0.02)  # row 0 (10.3) once 10.1 is open


def fl(**kw):
    return FacilityLocationRBF(sigma=1.0, normalize=False, **kw)


def labelled(sizes, d=3, seed=0, dtype=np.float64):
    """Rows of classes of the given sizes, shuffled; class c is centred at 3c."""
    rng = np.random.RandomState(seed)
    y = np.repeat(np.arange(len(sizes)), sizes)
    X = rng.randn(y.shape[0], d) + 3.0 * y[:, None]
    perm = rng.permutation(y.shape[0])
    return X[perm].astype(dtype), y[perm]


def expected_floor(sizes, budget, k):
    """min(n_c, floor(k B / C)), with k read as the decimal it prints as."""
    share = Fraction(str(k)) * budget / len(sizes)
    return [min(n_c, share.numerator // share.denominator) for n_c in sizes]


def fit_quietly(sel, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EmptyClassWarning)
        return sel.fit(*args, **kwargs)


# -------------------------------------------------------------- golden cases
def test_golden_k0_is_global_and_drops_the_outlier_class():
    with pytest.warns(EmptyClassWarning, match=r"1 classes with a positive target prior"):
        sel = SeededGlobalSelector(fl(), budget=2, k=0.0).fit(GOLDEN_X, GOLDEN_Y)
    assert sel.sample_indices_.tolist() == [6, 3]
    np.testing.assert_allclose(sel.gains_, [GAIN_A, GAIN_B], rtol=1e-12)
    assert sel.seed_indices_.tolist() == []
    assert sel.seed_allocation_ == {0: 0, 1: 0}
    assert sel.sampling_strategy_ == {0: 2, 1: 0}


def test_golden_k1_seeds_every_class():
    # floor(1 * 2 / 2) = 1 per class: class 0 alone picks row 6 (2.990 beats 2.975),
    # class 1 is row 2. Nothing is left for phase 2.
    sel = SeededGlobalSelector(fl(), budget=2, k=1.0).fit(GOLDEN_X, GOLDEN_Y)
    assert sel.seed_indices_.tolist() == [6, 2]
    assert sel.sample_indices_.tolist() == [6, 2]
    assert sel.seed_allocation_ == {0: 1, 1: 1}
    np.testing.assert_allclose(sel.gains_, [GAIN_A, GAIN_OUT], rtol=1e-12)


def test_golden_k_half_then_global():
    # floor(0.5 * 4 / 2) = 1 per class: seeds [6, 2]; phase 2 continues the greedy from
    # them: row 3 (10.1, 2.975), then row 0 (10.3 adds 1 - e^-0.02, more than 1 - e^-0.005).
    sel = SeededGlobalSelector(fl(), budget=4, k=0.5, target_prior="uniform").fit(
        GOLDEN_X, GOLDEN_Y)
    assert sel.sample_indices_.tolist() == [6, 2, 3, 0]
    np.testing.assert_allclose(sel.gains_, [GAIN_A, GAIN_OUT, GAIN_B, GAIN_103], rtol=1e-12)
    assert sel.sampling_strategy_ == {0: 3, 1: 1}
    # uniform prior: q = (3/4, 1/4), w = pi / q = (4/3, 4), scaled to mean 1
    np.testing.assert_allclose(sel.weights_, [2 / 3, 2, 2 / 3, 2 / 3], rtol=1e-12)
    np.testing.assert_array_equal(sel.transform(GOLDEN_X), GOLDEN_X[[6, 2, 3, 0]])
    # empirical prior (6/7, 1/7): w = (8/7, 4/7), already of mean 1
    emp = SeededGlobalSelector(fl(), budget=4, k=0.5).fit(GOLDEN_X, GOLDEN_Y)
    np.testing.assert_allclose(emp.weights_, [8 / 7, 4 / 7, 8 / 7, 8 / 7], rtol=1e-12)


def test_golden_scalar_score_base():
    # Scores 0..29; classes of 20, 7 and 3 rows. floor(0.5 * 6 / 3) = 1 per class: the top
    # score of each class (19, 26, 29), then the top three of the rest (28, 27, 25).
    X = np.zeros((30, 2))
    y = np.array([0] * 20 + [1] * 7 + [2] * 3)
    sel = SeededGlobalSelector(ScalarScore(), budget=6, k=0.5).fit(X, y, scores=np.arange(30.0))
    assert sel.seed_indices_.tolist() == [19, 26, 29]
    assert sel.sample_indices_.tolist() == [19, 26, 29, 28, 27, 25]
    assert sel.gains_.tolist() == [19.0, 26.0, 29.0, 28.0, 27.0, 25.0]
    assert sel.sampling_strategy_ == {0: 1, 1: 2, 2: 3}
    # the scores are sliced per class: reversed scores pick the lowest row of each class
    rev = SeededGlobalSelector(ScalarScore(), budget=6, k=0.5).fit(X, y,
                                                                    scores=-np.arange(30.0))
    assert rev.seed_indices_.tolist() == [0, 20, 27]
    assert rev.sample_indices_.tolist() == [0, 20, 27, 1, 2, 3]


# ---------------------------------------------------------- phase 1 + phase 2
BASES = [
    pytest.param(fl(random_state=0), id="FacilityLocationRBF"),
    pytest.param(FacilityLocationRBF(random_state=0), id="FacilityLocationRBF-median"),
    pytest.param(KCenterGreedy(random_state=1), id="KCenterGreedy"),
    pytest.param(Herding(), id="Herding"),
    pytest.param(RandomSelector(random_state=2), id="RandomSelector"),
    pytest.param(ScalarScore(mode="middle"), id="ScalarScore"),
]


def _fit_params(base, n):
    if isinstance(base, ScalarScore):
        return {"scores": np.sin(np.arange(n) * 1.7)}  # distinct scores in another order
    return {}


@pytest.mark.parametrize("base", BASES)
def test_sgs_is_the_per_class_base_then_the_global_base(base):
    sizes = [30, 12, 5, 2]
    X, y = labelled(sizes, seed=3)
    params = _fit_params(base, X.shape[0])
    sel = SeededGlobalSelector(base, budget=20, k=0.6, random_state=0).fit(X, y, **params)
    floor = expected_floor(sizes, 20, 0.6)  # floor(0.6 * 20 / 4) = 3, class 3 gives its 2
    assert floor == [3, 3, 3, 2]
    assert sel.seed_allocation_ == dict(enumerate(floor))
    seeds = []
    for c, n_c in enumerate(floor):
        rows = np.flatnonzero(y == c)
        sub_params = {key: v[rows] for key, v in params.items()}
        sub = fit_quietly(clone(base).set_params(budget=n_c), X[rows], y[rows], **sub_params)
        seeds.extend(rows[sub.sample_indices_].tolist())
    assert sel.seed_indices_.tolist() == seeds
    glob = fit_quietly(clone(base).set_params(budget=20), X, y, initial_indices=seeds, **params)
    assert sel.sample_indices_.tolist() == glob.sample_indices_.tolist()
    if hasattr(glob, "gains_"):
        np.testing.assert_allclose(sel.gains_, glob.gains_, rtol=1e-12)
    assert type(sel.base_) is type(base) and sel.base_.budget == 20
    counts = np.bincount(y[sel.sample_indices_], minlength=4)
    assert np.all(counts >= floor)
    assert sel.n_selected_ == 20 and np.unique(sel.sample_indices_).shape[0] == 20


@pytest.mark.parametrize("base", BASES)
def test_k0_equals_the_base_alone(base):
    X, y = labelled([25, 10, 4], seed=4)
    params = _fit_params(base, X.shape[0])
    sel = fit_quietly(SeededGlobalSelector(base, budget=12, k=0.0, random_state=9), X, y,
                      **params)
    alone = fit_quietly(clone(base).set_params(budget=12), X, y, **params)
    assert sel.sample_indices_.tolist() == alone.sample_indices_.tolist()
    assert sel.seed_indices_.shape == (0,)
    if hasattr(alone, "gains_"):
        assert sel.gains_.tolist() == alone.gains_.tolist()
    np.testing.assert_allclose(sel.weights_, alone.weights_, rtol=1e-15)


@pytest.mark.parametrize("base", BASES)
@pytest.mark.parametrize("seed_strategy", ["base", "random"])
def test_every_base_keeps_the_floor_and_the_budget(base, seed_strategy):
    sizes = [40, 15, 6, 3, 1]
    X, y = labelled(sizes, seed=5, dtype=np.float32)
    params = _fit_params(base, X.shape[0])
    sel = SeededGlobalSelector(base, budget=0.25, k=0.8, seed_strategy=seed_strategy,
                               random_state=1).fit(X, y, **params)
    n_select = int(np.floor(0.25 * 65 + 0.5))
    floor = expected_floor(sizes, n_select, 0.8)
    assert sel.n_selected_ == n_select == sel.sample_indices_.shape[0]
    assert np.unique(sel.sample_indices_).shape[0] == n_select
    assert sel.seed_allocation_ == dict(enumerate(floor))
    for c, n_c in enumerate(floor):
        assert sel.sampling_strategy_[c] >= n_c
    assert y[sel.seed_indices_].tolist() == np.repeat(np.arange(5), floor).tolist()
    assert sel.transform(X).dtype == np.float32


def test_default_base_is_facility_location():
    X, y = labelled([20, 8], seed=6)
    sel = SeededGlobalSelector(budget=6, k=0.5, random_state=0).fit(X, y)
    assert isinstance(sel.base_, FacilityLocationRBF)
    ref = SeededGlobalSelector(FacilityLocationRBF(), budget=6, k=0.5, random_state=0).fit(X, y)
    assert sel.sample_indices_.tolist() == ref.sample_indices_.tolist()


# ---------------------------------------------------------------- k = 1
def test_k1_splits_equally_over_big_classes():
    sizes = [60, 30, 20, 12]
    X, y = labelled(sizes, seed=7)
    sel = SeededGlobalSelector(fl(), budget=40, k=1.0).fit(X, y)
    assert sel.sampling_strategy_ == {0: 10, 1: 10, 2: 10, 3: 10}
    assert sel.seed_indices_.tolist() == sel.sample_indices_.tolist()
    # a budget the class count does not divide: floor(42 / 4) = 10 each, 2 more globally
    sel = SeededGlobalSelector(fl(), budget=42, k=1.0).fit(X, y)
    assert sel.seed_allocation_ == {0: 10, 1: 10, 2: 10, 3: 10}
    assert sel.seed_indices_.shape == (40,) and sel.n_selected_ == 42
    assert min(sel.sampling_strategy_.values()) >= 10


def test_k1_small_class_gives_its_shortfall_to_phase_2():
    sizes = [60, 30, 20, 3]
    X, y = labelled(sizes, seed=8)
    sel = SeededGlobalSelector(fl(), budget=40, k=1.0).fit(X, y)
    assert sel.seed_allocation_ == {0: 10, 1: 10, 2: 10, 3: 3}
    assert sel.n_selected_ == 40
    assert sel.sampling_strategy_[3] == 3
    assert sum(sel.sampling_strategy_[c] for c in range(3)) == 37


# ------------------------------------------------------------ randomness
def test_random_seeds_are_deterministic_given_random_state():
    X, y = labelled([50, 20, 10], seed=9)
    fits = [SeededGlobalSelector(fl(), budget=15, k=1.0, seed_strategy="random",
                                 random_state=rs).fit(X, y) for rs in (3, 3, 4)]
    assert fits[0].seed_indices_.tolist() == fits[1].seed_indices_.tolist()
    assert fits[0].sample_indices_.tolist() == fits[1].sample_indices_.tolist()
    assert fits[0].seed_indices_.tolist() != fits[2].seed_indices_.tolist()
    for sel in fits:
        assert np.bincount(y[sel.seed_indices_]).tolist() == [5, 5, 5]


def test_unseeded_base_is_seeded_from_random_state():
    # KCenterGreedy() draws its start; SGS hands it a seed drawn from its own random_state.
    X, y = labelled([40, 15], seed=10)
    a = SeededGlobalSelector(KCenterGreedy(), budget=10, k=0.4, random_state=5).fit(X, y)
    b = SeededGlobalSelector(KCenterGreedy(), budget=10, k=0.4, random_state=5).fit(X, y)
    assert a.sample_indices_.tolist() == b.sample_indices_.tolist()
    assert a.base_.random_state is not None
    assert a.get_params()["base"].random_state is None  # the user's base is not touched


# -------------------------------------------------------------- labels, warm start
def test_string_labels():
    X, y_int = labelled([20, 9, 4], seed=11)
    names = np.array(["chair", "lamp", "vase"])
    y = names[y_int]
    sel = SeededGlobalSelector(fl(), budget=9, k=1.0).fit(X, y)
    assert sel.seed_allocation_ == {"chair": 3, "lamp": 3, "vase": 3}
    assert sel.sampling_strategy_ == {"chair": 3, "lamp": 3, "vase": 3}
    assert sel.classes_.tolist() == ["chair", "lamp", "vase"]
    ref = SeededGlobalSelector(fl(), budget=9, k=1.0).fit(X, y_int)
    assert sel.sample_indices_.tolist() == ref.sample_indices_.tolist()


def test_initial_indices_open_the_selection_and_shrink_the_floor():
    X, y = labelled([30, 10, 6], seed=12)
    initial = [int(np.flatnonzero(y == 0)[0]), int(np.flatnonzero(y == 2)[1])]
    sel = SeededGlobalSelector(fl(), budget=14, k=0.5).fit(X, y, initial_indices=initial)
    # floor(0.5 * (14 - 2) / 3) = 2 per class, over the rows not given
    assert sel.seed_allocation_ == {0: 2, 1: 2, 2: 2}
    assert sel.sample_indices_[:2].tolist() == initial
    assert not set(initial) & set(sel.seed_indices_.tolist())
    assert sel.sample_indices_[2:8].tolist() == sel.seed_indices_.tolist()
    assert sel.n_selected_ == 14 and np.unique(sel.sample_indices_).shape[0] == 14


# ------------------------------------------------------------------- weights
@pytest.mark.parametrize("k", [0.0, 0.5, 1.0])
def test_uniform_target_prior_equalises_weighted_class_shares(k):
    X, y = labelled([50, 20, 8, 3], seed=13)
    sel = SeededGlobalSelector(fl(), budget=24, k=k, target_prior="uniform").fit(X, y)
    ys = y[sel.sample_indices_]
    present = np.unique(ys)
    assert present.shape[0] == 4
    shares = np.array([sel.weights_[ys == c].sum() for c in present])
    np.testing.assert_allclose(shares, shares.mean(), rtol=1e-12)
    np.testing.assert_allclose(sel.weights_.mean(), 1.0, rtol=1e-12)
    emp = SeededGlobalSelector(fl(), budget=24, k=k).fit(X, y)
    ye = y[emp.sample_indices_]
    shares = np.array([emp.weights_[ye == c].sum() for c in range(4)]) / 24
    np.testing.assert_allclose(shares, np.bincount(y) / y.shape[0], rtol=1e-12)


# ---------------------------------------------------------------- properties
@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 12), min_size=2, max_size=6),
    k=st.floats(0.0, 1.0),
    frac=st.floats(0.01, 1.0),
    seed=st.integers(0, 10_000),
    seed_strategy=st.sampled_from(["base", "random"]),
)
def test_floor_kept_for_every_class(sizes, k, frac, seed, seed_strategy):
    X, y = labelled(sizes, d=2, seed=seed)
    n = y.shape[0]
    budget = max(1, min(n, int(round(frac * n))))
    sel = fit_quietly(SeededGlobalSelector(RandomSelector(random_state=seed), budget=budget, k=k,
                                           seed_strategy=seed_strategy, random_state=seed), X, y)
    floor = expected_floor(sizes, budget, k)
    assert sel.seed_allocation_ == dict(enumerate(floor))
    counts = np.bincount(y[sel.sample_indices_], minlength=len(sizes))
    assert np.all(counts >= floor)
    assert sum(floor) <= budget
    # the seeds open the selection, class by class, each in its class
    n_seeds = sum(floor)
    assert sel.seed_indices_.tolist() == sel.sample_indices_[:n_seeds].tolist()
    assert y[sel.seed_indices_].tolist() == np.repeat(np.arange(len(sizes)), floor).tolist()
    # exact budget, unique, in range
    idx = sel.sample_indices_
    assert idx.shape == (budget,) and np.unique(idx).shape[0] == budget
    assert idx.min() >= 0 and idx.max() < n
    # same seed, same result
    again = fit_quietly(SeededGlobalSelector(RandomSelector(random_state=seed), budget=budget,
                                             k=k, seed_strategy=seed_strategy,
                                             random_state=seed), X, y)
    assert again.sample_indices_.tolist() == idx.tolist()


@settings(max_examples=15, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 15), min_size=2, max_size=4),
    k=st.sampled_from([0.0, 0.2, 0.4, 0.6, 0.8, 1.0]),
    seed=st.integers(0, 10_000),
)
def test_floor_kept_with_facility_location(sizes, k, seed):
    X, y = labelled(sizes, d=3, seed=seed)
    n = y.shape[0]
    budget = max(1, n // 2)
    sel = fit_quietly(SeededGlobalSelector(fl(), budget=budget, k=k), X, y)
    floor = expected_floor(sizes, budget, k)
    assert sel.seed_allocation_ == dict(enumerate(floor))
    assert np.all(np.bincount(y[sel.sample_indices_], minlength=len(sizes)) >= floor)
    assert np.unique(sel.sample_indices_).shape[0] == budget
    assert np.all(np.diff(sel.gains_[sum(floor):]) <= 0)  # phase 2 is a greedy


# -------------------------------------------------------------------- errors
X_ERR, Y_ERR = labelled([10, 6], seed=14)


def test_single_class_with_a_floor():
    with pytest.raises(
        ValueError,
        match=r"k=0.4 asks for a per-class floor but y holds one class \('only'\); pass k=0 "
        r"\(global selection\) or labels of several classes",
    ):
        SeededGlobalSelector(fl(), budget=4, k=0.4).fit(X_ERR, np.full(16, "only"))
    # k = 0 is global selection: one class is fine
    sel = SeededGlobalSelector(fl(), budget=4, k=0.0).fit(X_ERR, np.full(16, "only"))
    assert sel.n_selected_ == 4


@pytest.mark.parametrize("k", [-0.1, 1.5, 2, np.nan])
def test_k_outside_zero_one(k):
    with pytest.raises(
        InvalidParameterError,
        match=rf"The 'k' parameter of SeededGlobalSelector must be a float in the range "
        rf"\[0.0, 1.0\]. Got {k} instead",
    ):
        SeededGlobalSelector(fl(), budget=4, k=k).fit(X_ERR, Y_ERR)


@pytest.mark.parametrize("base", [LogisticRegression(), "FacilityLocationRBF", FacilityLocationRBF])
def test_base_not_a_selector(base):
    with pytest.raises(
        InvalidParameterError,
        match=r"The 'base' parameter of SeededGlobalSelector must be an instance of "
        r"'coreset3d.base.BaseSelector' or None",
    ):
        SeededGlobalSelector(base, budget=4).fit(X_ERR, Y_ERR)


def test_y_missing():
    with pytest.raises(ValueError, match=r"SeededGlobalSelector requires y to be passed, but the "
                                         r"target y is None; pass class labels y"):
        SeededGlobalSelector(fl(), budget=4).fit(X_ERR)


def test_y_of_another_length():
    with pytest.raises(ValueError, match=r"y has 15 labels but X has 16 rows"):
        SeededGlobalSelector(fl(), budget=4).fit(X_ERR, Y_ERR[:15])


def test_fit_params_the_base_does_not_take():
    with pytest.raises(TypeError, match=r"SeededGlobalSelector.fit got unexpected arguments "
                                        r"\['scores'\]; it takes X, y, initial_indices"):
        SeededGlobalSelector(fl(), budget=4).fit(X_ERR, Y_ERR, scores=np.ones(16))
    with pytest.raises(ValueError, match=r"ScalarScore.fit needs scores"):
        SeededGlobalSelector(ScalarScore(), budget=4).fit(X_ERR, Y_ERR)


def test_budget_errors():
    with pytest.raises(ValueError, match=r"budget=17 selects 17 samples but X has only 16 rows"):
        SeededGlobalSelector(fl(), budget=17).fit(X_ERR, Y_ERR)
    with pytest.raises(InvalidParameterError, match=r"The 'budget' parameter of "
                                                    r"SeededGlobalSelector must be"):
        SeededGlobalSelector(fl(), budget=0).fit(X_ERR, Y_ERR)


@pytest.mark.parametrize("seed_strategy", ["base", "random"])
def test_scores_of_the_wrong_length_name_the_rows_of_X(seed_strategy):
    with pytest.raises(ValueError, match=r"scores has 15 values but X has 16 rows"):
        SeededGlobalSelector(ScalarScore(), budget=4, k=1.0, seed_strategy=seed_strategy).fit(
            X_ERR, Y_ERR, scores=np.ones(15))


def test_refit_with_a_base_without_gains_drops_gains():
    sel = SeededGlobalSelector(fl(), budget=4, k=0.5).fit(X_ERR, Y_ERR)
    assert sel.gains_.shape == (4,)
    sel.set_params(base=RandomSelector(random_state=0)).fit(X_ERR, Y_ERR)
    assert not hasattr(sel, "gains_")  # stale gains would not match sample_indices_
