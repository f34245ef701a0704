"""The coreset3d command line end to end, on a tiny synthetic set (seconds, not minutes)."""

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest

from coreset3d import cli
from coreset3d.pipeline import RunConfig

# A tiny network on a tiny long tail: 3 classes of 16, 8 and 4 shapes, 32 points each.
TINY_TOML = """
n-classes = 3
n-per-class = 16
imbalance-ratio = 4
n-points = 32
width = 0.0625
embed-dim = 8
teacher-epochs = 2
epochs = 1
batch-size = 8
threads = 1
budget = 0.25

[run]
seed = 0
"""


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A config file, a private cache, and the first run (shared by the tests below)."""
    pytest.importorskip("torch")
    root = tmp_path_factory.mktemp("cli")
    config = root / "tiny.toml"
    config.write_text(TINY_TOML)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CORESET3D_CACHE", str(root / "cache"))
        status = cli.main(["run", "--config", str(config), "--budget", "5", "--quiet",
                           "--out", str(root / "first")])
    assert status == 0
    results = json.loads((root / "first" / "results.json").read_text())
    return {"root": root, "config": config, "cache": root / "cache", "first": results}


@pytest.fixture
def cache_env(tiny, monkeypatch):
    monkeypatch.setenv("CORESET3D_CACHE", str(tiny["cache"]))
    return tiny


def test_run_writes_results_report_and_plots(tiny):
    res = tiny["first"]
    out = tiny["root"] / "first"
    # the flag (--budget 5) overrides the file (budget = 0.25); the file overrides the defaults
    assert res["config"]["budget"] == 5 and res["config"]["width"] == 0.0625
    assert res["config"]["selector"] == "sgs" and res["config"]["k"] == 0.4
    data = res["data"]
    assert data["class_sizes"] == [14, 7, 3]  # 16, 8, 4 minus the validation split
    assert data["n_validation"] == 4 and data["test_class_sizes"] == [16, 8, 4]
    sel = res["selection"]
    assert sel["n_selected"] == 5 and sum(sel["kept"]) == 5
    assert min(sel["kept"]) >= 1  # SGS's floor: floor(0.4 * 5 / 3) = 0, but FL covers all three
    for model in (res["student"], res["reference"], res["teacher"]["after"]):
        assert 0 <= model["oa"] <= 1 and 0 <= model["macc"] <= 1
        assert len(model["per_class"]) == 3
    assert res["reference"]["selection"]["selector"] == "random"
    assert res["reference"]["selection"]["n_selected"] == 5
    assert not any(res["cache_hits"].values())
    assert set(res["timings"]) >= {"data", "teacher", "select", "student", "reference", "total"}
    assert res["versions"]["coreset3d"] and res["versions"]["torch"]
    report = (out / "report.md").read_text()
    assert "## Test accuracy (%)" in report and "student on a random subset" in report
    for name in res["plots"]:
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    assert Path(res["student"]["weights_path"]).is_file()


def test_second_run_with_another_selector_reuses_the_teacher(cache_env, capsys):
    import torch

    threads = torch.get_num_threads()
    out = cache_env["root"] / "kcenter"
    status = cli.main(["run", "--config", str(cache_env["config"]), "--budget", "5",
                       "--selector", "kcenter", "--out", str(out)])
    assert status == 0
    assert torch.get_num_threads() == threads  # the run's --threads 1 is undone afterwards
    res = json.loads((out / "results.json").read_text())
    assert res["threads"] == 1
    hits = res["cache_hits"]
    assert hits["teacher"] and hits["calibrated"] and hits["outputs"]
    assert hits["reference_selection"] and hits["reference"]  # same random subset as before
    assert not hits["selection"] and not hits["student"]
    assert res["teacher"]["after"] == cache_env["first"]["teacher"]["after"]
    assert res["reference"]["oa"] == cache_env["first"]["reference"]["oa"]
    printed = capsys.readouterr().out
    assert "[teacher] pointnet x0.0625, cached;" in printed
    assert "kcenter (pruned student)" in printed and "random subset (same size)" in printed


def test_uniform_target_prior_reweights_the_same_subset(cache_env, capsys):
    out = cache_env["root"] / "uniform"
    status = cli.main(["run", "--config", str(cache_env["config"]), "--budget", "5",
                       "--target-prior", "uniform", "--no-reference", "--quiet",
                       "--out", str(out)])
    assert status == 0
    res = json.loads((out / "results.json").read_text())
    assert res["config"]["target_prior"] == "uniform"
    assert res["selection"]["kept"] == cache_env["first"]["selection"]["kept"]
    # same subset, other weights: a new selection entry and a new student, the same teacher
    hits = res["cache_hits"]
    assert hits["teacher"] and not hits["selection"] and not hits["student"]


def test_json_output_is_the_results_document(cache_env, capsys):
    out = cache_env["root"] / "json"
    status = cli.main(["run", "--config", str(cache_env["config"]), "--budget", "5", "--json",
                       "--quiet", "--out", str(out)])
    assert status == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc == json.loads((out / "results.json").read_text())
    assert doc["cache_hits"]["student"]  # the same subset and settings as the first run
    assert doc["student"]["oa"] == cache_env["first"]["student"]["oa"]


def test_config_file_and_flag_precedence(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('selector = "kcenter"\nbudget = 12\nseed = 1\nepochs = 3\n'
                    '[run]\nseed = 7\n[sweep]\nseed = 9\n')
    parser = cli.build_parser()
    values = cli._merge(parser.parse_args(["run", "--config", str(path), "--budget", "0.5"]),
                        "run", RunConfig)
    assert values == {"selector": "kcenter", "budget": 0.5, "seed": 7, "epochs": 3}
    values = cli._merge(parser.parse_args(["sweep", "--config", str(path), "--ks", "0,1"]),
                        "sweep", RunConfig, extra=("ks",))
    assert values["seed"] == 9 and values["ks"] == [0.0, 1.0] and values["budget"] == 12
    assert RunConfig(**cli._merge(parser.parse_args(["run"]), "run", RunConfig)) == RunConfig()


def test_help_documents_every_option_with_its_default(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["run", "--help"])
    assert info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for f in fields(RunConfig):
        flag = "--" + f.name.replace("_", "-")
        assert flag in text, flag
    for snippet in ["--budget B subset size", "(default: 0.1)", "(default: sgs)",
                    "(default: 0.4)", "(default: 300 on synthetic, 200 otherwise)",
                    "--config FILE", "drop DRoP"]:
        assert snippet in text, snippet


def test_python_dash_m_runs_the_cli():
    proc = subprocess.run([sys.executable, "-m", "coreset3d", "select", "--help"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    assert "--label-column COL" in proc.stdout and "--x-key NAME" in proc.stdout


# --------------------------------------------------------------------------- errors


def _error(capsys, argv):
    status = cli.main(argv)
    err = capsys.readouterr().err
    return status, " ".join(err.split())


def test_missing_data_dir_is_a_clear_error(tmp_path, capsys):
    status, err = _error(capsys, ["run", "--dataset", "modelnet40", "--data-dir",
                                  str(tmp_path / "nope")])
    assert status == 2
    assert f"coreset3d run: error: --data-dir '{tmp_path / 'nope'}' does not exist" in err
    status, err = _error(capsys, ["run", "--dataset", "shapenet55"])
    assert status == 2 and "reads its files from --data-dir DIR" in err


def test_unknown_selector_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["run", "--selector", "best"])
    assert info.value.code == 2
    assert "invalid choice: 'best'" in capsys.readouterr().err
    path = tmp_path / "c.toml"
    path.write_text('selector = "best"\n')
    status, err = _error(capsys, ["run", "--config", str(path)])
    assert status == 2 and "unknown selector 'best'; choose one of sgs, sgs-kcenter" in err


def test_budget_larger_than_the_training_set(cache_env, capsys):
    status, err = _error(capsys, ["run", "--config", str(cache_env["config"]),
                                  "--budget", "500", "--out", str(cache_env["root"] / "big")])
    assert status == 2
    assert ("--budget 500 asks for more shapes than the training set has: 24 (28 training "
            "shapes minus 4 held out for validation") in err
    assert not (cache_env["root"] / "big").exists()


def test_bad_config_files(tmp_path, capsys):
    unknown = tmp_path / "u.toml"
    unknown.write_text("epoch = 3\n")
    status, err = _error(capsys, ["run", "--config", str(unknown)])
    assert status == 2 and "unknown setting 'epoch'" in err
    broken = tmp_path / "b.toml"
    broken.write_text("budget = = 3\n")
    status, err = _error(capsys, ["run", "--config", str(broken)])
    assert status == 2 and "is not valid TOML" in err
    status, err = _error(capsys, ["run", "--config", str(tmp_path / "none.toml")])
    assert status == 2 and "none.toml' does not exist" in err
    yaml_file = tmp_path / "c.yaml"
    yaml_file.write_text("budget: 0.2\n")
    try:
        import yaml  # noqa: F401
    except ImportError:
        status, err = _error(capsys, ["run", "--config", str(yaml_file)])
        assert status == 2 and "needs PyYAML (pip install pyyaml)" in err
    else:
        values = cli._merge(cli.build_parser().parse_args(["run", "--config", str(yaml_file)]),
                            "run", RunConfig)
        assert values == {"budget": 0.2}


def test_corrupt_embeddings_file_exits_2(tmp_path, capsys):
    path = tmp_path / "emb.npz"
    path.write_bytes(b"PK\x03\x04 this is no zip archive")
    status, err = _error(capsys, ["select", str(path), "--out", str(tmp_path / "o")])
    assert status == 2 and "could not read embeddings from" in err and "corrupt" in err
    status, err = _error(capsys, ["select", str(tmp_path / "none.npy")])
    assert status == 2 and "none.npy' does not exist" in err


# --------------------------------------------------------------------------- select


def test_select_on_user_embeddings(tmp_path, capsys):
    rng = np.random.RandomState(0)
    X = np.vstack([rng.randn(60, 5), rng.randn(12, 5) + 4]).astype(np.float32)
    y = np.array(["chair"] * 60 + ["lamp"] * 12)
    np.savez(tmp_path / "emb.npz", X=X, y=y)
    out = tmp_path / "sel"
    assert cli.main(["select", str(tmp_path / "emb.npz"), "--budget", "12", "--out",
                     str(out)]) == 0
    printed = capsys.readouterr().out
    assert "[select] sgs: 12 of 72 rows" in printed
    table = printed[printed.index("class "):].splitlines()
    assert table[0].split() == ["class", "size", "kept", "share", "weight"]
    assert table[-1].split()[:3] == ["total", "72", "12"]
    with np.load(out / "selection.npz") as data:
        assert data["indices"].shape == (12,) and data["kept"].sum() == 12
        assert data["classes"].tolist() == ["chair", "lamp"]
    assert (out / "class_counts.csv").read_text().startswith("class,size,kept,share,weight\n")

    np.save(tmp_path / "scores.npy", rng.rand(72))
    assert cli.main(["select", str(tmp_path / "emb.npz"), "--selector", "el2n", "--scores",
                     str(tmp_path / "scores.npy"), "--budget", "0.25", "--json",
                     "--out", str(out)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["n_selected"] == 18
    assert [c["class"] for c in doc["classes"]] == ["chair", "lamp"]
    assert sum(c["kept"] for c in doc["classes"]) == 18

    assert cli.main(["select", str(tmp_path / "emb.npz"), "--budget", "12", "--target-prior",
                     "uniform", "--json", "--out", str(out)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["config"]["target_prior"] == "uniform"
    # toward the uniform prior both classes carry the same total weight
    assert [round(c["weight"] * c["kept"], 6) for c in doc["classes"]] == [6.0, 6.0]


# --------------------------------------------------------------------------- sweep and report


def test_sweep_writes_each_k_and_skips_finished_ones(cache_env, capsys):
    out = cache_env["root"] / "sweep"
    base = ["sweep", "--config", str(cache_env["config"]), "--budget", "5", "--out", str(out)]
    assert cli.main([*base, "--ks", "0,1"]) == 0
    doc = json.loads((out / "sweep.json").read_text())
    assert [p["k"] for p in doc["points"]] == [0.0, 1.0]
    assert doc["reference"]["selection"]["selector"] == "random"
    capsys.readouterr()
    assert cli.main([*base, "--ks", "0,0.4,1"]) == 0
    printed = capsys.readouterr().out
    assert "[k=0] already in sweep.json, skipped" in printed
    assert "[k=1] already in sweep.json, skipped" in printed
    doc = json.loads((out / "sweep.json").read_text())
    assert [p["k"] for p in doc["points"]] == [0.0, 0.4, 1.0]
    # k=0.4 at budget 5 is the first run's selection and student, read from the cache
    k04 = doc["points"][1]
    assert k04["selection_cached"] and k04["student_cached"]
    assert k04["oa"] == cache_env["first"]["student"]["oa"]
    assert (out / "tradeoff.png").read_bytes()[:4] == b"\x89PNG"
    status, err = _error(capsys, [*base, "--budget", "6", "--ks", "0"])
    assert status == 2 and "holds a sweep with other settings (budget differ)" in err
    status, err = _error(capsys, [*base, "--selector", "kcenter"])
    assert status == 2 and "sweep steers SGS's k, but --selector is 'kcenter'" in err


def test_report_compares_runs(cache_env, capsys):
    first = cache_env["root"] / "first"
    out = cache_env["root"] / "report"
    assert cli.main(["report", str(first), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "first: sgs k=0.4" in printed and "first: random" in printed
    assert "| first | sgs k=0.4 | synthetic | 5 |" in (out / "comparison.md").read_text()
    status, err = _error(capsys, ["report", str(cache_env["root"] / "nothing")])
    assert status == 2 and "holds no results.json or sweep.json" in err


# --------------------------------------------------------------------------- resume


def _wait_for(pattern, root, proc, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = list(root.glob(pattern))
        if found:
            return found[0]
        if proc.poll() is not None:
            break
        time.sleep(0.02)
    return None


@pytest.mark.slow
def test_killed_run_resumes_and_reuses_what_was_done(tmp_path):
    """Kill a run during student training; the rerun reuses the teacher and resumes the student."""
    pytest.importorskip("torch")
    config = tmp_path / "c.toml"
    config.write_text(TINY_TOML.replace("epochs = 1\n", "epochs = 400\n"))
    env = {**os.environ, "CORESET3D_CACHE": str(tmp_path / "cache")}
    argv = [sys.executable, "-m", "coreset3d", "run", "--config", str(config), "--budget", "6",
            "--no-reference", "--quiet", "--out", str(tmp_path / "out")]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        ckpt = _wait_for("student-checkpoint/*/checkpoint.pt", tmp_path / "cache", proc)
        assert ckpt is not None, proc.stderr.read().decode() if proc.poll() is not None else ""
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not (tmp_path / "out" / "results.json").exists()
    assert ckpt.exists()

    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    assert res["cache_hits"]["teacher"] and res["cache_hits"]["selection"]
    assert 0 < res["student"]["resumed_from"] < 400
    assert res["student"]["epochs"] == 400
    assert not ckpt.exists()  # the finished student replaces its checkpoint


# --------------------------------------------------------------------------- docs/cli.md

CLI_DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def test_cli_doc_help_blocks_match_the_help(monkeypatch, capsys):
    """docs/cli.md shows each command's --help as printed at 100 columns; keep them in sync."""
    monkeypatch.setenv("COLUMNS", "100")
    blocks = dict(re_findall(r"```text\n\$ coreset3d (\w+) --help\n(.*?)```", CLI_DOC))
    assert sorted(blocks) == ["report", "run", "select", "sweep"]
    for command, shown in blocks.items():
        with pytest.raises(SystemExit):
            cli.main([command, "--help"])
        assert capsys.readouterr().out == shown, f"regenerate the {command} --help block"


def test_cli_doc_config_example_parses(tmp_path):
    (toml,) = re_findall(r"```toml\n(.*?)```", CLI_DOC)
    path = tmp_path / "tiny.toml"
    path.write_text(toml)
    parser = cli.build_parser()
    run_values = cli._merge(parser.parse_args(["run", "--config", str(path), "--budget", "5"]),
                            "run", RunConfig)
    assert run_values["budget"] == 5 and run_values["n_classes"] == 3 and "ks" not in run_values
    RunConfig(**run_values).resolved()
    sweep_values = cli._merge(parser.parse_args(["sweep", "--config", str(path)]), "sweep",
                              RunConfig, extra=("ks",))
    assert sweep_values["ks"] == [0, 0.5, 1]


def re_findall(pattern, path):
    import re

    return re.findall(pattern, path.read_text(), re.S)
