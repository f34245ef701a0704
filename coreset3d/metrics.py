"""Classification metrics used to report 3D-Pruner results, and the signal audit.

No torch: overall accuracy (OA), per-class accuracy and mean class accuracy
(mAcc), the two numbers every ModelNet40 / ScanObjectNN / ShapeNet55 table
reports. On a long-tailed test set OA is dominated by the head classes, mAcc
weighs every class equally. :func:`signal_audit` measures how much a
selection signal (a score, or FL-RBF gains of embeddings) leans toward large
classes.
"""

import math
from dataclasses import dataclass

import numpy as np
from sklearn.preprocessing import normalize as l2_normalize
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array

from .allocation import balanced_allocation
from .base import _torch_threads_kept, resolve_budget
from .selectors._similarity import ROW_BLOCK_BYTES, RBFRows, median_sigma

__all__ = [
    "overall_accuracy",
    "per_class_accuracy",
    "mean_class_accuracy",
    "SignalAudit",
    "signal_audit",
]


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


# ---------------------------------------------------------------- signal audit
@dataclass(frozen=True)
class SignalAudit:
    """How a per-sample selection signal depends on class size (see :func:`signal_audit`).

    Attributes
    ----------
    classes : ndarray of shape (n_classes,)
        Sorted class labels.
    class_sizes : ndarray of shape (n_classes,)
        Number of samples of each class.
    class_means : ndarray of shape (n_classes,)
        Mean signal of each class.
    pearson_size, pearson_log_size : float
        Pearson correlation, over the classes, of ``class_means`` with
        ``class_sizes`` and with their natural log (NaN with fewer than 2
        classes or a constant input).
    slope_size, slope_log_size : float
        Least-squares slope of ``class_means`` on ``class_sizes`` (signal
        per sample of class size) and on ``log(class_sizes)`` (signal per
        e-fold of class size); NaN where the sizes are all equal.
    budget : int
        The budget ``B`` as a count.
    overlap : float
        ``|P ∩ G| / B``: the share of the global top-``B`` selection ``G``
        that the per-class top-``B`` selection ``P`` also picks.
    jaccard : float
        ``|P ∩ G| / |P ∪ G|``.
    global_counts : ndarray of shape (n_classes,)
        Samples of each class in ``G``.
    count_ratio : float
        ``max / min`` of ``global_counts``; ``inf`` when a class gets none.
    n_empty_classes : int
        Classes with no sample in ``G``.
    values : ndarray of shape (n_samples,)
        The per-sample signal audited (the FL-RBF gains for embeddings).
    """

    classes: np.ndarray
    class_sizes: np.ndarray
    class_means: np.ndarray
    pearson_size: float
    pearson_log_size: float
    slope_size: float
    slope_log_size: float
    budget: int
    overlap: float
    jaccard: float
    global_counts: np.ndarray
    count_ratio: float
    n_empty_classes: int
    values: np.ndarray


