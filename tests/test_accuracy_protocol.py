"""The ModelNet40 grid harness (benchmarks/accuracy): cells, selection, report."""

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ACCURACY = Path(__file__).resolve().parents[1] / "benchmarks" / "accuracy"


def _load(name):
    if str(ACCURACY) not in sys.path:
        sys.path.insert(0, str(ACCURACY))
    spec = importlib.util.spec_from_file_location(name, ACCURACY / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


protocol = _load("protocol")
report = _load("report")


def test_cells_are_unique_seed_major_and_shared_across_experiments():
    cells = protocol.cells()
    assert len(cells) == len(set(cells))
    assert [c.seed for c in cells] == sorted(c.seed for c in cells)
    # FL-RBF KD+RKD at 800, seed 0 is in main, ablation and steering (k = 0): once
    keys = [c.key for c in cells]
    assert keys.count("fl-rbf|800|0|kd+rkd") == 1
    main = protocol.cells(["main"], budgets=[400], seeds=[0])
    assert {c.method for c in main} == set(protocol.MAIN_METHODS)
    with pytest.raises(ValueError, match="unknown experiment 'mian'"):
        protocol.cells(["mian"])
    with pytest.raises(ValueError, match="unknown method"):
        protocol.cells(methods=["fl_rbf"])


@pytest.fixture(scope="module")
def teacher():
    rng = np.random.RandomState(0)
    sizes = [120, 60, 30, 15, 8]
    y = np.repeat(np.arange(len(sizes)), sizes)
    X = (rng.randn(y.shape[0], 8) + 2.0 * y[:, None]).astype(np.float32)
    scores = {name: rng.rand(y.shape[0]) for name in ("loss", "entropy", "el2n", "gradnorm")}
    return {"embeddings": X, "labels": y, "scores": scores,
            "recall": np.array([0.95, 0.9, 0.8, 0.6, 0.5])}


@pytest.mark.parametrize("method", sorted(protocol.METHODS))
def test_every_method_selects_exactly_the_budget(teacher, method):
    indices, weights, seconds, counts = protocol.select(method, 40, 0, teacher)
    assert indices.shape == (40,) and np.unique(indices).shape == (40,)
    assert weights.shape == (40,) and np.isclose(weights.mean(), 1.0)
    assert counts.sum() == 40 and seconds >= 0


def test_uniform_prior_cells_have_their_own_keys_and_run_once():
    cells = protocol.cells()
    keys = [c.key for c in cells]
    # steering-uniform (k = 0) and prior both hold FL-RBF at 800 with uniform weights
    assert keys.count("fl-rbf|800|0|kd+rkd|uniform") == 1
    assert keys.count("fl-rbf|800|0|kd+rkd") == 1
    steer = protocol.cells(["steering-uniform"], seeds=[0])
    assert {c.prior for c in steer} == {"uniform"}
    assert len(steer) == len(protocol.STEERING_KS)
    prior = protocol.cells(["prior"], budgets=[400], seeds=[1])
    assert sorted(c.key for c in prior) == ["fl-rbf|400|1|kd+rkd|uniform",
                                            "sgs-k0.4|400|1|kd+rkd|uniform"]
    main = protocol.cells(["main-uniform", "prior"], budgets=[400], seeds=[0])
    assert len(main) == len(protocol.MAIN_METHODS)  # prior's two cells are among them
    assert {c.prior for c in main} == {"uniform"}


def test_report_gives_the_uniform_main_table_and_its_claim():
    rows = []
    for seed in range(3):
        for method, oa, macc in (("fl-rbf", 0.80, 0.70), ("loss", 0.60, 0.50)):
            rows.append(_row(method, 400, seed, "kd+rkd", oa, macc))
            rows.append(dict(_row(method, 400, seed, "kd+rkd", oa - 0.01, macc + 0.05),
                             prior="uniform", key=f"{method}|400|{seed}|kd+rkd|uniform"))
    text = report.render(rows, None)
    uniform = text.split("### The same with the student's weights toward the uniform prior")[1]
    assert "| FL-RBF | 79.00 ± 0.00 | 75.00 ± 0.00 |" in uniform.split("###")[0]
    assert ("FL-RBF vs scalar scores at 400, weights toward the uniform prior: FL-RBF "
            "79.00/75.00") in text
    assert "FL-RBF vs scalar scores at 400: FL-RBF 80.00/70.00" in text


@pytest.mark.parametrize("method", ["fl-rbf", "sgs-k0.4", "sgs-opt-k0.4", "loss"])
def test_uniform_prior_changes_the_weights_not_the_subset(teacher, method):
    emp, w_emp, _, counts = protocol.select(method, 40, 0, teacher)
    uni, w_uni, _, _ = protocol.select(method, 40, 0, teacher, "uniform")
    np.testing.assert_array_equal(emp, uni)
    y = teacher["labels"][uni]
    present = counts > 0
    # every class present carries the same total weight, whatever its count
    mass = np.bincount(y, weights=w_uni, minlength=counts.shape[0])[present]
    np.testing.assert_allclose(mass, mass[0])
    # toward the training prior the total weight follows the class sizes instead
    sizes = np.bincount(teacher["labels"])[present]
    mass = np.bincount(y, weights=w_emp, minlength=counts.shape[0])[present]
    np.testing.assert_allclose(mass / mass.sum(), sizes / sizes.sum())
    with pytest.raises(ValueError, match="unknown prior 'balanced'"):
        protocol.select(method, 40, 0, teacher, "balanced")


def test_optimal_quota_favours_hard_classes_and_sums_to_the_floor(teacher):
    quota = protocol.optimal_quota(0.5, 40, teacher)
    assert quota.sum() == 20
    assert quota[4] > quota[0]  # recall 0.5 vs 0.95, both classes large enough
    _, _, _, counts = protocol.select("sgs-opt-k0.4", 40, 0, teacher)
    assert np.all(counts >= protocol.optimal_quota(0.4, 40, teacher))


def _row(method, budget, seed, loss, oa, macc):
    return {"key": f"{method}|{budget}|{seed}|{loss}", "method": method, "budget": budget,
            "seed": seed, "loss": loss, "oa": oa, "macc": macc, "select_s": 0.1,
            "student": protocol.student_fields(protocol.STUDENT, loss)}


def test_report_checks_the_claims_from_the_numbers(tmp_path):
    rows = []
    for seed in range(3):
        rows += [_row("fl-rbf", 400, seed, "kd+rkd", 0.80, 0.70),
                 _row("sgs-k0.4", 400, seed, "kd+rkd", 0.798, 0.72),
                 _row("fl-rbf", 400, seed, "hard", 0.77 + 0.01 * seed, 0.69),
                 _row("sgs-k0.4", 400, seed, "hard", 0.787 + 0.01 * seed, 0.71),
                 _row("loss", 400, seed, "kd+rkd", 0.75, 0.71)]
    text = report.render(rows, None)
    assert "mAcc +2.00 ± 0.00, OA -0.20 ± 0.00 points" in text
    # hard-label OA 77, 78, 79 (sample variance 1) against a constant 80: +2 ± sqrt(1/3)
    assert "FL-RBF at 400: OA +2.00 ± 0.58, mAcc +1.00 ± 0.00: **holds**" in text
    assert "SGS (k = 0.4) vs FL-RBF at 400 shapes" in text and "**holds**" in text
    # +0.10 OA with a standard error of 0.58: holds on the means, and the report says how weakly
    assert ("SGS k=0.4 (FL-RBF) at 400: OA +0.10 ± 0.58, mAcc +1.00 ± 0.00: **holds** "
            "(on the means, by less than one standard error)") in text
    # FL-RBF's mAcc 70 < Loss's 71: the claim fails and the report says so
    assert "beats 0 of 1 on both: **does not hold**" in text
    assert "80.00 ± 0.00" in text and "Signal audit: not measured yet" in text
    doc = tmp_path / "bench.md"
    doc.write_text("# Benchmarks\n\nintro\n", encoding="utf-8")
    report.write_markdown(doc, "first")
    report.write_markdown(doc, "second")
    body = doc.read_text(encoding="utf-8")
    assert body.count(report.START) == 1 and "second" in body and "first" not in body
    assert body.startswith("# Benchmarks\n\nintro\n")


def test_verdict_flags_only_margins_within_one_standard_error():
    noisy = " (on the means, by less than one standard error)"
    assert report._verdict(True, [(2.0, 0.5), (0.3, 0.5)]) == "**holds**" + noisy
    assert report._verdict(True, [(2.0, 0.5), (0.6, 0.5)]) == "**holds**"
    # a failed claim is flagged only if every failed condition is within noise
    assert report._verdict(False, [(-0.3, 0.5), (0.1, 0.5)]) == "**does not hold**" + noisy
    assert report._verdict(False, [(-0.3, 0.5), (-2.0, 0.5)]) == "**does not hold**"
    # one seed: no standard error, no flag
    assert report._verdict(True, [(0.1, math.nan)]) == "**holds**"


def test_pareto_claim_needs_every_fixed_k_point_dominated():
    b = protocol.STEERING_BUDGET

    def rows(curve, optimal):
        out = []
        for k, (oa, macc) in zip(protocol.STEERING_KS, curve, strict=False):
            method = "fl-rbf" if k == 0 else f"sgs-k{k:g}"
            out += [_row(method, b, seed, "kd+rkd", oa, macc) for seed in range(3)]
        for k, (oa, macc) in zip(protocol.OPTIMAL_KS, optimal, strict=False):
            out += [_row(f"sgs-opt-k{k:g}", b, seed, "kd+rkd", oa, macc) for seed in range(3)]
        return report.Results(out)

    curve = [(0.80 - 0.01 * i, 0.70 - 0.01 * i) for i in range(len(protocol.STEERING_KS))]
    line = report._pareto_claim(rows(curve, [(0.81, 0.71), (0.5, 0.5)]), "empirical")
    n = len(curve)
    assert f"{n} of {n} dominated" in line and line.endswith("**holds**.")
    assert "dominated by a fixed k: optimal k = 0.6:" in line
    # k = 0 keeps the best OA: no longer dominated, the claim fails
    curve[0] = (0.90, 0.60)
    line = report._pareto_claim(rows(curve, [(0.81, 0.71), (0.5, 0.5)]), "empirical")
    assert f"{n - 1} of {n} dominated" in line and line.endswith("**does not hold**.")
    # without the whole curve, no verdict
    assert report._pareto_claim(rows(curve[:2], [(0.81, 0.71)]), "empirical") is None


def test_report_keeps_uniform_prior_rows_out_of_the_other_tables():
    rows = []
    for seed in range(3):
        for k in protocol.STEERING_KS:
            method = "fl-rbf" if k == 0 else f"sgs-k{k:g}"
            # training prior: k lowers both metrics; uniform prior: k trades OA for mAcc
            rows.append(_row(method, 800, seed, "kd+rkd", 0.80 - 0.02 * k, 0.70 - 0.02 * k))
            rows.append(dict(_row(method, 800, seed, "kd+rkd", 0.78 - 0.02 * k,
                                  0.72 + 0.03 * k), prior="uniform",
                             key=f"{method}|800|{seed}|kd+rkd|uniform"))
    text = report.render(rows, None)
    res = report.Results(rows)
    assert res.stat("fl-rbf", 800, "oa")[0] == pytest.approx(80.0)
    assert res.stat("fl-rbf", 800, "oa", prior="uniform")[0] == pytest.approx(78.0)
    steering = text.split("### Steering")[1]
    assert "| 0 | 80.00 ± 0.00 | 70.00 ± 0.00 | 78.00 ± 0.00 | 72.00 ± 0.00 |" in steering
    assert ("weights toward the training prior: k = 1 vs k = 0 mAcc -2.00 ± 0.00, OA -2.00 ± "
            "0.00; best OA at k = 0, best mAcc at k = 0 (claim: k trades OA for mAcc): "
            "**does not hold**") in text
    assert ("weights toward the uniform prior: k = 1 vs k = 0 mAcc +3.00 ± 0.00, OA -2.00 ± "
            "0.00; best OA at k = 0, best mAcc at k = 1 (claim: k trades OA for mAcc): "
            "**holds**") in text
    assert "| FL-RBF | 800 | 80.00 ± 0.00 | 70.00 ± 0.00 | 78.00 ± 0.00 | 72.00 ± 0.00 |" in text


def test_results_reader_skips_a_torn_last_line_and_counts_a_cell_once(tmp_path):
    path = tmp_path / "acc.jsonl"
    first = _row("fl-rbf", 400, 0, "kd+rkd", 0.8, 0.7)
    again = _row("fl-rbf", 400, 0, "kd+rkd", 0.6, 0.5)
    path.write_text(json.dumps(first) + "\n" + json.dumps(again) + "\n{\"key\": ",
                    encoding="utf-8")
    assert report.load(path) == [first]


def test_cell_order_does_not_depend_on_the_hash_seed():
    # shards split the list by position in separate processes: their orders must agree
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import protocol; "
            "print([c.key for c in protocol.cells()])")
    orders = {subprocess.run([sys.executable, "-c", code, str(ACCURACY)], capture_output=True,
                             text=True, check=True, env={**os.environ, "PYTHONHASHSEED": seed}
                             ).stdout for seed in ("1", "2", "3")}
    assert len(orders) == 1


