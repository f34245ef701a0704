"""load_mesh_folder on tiny meshes written with trimesh in the raw ModelNet layout."""

import sys

import numpy as np
import pytest

from coreset3d.datasets import load_mesh_folder

trimesh = pytest.importorskip("trimesh")


@pytest.fixture
def root(tmp_path):
    """root/<class>/<split>/: boxes (.off), spheres (.ply), cylinders (.obj); no test cone."""
    root = tmp_path / "ModelNet"
    meshes = {
        "box": (".off", lambda k: trimesh.creation.box(extents=(1 + k, 2, 3))),
        "sphere": (".ply", lambda k: trimesh.creation.icosphere(subdivisions=3, radius=2 + k)),
        "cylinder": (".obj", lambda k: trimesh.creation.cylinder(radius=0.5, height=3 + k)),
        "cone": (".off", lambda k: trimesh.creation.cone(radius=1, height=2 + k)),
    }
    for name, (ext, make) in meshes.items():
        for split, n in (("train", 2), ("test", 1)):
            if name == "cone" and split == "test":
                continue
            folder = root / name / split
            folder.mkdir(parents=True)
            for k in range(n):
                mesh = make(k)
                mesh.apply_translation([5.0, -2.0, 1.0])  # off-centre, to test the normalisation
                mesh.export(folder / f"{name}_{k + 1:04d}{ext}")
    (root / ".hidden").mkdir()
    (root / "box" / "train" / "notes.txt").write_text("not a mesh")
    return root


def test_samples_centred_unit_sphere_points(root):
    ds = load_mesh_folder(root, "train", n_points=256, seed=0)
    assert ds.class_names == ["box", "cone", "cylinder", "sphere"]
    assert ds.labels.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert ds.files[0] == "box/train/box_0001.off"
    assert ds.files[-1] == "sphere/train/sphere_0002.ply"
    assert ds.points.shape == (8, 256, 3) and ds.points.dtype == np.float32
    np.testing.assert_allclose(ds.points.mean(axis=1), 0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(ds.points, axis=2).max(axis=1), 1, rtol=1e-5)
    # the points lie on the surfaces: a sphere's are all at the same distance from its centre
    sphere = ds.points[6] - (ds.points[6].max(0) + ds.points[6].min(0)) / 2
    radii = np.linalg.norm(sphere, axis=1)
    assert radii.std() < 0.02 * radii.mean()  # facets of the icosphere
    # and a box's on its faces: each point has one coordinate at the extreme
    box = ds.points[0] - (ds.points[0].max(0) + ds.points[0].min(0)) / 2
    on_face = np.isclose(np.abs(box), np.abs(box).max(axis=0), atol=1e-4).any(axis=1)
    assert on_face.all()


def test_splits_share_class_names_and_seed_is_reproducible(root):
    test = load_mesh_folder(root, "test", n_points=64, seed=1)
    assert test.class_names == ["box", "cone", "cylinder", "sphere"]
    assert test.class_counts().tolist() == [1, 0, 1, 1]
    again = load_mesh_folder(root, "test", n_points=64, seed=1)
    other = load_mesh_folder(root, "test", n_points=64, seed=2)
    np.testing.assert_array_equal(test.points, again.points)
    assert not np.array_equal(test.points, other.points)


def test_extensions_filter(root):
    ds = load_mesh_folder(root, n_points=32, extensions=(".OFF",))
    assert ds.class_counts().tolist() == [2, 2, 0, 0]


def test_missing_root_and_empty_split(root, tmp_path):
    match = r"data directory '.*nope' does not exist; expected a folder of class folders"
    with pytest.raises(FileNotFoundError, match=match):
        load_mesh_folder(tmp_path / "nope")
    match = (
        r"no mesh file \(.off, .ply, .obj\) found in '.*ModelNet'/<class>/val/; expected the raw "
        r"ModelNet layout root/<class>/val/<shape>.off \(class folders seen: \['box', 'cone', "
        r"'cylinder', 'sphere'\]\)"
    )
    with pytest.raises(FileNotFoundError, match=match):
        load_mesh_folder(root, "val")


def test_corrupt_and_empty_meshes(root):
    bad = root / "box" / "train" / "box_0003.off"
    bad.write_text("OFF\n3 1 0\n0 0 0\n1 0 0\n")  # truncated: vertices and face missing
    with pytest.raises(ValueError, match=r"could not read '.*box_0003.off' as a mesh \(corrupt"):
        load_mesh_folder(root, n_points=16)
    bad.write_text("OFF\n3 0 0\n0 0 0\n1 0 0\n0 1 0\n")  # points, no face
    match = r"'.*box_0003.off' holds no surface to sample \(no faces or zero area\)"
    with pytest.raises(ValueError, match=match):
        load_mesh_folder(root, n_points=16)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_points": 0}, r"n_points must be None or an int >= 1; got n_points=0"),
        ({"n_points": None}, r"n_points must be an int >= 1 for load_mesh_folder; got None"),
        ({"split": "../box"}, r"split must be the name of a sub-folder like 'train'; got '../box'"),
    ],
)
def test_bad_arguments(root, kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_mesh_folder(root, **kwargs)


def test_missing_trimesh_says_how_to_install(root, monkeypatch):
    monkeypatch.setitem(sys.modules, "trimesh", None)
    match = r"load_mesh_folder samples meshes with trimesh, which is not installed; .*pip install"
    with pytest.raises(ImportError, match=match):
        load_mesh_folder(root)
