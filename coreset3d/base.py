"""The contract every coreset selector follows.

A selector is a scikit-learn transformer over *samples*: ``fit(X, y)`` picks a
subset of the rows of ``X`` (the embeddings) and ``transform(X)`` returns those
rows. Subclasses implement one method, :meth:`BaseSelector._select`, which
returns the selection order; this class does the validation, the budget, the
warm start and the class-prior weights.
"""

import sys
import warnings
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, RealNotInt, StrOptions
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import (
    _check_feature_names,
    _check_n_features,
    check_is_fitted,
    column_or_1d,
    validate_data,
)

from ._blocks import RowBlocks, is_out_of_core

__all__ = ["BaseSelector", "EmptyClassWarning", "resolve_budget", "prior_weights"]


class EmptyClassWarning(UserWarning):
    """A class the target prior asks for has no selected sample."""


def resolve_budget(budget, n_samples):
    """Turn ``budget`` (a count or a fraction) into a number of samples.

    Parameters
    ----------
    budget : int or float
        An int >= 1 is a count; a float in (0, 1] is a fraction of
        ``n_samples``, rounded half up and at least 1.
    n_samples : int
        Number of rows the selection draws from.

    Returns
    -------
    n_select : int

    Examples
    --------
    >>> resolve_budget(0.1, 95), resolve_budget(12, 95), resolve_budget(1.0, 95)
    (10, 12, 95)
    """
    if isinstance(budget, Real) and not isinstance(budget, Integral):
        if not 0.0 < budget <= 1.0:
            raise ValueError(
                f"budget={budget!r} is a fraction outside (0, 1]; pass a fraction in "
                "(0, 1] or an int count >= 1."
            )
        return min(n_samples, max(1, int(np.floor(budget * n_samples + 0.5))))
    n_select = int(budget)
    if n_select < 1:
        raise ValueError(
            f"budget={budget!r} selects no sample; pass an int >= 1 or a fraction in (0, 1]."
        )
    if n_select > n_samples:
        raise ValueError(
            f"budget={budget!r} selects {n_select} samples but X has only {n_samples} rows; "
            f"pass budget <= {n_samples} or a fraction in (0, 1]."
        )
    return n_select


def prior_weights(y_selected, target_prior):
    """Per-sample weights that give a selected subset a target class prior.

    A sample of class ``c`` gets ``w = pi(c) / q(c)`` where ``q(c)`` is the
    share of class ``c`` in the subset, so the weighted subset has class prior
    ``pi``. Weights are scaled to mean 1. Classes that ``pi`` favours but the
    subset lacks cannot be reweighted; ``pi`` is renormalised over the classes
    present.

    Parameters
    ----------
    y_selected : ndarray of shape (n_selected,)
        Encoded labels (``0..n_classes-1``) of the selected samples.
    target_prior : ndarray of shape (n_classes,)
        Non-negative target class prior (need not sum to 1).

    Returns
    -------
    weights : ndarray of shape (n_selected,), float64

    Notes
    -----
    This is the correction of term B in *Exploring 3D Dataset Pruning*: the
    loss on the subset, reweighted this way, is an unbiased estimate of the
    loss under the target prior.

    Examples
    --------
    >>> prior_weights(np.array([0, 0, 0, 1]), np.array([0.5, 0.5]))
    array([0.66666667, 0.66666667, 0.66666667, 2.        ])
    """
    y_selected = np.asarray(y_selected)
    n_selected = y_selected.shape[0]
    counts = np.bincount(y_selected, minlength=target_prior.shape[0]).astype(np.float64)
    present = counts > 0
    pi = np.where(present, target_prior, 0.0)
    if pi.sum() <= 0:
        return np.ones(n_selected)
    per_class = np.zeros_like(pi)
    per_class[present] = pi[present] / (counts[present] / n_selected)
    weights = per_class[y_selected]
    return weights * (n_selected / weights.sum())