def signal_audit(
    signal, y, budget, *, largest=True, sigma="median", normalize=True, random_state=0
):
    """Audit a selection signal for class-size bias (the paper's Table 3).

    Parameters
    ----------
    signal : array-like of shape (n_samples,) or (n_samples, n_features)
        A per-sample score (1-D: EL2N, loss, forgetting, ...) or embeddings
        (2-D). For embeddings the per-sample signal is the facility-location
        marginal gain of FL-RBF at its first step, ``g_j = sum_i K(x_i,
        x_j)`` with ``K(x, x') = exp(-||x - x'||^2 / (2 sigma^2))`` (the sum
        runs over every sample, ``j`` itself included), computed block by
        block with the kernel machinery of
        :class:`~coreset3d.FacilityLocationRBF`
        (:class:`~coreset3d.selectors._similarity.RBFRows`) in ``O(n^2 d)``
        time and ``O(n d)`` plus 64 MiB of memory.
    y : array-like of shape (n_samples,)
        Class labels (ints or strings).
    budget : int or float
        Size ``B`` of the selections compared: an int count or a float
        fraction in (0, 1].
    largest : bool, default=True
        Select the largest signal values (hardest scores, most central
        samples for FL gains); False selects the smallest.
    sigma : float or "median", default="median"
        RBF bandwidth for embeddings, as in FacilityLocationRBF ("median":
        the median pairwise distance, over 2,000 random rows at most).
    normalize : bool, default=True
        L2-normalise embeddings before the kernel, as FacilityLocationRBF
        does by default.
    random_state : int, RandomState instance or None, default=0
        Seed of the median-distance subsample (embeddings only).

    Returns
    -------
    audit : SignalAudit
        A frozen dataclass; :func:`dataclasses.asdict` turns it into a dict.

    See Also
    --------
    coreset3d.allocation.balanced_allocation : The per-class budgets of the
        per-class top-``B`` selection.
    coreset3d.FacilityLocationRBF : Whose first-step gains audit embeddings.

    Notes
    -----
    *Size dependence.* Each class is one point ``(n_c, m_c)`` with ``m_c``
    the class's mean signal. ``pearson_size`` is their Pearson correlation
    and ``slope_size`` the ordinary least-squares slope of ``m_c`` on
    ``n_c``; the ``_log_size`` twins use ``log n_c`` (long-tailed sizes span
    orders of magnitude, so the log is usually the more linear one).

    *Selection skew.* ``G`` takes the ``B`` samples with the largest signal
    over all classes; ``P`` takes, in each class, its own largest-signal
    samples under the equal class budgets of :func:`balanced_allocation`
    (capped at class size, the rest shared). Both have ``B`` samples, so
    ``overlap = |P ∩ G| / B`` and ``jaccard = |P ∩ G| / (2B - |P ∩ G|)``.
    A signal that favours large classes gives a low overlap and a high
    ``count_ratio`` of ``G``. Ties in the signal go to the lower row index
    in both rankings. Time ``O(n log n + C^2)`` for a 1-D signal.

    References
    ----------
    .. [1] Exploring 3D Dataset Pruning, Table 3 (class-size bias of
       selection signals: correlation with class size, overlap with a
       per-class ranking, head/tail count ratio).

    Examples
    --------
    >>> import numpy as np
    >>> y = np.array([0, 0, 0, 0, 1, 1, 2])
    >>> s = np.array([4.0, 3.0, 2.0, 1.0, 6.0, 5.0, 0.0])
    >>> audit = signal_audit(s, y, budget=3)
    >>> audit.global_counts.tolist(), audit.count_ratio, audit.n_empty_classes
    ([1, 2, 0], inf, 1)
    >>> round(audit.overlap, 4), audit.jaccard, round(audit.slope_size, 6)
    (0.6667, 0.5, 0.5)
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D, one class label per sample; got shape {y.shape}.")
    values = _signal_values(signal, y.shape[0], sigma, normalize, random_state)
    n = values.shape[0]
    classes, y_enc = np.unique(y, return_inverse=True)
    sizes = np.bincount(y_enc)
    means = np.bincount(y_enc, weights=values) / sizes
    n_select = resolve_budget(budget, n)

    order = np.lexsort((np.arange(n), -values if largest else values))
    global_top = order[:n_select]
    counts = np.bincount(y_enc[global_top], minlength=classes.shape[0])
    # each class's rows in the global order are its own ranking (same ties)
    by_class = order[np.argsort(y_enc[order], kind="stable")]
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    quotas = balanced_allocation(sizes, n_select)
    per_class_top = np.concatenate([by_class[starts[c] : starts[c] + quotas[c]] for c in quotas])
    shared = np.intersect1d(global_top, per_class_top).shape[0]

    log_sizes = np.log(sizes)
    return SignalAudit(
        classes=classes,
        class_sizes=sizes,
        class_means=means,
        pearson_size=_pearson(sizes, means),
        pearson_log_size=_pearson(log_sizes, means),
        slope_size=_slope(sizes, means),
        slope_log_size=_slope(log_sizes, means),
        budget=n_select,
        overlap=shared / n_select,
        jaccard=shared / (2 * n_select - shared),
        global_counts=counts,
        count_ratio=float(counts.max() / counts.min()) if counts.min() > 0 else math.inf,
        n_empty_classes=int((counts == 0).sum()),
        values=values,
    )


def _signal_values(signal, n_labels, sigma, normalize, random_state):
    """The per-sample signal: the scores, or the first-step FL-RBF gains of embeddings."""
    ndim = np.ndim(signal)
    if ndim not in (1, 2):
        raise ValueError(
            f"signal must be 1-D scores (n_samples,) or 2-D embeddings (n_samples, n_features); "
            f"got {ndim} dimensions."
        )
    if np.shape(signal)[0] == 0:
        raise ValueError("signal is empty; the audit needs at least one sample.")
    if np.shape(signal)[0] != n_labels:
        raise ValueError(
            f"signal has {np.shape(signal)[0]} rows but y has {n_labels} labels; pass one "
            "signal value (or embedding row) per label."
        )
    if ndim == 1:
        values = np.asarray(signal, dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise ValueError(
                f"signal holds {bad.size} NaN or inf values (rows {bad[:10].tolist()}); pass "
                "finite scores."
            )
        return values
    X = check_array(signal, dtype=[np.float64, np.float32], input_name="signal")
    if normalize:
        X = l2_normalize(X)
    if isinstance(sigma, str) and sigma == "median":
        sigma = median_sigma(X, check_random_state(random_state))
    elif isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not (
        math.isfinite(sigma) and sigma > 0
    ):
        raise ValueError(f"sigma={sigma!r} must be a finite float > 0 or 'median'.")
    # no cache (max_memory=0), full-size row blocks: one pass over them
    kernel = RBFRows(X, float(sigma), max_memory=0, block_bytes=ROW_BLOCK_BYTES)
    n = X.shape[0]
    with _torch_threads_kept():  # a parallel numba kernel, as in the selectors' fit
        return kernel.initial_gains(np.zeros(n, dtype=X.dtype), np.arange(n))


def _pearson(x, y):
    dx, dy = x - x.mean(), y - y.mean()
    denom = math.sqrt(float(dx @ dx) * float(dy @ dy))
    return float(dx @ dy) / denom if denom > 0 else math.nan


def _slope(x, y):
    dx = x - x.mean()
    var = float(dx @ dx)
    return float(dx @ (y - y.mean())) / var if var > 0 else math.nan
