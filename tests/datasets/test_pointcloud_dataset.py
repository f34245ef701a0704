"""PointCloudDataset: the container every reader returns."""

import subprocess
import sys

import numpy as np
import pytest

from coreset3d.datasets import PointCloudDataset


def _toy(n=5, n_points=4):
    points = np.arange(n * n_points * 3, dtype=np.float64).reshape(n, n_points, 3)
    return PointCloudDataset(
        points, [0, 2, 2, 1, 2][:n], ["a", "b", "c"], split="train", source="toy",
        files=[f"s{i}.off" for i in range(n)],
    )  # fmt: skip


def test_arrays_are_stored_as_float32_and_int64():
    ds = _toy()
    assert ds.points.dtype == np.float32 and ds.points.shape == (5, 4, 3)
    assert ds.labels.dtype == np.int64
    assert len(ds) == 5 and ds.n_points == 4 and ds.n_classes == 3
    assert ds.class_counts().tolist() == [1, 1, 3]
    assert "n_shapes=5" in repr(ds) and "source='toy'" in repr(ds)


def test_class_counts_keep_empty_classes():
    ds = PointCloudDataset(np.zeros((2, 3, 3)), [2, 2], ["a", "b", "c", "d"])
    assert ds.class_counts().tolist() == [0, 0, 2, 0]


def test_subset_by_indices_and_mask():
    ds = _toy()
    sub = ds.subset([4, 0])
    assert sub.labels.tolist() == [2, 0]
    assert sub.files == ["s4.off", "s0.off"]
    np.testing.assert_array_equal(sub.points[0], ds.points[4])
    assert sub.class_names == ds.class_names and sub.split == "train" and sub.source == "toy"
    masked = ds.subset(ds.labels == 2)
    assert masked.labels.tolist() == [2, 2, 2] and masked.files == ["s1.off", "s2.off", "s4.off"]
    assert len(ds.subset([])) == 0


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"points": np.zeros((2, 4))},
            ValueError,
            r"points must have shape \(n_shapes, n_points, 3\); got shape \(2, 4\)",
        ),
        ({"points": np.zeros((2, 4, 2))}, ValueError, r"got shape \(2, 4, 2\)"),
        (
            {"labels": [0]},
            ValueError,
            r"labels must have shape \(2,\), one per shape in points; got shape \(1,\)",
        ),
        ({"labels": [0.5, 1.0]}, TypeError, r"labels must be integers 0..n_classes-1; got dtype f"),
        (
            {"labels": [0, 2]},
            ValueError,
            r"labels must lie in 0..1 \(one per class name\); got values from 0 to 2",
        ),
        ({"labels": [-1, 0]}, ValueError, r"got values from -1 to 0"),
        ({"files": ["a.off"]}, ValueError, r"files must name one file per shape \(2\); got 1 name"),
    ],
)
def test_constructor_errors(kwargs, error, match):
    args = {"points": np.zeros((2, 4, 3)), "labels": [0, 1], "class_names": ["a", "b"], **kwargs}
    with pytest.raises(error, match=match):
        PointCloudDataset(**args)


@pytest.mark.parametrize(
    ("indices", "error", "match"),
    [
        ([5], IndexError, r"indices must lie in \[-5, 5\) for a dataset of 5 shapes; got .*5 to 5"),
        (np.ones(3, bool), ValueError, r"boolean mask for subset must have shape \(5,\); got"),
        ([0.5], TypeError, r"indices must be a 1-D array of ints or a boolean mask; got dtype"),
    ],
)
def test_subset_errors(indices, error, match):
    with pytest.raises(error, match=match):
        _toy().subset(indices)


def test_subpackage_imports_without_h5py_or_trimesh():
    code = (
        "import sys; sys.modules['h5py'] = None; sys.modules['trimesh'] = None\n"
        "import coreset3d.datasets as d\n"
        "assert 'h5py' not in {m for m in sys.modules if sys.modules[m] is not None}\n"
        "print(sorted(d.__all__))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "load_modelnet40" in out.stdout and "make_synthetic_shapes" in out.stdout