class BaseSelector(TransformerMixin, BaseEstimator):
    """Base class for coreset selectors (estimators that pick rows).

    Subclasses implement ``_select(X, y, n_select, initial, random_state,
    **fit_params)`` and return ``(order, gains)``: ``order`` holds
    ``n_select`` unique row indices that start with ``initial``; ``gains`` is
    an array of the same length (the marginal value of each pick) or None.

    Parameters
    ----------
    budget : int or float, default=0.1
        Size of the subset: an int count, or a float fraction in (0, 1] of
        the rows seen in ``fit``.
    target_prior : {"empirical", "uniform"} or dict, default="empirical"
        Class prior that ``weights_`` steer the subset toward: the full set's
        class prior ("empirical", for overall accuracy), uniform (for mean
        class accuracy) or a dict ``class -> weight``.
    random_state : int, RandomState instance or None, default=None
        Seed of every random choice the selector makes.

    Attributes
    ----------
    sample_indices_ : ndarray of shape (n_selected_,)
        Selected row indices, in selection order.
    weights_ : ndarray of shape (n_selected_,)
        Weight of each selected sample toward ``target_prior`` (mean 1).
    n_selected_ : int
        Number of selected rows.
    n_samples_fit_ : int
        Number of rows of the ``X`` passed to ``fit``.
    classes_ : ndarray of shape (n_classes,) or None
        Class labels seen in ``fit`` (None when fitted without labels).
    sampling_strategy_ : dict
        Class -> number of selected samples, for every class in ``y`` (empty
        when fitted without labels).
    n_features_in_ : int
        Number of columns of ``X``.
    """

    _parameter_constraints = {
        "budget": [
            Interval(Integral, 1, None, closed="left"),
            Interval(RealNotInt, 0, 1, closed="right"),
        ],
        "target_prior": [StrOptions({"empirical", "uniform"}), dict],
        "random_state": ["random_state"],
    }

    #: Whether ``fit`` needs class labels.
    _requires_labels = False
    #: Inputs ``fit`` takes besides X, y and initial_indices ...
    _fit_params = ()
    #: ... and those of them that hold one value per row of X.
    _sample_fit_params = ()

    def __init__(self, budget=0.1, *, target_prior="empirical", random_state=None):
        self.budget = budget
        self.target_prior = target_prior
        self.random_state = random_state

    # ------------------------------------------------------------------ fit
    def fit(self, X, y=None, *, initial_indices=None, **fit_params):
        """Select a subset of the rows of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Embeddings, one row per sample; float32 stays float32. A
            ``numpy.memmap``, h5py dataset or zarr array is validated in row
            blocks and, by the selectors that can (see
            ``docs/user_guide.md``), read in row blocks, never whole.
        y : array-like of shape (n_samples,), default=None
            Class labels (ints or strings).
        initial_indices : array-like of int, default=None
            Rows already selected (a warm start): they open
            ``sample_indices_`` in the given order and count toward the
            budget; the selector continues from them.
        **fit_params : dict
            Extra per-sample inputs of a subclass (e.g. ``scores``).

        Returns
        -------
        self : object
            The fitted selector.
        """
        self._validate_params()
        unexpected = sorted(set(fit_params) - set(self._accepted_fit_params()))
        if unexpected:
            accepted = ", ".join(["X", "y", "initial_indices", *self._accepted_fit_params()])
            raise TypeError(
                f"{type(self).__name__}.fit got unexpected arguments {unexpected}; "
                f"it takes {accepted}."
            )
        if is_out_of_core(X):
            X = self._validate_blocks(X)
        else:
            X = validate_data(self, X, dtype=[np.float64, np.float32], ensure_min_samples=1)
        n_samples = X.shape[0]
        y_enc = self._encode_labels(y, n_samples)
        n_select = resolve_budget(self.budget, n_samples)
        initial = _check_initial_indices(initial_indices, n_samples, n_select)
        rng = check_random_state(self.random_state)

        with _torch_threads_kept():
            order, gains = self._select(X, y_enc, n_select, initial, rng, **fit_params)
        order = np.asarray(order, dtype=np.intp)
        if order.shape != (n_select,) or np.unique(order).shape[0] != n_select:
            raise RuntimeError(  # a bug in the subclass, not in the user's input
                f"{type(self).__name__}._select returned {order.shape[0]} indices "
                f"({np.unique(order).shape[0]} unique); expected {n_select} unique."
            )
        self.sample_indices_ = order
        self.n_selected_ = n_select
        self.n_samples_fit_ = n_samples
        if gains is not None:
            self.gains_ = np.asarray(gains, dtype=np.float64)
        elif hasattr(self, "gains_"):  # from an earlier fit: it would not match this one
            del self.gains_
        self._set_class_attributes(y_enc)
        return self

    def _select(self, X, y, n_select, initial, random_state, **fit_params):
        raise NotImplementedError

    def _accepts_blocks(self):
        """Whether ``_select`` can take X as a :class:`RowBlocks` (read in row blocks)."""
        return False

    def _validate_blocks(self, X):
        """Validate a memmap/h5py/zarr X block by block; never read it whole unless needed."""
        rows = RowBlocks(X)
        if rows.shape[0] < 1 or rows.shape[1] < 1:
            raise ValueError(
                f"Found array with shape {rows.shape} while a minimum of 1 sample and "
                "1 feature is required; X holds no embeddings."
            )
        if isinstance(X, RowBlocks):  # handed on by a meta-selector: validated already
            rows.abs_max = X.abs_max
        rows.validate()
        _check_feature_names(self, rows, reset=True)
        _check_n_features(self, rows, reset=True)
        return rows if self._accepts_blocks() else rows.to_array()

    def _accepted_fit_params(self):
        return self._fit_params

    def _encode_labels(self, y, n_samples):
        if y is None:
            if self._requires_labels:
                raise ValueError(
                    f"{type(self).__name__} requires y to be passed, but the target y is None; "
                    "pass class labels y, one per row of X."
                )
            self.classes_ = None
            self._class_counts = None
            return None
        y = column_or_1d(y, warn=True)
        if y.shape[0] != n_samples:
            raise ValueError(
                f"y has {y.shape[0]} labels but X has {n_samples} rows; "
                "pass one label per row of X."
            )
        kind = type_of_target(y, input_name="y")
        if kind not in ("binary", "multiclass"):
            raise ValueError(
                f"Unknown label type: y holds {kind!r} targets, not class labels. Pass one "
                "class label (int or string) per row, e.g. y.astype(int) for whole-number floats."
            )
        self.classes_, y_enc = np.unique(y, return_inverse=True)
        self._class_counts = np.bincount(y_enc)
        return y_enc.astype(np.intp)

    def _target_prior_vector(self):
        counts = self._class_counts
        if isinstance(self.target_prior, dict):
            return _prior_from_dict(self.target_prior, self.classes_)
        if self.target_prior == "uniform":
            return np.ones(counts.shape[0])
        return counts / counts.sum()

    def _set_class_attributes(self, y_enc):
        if y_enc is None:
            self.sampling_strategy_ = {}
            self.weights_ = np.ones(self.n_selected_)
            return
        y_sel = y_enc[self.sample_indices_]
        kept = np.bincount(y_sel, minlength=self.classes_.shape[0])
        classes = self.classes_.tolist()
        self.sampling_strategy_ = {c: int(n) for c, n in zip(classes, kept, strict=True)}
        prior = self._target_prior_vector()
        missing = (prior > 0) & (kept == 0)
        if missing.any():
            warnings.warn(
                f"{int(missing.sum())} classes with a positive target prior have no selected "
                f"sample (e.g. {self.classes_[missing][:5].tolist()}); weights_ steer toward "
                "the prior renormalised over the selected classes.",
                EmptyClassWarning,
                stacklevel=3,
            )
        self.weights_ = prior_weights(y_sel, prior)

    # ------------------------------------------------------------ transform
    def transform(self, X):
        """Return the selected rows of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples_fit_, n_features)
            The array passed to ``fit`` (or one aligned with it row by row).

        Returns
        -------
        X_selected : ndarray of shape (n_selected_, n_features)
            ``X[sample_indices_]``, in selection order.
        """
        check_is_fitted(self, "sample_indices_")
        if is_out_of_core(X):  # read the selected rows only
            rows = RowBlocks(X)
            _check_n_features(self, rows, reset=False)
        else:
            rows = X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        if rows.shape[0] != self.n_samples_fit_:
            raise ValueError(
                f"transform(X) returns selected rows of the X given to fit, which had "
                f"{self.n_samples_fit_} rows; this X has {rows.shape[0]}. Index another "
                "array aligned with the fitted one as array[selector.sample_indices_]."
            )
        if isinstance(rows, RowBlocks):
            return RowBlocks(rows.take(self.sample_indices_)).validate().source
        return X[self.sample_indices_]

    def get_support(self, indices=False):
        """Mask or indices of the selected samples (rows, not features).

        Parameters
        ----------
        indices : bool, default=False
            If True, return the selected row indices in ascending order;
            otherwise a boolean mask of shape (n_samples_fit_,).

        Returns
        -------
        support : ndarray
        """
        check_is_fitted(self, "sample_indices_")
        if indices:
            return np.sort(self.sample_indices_)
        mask = np.zeros(self.n_samples_fit_, dtype=bool)
        mask[self.sample_indices_] = True
        return mask

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.target_tags.required = self._requires_labels
        return tags


