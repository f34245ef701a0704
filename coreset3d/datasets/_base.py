"""The point-cloud dataset container and the helpers every reader shares."""

from numbers import Integral
from pathlib import Path

import numpy as np

__all__ = ["PointCloudDataset"]


class PointCloudDataset:
    """A labelled set of point clouds: a small container, not a torch Dataset.

    Every reader in :mod:`coreset3d.datasets` returns one. The arrays are plain
    numpy so that selectors, metrics and the optional torch adapter can all use
    them without copying.

    Parameters
    ----------
    points : array-like of shape (n_shapes, n_points, 3)
        The xyz coordinates; stored as float32.
    labels : array-like of shape (n_shapes,)
        Integer class labels in ``0 .. len(class_names) - 1``; stored as int64.
    class_names : sequence of str
        Name of each class; entry ``c`` names label ``c``.
    split : str, default=None
        Which split this is (``"train"``, ``"test"``, ...), for the record.
    source : str, default=None
        Where the shapes come from (``"modelnet40"``, ``"synthetic"``, ...).
    files : sequence of str, default=None
        The source file of each shape, when the release records it.

    Attributes
    ----------
    points : ndarray of shape (n_shapes, n_points, 3), float32
    labels : ndarray of shape (n_shapes,), int64
    class_names : list of str, length n_classes
    split : str or None
    source : str or None
    files : list of str of length n_shapes, or None
    n_classes : int
        ``len(class_names)``; classes may have no shape in a subset.
    n_points : int
        Points per shape.

    See Also
    --------
    make_synthetic_shapes : a built-in long-tailed dataset.
    make_long_tailed : subsample a dataset to a long-tailed class profile.

    Examples
    --------
    >>> import numpy as np
    >>> from coreset3d.datasets import PointCloudDataset
    >>> ds = PointCloudDataset(np.zeros((3, 8, 3)), [0, 1, 1], ["cup", "mug"], split="train")
    >>> len(ds), ds.n_points, ds.class_counts().tolist()
    (3, 8, [1, 2])
    >>> ds.subset([2, 0]).labels.tolist()
    [1, 0]
    """

    def __init__(self, points, labels, class_names, *, split=None, source=None, files=None):
        points = np.asarray(points, dtype=np.float32)
        if points.ndim != 3 or points.shape[2] != 3:
            raise ValueError(
                f"points must have shape (n_shapes, n_points, 3); got shape {points.shape}. "
                "Pass one (n_points, 3) xyz array per shape, stacked on the first axis."
            )
        labels_in = np.asarray(labels)
        if labels_in.ndim != 1 or labels_in.shape[0] != points.shape[0]:
            raise ValueError(
                f"labels must have shape ({points.shape[0]},), one per shape in points; "
                f"got shape {labels_in.shape}."
            )
        if labels_in.size and not np.issubdtype(labels_in.dtype, np.integer):
            raise TypeError(
                f"labels must be integers 0..n_classes-1; got dtype {labels_in.dtype}. "
                "Encode string labels first (e.g. with sklearn.preprocessing.LabelEncoder)."
            )
        labels = labels_in.astype(np.int64, copy=False)
        class_names = [str(name) for name in class_names]
        if labels.size and (labels.min() < 0 or labels.max() >= len(class_names)):
            raise ValueError(
                f"labels must lie in 0..{len(class_names) - 1} (one per class name); "
                f"got values from {labels.min()} to {labels.max()}."
            )
        if files is not None:
            files = [str(f) for f in files]
            if len(files) != points.shape[0]:
                raise ValueError(
                    f"files must name one file per shape ({points.shape[0]}); "
                    f"got {len(files)} names. Pass files=None when they are unknown."
                )
        self.points = points
        self.labels = labels
        self.class_names = class_names
        self.split = split
        self.source = source
        self.files = files

    @property
    def n_classes(self):
        return len(self.class_names)

    @property
    def n_points(self):
        return self.points.shape[1]

    def __len__(self):
        return self.points.shape[0]

    def __repr__(self):
        return (
            f"PointCloudDataset(source={self.source!r}, split={self.split!r}, "
            f"n_shapes={len(self)}, n_points={self.n_points}, n_classes={self.n_classes})"
        )

    def class_counts(self):
        """Number of shapes of each class.

        Returns
        -------
        counts : ndarray of shape (n_classes,), int64
            ``counts[c]`` shapes carry label ``c``; absent classes count 0.
        """
        return np.bincount(self.labels, minlength=self.n_classes).astype(np.int64)

    def subset(self, indices):
        """A new dataset holding the chosen shapes, in the order given.

        Parameters
        ----------
        indices : array-like of int, or boolean mask of shape (n_shapes,)
            Rows to keep (e.g. a selector's ``sample_indices_``).

        Returns
        -------
        dataset : PointCloudDataset
            Same class names, split and source; arrays are copies.
        """
        idx = np.asarray(indices)
        if idx.dtype == bool:
            if idx.shape != (len(self),):
                raise ValueError(
                    f"a boolean mask for subset must have shape ({len(self)},); got {idx.shape}."
                )
            idx = np.flatnonzero(idx)
        elif idx.size == 0:
            idx = idx.astype(np.intp)
        elif idx.ndim != 1 or not np.issubdtype(idx.dtype, np.integer):
            raise TypeError(
                "indices must be a 1-D array of ints or a boolean mask; "
                f"got dtype {idx.dtype} and shape {idx.shape}."
            )
        if idx.size and (idx.min() < -len(self) or idx.max() >= len(self)):
            raise IndexError(
                f"indices must lie in [-{len(self)}, {len(self)}) for a dataset of "
                f"{len(self)} shapes; got values from {idx.min()} to {idx.max()}."
            )
        files = None if self.files is None else [self.files[i] for i in idx]
        return PointCloudDataset(
            self.points[idx],
            self.labels[idx],
            self.class_names,
            split=self.split,
            source=self.source,
            files=files,
        )


