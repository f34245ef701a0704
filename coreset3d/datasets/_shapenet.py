"""ShapeNet-55 in the Point-BERT layout (``ShapeNet55-34/``)."""

import re
import zipfile

import numpy as np

from ._base import (
    PointCloudDataset,
    _check_dir,
    _check_n_points,
    _check_sampling,
    _check_split,
    _read_lines,
    _subsample_points,
)

__all__ = ["load_shapenet55"]

# ShapeNetCore v2 synset id -> category name, for the 55 categories.
_SYNSET_NAMES = {
    "02691156": "airplane", "02747177": "trash bin", "02773838": "bag", "02801938": "basket",
    "02808440": "bathtub", "02818832": "bed", "02828884": "bench", "02843684": "birdhouse",
    "02871439": "bookshelf", "02876657": "bottle", "02880940": "bowl", "02924116": "bus",
    "02933112": "cabinet", "02942699": "camera", "02946921": "can", "02954340": "cap",
    "02958343": "car", "02992529": "cellphone", "03001627": "chair", "03046257": "clock",
    "03085013": "keyboard", "03207941": "dishwasher", "03211117": "display",
    "03261776": "earphone", "03325088": "faucet", "03337140": "file cabinet",
    "03467517": "guitar", "03513137": "helmet", "03593526": "jar", "03624134": "knife",
    "03636649": "lamp", "03642806": "laptop", "03691459": "loudspeaker", "03710193": "mailbox",
    "03759954": "microphone", "03761084": "microwave", "03790512": "motorcycle",
    "03797390": "mug", "03928116": "piano", "03938244": "pillow", "03948459": "pistol",
    "03991062": "pot", "04004475": "printer", "04074963": "remote", "04090263": "rifle",
    "04099429": "rocket", "04225987": "skateboard", "04256520": "sofa", "04330267": "stove",
    "04379243": "table", "04401088": "telephone", "04460130": "tower", "04468005": "train",
    "04530566": "vessel", "04554684": "washer",
}  # fmt: skip

_LINE = re.compile(r"(\d{8})-[^/\\]+\.npy")


def _parse_list(path, what):
    """The entries of a split list and their synset ids, checking each line."""
    entries = _read_lines(path, what)
    synsets = []
    for lineno, entry in enumerate(entries, start=1):
        match = _LINE.fullmatch(entry)
        if match is None:
            raise ValueError(
                f"line {lineno} of {str(path)!r} is {entry!r}; expected '<synset>-<model>.npy' "
                "with an 8-digit synset id, e.g. '02691156-1a04e3eab45ca15dd86060f189eb133.npy'."
            )
        synsets.append(match.group(1))
    return entries, synsets


def _load_npy(path):
    try:
        cloud = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"could not read {str(path)!r} as a .npy array (corrupt?): {exc}") from exc
    if cloud.ndim != 2 or cloud.shape[1] < 3 or not np.issubdtype(cloud.dtype, np.number):
        raise ValueError(
            f"{str(path)!r} must hold a numeric (n_points, 3) xyz array; got shape "
            f"{cloud.shape}, dtype {cloud.dtype}."
        )
    return cloud[:, :3]