def test_shards_split_the_pending_cells_and_keep_their_share_as_cells_finish():
    run_grid = _load("run_grid")
    cells = protocol.cells(budgets=(400,))
    done = {c.key for c in cells[::3]}
    shards = [run_grid.shard_cells(cells, done, i, 2) for i in range(2)]
    assert not set(shards[0]) & set(shards[1])
    assert set(shards[0]) | set(shards[1]) == {c for c in cells if c.key not in done}
    # shard 1 finishing cells (or starting later) leaves shard 0's list as it was
    later = done | {c.key for c in shards[1]}
    assert run_grid.shard_cells(cells, later, 0, 2) == shards[0]
    assert run_grid.shard_cells(cells, later, 1, 2) == []


def test_makeup_table_reports_empty_classes_and_distances_to_both_priors():
    rows = [dict(_row("loss", 400, s, "kd+rkd", 0.5, 0.4), class_counts=counts)
            for s, counts in enumerate([[4, 0, 0, 0], [2, 2, 0, 0]])]
    rows.append(dict(_row("loss", 400, 0, "hard", 0.5, 0.4), class_counts=[1, 1, 1, 1]))
    table = report.makeup_table(rows, [40, 40, 10, 10], [400])
    # shares (1, 0, 0, 0) and (.5, .5, 0, 0) against the prior (.4, .4, .1, .1) and uniform;
    # the hard-label row repeats a selection and is left out
    line = table.splitlines()[-1]
    assert line == "| Loss | 400 | 2.5 | 0–3 | 0.40 | 0.62 |"


