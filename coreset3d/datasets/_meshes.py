"""Folders of meshes in the raw ModelNet layout, sampled to point clouds."""

from pathlib import Path

import numpy as np

from ._base import PointCloudDataset, _check_dir, _check_n_points

__all__ = ["load_mesh_folder"]

_EXTENSIONS = (".off", ".ply", ".obj")


def _import_trimesh():
    try:
        import trimesh
    except ImportError as exc:
        raise ImportError(
            "load_mesh_folder samples meshes with trimesh, which is not installed; install it "
            "with `pip install trimesh` (or `pip install coreset3d[meshes]`)."
        ) from exc
    return trimesh


def _normalize(points):
    """Centre on the centroid and scale into the unit sphere (PointNet's pc_normalize)."""
    points = points - points.mean(axis=0)
    radius = np.sqrt((points**2).sum(axis=1)).max()
    return points / radius if radius > 0 else points


def _sample_mesh(trimesh, path, n_points, seed):
    try:
        mesh = trimesh.load(path, force="mesh")
    except Exception as exc:  # trimesh raises many types for unreadable files
        raise ValueError(f"could not read {str(path)!r} as a mesh (corrupt?): {exc}") from exc
    faces = getattr(mesh, "faces", None)
    if faces is None or len(faces) == 0 or not mesh.area > 0:
        raise ValueError(
            f"{str(path)!r} holds no surface to sample (no faces or zero area); "
            "remove it or repair the mesh."
        )
    points, _ = trimesh.sample.sample_surface(mesh, n_points, seed=seed)
    return _normalize(np.asarray(points, dtype=np.float64)).astype(np.float32)


def load_mesh_folder(root, split="train", n_points=1024, seed=0, *, extensions=_EXTENSIONS):
    """Sample point clouds from a folder of meshes in the raw ModelNet layout.

    The layout is ``root/<class>/<split>/<shape>.off`` (``.ply`` and ``.obj``
    too), as in the ModelNet10/40 archives. Each mesh is sampled uniformly by
    area with :func:`trimesh.sample.sample_surface`, centred on the centroid
    of its samples and scaled into the unit sphere. Nothing is cached: each
    call samples again (the same points for the same ``seed``).

    Parameters
    ----------
    root : str or path-like
        The folder whose sub-folders are the classes.
    split : str, default="train"
        The sub-folder of each class to read (``"train"`` or ``"test"`` in
        ModelNet).
    n_points : int, default=1024
        Points sampled per mesh.
    seed : int, default=0
        Seed of the sampling; each mesh gets its own stream derived from it.
    extensions : tuple of str, default=(".off", ".ply", ".obj")
        File name endings to read (case-insensitive).

    Returns
    -------
    dataset : PointCloudDataset
        ``points`` (n_shapes, n_points, 3) float32, ``labels`` (n_shapes,)
        int64, ``class_names`` (the sorted class folders, whether or not
        they hold shapes in this split, so that splits share labels),
        ``source="mesh_folder"`` and ``files`` (paths relative to ``root``),
        in sorted order.

    Raises
    ------
    ImportError
        trimesh is not installed (``pip install trimesh``).
    FileNotFoundError
        ``root`` is missing or no mesh file lies in ``root/*/split``.
    ValueError
        A mesh cannot be read or has no surface.

    See Also
    --------
    load_modelnet40 : the same shapes, pre-sampled, in HDF5.

    Notes
    -----
    Sampling costs O(F + n_points log F) per mesh of F faces; reading the
    files dominates. ModelNet40 (12,311 meshes) takes minutes.

    Examples
    --------
    >>> from coreset3d.datasets import load_mesh_folder
    >>> ds = load_mesh_folder("ModelNet40", "test", n_points=1024)  # doctest: +SKIP
    >>> len(ds), ds.n_classes  # doctest: +SKIP
    (2468, 40)
    """
    if not isinstance(split, str) or not split or Path(split).name != split:
        raise ValueError(f"split must be the name of a sub-folder like 'train'; got {split!r}.")
    n_points = _check_n_points(n_points, np.inf, "a mesh")
    if n_points is None:
        raise ValueError("n_points must be an int >= 1 for load_mesh_folder; got None.")
    root = _check_dir(root, "a folder of class folders, each with train/ and test/ mesh folders")
    trimesh = _import_trimesh()
    exts = tuple(e.lower() for e in extensions)
    class_names = sorted(
        p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")
    )
    paths, labels = [], []
    for c, name in enumerate(class_names):
        folder = root / name / split
        if folder.is_dir():
            found = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in exts)
            paths.extend(found)
            labels.extend([c] * len(found))
    if not paths:
        raise FileNotFoundError(
            f"no mesh file ({', '.join(exts)}) found in {str(root)!r}/<class>/{split}/; "
            f"expected the raw ModelNet layout root/<class>/{split}/<shape>.off "
            f"(class folders seen: {class_names[:5]}{' ...' if len(class_names) > 5 else ''})."
        )
    seeds = np.random.SeedSequence(seed).spawn(len(paths))
    points = np.empty((len(paths), n_points, 3), dtype=np.float32)
    for i, path in enumerate(paths):
        points[i] = _sample_mesh(trimesh, path, n_points, np.random.default_rng(seeds[i]))
    return PointCloudDataset(
        points,
        np.asarray(labels, dtype=np.int64),
        class_names,
        split=split,
        source="mesh_folder",
        files=[p.relative_to(root).as_posix() for p in paths],
    )
