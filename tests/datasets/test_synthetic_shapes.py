"""make_synthetic_shapes: the built-in long-tailed demo dataset."""

import time

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from coreset3d.datasets import make_synthetic_shapes
from coreset3d.datasets._synthetic import SHAPE_NAMES, _boxes, _pick, _triangles


def _by_content(points):
    """Shapes in a canonical order, to compare sets of shapes whatever the shuffle."""
    return points[np.lexsort(points[:, :3, :].reshape(len(points), -1).T)]


def test_train_split_is_exponentially_long_tailed():
    ds = make_synthetic_shapes(n_classes=10, n_per_class_max=50, imbalance_ratio=10, n_points=32)
    expected = np.floor(50 * 10 ** (-np.arange(10) / 9) + 1e-9).astype(int)
    assert ds.class_counts().tolist() == expected.tolist() == [50, 38, 29, 23, 17, 13, 10, 8, 6, 5]
    assert ds.class_names == list(SHAPE_NAMES[:10])
    assert ds.points.shape == (expected.sum(), 32, 3) and ds.points.dtype == np.float32
    assert ds.labels.dtype == np.int64 and ds.split == "train" and ds.source == "synthetic"
    assert ds.files is None
    assert not np.all(np.diff(ds.labels) >= 0)  # shuffled, not grouped by class


def test_test_split_is_balanced():
    ds = make_synthetic_shapes(n_classes=13, n_per_class_max=10, n_points=16, split="test")
    assert ds.class_counts().tolist() == [5] * 13
    ds = make_synthetic_shapes(n_classes=3, n_points=16, split="test", n_test_per_class=7)
    assert ds.class_counts().tolist() == [7, 7, 7]


def test_shapes_are_centred_in_the_unit_sphere():
    ds = make_synthetic_shapes(n_classes=13, n_per_class_max=6, imbalance_ratio=1, n_points=128)
    np.testing.assert_allclose(ds.points.mean(axis=1), 0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(ds.points, axis=2).max(axis=1), 1, rtol=1e-5)
    assert np.isfinite(ds.points).all()


def test_deterministic_by_seed_and_splits_disjoint():
    kw = {"n_classes": 4, "n_per_class_max": 8, "n_points": 64}
    a, b = make_synthetic_shapes(**kw, seed=5), make_synthetic_shapes(**kw, seed=5)
    np.testing.assert_array_equal(a.points, b.points)
    np.testing.assert_array_equal(a.labels, b.labels)
    c = make_synthetic_shapes(**kw, seed=6)
    assert not np.array_equal(a.points, c.points)
    test = make_synthetic_shapes(**kw, seed=5, split="test", n_test_per_class=8)
    train_rows = {row.tobytes() for row in a.points}
    assert not train_rows & {row.tobytes() for row in test.points}


def test_a_class_does_not_change_with_the_other_classes_sizes():
    kw = {"n_classes": 5, "n_per_class_max": 12, "n_points": 32, "seed": 2}
    steep = make_synthetic_shapes(**kw, imbalance_ratio=12)
    flat = make_synthetic_shapes(**kw, imbalance_ratio=1)
    np.testing.assert_array_equal(
        _by_content(steep.points[steep.labels == 0]), _by_content(flat.points[flat.labels == 0])
    )


def test_occlusion_cuts_spheres_off_centre():
    """A sphere cut by a plane loses its symmetry: its points no longer sit at one radius."""

    def radius_spread(occlusion):
        ds = make_synthetic_shapes(
            n_classes=2, n_points=256, split="test", n_test_per_class=60, noise=0.0,
            occlusion=occlusion,
        )  # fmt: skip
        r = np.linalg.norm(ds.points[ds.labels == 0], axis=2)
        return np.mean(r.min(axis=1) / r.max(axis=1))

    assert radius_spread(1.0) < radius_spread(0.0) - 0.08


def test_two_thousand_shapes_are_fast():
    start = time.perf_counter()
    ds = make_synthetic_shapes(n_classes=10, n_per_class_max=200, imbalance_ratio=1)
    elapsed = time.perf_counter() - start
    assert ds.points.shape == (2000, 1024, 3)
    assert elapsed < 10, f"2,000 shapes x 1,024 points took {elapsed:.1f} s"