@pytest.mark.parametrize("teacher_points", [None, 64])
@pytest.mark.parametrize("loss", ["hard", "kd+rkd"])
def test_student_and_teacher_resolutions_of_a_cell(loss, teacher_points):
    pytest.importorskip("torch")
    from coreset3d.torch import PointNet

    rng = np.random.default_rng(0)
    data = {"train_points": rng.normal(size=(8, 72, 3)).astype(np.float32),
            "train_labels": np.arange(8) % 2,
            "test_points": rng.normal(size=(4, 72, 3)).astype(np.float32),
            "test_labels": np.arange(4) % 2, "n_classes": 2}
    config = protocol.StudentConfig(width=0.0625, embed_dim=8, n_points=16, epochs=1,
                                    batch_size=4, warmup_epochs=0, mixed_precision=False,
                                    teacher_points=teacher_points)
    teacher = PointNet(2, width=0.0625, embed_dim=8)
    seen = []
    teacher.point_mlp.register_forward_pre_hook(lambda m, args: seen.append(args[0].shape[2]))
    out = protocol.train_student(protocol.Cell("fl-rbf", 8, 0, loss), np.arange(8), np.ones(8),
                                 data, teacher, config=config, device="cpu")
    assert 0.0 <= out["oa"] <= 1.0
    # soft labels on the student's 16 points, or on 64 of which the student sees the first 16
    expected = [] if loss == "hard" else [teacher_points or 16] * 2
    assert seen == expected


