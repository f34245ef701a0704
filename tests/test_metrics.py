import numpy as np
import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, recall_score

from coreset3d.metrics import mean_class_accuracy, overall_accuracy, per_class_accuracy


def test_hand_computed_long_tail():
    y_true = np.array([0, 0, 0, 0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 0, 0, 0, 0, 1, 0, 1, 0])
    assert overall_accuracy(y_true, y_pred) == pytest.approx(6 / 9)
    np.testing.assert_allclose(per_class_accuracy(y_true, y_pred), [5 / 6, 1 / 2, 0.0])
    assert mean_class_accuracy(y_true, y_pred) == pytest.approx((5 / 6 + 1 / 2 + 0) / 3)


def test_agrees_with_sklearn():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 5, size=200)
    y_pred = np.where(rng.random(200) < 0.6, y_true, rng.integers(0, 5, size=200))
    assert overall_accuracy(y_true, y_pred) == pytest.approx(accuracy_score(y_true, y_pred))
    assert mean_class_accuracy(y_true, y_pred) == pytest.approx(
        balanced_accuracy_score(y_true, y_pred)
    )
    np.testing.assert_allclose(
        per_class_accuracy(y_true, y_pred), recall_score(y_true, y_pred, average=None)
    )


def test_labels_order_absent_class_and_strings():
    acc = per_class_accuracy(["b", "a", "a"], ["b", "a", "b"], labels=["c", "a", "b"])
    np.testing.assert_allclose(acc, [np.nan, 0.5, 1.0])
    # mAcc skips the class with no test sample.
    assert mean_class_accuracy(["b", "a", "a"], ["b", "a", "b"], labels=["c", "a", "b"]) == 0.75
    # A true class missing from labels is left out, not misattributed.
    np.testing.assert_allclose(per_class_accuracy([0, 1, 2], [0, 1, 1], labels=[1, 2]), [1.0, 0.0])


def test_errors():
    with pytest.raises(ValueError, match="y_true has 3 labels but y_pred has 2"):
        overall_accuracy([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match="must be 1-D label arrays"):
        overall_accuracy([[0, 1]], [[0, 1]])
    with pytest.raises(ValueError, match="y_true is empty"):
        per_class_accuracy([], [])
    with pytest.raises(ValueError, match="repeated classes"):
        per_class_accuracy([0, 1], [0, 1], labels=[0, 0])
    with pytest.raises(ValueError, match="none of the classes"):
        mean_class_accuracy([0, 1], [0, 1], labels=[5])
