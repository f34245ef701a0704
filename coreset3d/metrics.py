"""Classification metrics used to report 3D-Pruner results.

Plain numpy, no torch: overall accuracy (OA), per-class accuracy and mean
class accuracy (mAcc), the two numbers every ModelNet40 / ScanObjectNN /
ShapeNet55 table reports. On a long-tailed test set OA is dominated by the
head classes, mAcc weighs every class equally.
"""

import numpy as np

__all__ = ["overall_accuracy", "per_class_accuracy", "mean_class_accuracy"]


def _check_pair(y_true, y_pred):
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    if y_true.ndim != 1 or y_pred.ndim != 1:
        raise ValueError(
            f"y_true and y_pred must be 1-D label arrays, got shapes {y_true.shape} and "
            f"{y_pred.shape}; pass one label per sample (use logits.argmax(1) for predictions)."
        )
    if y_true.shape[0] != y_pred.shape[0]:
        raise ValueError(
            f"y_true has {y_true.shape[0]} labels but y_pred has {y_pred.shape[0]}; pass one "
            "prediction per true label."
        )
    if y_true.shape[0] == 0:
        raise ValueError("y_true is empty; accuracy needs at least one sample.")
    return y_true, y_pred


def overall_accuracy(y_true, y_pred):
    """Fraction of samples whose prediction equals the true label (OA).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels (ints or strings).
    y_pred : array-like of shape (n_samples,)
        Predicted labels, same kind as ``y_true``.

    Returns
    -------
    oa : float
        Overall accuracy in [0, 1].

    See Also
    --------
    mean_class_accuracy : the class-balanced counterpart (mAcc).

    Notes
    -----
    O(n_samples).

    Examples
    --------
    >>> overall_accuracy([0, 0, 0, 1], [0, 0, 0, 0])
    0.75
    """
    y_true, y_pred = _check_pair(y_true, y_pred)
    return float(np.mean(y_true == y_pred))


def per_class_accuracy(y_true, y_pred, *, labels=None):
    """Accuracy (recall) of each class: correct predictions over true members.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels (ints or strings).
    y_pred : array-like of shape (n_samples,)
        Predicted labels, same kind as ``y_true``.
    labels : array-like of shape (n_classes,), default=None
        Classes to report, in this order. Default: the sorted unique values of
        ``y_true``. A class with no true member gets NaN.

    Returns
    -------
    accuracy : ndarray of shape (n_classes,), float64
        ``accuracy[c]`` is the share of samples of class ``labels[c]`` that
        are predicted as ``labels[c]``; NaN where the class has no sample.

    See Also
    --------
    mean_class_accuracy : the mean of this array over the classes present.

    Notes
    -----
    O(n_samples log n_classes).

    Examples
    --------
    >>> per_class_accuracy([0, 0, 0, 1], [0, 0, 1, 0])
    array([0.66666667, 0.        ])
    >>> per_class_accuracy([0, 0, 1], [0, 0, 1], labels=[0, 1, 2])
    array([ 1.,  1., nan])
    """
    y_true, y_pred = _check_pair(y_true, y_pred)
    labels = np.unique(y_true) if labels is None else np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] == 0:
        raise ValueError(
            f"labels must be a non-empty 1-D array of classes, got shape {labels.shape}."
        )
    if np.unique(labels).shape[0] != labels.shape[0]:
        raise ValueError("labels contains repeated classes; pass each class once.")
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    pos = np.searchsorted(sorted_labels, y_true)
    pos_clipped = np.minimum(pos, labels.shape[0] - 1)
    known = sorted_labels[pos_clipped] == y_true
    # y_true classes outside ``labels`` are not reported (as in sklearn's labels=).
    cls = order[pos_clipped[known]]
    hits = (y_true == y_pred)[known]
    n_classes = labels.shape[0]
    total = np.bincount(cls, minlength=n_classes).astype(np.float64)
    correct = np.bincount(cls, weights=hits.astype(np.float64), minlength=n_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, correct / np.maximum(total, 1.0), np.nan)


def mean_class_accuracy(y_true, y_pred, *, labels=None):
    """Mean of the per-class accuracies over the classes present (mAcc).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels (ints or strings).
    y_pred : array-like of shape (n_samples,)
        Predicted labels, same kind as ``y_true``.
    labels : array-like of shape (n_classes,), default=None
        Classes to average over; those without a true member are skipped.
        Default: the unique values of ``y_true``.

    Returns
    -------
    macc : float
        Mean class accuracy in [0, 1] (balanced accuracy).

    See Also
    --------
    per_class_accuracy : the per-class values averaged here.
    overall_accuracy : the sample-weighted counterpart (OA).

    Notes
    -----
    Equals scikit-learn's ``balanced_accuracy_score`` when ``labels`` is
    None. O(n_samples log n_classes).

    Examples
    --------
    >>> mean_class_accuracy([0, 0, 0, 1], [0, 0, 0, 0])
    0.5
    """
    acc = per_class_accuracy(y_true, y_pred, labels=labels)
    if np.all(np.isnan(acc)):
        raise ValueError("none of the classes in labels occurs in y_true; mAcc is undefined.")
    return float(np.nanmean(acc))
