"""ModelNet40 in the PointNet HDF5 layout (``modelnet40_ply_hdf5_2048``)."""

import json
import re
import warnings

import numpy as np

from ._base import (
    PointCloudDataset,
    _check_dir,
    _check_h5_arrays,
    _check_n_points,
    _check_sampling,
    _check_split,
    _import_h5py,
    _read_h5_arrays,
    _read_lines,
    _subsample_points,
)

__all__ = ["load_modelnet40"]

_LAYOUT = (
    "the ModelNet40 HDF5 folder (train_files.txt, test_files.txt, shape_names.txt and the "
    "ply_data_*.h5 files of the modelnet40_ply_hdf5_2048 release)"
)


def _id2file_path(h5_path):
    """``ply_data_train0.h5`` -> ``ply_data_train_0_id2file.json`` (the release's naming)."""
    match = re.fullmatch(r"(.*?)(\d+)\.h5", h5_path.name)
    if match is None:
        return h5_path.with_name(h5_path.stem + "_id2file.json")
    return h5_path.with_name(f"{match.group(1)}_{match.group(2)}_id2file.json")


def _read_id2file(path, n_rows):
    try:
        names = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(
            f"could not parse {str(path)!r} as a JSON list of file names: {exc}"
        ) from exc
    if not isinstance(names, list) or len(names) != n_rows:
        got = f"{len(names)} entries" if isinstance(names, list) else type(names).__name__
        raise ValueError(
            f"{str(path)!r} must be a JSON list of {n_rows} file names (one per row of its "
            f"HDF5 file); got {got}."
        )
    return [str(name) for name in names]


def load_modelnet40(data_dir, split="train", n_points=None, *, sampling="first", seed=0):
    """Load ModelNet40 from the PointNet HDF5 release.

    Reads ``{split}_files.txt`` for the list of HDF5 files, each holding the
    datasets ``data`` (n x P x 3 float32) and ``label`` (n x 1 uint8), and
    ``shape_names.txt`` for the class names (line ``i`` names label ``i``).
    The list's lines may carry the release's paths (e.g.
    ``data/modelnet40_ply_hdf5_2048/ply_data_train0.h5``); each is looked up by
    its base name inside ``data_dir``. When every HDF5 file has its
    ``*_id2file.json`` beside it, the source file of each shape is returned in
    ``files``.

    Parameters
    ----------
    data_dir : str or path-like
        The folder of the release (``modelnet40_ply_hdf5_2048`` or a copy with
        fewer points per shape).
    split : {"train", "test"}, default="train"
        The official split: 9,843 training and 2,468 test shapes.
    n_points : int, default=None
        Points to keep per shape; None keeps all the file holds.
    sampling : {"first", "random"}, default="first"
        How to keep ``n_points``: ``"first"`` takes the first points, as
        PointNet's training code does (the release stores them in random
        order); ``"random"`` takes a uniform random subset of each shape,
        drawn with ``seed``.
    seed : int, default=0
        Seed of the ``"random"`` subsets; unused with ``"first"``.

    Returns
    -------
    dataset : PointCloudDataset
        ``points`` (n_shapes, n_points, 3) float32, ``labels`` (n_shapes,)
        int64, the 40 ``class_names``, ``source="modelnet40"``, and ``files``
        when the id2file lists are present (else None).

    Raises
    ------
    FileNotFoundError
        ``data_dir``, a list file, ``shape_names.txt`` or a listed HDF5 file
        is missing.
    KeyError
        An HDF5 file lacks the ``data`` or ``label`` dataset.
    ValueError
        A file is corrupt or its arrays have the wrong shapes.
    ImportError
        h5py is not installed.

    See Also
    --------
    load_mesh_folder : the raw ModelNet meshes, sampled to points.
    make_long_tailed : impose a chosen long tail on the loaded set.

    Notes
    -----
    The data is read in full, O(n_shapes * P) memory: about 100 MB for the
    2,048-point training split. Class sizes are long-tailed (64 to 889 shapes
    per class on the training split).

    References
    ----------
    .. [1] Wu et al., "3D ShapeNets: A Deep Representation for Volumetric
       Shapes", CVPR 2015.
    .. [2] Qi et al., "PointNet: Deep Learning on Point Sets for 3D
       Classification and Segmentation", CVPR 2017.

    Examples
    --------
    >>> from coreset3d.datasets import load_modelnet40
    >>> train = load_modelnet40("path/to/modelnet40_ply_hdf5_2048")  # doctest: +SKIP
    >>> len(train), train.n_classes  # doctest: +SKIP
    (9843, 40)
    """
    split = _check_split(split)
    sampling = _check_sampling(sampling)
    root = _check_dir(data_dir, _LAYOUT)
    h5py = _import_h5py("load_modelnet40")
    class_names = _read_lines(root / "shape_names.txt", "the class names, one per line")
    listed = _read_lines(root / f"{split}_files.txt", f"the HDF5 files of the {split} split")
    rng = np.random.default_rng(seed)
    points, labels, files, n_available = [], [], [], None
    for entry in listed:
        path = root / entry.replace("\\", "/").rsplit("/", 1)[-1]
        if not path.is_file():
            raise FileNotFoundError(
                f"{split}_files.txt lists {entry!r} but {path.name} is not in {str(root)!r}."
            )
        data, label = _read_h5_arrays(h5py, path, ("data", "label"))
        label = _check_h5_arrays(path, data, label, len(class_names))
        if n_available is None:
            n_available = data.shape[1]
            n_keep = _check_n_points(n_points, n_available, str(path))
        elif data.shape[1] != n_available:
            raise ValueError(
                f"{str(path)!r} holds {data.shape[1]} points per shape but the files before it "
                f"hold {n_available}; all files of a split must agree."
            )
        points.append(_subsample_points(data.astype(np.float32, copy=False), n_keep, sampling, rng))
        labels.append(label)
        id2file = _id2file_path(path)
        files.append(_read_id2file(id2file, data.shape[0]) if id2file.is_file() else None)
    if not points:
        raise ValueError(f"{str(root / f'{split}_files.txt')!r} lists no HDF5 file.")
    n_missing = sum(f is None for f in files)
    if 0 < n_missing < len(files):
        warnings.warn(
            f"{n_missing} of the {len(files)} HDF5 files of the {split} split have no "
            "*_id2file.json beside them; the dataset's files is None.",
            UserWarning,
            stacklevel=2,
        )
    return PointCloudDataset(
        np.concatenate(points),
        np.concatenate(labels),
        class_names,
        split=split,
        source="modelnet40",
        files=None if n_missing else [name for chunk in files for name in chunk],
    )
