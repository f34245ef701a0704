"""make_long_tailed and the shared long-tail profile."""

import numpy as np
import pytest

from coreset3d.datasets import PointCloudDataset, make_long_tailed
from coreset3d.datasets._longtail import _long_tail_sizes


def _balanced(counts, n_points=2):
    labels = np.repeat(np.arange(len(counts)), counts)
    points = np.random.default_rng(0).normal(size=(labels.size, n_points, 3))
    return PointCloudDataset(points, labels, [f"c{i}" for i in range(len(counts))])


def test_exponential_sizes_follow_the_ldam_formula():
    # floor(100 * 10 ** (-r / 4)) for r = 0..4: 100, 56.23, 31.62, 17.78, 10
    assert _long_tail_sizes(100, 5, 10).tolist() == [100, 56, 31, 17, 10]
    assert _long_tail_sizes(100, 4, 1).tolist() == [100, 100, 100, 100]
    assert _long_tail_sizes(7, 1, 50).tolist() == [7]
    assert _long_tail_sizes(3, 4, 100).tolist() == [3, 1, 1, 1]  # never below 1


def test_step_profile():
    assert _long_tail_sizes(100, 5, 10, profile="step").tolist() == [100, 100, 10, 10, 10]


def test_largest_class_keeps_its_size_and_tail_is_ranked_by_size():
    ds = _balanced([30, 100, 60, 45])  # ranks: c1, c2, c3, c0
    out = make_long_tailed(ds, imbalance_ratio=27, seed=1)
    # targets floor(100 * 27 ** (-r/3)) = 100, 33, 11, 3; c2 has 60 >= 33, c3 45 >= 11, c0 30 >= 3
    assert out.class_counts().tolist() == [3, 100, 33, 11]
    assert out.class_names == ds.class_names


def test_never_more_than_a_class_has():
    ds = _balanced([100, 5, 90])  # ranks c0, c2, c1: targets 100, 31, 10
    assert make_long_tailed(ds, 10).class_counts().tolist() == [100, 5, 31]


def test_keeps_order_and_rows_and_skips_empty_classes():
    ds = _balanced([40, 0, 20, 10])
    out = make_long_tailed(ds, 4, seed=3)
    assert out.class_counts().tolist() == [40, 0, 20, 10]  # targets 40, 20, 10 over 3 classes
    ds2 = _balanced([40, 40, 40])
    out2 = make_long_tailed(ds2, 4, seed=3)
    rows = [int(np.flatnonzero((ds2.points == p).all(axis=(1, 2)))[0]) for p in out2.points]
    assert rows == sorted(rows)
    np.testing.assert_array_equal(ds2.labels[rows], out2.labels)


def test_seeded():
    ds = _balanced([50, 50, 50])
    a, b, c = (make_long_tailed(ds, 5, seed=s) for s in (0, 0, 1))
    np.testing.assert_array_equal(a.points, b.points)
    assert not np.array_equal(a.points, c.points)


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        ((np.zeros((3, 2, 3)), 10), TypeError, "must be a PointCloudDataset .* got ndarray"),
        ((None, 0.5), ValueError, r"imbalance_ratio must be a finite number >= 1 .* got .*=0.5"),
        ((None, float("inf")), ValueError, "got imbalance_ratio=inf"),
        (
            (None, 10, 0, "linear"),
            ValueError,
            "profile must be one of 'exponential', 'step'; got profile='linear'",
        ),
        ((None, 10, 1.5), TypeError, "seed must be an int or None; got float"),
    ],
)
def test_errors(args, error, match):
    ds = _balanced([5, 3])
    args = (ds if args[0] is None else args[0], *args[1:])
    with pytest.raises(error, match=match):
        make_long_tailed(*args)


def test_empty_dataset_error():
    empty = PointCloudDataset(np.zeros((0, 2, 3)), np.zeros(0, dtype=int), ["a"])
    with pytest.raises(ValueError, match="dataset holds no shape"):
        make_long_tailed(empty, 10)
