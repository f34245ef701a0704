"""load_modelnet40 on tiny files in the exact PointNet HDF5 layout, and on the real data."""

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from coreset3d.datasets import load_modelnet40

h5py = pytest.importorskip("h5py")

NAMES = ["airplane", "bathtub", "bed"]


def _write_h5(path, data, label, **extra):
    with h5py.File(path, "w") as f:
        if data is not None:
            f.create_dataset("data", data=data)
        if label is not None:
            f.create_dataset("label", data=label)
        for key, value in extra.items():
            f.create_dataset(key, data=value)


def _write_layout(root, sizes=None, n_points=16, id2file=True, seed=0):
    """A miniature modelnet40_ply_hdf5_2048: train0, train1, test0, with the release's paths."""
    sizes = sizes or {"train0": 5, "train1": 3, "test0": 4}
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    (root / "shape_names.txt").write_text("\n".join(NAMES) + "\n")
    content = {}
    for key, n in sizes.items():
        split, idx = key[:-1], key[-1]
        data = rng.normal(size=(n, n_points, 3)).astype(np.float32)
        label = rng.integers(0, len(NAMES), (n, 1)).astype(np.uint8)
        _write_h5(root / f"ply_data_{split}{idx}.h5", data, label, normal=np.zeros_like(data))
        if id2file:
            names = [f"{NAMES[lab]}_{key}_{i:04d}.off" for i, lab in enumerate(label[:, 0])]
            (root / f"ply_data_{split}_{idx}_id2file.json").write_text(json.dumps(names))
        content[key] = (data, label[:, 0])
    for split in ("train", "test"):
        keys = [k for k in sizes if k.startswith(split)]
        lines = [f"data/modelnet40_ply_hdf5_2048/ply_data_{k[:-1]}{k[-1]}.h5" for k in keys]
        (root / f"{split}_files.txt").write_text("\n".join(lines) + "\n")
    return content


def test_reads_the_layout_in_list_order(tmp_path):
    content = _write_layout(tmp_path)
    train = load_modelnet40(tmp_path, "train")
    np.testing.assert_array_equal(
        train.points, np.concatenate([content["train0"][0], content["train1"][0]])
    )
    np.testing.assert_array_equal(
        train.labels, np.concatenate([content["train0"][1], content["train1"][1]])
    )
    assert train.points.dtype == np.float32 and train.labels.dtype == np.int64
    assert train.class_names == NAMES and train.split == "train" and train.source == "modelnet40"
    assert train.files[0].startswith(NAMES[train.labels[0]]) and len(train.files) == 8
    test = load_modelnet40(str(tmp_path), split="test")
    assert len(test) == 4 and test.files[3].endswith("_test0_0003.off")


def test_without_id2file_files_is_none(tmp_path):
    _write_layout(tmp_path, id2file=False)
    assert load_modelnet40(tmp_path).files is None


def test_partial_id2file_warns_and_drops_files(tmp_path):
    _write_layout(tmp_path)
    (tmp_path / "ply_data_train_1_id2file.json").unlink()
    with pytest.warns(UserWarning, match="1 of the 2 HDF5 files of the train split have no"):
        ds = load_modelnet40(tmp_path)
    assert ds.files is None and len(ds) == 8


def test_n_points_first_and_seeded_random(tmp_path):
    content = _write_layout(tmp_path)
    first = load_modelnet40(tmp_path, n_points=6)
    np.testing.assert_array_equal(first.points[:5], content["train0"][0][:, :6])
    rand = load_modelnet40(tmp_path, n_points=6, sampling="random", seed=1)
    again = load_modelnet40(tmp_path, n_points=6, sampling="random", seed=1)
    other = load_modelnet40(tmp_path, n_points=6, sampling="random", seed=2)
    np.testing.assert_array_equal(rand.points, again.points)
    assert not np.array_equal(rand.points, other.points)
    # each kept point is a distinct point of the same shape
    full = content["train0"][0]
    for i in range(5):
        matches = (rand.points[i][:, None, :] == full[i][None, :, :]).all(axis=2)
        assert (matches.sum(axis=1) == 1).all() and len(set(matches.argmax(axis=1))) == 6


def _expect(tmp_path, error, match, **kwargs):
    with pytest.raises(error, match=match):
        load_modelnet40(tmp_path, **kwargs)


def test_missing_directory(tmp_path):
    match = r"data directory '.*nope' does not exist; expected the ModelNet40 HDF5 folder"
    _expect(tmp_path / "nope", FileNotFoundError, match)


def test_missing_list_and_names_files(tmp_path):
    _write_layout(tmp_path)
    (tmp_path / "test_files.txt").unlink()
    match = r"expected test_files.txt \(the HDF5 files of the test split\) in '"
    _expect(tmp_path, FileNotFoundError, match, split="test")
    (tmp_path / "shape_names.txt").unlink()
    match = r"expected shape_names.txt \(the class names, one per line\) in '"
    _expect(tmp_path, FileNotFoundError, match)


