"""scikit-learn integration: train any classifier on a selected coreset.

:class:`CoresetClassifier` is a meta-estimator (select, then fit on the
subset with the selector's prior weights), so the steering knob ``k`` of
:class:`~coreset3d.SeededGlobalSelector` can be tuned by ``GridSearchCV``
like any hyper-parameter. :class:`CoresetResampler` exposes a selector as an
imbalanced-learn style resampler (``fit_resample``).
"""

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.utils._param_validation import HasMethods
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, has_fit_parameter, validate_data

from .base import BaseSelector

__all__ = ["CoresetClassifier", "CoresetResampler"]


def _default_selector():
    from .selectors import FacilityLocationRBF, SeededGlobalSelector

    return SeededGlobalSelector(FacilityLocationRBF(), budget=0.1, k=0.4)


def _split_fit_params(fit_params, owner):
    """Route ``selector__name`` and ``estimator__name`` fit parameters."""
    routed = {"selector": {}, "estimator": {}}
    for key, value in fit_params.items():
        step, sep, name = key.partition("__")
        if not sep or step not in routed:
            raise TypeError(
                f"{owner}.fit got {key!r}; name fit parameters 'selector__<name>' (e.g. "
                "selector__scores) or 'estimator__<name>', as in a Pipeline."
            )
        routed[step][name] = value
    return routed["selector"], routed["estimator"]


def _estimator_has(attr):
    def check(self):
        if hasattr(self, "estimator_"):
            return hasattr(self.estimator_, attr)
        return hasattr(self.estimator if self.estimator is not None else _default_estimator(), attr)

    return check


def _default_estimator():
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression()


class CoresetClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Fit a classifier on the coreset a selector picks from the training set.

    ``fit(X, y)`` fits ``selector`` on ``(X, y)``, then ``estimator`` on the
    selected rows, with ``sample_weight = selector.weights_`` (which steer the
    subset toward the selector's ``target_prior``) when ``use_weights`` is
    True and the estimator accepts sample weights.

    Parameters
    ----------
    selector : selector, default=None
        Any coreset3d selector. None means
        ``SeededGlobalSelector(FacilityLocationRBF(), budget=0.1, k=0.4)``.
    estimator : classifier, default=None
        Any scikit-learn classifier. None means ``LogisticRegression()``.
    use_weights : bool, default=True
        Pass the selector's ``weights_`` as ``sample_weight``.

    Attributes
    ----------
    selector_ : selector
        The fitted selector.
    estimator_ : classifier
        The classifier fitted on the coreset.
    classes_ : ndarray of shape (n_classes,)
        Classes of the full training set. A class the coreset lacks gets
        probability 0 in ``predict_proba``.
    sample_indices_ : ndarray of shape (n_selected,)
        Rows of the training set the estimator was fitted on.
    n_features_in_ : int
        Number of features seen in ``fit``.

    See Also
    --------
    CoresetResampler : The selection alone, as a resampler.

    Notes
    -----
    Fit parameters are routed by prefix, as in a ``Pipeline``:
    ``fit(X, y, selector__scores=s)`` passes ``scores`` to the selector;
    ``GridSearchCV`` splits such per-sample arrays with the folds.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from coreset3d import FacilityLocationRBF, SeededGlobalSelector
    >>> from coreset3d.sklearn import CoresetClassifier
    >>> X, y = make_classification(300, n_informative=4, n_classes=3, random_state=0)
    >>> clf = CoresetClassifier(
    ...     SeededGlobalSelector(FacilityLocationRBF(), budget=60, k=0.4, random_state=0),
    ...     LogisticRegression(),
    ... ).fit(X, y)
    >>> clf.sample_indices_.shape, clf.predict(X[:2]).shape
    ((60,), (2,))
    """

    _parameter_constraints = {
        "selector": [BaseSelector, None],
        "estimator": [HasMethods(["fit", "predict"]), None],
        "use_weights": ["boolean"],
    }

    def __init__(self, selector=None, estimator=None, *, use_weights=True):
        self.selector = selector
        self.estimator = estimator
        self.use_weights = use_weights

    def fit(self, X, y, **fit_params):
        """Select a coreset of ``(X, y)`` and fit the estimator on it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training embeddings.
        y : array-like of shape (n_samples,)
            Class labels.
        **fit_params : dict
            ``selector__<name>`` and ``estimator__<name>`` parameters.

        Returns
        -------
        self : object
            The fitted classifier.
        """
        self._validate_params()
        selector_params, estimator_params = _split_fit_params(fit_params, type(self).__name__)
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        check_classification_targets(y)
        self.classes_ = np.unique(y)

        selector = _default_selector() if self.selector is None else self.selector
        self.selector_ = clone(selector).fit(X, y, **selector_params)
        self.sample_indices_ = self.selector_.sample_indices_
        X_sub, y_sub = X[self.sample_indices_], y[self.sample_indices_]

        estimator = _default_estimator() if self.estimator is None else self.estimator
        self.estimator_ = clone(estimator)
        if self.use_weights and has_fit_parameter(self.estimator_, "sample_weight"):
            estimator_params = {"sample_weight": self.selector_.weights_, **estimator_params}
        if np.unique(y_sub).shape[0] < 2:
            raise ValueError(
                f"the coreset of {y_sub.shape[0]} samples holds one class "
                f"({y_sub[0]!r}), which no classifier can learn from; raise the selector's "
                "budget or use a class-aware selector (SeededGlobalSelector with k > 0)."
            )
        self.estimator_.fit(X_sub, y_sub, **estimator_params)
        return self

    def _check_X(self, X):
        check_is_fitted(self, "estimator_")
        return validate_data(self, X, dtype=[np.float64, np.float32], reset=False)

    def predict(self, X):
        """Predict classes with the estimator fitted on the coreset.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        X = self._check_X(X)
        return self.estimator_.predict(X)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities, one column per class of the full training set.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        X = self._check_X(X)
        proba = self.estimator_.predict_proba(X)
        return self._expand(proba, fill=0.0)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X):
        """The estimator's decision function (binary: one column, as it returns).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        X = self._check_X(X)
        scores = self.estimator_.decision_function(X)
        if scores.ndim == 1:
            return scores
        return self._expand(scores, fill=-np.inf)

    def _expand(self, values, fill):
        sub_classes = self.estimator_.classes_
        if sub_classes.shape[0] == self.classes_.shape[0]:
            return values
        full = np.full((values.shape[0], self.classes_.shape[0]), fill, dtype=values.dtype)
        full[:, np.searchsorted(self.classes_, sub_classes)] = values
        return full

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


class CoresetResampler(BaseEstimator):
    """A selector as a resampler: ``fit_resample(X, y)`` returns the coreset.

    Drops into imbalanced-learn pipelines (``imblearn.pipeline.Pipeline``
    calls ``fit_resample`` on training data only); imbalanced-learn itself is
    not needed.

    Parameters
    ----------
    selector : selector, default=None
        Any coreset3d selector; None means SGS on FL-RBF with k = 0.4.

    Attributes
    ----------
    selector_ : selector
        The fitted selector.
    sample_indices_ : ndarray of shape (n_selected,)
        Rows returned by the last ``fit_resample``.
    sample_weight_ : ndarray of shape (n_selected,)
        The selector's prior weights for those rows.

    Examples
    --------
    >>> import numpy as np
    >>> from coreset3d import KCenterGreedy
    >>> from coreset3d.sklearn import CoresetResampler
    >>> X, y = np.arange(20.0).reshape(10, 2), np.array([0, 1] * 5)
    >>> X_sub, y_sub = CoresetResampler(KCenterGreedy(budget=4, random_state=0)).fit_resample(X, y)
    >>> X_sub.shape, y_sub.shape
    ((4, 2), (4,))
    """

    _parameter_constraints = {"selector": [BaseSelector, None]}

    def __init__(self, selector=None):
        self.selector = selector

    def fit(self, X, y, **fit_params):
        """Fit the selector (``fit_resample`` without returning the rows)."""
        self.fit_resample(X, y, **fit_params)
        return self

    def fit_resample(self, X, y, **fit_params):
        """Select the coreset of ``(X, y)`` and return its rows and labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        **fit_params : dict
            Passed to the selector's ``fit`` (e.g. ``scores``).

        Returns
        -------
        X_resampled : ndarray of shape (n_selected, n_features)
        y_resampled : ndarray of shape (n_selected,)
        """
        self._validate_params()
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        selector = _default_selector() if self.selector is None else self.selector
        self.selector_ = clone(selector).fit(X, y, **fit_params)
        self.sample_indices_ = self.selector_.sample_indices_
        self.sample_weight_ = self.selector_.weights_
        return X[self.sample_indices_], y[self.sample_indices_]