def _features(points):
    """Covariance eigenvalues and a histogram of distances to the centroid."""
    centred = points - points.mean(axis=1, keepdims=True)
    cov = np.einsum("nij,nik->njk", centred, centred) / points.shape[1]
    radius = np.linalg.norm(centred, axis=2)
    hist = np.stack([np.histogram(r, bins=12, range=(0, 1))[0] for r in radius])
    return np.hstack([np.linalg.eigvalsh(cov), hist / points.shape[1]])


def test_simple_baseline_is_above_chance_but_far_from_perfect():
    kw = {"n_classes": 10, "n_per_class_max": 100, "n_points": 256}
    train = make_synthetic_shapes(**kw)
    test = make_synthetic_shapes(**kw, split="test")
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    pred = clf.fit(_features(train.points), train.labels).predict(_features(test.points))
    accuracy = np.mean(pred == test.labels)
    assert 0.3 < accuracy < 0.9, accuracy  # chance is 0.1
    cm = confusion_matrix(test.labels, pred)
    sphere, ellipsoid = SHAPE_NAMES.index("sphere"), SHAPE_NAMES.index("ellipsoid")
    assert cm[sphere, ellipsoid] + cm[ellipsoid, sphere] > 5  # a confusable pair by design


def test_pick_follows_the_weights():
    rng = np.random.default_rng(0)
    weights = np.array([[1.0, 0.0, 3.0], [0.0, 1.0, 0.0]])
    idx = _pick(rng, weights, 20000)
    assert set(np.unique(idx[0])) == {0, 2} and (idx[1] == 1).all()
    assert abs(np.mean(idx[0] == 2) - 0.75) < 0.02


def test_boxes_sample_faces_by_area():
    rng = np.random.default_rng(1)
    lo, hi = np.array([[[0.0, 0.0, 0.0]]]), np.array([[[4.0, 1.0, 1.0]]])
    pts = _boxes(rng, lo, hi, 20000)[0]
    on_face = np.isclose(pts, lo[0]) | np.isclose(pts, hi[0])
    assert on_face.any(axis=1).all() and (pts >= 0).all() and (pts <= hi[0]).all()
    # the two 1x1 end faces (x = 0, 4) hold 2 / 18 of the area
    assert abs(on_face[:, 0].mean() - 2 / 18) < 0.01


def test_triangles_sample_inside_them():
    rng = np.random.default_rng(2)
    tri = np.array([[[[0.0, 0, 0], [1, 0, 0], [0, 1, 0]]]])
    pts = _triangles(rng, tri, 5000)[0]
    assert np.allclose(pts[:, 2], 0) and (pts[:, :2] >= 0).all() and (pts[:, :2].sum(1) <= 1).all()
    assert abs(pts[:, 0].mean() - 1 / 3) < 0.02  # the centroid


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_classes": 1}, r"n_classes must be an int in \[2, 13\]; got n_classes=1"),
        ({"n_classes": 14}, r"n_classes must be an int in \[2, 13\]; got n_classes=14"),
        ({"n_per_class_max": 0}, r"n_per_class_max must be an int >= 1; got n_per_class_max=0"),
        ({"n_points": 2.5}, r"n_points must be an int >= 1; got n_points=2.5"),
        ({"imbalance_ratio": 0.5}, r"imbalance_ratio must be a finite number >= 1 .*=0.5"),
        ({"split": "val"}, r"split must be one of 'train', 'test'; got split='val'"),
        ({"seed": -1}, r"seed must be an int >= 0; got seed=-1"),
        ({"noise": 0.5}, r"noise must be a number in \[0.0, 0.2\]; got noise=0.5"),
        ({"occlusion": 1.5}, r"occlusion must be a number in \[0.0, 1.0\]; got occlusion=1.5"),
        (
            {"split": "test", "n_test_per_class": 0},
            r"n_test_per_class must be an int >= 1; got n_test_per_class=0",
        ),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_synthetic_shapes(**kwargs)