def test_time_selection_times_each_selection_once_and_the_report_prefers_it(tmp_path, teacher):
    run_grid = _load("run_grid")
    cells = protocol.cells(["main", "hard"], budgets=[20, 40], seeds=[0, 1],
                           methods=["random", "fl-rbf"])
    path = tmp_path / "select_time.json"
    out = run_grid.time_selection(cells, teacher, path)
    runs = json.loads(path.read_text(encoding="utf-8"))["runs"]
    # a hard-label cell repeats its KD+RKD cell's selection: timed once
    assert sorted((r["method"], r["budget"], r["seed"]) for r in runs) == sorted(
        (m, b, s) for m in ("random", "fl-rbf") for b in (20, 40) for s in (0, 1))
    assert all(r["seconds"] > 0 for r in runs)
    rows = [_row("fl-rbf", 20, 0, "kd+rkd", 0.8, 0.7)]
    text = report.render(rows, None, select_time=out)
    assert "One process alone on the machine" in text
    assert "beside other shards' training" in report.render(rows, None)
    section = text.split("### Selection time", 1)[1].split("###", 1)[0]
    fl = next(line for line in section.splitlines() if line.startswith("| FL-RBF |"))
    medians = [np.median([r["seconds"] for r in runs if r["method"] == "fl-rbf"
                          and r["budget"] == b]) for b in (20, 40)]
    assert fl == "| FL-RBF | " + " | ".join(f"{m:.2f}" for m in medians) + " |"