@contextmanager
def _torch_threads_kept():
    """Give torch back its CPU thread count after numba's parallel kernels.

    numba's OpenMP layer and torch share one libgomp in a process that has
    imported both, and a parallel kernel leaves its thread count in it:
    after a selection, ``torch.get_num_threads()`` read 2 where the script
    had set 1, and two training processes side by side then ran several
    times slower, each spinning a second thread at an OpenMP barrier. The
    selectors never import torch; this only restores what a caller set.
    """
    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    try:
        yield
    finally:
        if before is not None and torch.get_num_threads() != before:
            torch.set_num_threads(before)


def _prior_from_dict(prior, classes):
    missing = [c for c in classes.tolist() if c not in prior]
    if missing:
        raise ValueError(
            f"target_prior has no entry for classes {missing[:10]}; give a weight for every "
            "class in y, or use 'empirical' or 'uniform'."
        )
    unknown = [c for c in prior if c not in set(classes.tolist())]
    if unknown:
        raise ValueError(
            f"target_prior names classes {unknown[:10]} that are not in y; "
            f"the classes are {classes.tolist()[:10]}."
        )
    values = np.array([prior[c] for c in classes.tolist()], dtype=np.float64)
    if not np.all(np.isfinite(values)) or np.any(values < 0) or values.sum() <= 0:
        raise ValueError(
            "target_prior values must be finite, non-negative and not all zero; "
            f"got {values.tolist()[:10]}."
        )
    return values


def _check_initial_indices(initial_indices, n_samples, n_select):
    if initial_indices is None:
        return np.empty(0, dtype=np.intp)
    initial = np.asarray(initial_indices)
    if initial.size == 0:
        return np.empty(0, dtype=np.intp)
    if initial.ndim != 1 or not np.issubdtype(initial.dtype, np.integer):
        raise TypeError(
            "initial_indices must be a 1-D array of int row indices; "
            f"got dtype {initial.dtype} and shape {initial.shape}."
        )
    if initial.min() < 0 or initial.max() >= n_samples:
        raise ValueError(
            f"initial_indices must lie in [0, {n_samples}) (the rows of X); "
            f"got values from {initial.min()} to {initial.max()}."
        )
    if np.unique(initial).shape[0] != initial.shape[0]:
        raise ValueError("initial_indices has repeated rows; pass each row at most once.")
    if initial.shape[0] > n_select:
        raise ValueError(
            f"initial_indices holds {initial.shape[0]} rows but the budget is {n_select}; "
            "raise budget or pass fewer initial rows."
        )
    return initial.astype(np.intp)
