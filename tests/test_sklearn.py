"""CoresetClassifier and CoresetResampler: sklearn checks, pipelines, grid search over k."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from sklearn.utils.estimator_checks import parametrize_with_checks

from coreset3d import (
    FacilityLocationRBF,
    KCenterGreedy,
    RandomSelector,
    ScalarScore,
    SeededGlobalSelector,
)
from coreset3d.base import EmptyClassWarning
from coreset3d.sklearn import CoresetClassifier, CoresetResampler


def long_tailed_blobs(sizes=(200, 60, 20, 8), seed=0):
    centers = np.array([[0, 0], [4, 0], [0, 4], [4, 4]], dtype=float)
    X, y = make_blobs(n_samples=list(sizes), centers=centers[: len(sizes)], random_state=seed)
    return X, y


@parametrize_with_checks(
    [
        CoresetClassifier(
            SeededGlobalSelector(FacilityLocationRBF(sigma=1.0), budget=0.5, k=0.4),
            LogisticRegression(),
        ),
        CoresetClassifier(
            KCenterGreedy(budget=0.6, random_state=0), LinearSVC(), use_weights=False
        ),
    ]
)
def test_sklearn_common_checks(estimator, check):
    check(estimator)


def test_default_components_fit_and_predict():
    X, y = long_tailed_blobs()
    clf = CoresetClassifier().fit(X, y)
    assert isinstance(clf.selector_, SeededGlobalSelector)
    assert clf.sample_indices_.shape == (round(0.1 * X.shape[0]),)
    assert clf.score(X, y) > 0.9


def test_estimator_gets_the_selector_weights():
    X, y = long_tailed_blobs()
    sel = RandomSelector(budget=50, target_prior="uniform", random_state=0)

    class Recorder(LogisticRegression):
        def fit(self, X, y, sample_weight=None):
            self.seen_weight_ = sample_weight
            return super().fit(X, y, sample_weight=sample_weight)

    clf = CoresetClassifier(sel, Recorder()).fit(X, y)
    np.testing.assert_array_equal(clf.estimator_.seen_weight_, clf.selector_.weights_)
    unweighted = CoresetClassifier(sel, Recorder(), use_weights=False).fit(X, y)
    assert unweighted.estimator_.seen_weight_ is None


def test_missing_class_gets_zero_probability():
    X, y = long_tailed_blobs(sizes=(100, 100, 2))
    # k = 0 and a tiny budget: the 2-sample class is absent from the coreset
    with pytest.warns(EmptyClassWarning, match="no selected sample"):
        clf = CoresetClassifier(KCenterGreedy(budget=2, start=0), LogisticRegression()).fit(X, y)
    assert set(clf.estimator_.classes_) < set(clf.classes_)
    proba = clf.predict_proba(X[:5])
    assert proba.shape == (5, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    missing = np.setdiff1d(clf.classes_, clf.estimator_.classes_)
    assert np.all(proba[:, np.searchsorted(clf.classes_, missing)] == 0)


def test_single_class_coreset_is_a_clear_error():
    X, y = long_tailed_blobs(sizes=(100, 3))
    with pytest.raises(ValueError, match="coreset of 1 samples holds one class.*raise the"):
        CoresetClassifier(RandomSelector(budget=1, random_state=0)).fit(X, y)


def test_fit_params_are_routed_by_prefix():
    X, y = long_tailed_blobs()
    scores = np.arange(X.shape[0], dtype=float)
    clf = CoresetClassifier(ScalarScore(budget=30, mode="top")).fit(X, y, selector__scores=scores)
    assert sorted(clf.sample_indices_.tolist()) == list(range(X.shape[0] - 30, X.shape[0]))
    with pytest.raises(TypeError, match="got 'scores'; name fit parameters 'selector__<name>'"):
        CoresetClassifier(ScalarScore(budget=30)).fit(X, y, scores=scores)


def test_works_inside_a_pipeline():
    X, y = long_tailed_blobs()
    pipe = make_pipeline(StandardScaler(), CoresetClassifier(KCenterGreedy(budget=40)))
    assert pipe.fit(X, y).score(X, y) > 0.9


def test_grid_search_over_k_selects_for_the_metric():
    X, y = long_tailed_blobs(sizes=(300, 40, 15, 10), seed=1)
    clf = CoresetClassifier(
        SeededGlobalSelector(FacilityLocationRBF(sigma=1.0), budget=16, random_state=0),
        LogisticRegression(),
    )
    grid = {"selector__k": [0.0, 0.5, 1.0]}
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    search = GridSearchCV(clf, grid, scoring="balanced_accuracy", cv=cv).fit(X, y)
    assert search.best_params_["selector__k"] in grid["selector__k"]
    means = search.cv_results_["mean_test_score"]
    assert means.shape == (3,)
    # the per-class floor (k > 0) helps mean class accuracy on this tail
    assert max(means[1:]) >= means[0]


def test_grid_search_passes_scores_per_fold():
    X, y = long_tailed_blobs()
    scores = np.random.RandomState(0).rand(X.shape[0])
    clf = CoresetClassifier(ScalarScore(budget=40, mode="bottom", class_policy="balanced"))
    search = GridSearchCV(clf, {"selector__mode": ["top", "bottom"]}, cv=3)
    search.fit(X, y, selector__scores=scores)
    assert hasattr(search, "best_estimator_")


def test_resampler_returns_the_coreset_rows():
    X, y = long_tailed_blobs()
    res = CoresetResampler(SeededGlobalSelector(KCenterGreedy(), budget=40, k=1.0, random_state=0))
    X_sub, y_sub = res.fit_resample(X, y)
    np.testing.assert_array_equal(X_sub, X[res.sample_indices_])
    np.testing.assert_array_equal(y_sub, y[res.sample_indices_])
    # k = 1: a floor of 40 / 4 = 10 per class, capped at the tail's 8 rows
    assert np.all(np.bincount(y_sub, minlength=4) >= [10, 10, 10, 8])
    assert res.sample_weight_.shape == (40,)


def test_resampler_in_an_imblearn_pipeline():
    imblearn = pytest.importorskip("imblearn")
    X, y = long_tailed_blobs()
    pipe = imblearn.pipeline.make_pipeline(
        CoresetResampler(KCenterGreedy(budget=50, random_state=0)), LogisticRegression()
    )
    assert pipe.fit(X, y).score(X, y) > 0.9
