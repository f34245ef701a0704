"""load_scanobjectnn on tiny files in the layout of the official h5_files release."""

import sys

import numpy as np
import pytest

from coreset3d.datasets import load_scanobjectnn

h5py = pytest.importorskip("h5py")

OFFICIAL_ORDER = [
    "bag", "bin", "box", "cabinet", "chair", "desk", "display", "door",
    "shelf", "table", "bed", "pillow", "sink", "sofa", "toilet",
]  # fmt: skip


def _write(path, n=6, n_points=32, seed=0, label_shape=None, keys=("data", "label", "mask")):
    rng = np.random.default_rng(seed)
    data = rng.normal(size=(n, n_points, 3)).astype(np.float32)
    label = rng.integers(0, 15, n).astype(np.int64)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {
        "data": data,
        "label": label.reshape(label_shape or (n,)),
        "mask": np.zeros((n, n_points), np.int32),
    }
    with h5py.File(path, "w") as f:
        for key in keys:
            f.create_dataset(key, data=arrays[key])
    return data, label


@pytest.fixture
def release(tmp_path):
    """h5_files/ with main_split (OBJ_BG + PB_T50_RS) and main_split_nobg (OBJ_ONLY)."""
    files = {
        ("main_split", "training_objectdataset_augmentedrot_scale75.h5"): 0,
        ("main_split", "test_objectdataset_augmentedrot_scale75.h5"): 1,
        ("main_split", "training_objectdataset.h5"): 2,
        ("main_split_nobg", "training_objectdataset.h5"): 3,
        ("main_split_nobg", "test_objectdataset.h5"): 4,
    }
    root = tmp_path / "h5_files"
    content = {key: _write(root / key[0] / key[1], seed=seed) for key, seed in files.items()}
    return root, content


def test_default_is_pb_t50_rs_of_main_split(release):
    root, content = release
    ds = load_scanobjectnn(root)
    data, label = content[("main_split", "training_objectdataset_augmentedrot_scale75.h5")]
    np.testing.assert_array_equal(ds.points, data)
    np.testing.assert_array_equal(ds.labels, label)
    assert ds.class_names == OFFICIAL_ORDER
    assert ds.source == "scanobjectnn/main_split/PB_T50_RS" and ds.split == "train"
    assert ds.points.dtype == np.float32 and ds.labels.dtype == np.int64 and ds.files is None
    test = load_scanobjectnn(root, "test")
    np.testing.assert_array_equal(
        test.points, content[("main_split", "test_objectdataset_augmentedrot_scale75.h5")][0]
    )


def test_variants_pick_the_right_file(release):
    root, content = release
    obj_only = load_scanobjectnn(root, "test", variant="main_split_nobg", perturbation="OBJ_ONLY")
    np.testing.assert_array_equal(
        obj_only.points, content[("main_split_nobg", "test_objectdataset.h5")][0]
    )
    obj_bg = load_scanobjectnn(root, variant="main_split", perturbation="OBJ_ONLY")
    np.testing.assert_array_equal(
        obj_bg.labels, content[("main_split", "training_objectdataset.h5")][1]
    )


def test_column_labels_and_n_points(tmp_path):
    data, label = _write(tmp_path / "main_split" / "training_objectdataset.h5", label_shape=(6, 1))
    ds = load_scanobjectnn(tmp_path, perturbation="OBJ_ONLY", n_points=10)
    np.testing.assert_array_equal(ds.labels, label)
    np.testing.assert_array_equal(ds.points, data[:, :10])
    rnd = load_scanobjectnn(tmp_path, perturbation="OBJ_ONLY", n_points=10, sampling="random")
    assert rnd.points.shape == (6, 10, 3) and not np.array_equal(rnd.points, ds.points)


def _expect(root, error, match, **kwargs):
    with pytest.raises(error, match=match):
        load_scanobjectnn(root, **kwargs)


def test_missing_paths(release, tmp_path):
    root, _ = release
    _expect(tmp_path / "nope", FileNotFoundError, r"data directory '.*nope' does not exist")
    _expect(
        root, FileNotFoundError, r"expected the variant folder split1/ in '.*h5_files'",
        variant="split1",
    )  # fmt: skip
    match = (
        r"expected test_objectdataset_augmented25rot.h5 in '.*main_split' for "
        r"perturbation='PB_T25_R'; HDF5 files there: \['test_objectdataset_augmentedrot_scale75.h5'"
    )
    _expect(root, FileNotFoundError, match, split="test", perturbation="PB_T25_R")


def test_corrupt_file_and_wrong_key(tmp_path):
    path = tmp_path / "main_split" / "training_objectdataset_augmentedrot_scale75.h5"
    path.parent.mkdir()
    path.write_bytes(b"not an hdf5 file at all")
    _expect(tmp_path, ValueError, r"could not read '.*augmentedrot_scale75.h5' as HDF5 \(corrupt")
    _write(path, keys=("data", "mask"))
    _expect(tmp_path, KeyError, r"has no dataset 'label'; datasets found: \['data', 'mask'\]")


def test_label_out_of_range(tmp_path):
    path = tmp_path / "main_split" / "training_objectdataset_augmentedrot_scale75.h5"
    path.parent.mkdir()
    with h5py.File(path, "w") as f:
        f.create_dataset("data", data=np.zeros((2, 4, 3), np.float32))
        f.create_dataset("label", data=np.array([0, 15]))
    _expect(tmp_path, ValueError, r"holds labels from 0 to 15, outside 0..14 for the 15 class")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"variant": "main"}, r"variant must be one of 'main_split', 'main_split_nobg', .*='main'"),
        (
            {"perturbation": "OBJ_BG"},
            r"perturbation must be one of 'OBJ_ONLY', .*'PB_T50_RS'; got perturbation='OBJ_BG'. "
            r"For OBJ_BG pass variant='main_split', perturbation='OBJ_ONLY'",
        ),
        ({"split": "training"}, r"split must be one of 'train', 'test'; got split='training'"),
        ({"n_points": 33}, r"n_points=33 asks for more points than .* \(32 per shape\)"),
    ],
)
def test_bad_arguments(release, kwargs, match):
    _expect(release[0], ValueError, match, **kwargs)


def test_missing_h5py(release, monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)
    _expect(release[0], ImportError, r"load_scanobjectnn reads HDF5 files and needs h5py")
