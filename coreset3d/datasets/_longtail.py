"""Long-tailed class profiles and subsampling a dataset to one."""

from numbers import Integral, Real

import numpy as np

from ._base import PointCloudDataset

__all__ = ["make_long_tailed"]

_PROFILES = ("exponential", "step")


def _check_ratio(imbalance_ratio):
    if (
        not isinstance(imbalance_ratio, Real)
        or isinstance(imbalance_ratio, bool)
        or not np.isfinite(imbalance_ratio)
        or imbalance_ratio < 1
    ):
        raise ValueError(
            "imbalance_ratio must be a finite number >= 1 (largest class size over smallest; "
            f"1 means balanced); got imbalance_ratio={imbalance_ratio!r}."
        )
    return float(imbalance_ratio)


def _long_tail_sizes(n_max, n_classes, imbalance_ratio, profile="exponential"):
    """Target size of the class of each rank 0..n_classes-1 (rank 0 is the head).

    ``"exponential"``: ``floor(n_max * ratio**(-r / (C - 1)))`` (Cui et al.,
    2019; Cao et al., 2019). ``"step"``: the first ``C // 2`` ranks keep
    ``n_max``, the rest ``floor(n_max / ratio)`` (Buda et al., 2018). Each
    size is at least 1.
    """
    ratio = _check_ratio(imbalance_ratio)
    if profile not in _PROFILES:
        raise ValueError(
            f"profile must be one of {', '.join(map(repr, _PROFILES))}; got profile={profile!r}."
        )
    ranks = np.arange(n_classes)
    if profile == "exponential":
        exponent = ranks / (n_classes - 1) if n_classes > 1 else np.zeros(n_classes)
        sizes = n_max * ratio ** (-exponent)
    else:
        sizes = np.where(ranks < n_classes // 2, n_max, n_max / ratio)
    # the small epsilon keeps n_max * ratio**0 and exact powers from flooring one below
    return np.maximum(1, np.floor(sizes + 1e-9)).astype(np.int64)


def make_long_tailed(dataset, imbalance_ratio, seed=0, profile="exponential"):
    """Subsample a dataset so that its class sizes follow a long tail.

    Classes are ranked by their size in ``dataset``, largest first (ties by
    label). The largest keeps all its shapes, ``n_max``; the class of rank
    ``r`` among the ``C`` non-empty classes keeps
    ``floor(n_max * imbalance_ratio ** (-r / (C - 1)))`` shapes, drawn
    uniformly at random, and never more than it has.

    Parameters
    ----------
    dataset : PointCloudDataset
        The dataset to subsample (e.g. a balanced test split, or a train
        split made more skewed).
    imbalance_ratio : float
        ``n_max / n_min`` of the target profile, >= 1. With 1 every class
        targets the head's size, so a balanced set is kept whole.
    seed : int, default=0
        Seed of the draw of which shapes stay.
    profile : {"exponential", "step"}, default="exponential"
        ``"exponential"`` as above (Cui et al.; Cao et al.). ``"step"``: the
        larger half of the classes keeps ``n_max`` shapes, the rest
        ``floor(n_max / imbalance_ratio)`` (Buda et al.).

    Returns
    -------
    subset : PointCloudDataset
        The kept shapes, in their original order.

    See Also
    --------
    make_synthetic_shapes : draws its training split with the same profile.

    Notes
    -----
    O(n_shapes) time. The realised ratio can fall short of
    ``imbalance_ratio`` when a class has fewer shapes than its target.

    References
    ----------
    .. [1] Cui et al., "Class-Balanced Loss Based on Effective Number of
       Samples", CVPR 2019.
    .. [2] Cao et al., "Learning Imbalanced Datasets with Label-Distribution-
       Aware Margin Loss", NeurIPS 2019.
    .. [3] Buda et al., "A systematic study of the class imbalance problem in
       convolutional neural networks", Neural Networks 2018.

    Examples
    --------
    >>> from coreset3d.datasets import make_synthetic_shapes, make_long_tailed
    >>> test = make_synthetic_shapes(n_classes=4, split="test", n_test_per_class=20, n_points=64)
    >>> test.class_counts().tolist()
    [20, 20, 20, 20]
    >>> make_long_tailed(test, imbalance_ratio=10).class_counts().tolist()
    [20, 9, 4, 2]
    """
    if not isinstance(dataset, PointCloudDataset):
        raise TypeError(
            f"dataset must be a PointCloudDataset (from a coreset3d.datasets loader); "
            f"got {type(dataset).__name__}."
        )
    if not isinstance(seed, Integral | np.random.SeedSequence) and seed is not None:
        raise TypeError(f"seed must be an int or None; got {type(seed).__name__}.")
    counts = dataset.class_counts()
    present = np.flatnonzero(counts)
    if present.size == 0:
        raise ValueError("dataset holds no shape; there is no class to subsample.")
    order = present[np.argsort(-counts[present], kind="stable")]
    targets = _long_tail_sizes(counts[order[0]], order.size, imbalance_ratio, profile)
    rng = np.random.default_rng(seed)
    keep = []
    for c, target in zip(order, targets, strict=True):
        members = np.flatnonzero(dataset.labels == c)
        keep.append(rng.choice(members, size=min(int(target), members.size), replace=False))
    return dataset.subset(np.sort(np.concatenate(keep)))