def test_missing_listed_h5(tmp_path):
    _write_layout(tmp_path)
    (tmp_path / "ply_data_train1.h5").unlink()
    match = (
        r"train_files.txt lists 'data/modelnet40_ply_hdf5_2048/ply_data_train1.h5' "
        r"but ply_data_train1.h5 is not in '"
    )
    _expect(tmp_path, FileNotFoundError, match)


def test_corrupt_h5(tmp_path):
    _write_layout(tmp_path)
    (tmp_path / "ply_data_train1.h5").write_bytes(b"\x89HDF\r\n\x1a\n truncated garbage")
    match = r"could not read '.*ply_data_train1.h5' as HDF5 \(corrupt or truncated\?\)"
    _expect(tmp_path, ValueError, match)


def test_corrupt_id2file(tmp_path):
    _write_layout(tmp_path)
    (tmp_path / "ply_data_train_0_id2file.json").write_text('["a.off", ')
    match = r"could not parse '.*ply_data_train_0_id2file.json' as a JSON list of file names"
    _expect(tmp_path, ValueError, match)
    (tmp_path / "ply_data_train_0_id2file.json").write_text(json.dumps(["a.off"]))
    match = r"train_0_id2file.json' must be a JSON list of 5 file names .* got 1 entries"
    _expect(tmp_path, ValueError, match)


def test_wrong_keys(tmp_path):
    _write_layout(tmp_path)
    data = np.zeros((3, 16, 3), np.float32)
    _write_h5(tmp_path / "ply_data_train1.h5", data, None, labels=np.zeros(3))
    match = r"train1.h5' has no dataset 'label'; datasets found: \['data', 'labels'\]"
    _expect(tmp_path, KeyError, match)


@pytest.mark.parametrize(
    ("data", "label", "match"),
    [
        (
            np.zeros((3, 16)),
            np.zeros((3, 1)),
            r"'data' of '.*train1.h5' must have shape \(n_shapes, n_points, 3\); got \(3, 16",
        ),
        (
            np.zeros((3, 16, 3)),
            np.zeros((2, 1)),
            r"'label' of .* must have shape \(3,\) or \(3, 1\), one label per shape in 'data'; "
            r"got \(2, 1\)",
        ),
        (np.zeros((3, 16, 3)), np.full((3, 1), 0.5), r"'label' of .* holds non-integer values"),
        (
            np.zeros((3, 16, 3)),
            np.full((3, 1), 3),
            r"holds labels from 3 to 3, outside 0..2 for the 3 class names",
        ),
        (
            np.zeros((3, 8, 3)),
            np.zeros((3, 1)),
            r"train1.h5' holds 8 points per shape but the files before it hold 16",
        ),
    ],
)
def test_bad_arrays(tmp_path, data, label, match):
    _write_layout(tmp_path)
    _write_h5(tmp_path / "ply_data_train1.h5", data, label)
    _expect(tmp_path, ValueError, match)


def test_empty_list(tmp_path):
    _write_layout(tmp_path)
    (tmp_path / "test_files.txt").write_text("\n")
    _expect(tmp_path, ValueError, r"test_files.txt' lists no HDF5 file", split="test")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"split": "val"}, r"split must be one of 'train', 'test'; got split='val'"),
        (
            {"n_points": 17},
            r"n_points=17 asks for more points than .* holds \(16 per shape\); pass n_points <= 16",
        ),
        ({"n_points": 0}, r"n_points must be None or an int >= 1; got n_points=0"),
        ({"sampling": "fps"}, r"sampling must be 'first' or 'random'; got sampling='fps'"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, match):
    _write_layout(tmp_path)
    _expect(tmp_path, ValueError, match, **kwargs)


def test_missing_h5py_says_how_to_install(tmp_path, monkeypatch):
    _write_layout(tmp_path)
    monkeypatch.setitem(sys.modules, "h5py", None)
    match = r"load_modelnet40 reads HDF5 files and needs h5py.*pip install h5py.*coreset3d\[torch\]"
    _expect(tmp_path, ImportError, match)


def _real_modelnet():
    base = os.environ.get("CORESET3D_DATA")
    base = Path(base) if base else Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
    path = base / "modelnet40_ply_hdf5_1024"
    if not (path / "train_files.txt").is_file():
        pytest.skip(f"the real ModelNet40 is not at {path} (set CORESET3D_DATA to its parent)")
    return path


def test_real_modelnet40():
    path = _real_modelnet()
    train = load_modelnet40(path, "train")
    test = load_modelnet40(path, "test")
    assert (len(train), len(test)) == (9843, 2468)
    assert train.n_classes == 40 and train.class_names[0] == "airplane"
    assert train.points.shape[1:] == (1024, 3) and test.n_points == 1024
    counts = train.class_counts()
    assert counts.min() == 64 and counts.max() == 889
    assert train.class_names[counts.argmin()] == "bowl"
    assert train.class_names[counts.argmax()] == "chair"
    assert test.class_counts().min() == 20 and test.class_counts().max() == 100
    assert len(train.files) == 9843 and train.files[0].endswith(".off")
    # the files name the class of each shape
    prefix = [f.rsplit("_", 1)[0] for f in train.files[:200]]
    assert prefix == [train.class_names[c] for c in train.labels[:200]]
    assert np.abs(np.linalg.norm(train.points, axis=2).max() - 1) < 1e-3
