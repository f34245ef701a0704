"""ScanObjectNN in its official HDF5 release (``h5_files/main_split/...``)."""

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
    _subsample_points,
)

__all__ = ["load_scanobjectnn"]

# The official label order (label i is _CLASS_NAMES[i]), as in the
# release's shape_names.txt and its training code.
_CLASS_NAMES = (
    "bag", "bin", "box", "cabinet", "chair", "desk", "display", "door",
    "shelf", "table", "bed", "pillow", "sink", "sofa", "toilet",
)  # fmt: skip

# perturbation -> file suffix, after the release's training code (AUGSPLIT).
_SUFFIXES = {
    "OBJ_ONLY": "objectdataset",
    "PB_T25": "objectdataset_augmented25_norot",
    "PB_T25_R": "objectdataset_augmented25rot",
    "PB_T50_R": "objectdataset_augmentedrot",
    "PB_T50_RS": "objectdataset_augmentedrot_scale75",
}

_VARIANTS = ("main_split", "main_split_nobg") + tuple(
    f"split{k}{bg}" for k in range(1, 5) for bg in ("", "_nobg")
)


def load_scanobjectnn(
    data_dir,
    split="train",
    variant="main_split",
    perturbation="PB_T50_RS",
    n_points=None,
    *,
    sampling="first",
    seed=0,
):
    """Load ScanObjectNN from its official HDF5 release.

    Reads ``{data_dir}/{variant}/{training|test}_{suffix}.h5`` with datasets
    ``data`` (n x 2048 x 3) and ``label`` (n,), where the suffix follows
    ``perturbation``: ``objectdataset`` for the unperturbed objects and
    ``objectdataset_augmentedrot_scale75`` for PB_T50_RS (the hardest and most
    reported variant).

    Parameters
    ----------
    data_dir : str or path-like
        The release's ``h5_files`` folder, holding ``main_split/`` and
        ``main_split_nobg/``.
    split : {"train", "test"}, default="train"
    variant : str, default="main_split"
        ``"main_split"`` (objects with background) or ``"main_split_nobg"``
        (objects only); the release's other splits ``"split1"`` ..
        ``"split4"`` and their ``_nobg`` twins are accepted too.
    perturbation : {"OBJ_ONLY", "PB_T25", "PB_T25_R", "PB_T50_R", "PB_T50_RS"}, \
default="PB_T50_RS"
        Which file of the variant: ``"OBJ_ONLY"`` is the unperturbed object
        file (named so in the release's code; with ``variant="main_split"``
        the benchmark calls it OBJ_BG), the ``PB_*`` ones are the perturbed
        copies (translation, rotation, scaling).
    n_points : int, default=None
        Points to keep per shape; None keeps all 2,048.
    sampling : {"first", "random"}, default="first"
        ``"first"`` keeps the first ``n_points``; ``"random"`` a uniform
        random subset of each shape, drawn with ``seed``.
    seed : int, default=0
        Seed of the ``"random"`` subsets.

    Returns
    -------
    dataset : PointCloudDataset
        ``points`` (n_shapes, n_points, 3) float32, ``labels`` (n_shapes,)
        int64, the 15 ``class_names`` in the official order,
        ``source="scanobjectnn/{variant}/{perturbation}"``; ``files`` is None.

    Raises
    ------
    FileNotFoundError
        ``data_dir``, the variant folder or the HDF5 file is missing.
    KeyError
        The file lacks the ``data`` or ``label`` dataset.
    ValueError
        An unknown variant or perturbation, a corrupt file, or arrays of the
        wrong shapes.
    ImportError
        h5py is not installed.

    See Also
    --------
    load_modelnet40 : the synthetic CAD counterpart.

    Notes
    -----
    Reads the whole file: O(n_shapes * 2048) memory, about 280 MB for the
    PB_T50_RS training file (11,416 shapes).

    References
    ----------
    .. [1] Uy et al., "Revisiting Point Cloud Classification: A New Benchmark
       Dataset and Classification Model on Real-World Data", ICCV 2019.

    Examples
    --------
    >>> from coreset3d.datasets import load_scanobjectnn
    >>> ds = load_scanobjectnn("h5_files", "test", perturbation="PB_T50_RS")  # doctest: +SKIP
    >>> len(ds), ds.class_names[:3]  # doctest: +SKIP
    (2882, ['bag', 'bin', 'box'])
    """
    split = _check_split(split)
    sampling = _check_sampling(sampling)
    if variant not in _VARIANTS:
        raise ValueError(
            f"variant must be one of {', '.join(map(repr, _VARIANTS))}; got variant={variant!r}."
        )
    if perturbation not in _SUFFIXES:
        raise ValueError(
            f"perturbation must be one of {', '.join(map(repr, _SUFFIXES))}; got "
            f"perturbation={perturbation!r}. For OBJ_BG pass variant='main_split', "
            "perturbation='OBJ_ONLY'."
        )
    root = _check_dir(
        data_dir, "the ScanObjectNN h5_files folder holding main_split/ and main_split_nobg/"
    )
    folder = root / variant
    if not folder.is_dir():
        raise FileNotFoundError(
            f"expected the variant folder {variant}/ in {str(root)!r}; not found "
            "(data_dir must be the release's h5_files folder)."
        )
    name = f"{'training' if split == 'train' else 'test'}_{_SUFFIXES[perturbation]}.h5"
    path = folder / name
    if not path.is_file():
        present = sorted(p.name for p in folder.glob("*.h5"))
        raise FileNotFoundError(
            f"expected {name} in {str(folder)!r} for perturbation={perturbation!r}; "
            f"HDF5 files there: {present}."
        )
    h5py = _import_h5py("load_scanobjectnn")
    data, label = _read_h5_arrays(h5py, path, ("data", "label"))
    labels = _check_h5_arrays(path, data, label, len(_CLASS_NAMES))
    n_keep = _check_n_points(n_points, data.shape[1], str(path))
    points = _subsample_points(
        data.astype(np.float32, copy=False), n_keep, sampling, np.random.default_rng(seed)
    )
    return PointCloudDataset(
        points,
        labels,
        list(_CLASS_NAMES),
        split=split,
        source=f"scanobjectnn/{variant}/{perturbation}",
    )