def test_rows_count_only_under_the_settings_they_ran_with(tmp_path):
    run_grid = _load("run_grid")
    earlier = protocol.StudentConfig(teacher_points=None)
    old = {k: v for k, v in protocol.student_fields(earlier).items() if k != "teacher_points"}
    rows = [dict(_row("fl-rbf", 400, 0, "kd+rkd", 0.7, 0.6), student=old),  # before the field
            dict(_row("fl-rbf", 400, 0, "hard", 0.7, 0.6), student=old),
            dict(_row("fl-rbf", 400, 1, "kd+rkd", 0.7, 0.6),
                 student=protocol.student_fields(protocol.STUDENT))]
    assert [protocol.row_matches(r) for r in rows] == [False, True, True]
    assert [protocol.row_matches(r, earlier) for r in rows] == [True, True, False]
    # a hard-label cell has no teacher: its settings carry no teacher resolution
    assert protocol.student_fields(protocol.STUDENT, "hard")["teacher_points"] is None
    assert protocol.student_fields(protocol.STUDENT, "kd")["teacher_points"] == 512
    path = tmp_path / "acc.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    assert run_grid.done_keys(path) == {"fl-rbf|400|0|hard", "fl-rbf|400|1|kd+rkd"}
    assert run_grid.done_keys(path, earlier) == {"fl-rbf|400|0|hard", "fl-rbf|400|0|kd+rkd"}
    assert [r["seed"] for r in report.load(path)] == [0, 1]