def load_shapenet55(data_dir, split="train", n_points=None, *, sampling="random", seed=0):
    """Load ShapeNet-55 in the layout of Point-BERT's release.

    Reads ``ShapeNet-55/{split}.txt`` (one ``<synset>-<model>.npy`` per line)
    and the listed ``shapenet_pc/<synset>-<model>.npy`` files of 8,192 x 3
    points. The class of a shape is its synset id: the sorted synset ids found
    in ``train.txt`` and ``test.txt`` together are labels ``0..C-1``, so the
    two splits share one labelling; ``class_names`` are the ShapeNetCore
    category names (the synset id where the id is not one of the 55).

    Parameters
    ----------
    data_dir : str or path-like
        The ``ShapeNet55-34`` folder, holding ``ShapeNet-55/`` and
        ``shapenet_pc/``.
    split : {"train", "test"}, default="train"
        Point-BERT's split: 41,952 training and 10,518 test shapes.
    n_points : int, default=None
        Points to keep per shape; None keeps all (4 GB of float32 for the
        training split: pass e.g. 1024).
    sampling : {"random", "first"}, default="random"
        ``"random"`` keeps a uniform random subset of each shape, drawn with
        ``seed`` (Point-BERT's own loader takes a random subset too);
        ``"first"`` keeps the first ``n_points`` as stored.
    seed : int, default=0
        Seed of the ``"random"`` subsets.

    Returns
    -------
    dataset : PointCloudDataset
        ``points`` (n_shapes, n_points, 3) float32, ``labels`` (n_shapes,)
        int64, ``class_names``, ``source="shapenet55"`` and ``files`` (the
        list's entries).

    Raises
    ------
    FileNotFoundError
        ``data_dir``, the split list or a listed ``.npy`` file is missing.
    ValueError
        A malformed list line, a corrupt ``.npy`` file or one with the wrong
        shape or too few points.

    See Also
    --------
    load_modelnet40, make_long_tailed

    Notes
    -----
    One file per shape is read: O(n_shapes) file opens and
    O(n_shapes * n_points) memory.

    References
    ----------
    .. [1] Chang et al., "ShapeNet: An Information-Rich 3D Model Repository",
       arXiv:1512.03012, 2015.
    .. [2] Yu et al., "Point-BERT: Pre-training 3D Point Cloud Transformers
       with Masked Point Modeling", CVPR 2022.

    Examples
    --------
    >>> from coreset3d.datasets import load_shapenet55
    >>> ds = load_shapenet55("ShapeNet55-34", "test", n_points=1024)  # doctest: +SKIP
    >>> len(ds), ds.n_classes, ds.n_points  # doctest: +SKIP
    (10518, 55, 1024)
    """
    split = _check_split(split)
    sampling = _check_sampling(sampling)
    root = _check_dir(
        data_dir, "the ShapeNet55-34 folder holding ShapeNet-55/{train,test}.txt and shapenet_pc/"
    )
    lists = root / "ShapeNet-55"
    entries, synsets = _parse_list(lists / f"{split}.txt", f"the {split} split's file list")
    other = lists / ("test.txt" if split == "train" else "train.txt")
    all_synsets = set(synsets)
    if other.is_file():
        all_synsets.update(_parse_list(other, "the other split's file list")[1])
    classes = sorted(all_synsets)
    code = {synset: c for c, synset in enumerate(classes)}
    cloud_dir = root / "shapenet_pc"
    if not cloud_dir.is_dir():
        raise FileNotFoundError(
            f"expected the point-cloud folder shapenet_pc/ in {str(root)!r}; not found."
        )
    if not entries:
        raise ValueError(f"{str(lists / f'{split}.txt')!r} lists no shape.")
    rng = np.random.default_rng(seed)
    points = None
    for i, entry in enumerate(entries):
        path = cloud_dir / entry
        if not path.is_file():
            raise FileNotFoundError(
                f"ShapeNet-55/{split}.txt lists {entry!r} but it is not in {str(cloud_dir)!r}."
            )
        cloud = _load_npy(path)
        if points is None:
            n_keep = _check_n_points(n_points, cloud.shape[0], str(path))
            n_keep = cloud.shape[0] if n_keep is None else n_keep
            points = np.empty((len(entries), n_keep, 3), dtype=np.float32)
        elif n_points is None and cloud.shape[0] != n_keep:
            raise ValueError(
                f"{str(path)!r} holds {cloud.shape[0]} points but the shapes before it hold "
                f"{n_keep}; pass n_points to subsample them to a common size."
            )
        else:
            _check_n_points(n_points, cloud.shape[0], str(path))
        points[i] = _subsample_points(cloud[None], n_keep, sampling, rng)[0]
    labels = np.array([code[s] for s in synsets], dtype=np.int64)
    return PointCloudDataset(
        points,
        labels,
        [_SYNSET_NAMES.get(s, s) for s in classes],
        split=split,
        source="shapenet55",
        files=entries,
    )
