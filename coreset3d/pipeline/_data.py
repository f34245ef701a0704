"""The data of a run: the dataset splits and the stratified validation split."""

import numpy as np


def load_data(config):
    """The training and test splits a run uses.

    Parameters
    ----------
    config : RunConfig
        A :meth:`RunConfig.resolved` config.

    Returns
    -------
    train, test : PointCloudDataset
        The synthetic set at ``n_points`` points per shape, or the real
        dataset's stored points (ShapeNet-55 and mesh folders are sampled to
        ``n_points`` on reading); with ``imbalance_ratio`` on real data, the
        training split subsampled to that long tail.
    """
    from ..datasets import (
        load_mesh_folder,
        load_modelnet40,
        load_scanobjectnn,
        load_shapenet55,
        make_long_tailed,
        make_synthetic_shapes,
    )

    name = config.dataset
    if name == "synthetic":
        kwargs = {"n_classes": config.n_classes, "n_per_class_max": config.n_per_class,
                  "imbalance_ratio": config.imbalance_ratio, "n_points": config.n_points,
                  "seed": 0}
        train = make_synthetic_shapes(split="train", **kwargs)
        # The test split follows the training split's long tail (as ModelNet40's does), so
        # that OA (sample-weighted) and mAcc (class-weighted) measure different things.
        balanced = make_synthetic_shapes(split="test", n_test_per_class=config.n_per_class,
                                         **kwargs)
        return train, make_long_tailed(balanced, config.imbalance_ratio, seed=0)
    if name == "modelnet40":
        train, test = (load_modelnet40(config.data_dir, split) for split in ("train", "test"))
    elif name == "scanobjectnn":
        train, test = (load_scanobjectnn(config.data_dir, split) for split in ("train", "test"))
    elif name == "shapenet55":
        train, test = (load_shapenet55(config.data_dir, split, n_points=config.n_points,
                                       seed=config.seed) for split in ("train", "test"))
    else:
        train, test = (load_mesh_folder(config.data_dir, split, n_points=config.n_points,
                                        seed=config.seed) for split in ("train", "test"))
    if train.n_points < config.n_points:
        raise ValueError(
            f"--n-points {config.n_points} but the {name} shapes hold only {train.n_points} "
            f"points; pass --n-points <= {train.n_points}."
        )
    if config.imbalance_ratio is not None:
        train = make_long_tailed(train, config.imbalance_ratio, seed=config.seed)
    return train, test


def validation_split(labels, fraction, seed=0):
    """Stratified split of a training set into a training pool and a validation split.

    Each class ``c`` of ``n_c`` shapes gives ``round(fraction * n_c)``
    shapes to validation, at least one when ``n_c >= 2`` and never its last
    one, so every class keeps a training shape and every class of two or
    more shapes has a validation recall.

    Parameters
    ----------
    labels : array-like of shape (n_samples,)
        Integer class labels.
    fraction : float in [0, 1)
        Share of each class held out.
    seed : int, default=0
        Seed of which shapes are held out.

    Returns
    -------
    train_idx, val_idx : ndarray of int
        Sorted row indices of the pool and of the validation split.

    Examples
    --------
    >>> tr, va = validation_split([0] * 10 + [1] * 3 + [2], 0.1)
    >>> len(tr), len(va), sorted(np.asarray([0] * 10 + [1] * 3 + [2])[va].tolist())
    (12, 2, [0, 1])
    """
    labels = np.asarray(labels)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(7,)))
    val = []
    if fraction > 0:
        for c in np.unique(labels):
            rows = np.flatnonzero(labels == c)
            n_val = min(rows.shape[0] - 1, max(1, int(np.floor(fraction * rows.shape[0] + 0.5))))
            if n_val > 0:
                val.append(rng.choice(rows, n_val, replace=False))
    val_idx = np.sort(np.concatenate(val)) if val else np.empty(0, dtype=np.intp)
    mask = np.ones(labels.shape[0], dtype=bool)
    mask[val_idx] = False
    return np.flatnonzero(mask), val_idx.astype(np.intp)