# --------------------------------------------------------------------------- #
# Helpers shared by the readers (private).
# --------------------------------------------------------------------------- #


def _import_h5py(caller):
    """Import h5py lazily, with an error that says how to get it."""
    try:
        import h5py
    except ImportError as exc:
        raise ImportError(
            f"{caller} reads HDF5 files and needs h5py, which is not installed; "
            "install it with `pip install h5py` (or `pip install coreset3d[torch]`)."
        ) from exc
    return h5py


def _check_split(split, allowed=("train", "test")):
    if split not in allowed:
        raise ValueError(
            f"split must be one of {', '.join(map(repr, allowed))}; got split={split!r}."
        )
    return split


def _check_dir(data_dir, what):
    """``Path(data_dir)``, or a FileNotFoundError that says what was expected there."""
    path = Path(data_dir).expanduser()
    if not path.is_dir():
        raise FileNotFoundError(f"data directory {str(path)!r} does not exist; expected {what}.")
    return path


def _read_lines(path, what):
    """Non-empty stripped lines of a text file, or a FileNotFoundError naming it."""
    if not path.is_file():
        raise FileNotFoundError(
            f"expected {path.name} ({what}) in {str(path.parent)!r}; not found."
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{str(path)!r} is not a UTF-8 text file ({what}): {exc}") from exc
    return [line.strip() for line in text.splitlines() if line.strip()]


def _check_n_points(n_points, available, where):
    if n_points is None:
        return None
    if not isinstance(n_points, Integral) or isinstance(n_points, bool) or n_points < 1:
        raise ValueError(f"n_points must be None or an int >= 1; got n_points={n_points!r}.")
    if n_points > available:
        raise ValueError(
            f"n_points={n_points} asks for more points than {where} holds ({available} per "
            f"shape); pass n_points <= {available} or None to keep them all."
        )
    return int(n_points)


def _check_sampling(sampling):
    if sampling not in ("first", "random"):
        raise ValueError(f"sampling must be 'first' or 'random'; got sampling={sampling!r}.")
    return sampling


def _subsample_points(points, n_points, sampling, rng):
    """Keep ``n_points`` of the points of each shape in ``points`` (m, P, 3).

    ``"first"`` keeps the first ``n_points`` (the PointNet convention: the
    release stores the points in random order); ``"random"`` keeps a uniform
    random subset without replacement, drawn per shape from ``rng``.
    """
    if n_points is None or n_points == points.shape[1]:
        return points
    if sampling == "first":
        return points[:, :n_points]
    keys = rng.random(points.shape[:2])
    idx = np.argpartition(keys, n_points - 1, axis=1)[:, :n_points]
    return np.take_along_axis(points, idx[:, :, None], axis=1)


def _read_h5_arrays(h5py, path, keys):
    """Read the named datasets of one HDF5 file, with errors that name the file."""
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise ValueError(
            f"could not read {str(path)!r} as HDF5 (corrupt or truncated?): {exc}"
        ) from exc
    with handle:
        found = sorted(handle.keys())
        out = []
        for key in keys:
            if key not in handle:
                raise KeyError(
                    f"{str(path)!r} has no dataset {key!r}; datasets found: {found}. "
                    f"Expected datasets {list(keys)}."
                )
            try:
                out.append(handle[key][()])
            except (OSError, TypeError) as exc:
                raise ValueError(f"could not read dataset {key!r} of {str(path)!r}: {exc}") from exc
    return out


def _check_h5_arrays(path, data, label, n_classes=None):
    """Check the shapes of ``data`` (n, P, 3) and ``label`` (n,) or (n, 1); return labels."""
    if data.ndim != 3 or data.shape[2] != 3:
        raise ValueError(
            f"dataset 'data' of {str(path)!r} must have shape (n_shapes, n_points, 3); "
            f"got {data.shape}."
        )
    shape = np.shape(label)
    label = np.asarray(label)
    if label.ndim == 2 and label.shape[1] == 1:
        label = label[:, 0]
    if label.ndim != 1 or label.shape[0] != data.shape[0]:
        raise ValueError(
            f"dataset 'label' of {str(path)!r} must have shape ({data.shape[0]},) or "
            f"({data.shape[0]}, 1), one label per shape in 'data'; got {shape}."
        )
    if not np.issubdtype(label.dtype, np.integer) and not np.all(np.mod(label, 1) == 0):
        raise ValueError(f"dataset 'label' of {str(path)!r} holds non-integer values.")
    label = label.astype(np.int64)
    if n_classes is not None and label.size and (label.min() < 0 or label.max() >= n_classes):
        raise ValueError(
            f"dataset 'label' of {str(path)!r} holds labels from {label.min()} to {label.max()}, "
            f"outside 0..{n_classes - 1} for the {n_classes} class names."
        )
    return label
