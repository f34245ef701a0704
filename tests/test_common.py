"""scikit-learn's common estimator checks, for every exported selector."""

import numpy as np
from scipy.sparse import issparse
from sklearn.utils.estimator_checks import parametrize_with_checks

import coreset3d
from coreset3d import CCS, CCSCP, NUCS, BalancedScore, DRoP, ScalarScore, SeededGlobalSelector

# transform(X) returns the selected rows of the X seen in fit: it cannot keep
# the number of rows, nor take another X (a test split). These checks assume it can.
TRANSFORM_KEEPS_ROWS = {
    "check_transformer_general": "transform returns n_selected_ rows, not n_samples",
    "check_transformer_data_not_an_array": "transform returns n_selected_ rows, not n_samples",
    "check_methods_sample_order_invariance": "transform takes only the X seen in fit",
    "check_methods_subset_invariance": "transform takes only the X seen in fit",
    "check_fit_idempotent": "transform takes only the X seen in fit, not a test split",
}


class ScalarScoreOnFirstColumn(ScalarScore):
    """ScalarScore fed its required ``scores`` from X's first column.

    The common checks call ``fit(X, y)`` only; everything else is ScalarScore's.
    """

    def fit(self, X, y=None, *, initial_indices=None):
        return super().fit(X, y, scores=_first_column(X), initial_indices=initial_indices)


def _first_column(X):
    """X's first column as float scores where X has one, else zeros (bad X fails in fit)."""
    dense_2d = not issparse(X) and np.ndim(X) == 2 and np.shape(X)[1] > 0
    column = np.asarray(X)[:, 0] if dense_2d else None
    if column is not None and column.dtype.kind in "biuf":
        return column.astype(np.float64)
    return np.zeros(X.shape[0] if hasattr(X, "shape") and len(X.shape) else 0)


# The baselines need per-sample scores (and DRoP per-class recall) besides (X, y):
# these wrappers derive them from X and y; everything else is the selector's own.
class CCSOnFirstColumn(CCS):
    def fit(self, X, y=None, *, initial_indices=None):
        return super().fit(X, y, scores=_first_column(X), initial_indices=initial_indices)


class CCSCPOnFirstColumn(CCSCP):
    def fit(self, X, y=None, *, initial_indices=None):
        return super().fit(X, y, scores=_first_column(X), initial_indices=initial_indices)


class NUCSOnAbsFirstColumn(NUCS):  # NUCS needs non-negative class means
    def fit(self, X, y=None, *, initial_indices=None):
        scores = np.abs(_first_column(X))
        return super().fit(X, y, scores=scores, initial_indices=initial_indices)


class BalancedScoreOnFirstColumn(BalancedScore):
    def fit(self, X, y=None, *, initial_indices=None):
        return super().fit(X, y, scores=_first_column(X), initial_indices=initial_indices)


class DRoPOnSpreadRecall(DRoP):
    """DRoP with recall spread over [0.2, 0.8] across the classes, ranked by X's first column."""

    def fit(self, X, y=None, *, initial_indices=None):
        try:
            recall = np.linspace(0.2, 0.8, np.unique(np.asarray(y)).shape[0])
        except TypeError:  # y the checks expect fit to reject (None, mixed types)
            recall = None
        return super().fit(
            X, y, recall=recall, scores=_first_column(X), initial_indices=initial_indices
        )


NEED_FIT_INPUTS = (CCS, CCSCP, DRoP, NUCS, BalancedScore)


def _selectors():
    for name in coreset3d.__all__:
        cls = getattr(coreset3d, name)
        if not isinstance(cls, type) or not issubclass(cls, coreset3d.BaseSelector):
            continue
        if cls in (coreset3d.BaseSelector, ScalarScore, *NEED_FIT_INPUTS):
            continue
        if cls is SeededGlobalSelector:
            yield SeededGlobalSelector(coreset3d.FacilityLocationRBF(sigma=1.0), budget=0.5)
            yield SeededGlobalSelector(
                coreset3d.KCenterGreedy(), budget=0.5, seed_strategy="random"
            )
            continue
        yield cls(budget=0.5, random_state=0) if "random_state" in cls().get_params() else cls(0.5)
    yield coreset3d.FacilityLocationRBF(budget=0.5, similarity="knn", n_neighbors=3,
                                        random_state=0)
    yield ScalarScoreOnFirstColumn(budget=0.5, mode="middle")
    yield CCSOnFirstColumn(budget=0.5, n_strata=3, random_state=0)
    yield CCSCPOnFirstColumn(budget=0.5, n_strata=3, random_state=0)
    yield NUCSOnAbsFirstColumn(budget=0.5, window=0.3)
    yield BalancedScoreOnFirstColumn(budget=0.5)
    yield DRoPOnSpreadRecall(budget=0.5, within="score")
    yield DRoPOnSpreadRecall(budget=0.5, random_state=0)


def test_every_selector_is_checked():
    checked = {type(s).__name__ for s in _selectors()}
    exported = {n for n in coreset3d.__all__ if isinstance(getattr(coreset3d, n), type)}
    missing = {n for n in exported if issubclass(getattr(coreset3d, n), coreset3d.BaseSelector)}
    missing -= checked | {"BaseSelector", "ScalarScore"} | {c.__name__ for c in NEED_FIT_INPUTS}
    assert not missing


@parametrize_with_checks(
    list(_selectors()), expected_failed_checks=lambda est: TRANSFORM_KEEPS_ROWS
)
def test_sklearn_common_checks(estimator, check):
    check(estimator)
