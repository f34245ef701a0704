"""Mean-matching (kernel) herding."""

import numpy as np

from .._kernels._herding import herding_sq_dists
from ..base import BaseSelector

__all__ = ["Herding"]


class Herding(BaseSelector):
    """Herding: each pick brings the mean of the selection closest to the data mean.

    With ``mu`` the mean of all rows and ``s`` the sum of the ``t`` rows
    already selected, step ``t + 1`` selects the unselected row

    ``argmin_j || mu - (s + x_j) / (t + 1) ||^2``

    (ties go to the lowest row), i.e. the row nearest to
    ``(t + 1) mu - s``. The first pick is the row nearest to the mean.

    Parameters
    ----------
    budget : int or float, default=0.1
        Subset size: an int count or a float fraction in (0, 1].
    target_prior : {"empirical", "uniform"} or dict, default="empirical"
        Class prior that ``weights_`` steer toward (see :class:`BaseSelector`).
    random_state : int, RandomState instance or None, default=None
        Unused: herding is deterministic. Kept for the selector contract.

    Attributes
    ----------
    sample_indices_ : ndarray of shape (n_selected_,)
        Selected rows in herding order (warm-start rows first).
    gains_ : ndarray of shape (n_selected_,)
        ``||mu - mean(S)||`` just after each pick, with ``S`` the rows picked
        so far (warm-start rows included); 0 (up to rounding) once every
        row is selected.
    weights_, n_selected_, n_samples_fit_, classes_, sampling_strategy_, n_features_in_
        See :class:`BaseSelector`.

    See Also
    --------
    KCenterGreedy : Cover the data (minimax distance) instead of matching its mean.

    Notes
    -----
    Each step costs ``O(N d)`` (one distance per row to the target), so ``B``
    picks take ``O(N d B)`` time and ``O(N)`` memory beyond ``X``. The mean,
    the running sum and the distances are kept in float64.

    This is the herding of the DeepCore benchmark done as the papers define
    it: DeepCore's ``Herding`` takes the *argmax* of this distance, which
    drives the running mean away from ``mu``; here it is the argmin.

    References
    ----------
    .. [1] M. Welling, "Herding Dynamical Weights to Learn", ICML 2009.
    .. [2] Y. Chen, M. Welling and A. Smola, "Super-Samples from Kernel
       Herding", UAI 2010, Eq. (4) with the linear kernel.
    .. [3] C. Guo, B. Zhao and Y. Bai, "DeepCore: A Comprehensive Library for
       Coreset Selection in Deep Learning", DEXA 2022.

    Examples
    --------
    >>> import numpy as np
    >>> from coreset3d import Herding
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0], [10.0]])  # mean 3.2
    >>> sel = Herding(budget=4).fit(X)
    >>> sel.sample_indices_.tolist()
    [3, 2, 1, 4]
    >>> np.round(sel.gains_, 6).tolist()
    [0.2, 0.7, 1.2, 0.8]
    """

    def __init__(self, budget=0.1, *, target_prior="empirical", random_state=None):
        super().__init__(budget, target_prior=target_prior, random_state=random_state)

    def _select(self, X, y, n_select, initial, random_state, **fit_params):
        X = np.ascontiguousarray(X)
        n_samples = X.shape[0]
        mu = X.mean(axis=0, dtype=np.float64)
        running_sum = np.zeros(X.shape[1])
        selected = np.zeros(n_samples, dtype=bool)
        sq_dists = np.empty(n_samples)
        order = np.empty(n_select, dtype=np.intp)
        gains = np.empty(n_select)
        for t in range(n_select):
            if t < initial.shape[0]:
                j = int(initial[t])
            else:
                herding_sq_dists(X, (t + 1) * mu - running_sum, selected, sq_dists)
                j = int(np.argmin(sq_dists))  # first minimum: ties go to the lowest row
            order[t] = j
            selected[j] = True
            running_sum += X[j]
            gains[t] = np.linalg.norm(mu - running_sum / (t + 1))
        return order, gains
