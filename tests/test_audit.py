"""signal_audit: hand-computed Table-3 numbers for scores and FL-RBF gains, errors."""

import dataclasses
import math

import numpy as np
import pytest

from coreset3d import FacilityLocationRBF
from coreset3d.metrics import SignalAudit, signal_audit

# classes 0 (rows 0-3), 1 (rows 4-5), 2 (row 6): sizes 4, 2, 1; class means 2.5, 5.5, 0
Y7 = np.array([0, 0, 0, 0, 1, 1, 2])
S7 = np.array([4.0, 3.0, 2.0, 1.0, 6.0, 5.0, 0.0])


def test_size_dependence_by_hand():
    audit = signal_audit(S7, Y7, budget=3)
    assert isinstance(audit, SignalAudit)
    np.testing.assert_array_equal(audit.classes, [0, 1, 2])
    np.testing.assert_array_equal(audit.class_sizes, [4, 2, 1])
    np.testing.assert_allclose(audit.class_means, [2.5, 5.5, 0.0])
    # sizes centred: 5/3, -1/3, -4/3; means centred: -1/6, 17/6, -16/6
    sxy = (5 / 3) * (-1 / 6) + (-1 / 3) * (17 / 6) + (-4 / 3) * (-16 / 6)  # = 7/3
    sxx = (25 + 1 + 16) / 9  # = 14/3
    syy = (1 + 289 + 256) / 36  # = 91/6
    assert audit.slope_size == pytest.approx(sxy / sxx) == pytest.approx(0.5)
    assert audit.pearson_size == pytest.approx(sxy / math.sqrt(sxx * syy))
    assert audit.pearson_size == pytest.approx(0.27735, abs=1e-5)
    # log sizes 2 ln2, ln2, 0, centred: ln2, 0, -ln2
    ln2 = math.log(2)
    assert audit.slope_log_size == pytest.approx((2.5 * ln2) / (2 * ln2**2))  # 1.25 / ln 2
    assert audit.pearson_log_size == pytest.approx(2.5 / math.sqrt(2 * 91 / 6))


def test_selection_skew_by_hand():
    audit = signal_audit(S7, Y7, budget=3)
    # global top 3: rows 4 (6.0), 5 (5.0), 0 (4.0) -> counts 1, 2, 0
    np.testing.assert_array_equal(audit.global_counts, [1, 2, 0])
    assert audit.count_ratio == math.inf and audit.n_empty_classes == 1
    # per class, balanced 1 / 1 / 1: rows 0, 4, 6; shared with the global top: rows 0, 4
    assert audit.budget == 3
    assert audit.overlap == pytest.approx(2 / 3)
    assert audit.jaccard == pytest.approx(2 / 4)


def test_finite_ratio_smallest_and_fraction_budget():
    y = np.array([0, 0, 1, 1])
    s = np.array([1.0, 2.0, 3.0, 4.0])
    # B = round(0.75 x 4) = 3: global top rows 3, 2, 1 -> counts 1, 2 -> ratio 2;
    # balanced 2 / 1: class 0 rows 1, 0, class 1 row 3 -> shared rows 1, 3
    audit = signal_audit(s, y, budget=0.75)
    assert audit.budget == 3 and audit.count_ratio == 2.0 and audit.n_empty_classes == 0
    assert audit.overlap == pytest.approx(2 / 3) and audit.jaccard == pytest.approx(2 / 4)
    # smallest first: global rows 0, 1, 2 -> counts 2, 1; per class rows 0, 1, 2: all shared
    audit = signal_audit(s, y, budget=3, largest=False)
    np.testing.assert_array_equal(audit.global_counts, [2, 1])
    assert audit.overlap == 1.0 and audit.jaccard == 1.0
    # equal class sizes: no size dependence to fit
    assert math.isnan(audit.slope_size) and math.isnan(audit.pearson_size)


def test_ties_go_to_the_lower_row_and_string_labels():
    y = np.array(["lamp", "chair", "lamp", "chair"])
    audit = signal_audit(np.ones(4), y, budget=1)
    # the global top is row 0 (lamp); per class, balanced 1 / 0 to "chair" (the lower
    # class index), its first row, row 1: nothing shared
    np.testing.assert_array_equal(audit.classes, ["chair", "lamp"])
    np.testing.assert_array_equal(audit.global_counts, [0, 1])
    assert audit.overlap == 0.0 and audit.n_empty_classes == 1
    assert dataclasses.asdict(audit)["budget"] == 1


def test_embeddings_audit_fl_rbf_first_gains_by_hand():
    # points 0, 1, 3 on a line, sigma 1: K = exp(-d^2 / 2)
    X = np.array([[0.0], [1.0], [3.0]])
    a, b, c = math.exp(-0.5), math.exp(-4.5), math.exp(-2.0)  # d = 1, 3, 2
    gains = np.array([1 + a + b, 1 + a + c, 1 + b + c])
    y = np.array([0, 0, 1])
    audit = signal_audit(X, y, budget=1, sigma=1.0, normalize=False)
    np.testing.assert_allclose(audit.values, gains)
    np.testing.assert_allclose(audit.class_means, [(gains[0] + gains[1]) / 2, gains[2]])
    # the same numbers as the 1-D audit of those gains
    scalar = signal_audit(gains, y, budget=1)
    assert audit.overlap == scalar.overlap and audit.count_ratio == scalar.count_ratio
    np.testing.assert_array_equal(audit.global_counts, [1, 0])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_embedding_signal_is_fl_rbf_first_gain(dtype):
    X = np.random.default_rng(0).normal(size=(60, 4)).astype(dtype)
    y = np.repeat([0, 1, 2], 20)
    audit = signal_audit(X, y, budget=5, sigma=0.5)
    fl = FacilityLocationRBF(budget=1, sigma=0.5).fit(X)
    assert int(np.argmax(audit.values)) == fl.sample_indices_[0]
    assert audit.values.max() == pytest.approx(fl.gains_[0], rel=1e-5)
    # "median" sigma is seeded: the same audit twice
    np.testing.assert_array_equal(signal_audit(X, y, 5).values, signal_audit(X, y, 5).values)


def test_errors():
    with pytest.raises(ValueError, match=r"signal has 6 rows but y has 7 labels"):
        signal_audit(S7[:6], Y7, 3)
    with pytest.raises(ValueError, match=r"signal must be 1-D scores .* got 3 dimensions"):
        signal_audit(np.zeros((7, 2, 2)), Y7, 3)
    with pytest.raises(ValueError, match=r"signal holds 1 NaN or inf values \(rows \[2\]\)"):
        signal_audit(np.where(np.arange(7) == 2, np.nan, 1.0), Y7, 3)
    with pytest.raises(ValueError, match=r"signal is empty"):
        signal_audit(np.zeros(0), np.zeros(0), 1)
    with pytest.raises(ValueError, match=r"y must be 1-D"):
        signal_audit(S7, Y7.reshape(7, 1), 3)
    with pytest.raises(ValueError, match=r"budget=8 selects 8 samples but X has only 7 rows"):
        signal_audit(S7, Y7, 8)
    with pytest.raises(ValueError, match=r"sigma=-1.0 must be a finite float > 0 or 'median'"):
        signal_audit(np.zeros((7, 2)), Y7, 3, sigma=-1.0)
    with pytest.raises(ValueError, match=r"Input signal contains NaN"):
        signal_audit(np.full((7, 2), np.nan), Y7, 3)
