"""scikit-learn's common estimator checks, for every exported selector."""

import numpy as np
from scipy.sparse import issparse
from sklearn.utils.estimator_checks import parametrize_with_checks

import coreset3d
from coreset3d import ScalarScore, SeededGlobalSelector

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
        dense_2d = not issparse(X) and np.ndim(X) == 2 and np.shape(X)[1] > 0
        column = np.asarray(X)[:, 0] if dense_2d else None
        if column is not None and column.dtype.kind in "biuf":
            scores = column.astype(np.float64)
        else:
            scores = np.zeros(X.shape[0] if hasattr(X, "shape") and len(X.shape) else 0)
        return super().fit(X, y, scores=scores, initial_indices=initial_indices)


def _selectors():
    for name in coreset3d.__all__:
        cls = getattr(coreset3d, name)
        if not isinstance(cls, type) or not issubclass(cls, coreset3d.BaseSelector):
            continue
        if cls in (coreset3d.BaseSelector, ScalarScore):
            continue
        if cls is SeededGlobalSelector:
            yield SeededGlobalSelector(coreset3d.FacilityLocationRBF(sigma=1.0), budget=0.5)
            yield SeededGlobalSelector(coreset3d.KCenterGreedy(), budget=0.5, seed_strategy="random")
            continue
        yield cls(budget=0.5, random_state=0) if "random_state" in cls().get_params() else cls(0.5)
    yield ScalarScoreOnFirstColumn(budget=0.5, mode="middle")


def test_every_selector_is_checked():
    checked = {type(s).__name__ for s in _selectors()}
    exported = {n for n in coreset3d.__all__ if isinstance(getattr(coreset3d, n), type)}
    missing = {n for n in exported if issubclass(getattr(coreset3d, n), coreset3d.BaseSelector)}
    missing -= checked | {"BaseSelector", "ScalarScore"}
    assert not missing


@parametrize_with_checks(list(_selectors()), expected_failed_checks=lambda est: TRANSFORM_KEEPS_ROWS)
def test_sklearn_common_checks(estimator, check):
    check(estimator)
