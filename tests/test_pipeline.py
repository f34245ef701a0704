"""coreset3d.pipeline without a network (config, split, selectors by name, file I/O, plots),
and the Python examples of docs/user_guide.md."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from coreset3d import FacilityLocationRBF, SeededGlobalSelector
from coreset3d.pipeline import (
    SELECTORS,
    RunConfig,
    compare_runs,
    load_embeddings,
    make_selector,
    select_embeddings,
    selection_table,
    validation_split,
    write_selection,
)

# --------------------------------------------------------------------------- config


def test_runconfig_defaults_resolve_per_dataset(tmp_path):
    cfg = RunConfig().resolved()
    assert (cfg.dataset, cfg.selector, cfg.k, cfg.budget) == ("synthetic", "sgs", 0.4, 0.1)
    assert (cfg.teacher_epochs, cfg.epochs, cfg.imbalance_ratio) == (40, 300, 10.0)
    assert cfg.out.endswith("synthetic-sgs-b0.1-k0.4-s0")
    real = RunConfig(dataset="modelnet40", data_dir=str(tmp_path)).resolved()
    assert (real.teacher_epochs, real.epochs, real.imbalance_ratio) == (80, 200, None)
    assert RunConfig(selector="kcenter", budget=80).resolved().out.endswith(
        "synthetic-kcenter-b80-s0")
    # runs that differ only in the weights' prior do not share a folder
    assert RunConfig(budget=80, target_prior="uniform").resolved().out.endswith(
        "synthetic-sgs-b80-k0.4-uniform-s0")


def test_runconfig_from_mapping_accepts_dashes_and_rejects_unknown_keys():
    cfg = RunConfig.from_mapping({"data-dir": "/x", "teacher_epochs": 3, "budget": 12})
    assert (cfg.data_dir, cfg.teacher_epochs, cfg.budget) == ("/x", 3, 12)
    with pytest.raises(ValueError, match="unknown setting 'epoch'.*known settings are.*epochs"):
        RunConfig.from_mapping({"epoch": 3})


@pytest.mark.parametrize(
    "changes, exc, match",
    [
        ({"selector": "fastest"}, ValueError, "unknown selector 'fastest'; choose one of sgs"),
        ({"k": 1.5}, ValueError, r"--k must be a number in \[0, 1\]; got 1.5"),
        ({"budget": 0}, ValueError, "--budget must be an int count >= 1"),
        ({"budget": 1.5}, ValueError, r"--budget must be a fraction in \(0, 1\]"),
        ({"budget": "ten"}, TypeError, "--budget must be an int count"),
        ({"val_fraction": 1.0}, ValueError, "--val-fraction must be a number in"),
        ({"n_classes": 20}, ValueError, r"--n-classes must be an int in \[2, 13\]"),
        ({"epochs": 0}, ValueError, "--epochs must be an int >= 1"),
        ({"mixed_precision": "yes"}, TypeError, "--mixed-precision must be true or false"),
        ({"dataset": "modelnet10"}, ValueError, "--dataset must be one of synthetic"),
        ({"dataset": "modelnet40"}, ValueError, "reads its files from --data-dir DIR"),
        ({"dataset": "scanobjectnn", "data_dir": "/no/such/dir"}, FileNotFoundError,
         "--data-dir '/no/such/dir' does not exist"),
        ({"selector": "drop", "val_fraction": 0.0}, ValueError,
         "--selector drop needs the teacher's per-class recall"),
        ({"target_prior": "balanced"}, ValueError,
         "--target-prior must be one of empirical, uniform; got 'balanced'"),
    ],
)
def test_runconfig_errors_name_the_flag(changes, exc, match):
    with pytest.raises(exc, match=match):
        RunConfig(**changes).resolved()


# --------------------------------------------------------------------------- split


def test_validation_split_keeps_a_training_shape_per_class():
    labels = np.array([0] * 20 + [1] * 5 + [2] * 2 + [3])
    train, val = validation_split(labels, 0.1, seed=0)
    assert np.intersect1d(train, val).size == 0
    assert np.union1d(train, val).tolist() == list(range(labels.size))
    # round(0.1 * n_c) held out, at least one when n_c >= 2, never a class's last shape
    assert np.bincount(labels[val], minlength=4).tolist() == [2, 1, 1, 0]
    assert np.bincount(labels[train], minlength=4).tolist() == [18, 4, 1, 1]
    again = validation_split(labels, 0.1, seed=0)
    assert np.array_equal(again[1], val)
    assert not np.array_equal(validation_split(labels, 0.1, seed=1)[1], val)


def test_validation_split_zero_fraction_keeps_everything():
    train, val = validation_split([0, 0, 1, 1], 0.0)
    assert train.tolist() == [0, 1, 2, 3] and val.size == 0


# --------------------------------------------------------------------------- selectors


@pytest.mark.filterwarnings("ignore::coreset3d.base.EmptyClassWarning")
@pytest.mark.parametrize("name", sorted(SELECTORS))
def test_every_named_selector_fits_with_what_its_spec_asks_for(name):
    rng = np.random.RandomState(0)
    sizes = [30, 12, 6]
    X = np.vstack([rng.randn(n, 4) + 4 * c for c, n in enumerate(sizes)]).astype(np.float32)
    y = np.repeat([0, 1, 2], sizes)
    selector, spec = make_selector(name, 9, k=0.6, seed=0)
    params = {}
    if spec.score:
        params["scores"] = rng.rand(len(y))
    if spec.recall:
        params["recall"] = np.array([0.9, 0.7, 0.5])
    selector.fit(X, y, **params)
    assert selector.n_selected_ == 9
    assert np.unique(selector.sample_indices_).size == 9
    if spec.uses_k:
        assert selector.k == 0.6


def test_default_selector_is_sgs_on_fl_rbf():
    selector, spec = make_selector("sgs", 0.1)
    assert isinstance(selector, SeededGlobalSelector)
    assert isinstance(selector.base, FacilityLocationRBF)
    assert selector.k == 0.4 and spec.uses_k


# --------------------------------------------------------------------------- embeddings files


@pytest.fixture
def embeddings():
    rng = np.random.RandomState(0)
    X = np.vstack([rng.randn(40, 6), rng.randn(8, 6) + 5]).astype(np.float32)
    y = np.array(["chair"] * 40 + ["lamp"] * 8)
    return X, y


def test_load_npy_with_labels_file(tmp_path, embeddings):
    X, y = embeddings
    np.save(tmp_path / "X.npy", X)
    (tmp_path / "y.txt").write_text("\n".join(y) + "\n")
    X2, y2 = load_embeddings(tmp_path / "X.npy", labels=tmp_path / "y.txt")
    assert X2.dtype == np.float32 and np.array_equal(X2, X)
    assert y2.tolist() == y.tolist()


def test_load_npz_default_and_custom_keys(tmp_path, embeddings):
    X, y = embeddings
    np.savez(tmp_path / "a.npz", embeddings=X, labels=y)
    X2, y2 = load_embeddings(tmp_path / "a.npz")
    assert np.array_equal(X2, X) and y2.tolist() == y.tolist()
    np.savez(tmp_path / "b.npz", feats=X.astype(np.float64), cls=np.arange(48) % 3)
    X3, y3 = load_embeddings(tmp_path / "b.npz", x_key="feats", y_key="cls")
    assert X3.dtype == np.float64 and y3.tolist() == (np.arange(48) % 3).tolist()
    with pytest.raises(ValueError, match="has no embeddings array named 'nope'"):
        load_embeddings(tmp_path / "b.npz", x_key="nope")
    with pytest.raises(ValueError, match="has no embeddings array; it holds"):
        load_embeddings(tmp_path / "b.npz")


def test_load_csv_with_header_and_label_column(tmp_path, embeddings):
    X, y = embeddings
    lines = ["label," + ",".join(f"f{i}" for i in range(6))]
    lines += [f"{lab}," + ",".join(f"{v:.6f}" for v in row) for lab, row in zip(y, X, strict=True)]
    (tmp_path / "e.csv").write_text("\n".join(lines) + "\n")
    X2, y2 = load_embeddings(tmp_path / "e.csv", label_column="label")
    assert X2.shape == (48, 6) and np.allclose(X2, X, atol=1e-5)
    assert y2.tolist() == y.tolist()
    X3, y3 = load_embeddings(tmp_path / "e.csv", label_column=0)
    assert np.allclose(X3, X2) and y3.tolist() == y.tolist()
    with pytest.raises(ValueError, match="--label-column 'klass' is not a column"):
        load_embeddings(tmp_path / "e.csv", label_column="klass")


def test_load_csv_without_header_takes_last_column(tmp_path):
    (tmp_path / "e.csv").write_text("0.5,1.5,3\n2.5,0.5,1\n")
    X, y = load_embeddings(tmp_path / "e.csv")
    assert X.tolist() == [[0.5, 1.5], [2.5, 0.5]] and y.tolist() == [3, 1]


def test_load_h5_named_datasets(tmp_path, embeddings):
    h5py = pytest.importorskip("h5py")
    X, y = embeddings
    with h5py.File(tmp_path / "e.h5", "w") as fh:
        fh["emb"] = X
        fh["y"] = np.arange(48) % 2
        fh["unrelated"] = np.zeros((3, 3))
    X2, y2 = load_embeddings(tmp_path / "e.h5", x_key="emb")
    assert X2.dtype == np.float32 and np.array_equal(X2, X)
    assert y2.tolist() == (np.arange(48) % 2).tolist()
    with pytest.raises(ValueError, match=r"no embeddings dataset; it holds \['emb'"):
        load_embeddings(tmp_path / "e.h5")


@pytest.mark.parametrize("suffix", [".npy", ".npz", ".h5"])
def test_corrupt_embeddings_file_is_a_clear_error(tmp_path, suffix):
    if suffix == ".h5":
        pytest.importorskip("h5py")
    path = tmp_path / f"broken{suffix}"
    path.write_bytes(b"\x93NUMPY garbage that is not an array" * 3)
    with pytest.raises(ValueError, match=f"could not read embeddings from .*broken{suffix}"):
        load_embeddings(path)


def test_bad_embeddings_content_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="embeddings file .*missing.npy' does not exist"):
        load_embeddings(tmp_path / "missing.npy")
    np.save(tmp_path / "one_d.npy", np.arange(5.0))
    with pytest.raises(ValueError, match=r"must be a 2-D array .* got shape \(5,\)"):
        load_embeddings(tmp_path / "one_d.npy")
    np.save(tmp_path / "nan.npy", np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match="NaN or infinite"):
        load_embeddings(tmp_path / "nan.npy")
    np.save(tmp_path / "X.npy", np.zeros((4, 2)))
    np.save(tmp_path / "y.npy", np.zeros(3, dtype=int))
    with pytest.raises(ValueError, match="3 labels for 4 rows"):
        load_embeddings(tmp_path / "X.npy", labels=tmp_path / "y.npy")
    (tmp_path / "X.txt").write_text("1 2\n")
    with pytest.raises(ValueError, match="unknown extension '.txt'"):
        load_embeddings(tmp_path / "X.txt")


# --------------------------------------------------------------------------- selection output


def test_select_embeddings_table_and_files(tmp_path, embeddings):
    X, y = embeddings
    res = select_embeddings(X, y, selector="sgs", budget=10, k=0.4, seed=0)
    assert res["classes"].tolist() == ["chair", "lamp"]
    assert res["sizes"].tolist() == [40, 8]
    assert res["kept"].sum() == 10 and res["kept"][1] >= 2  # the SGS floor: 0.4 * 10 / 2
    np.testing.assert_allclose(res["share"], res["kept"] / res["sizes"])
    # with the empirical prior, weights_ give each class its full-set share back
    for c in range(2):
        w = res["class_weight"][c]
        assert np.isclose(w * res["kept"][c] / 10, res["sizes"][c] / 48)
    table = selection_table(res)
    assert table.splitlines()[0].split() == ["class", "size", "kept", "share", "weight"]
    assert "lamp" in table and table.splitlines()[-1].split()[:3] == ["total", "48", "10"]

    paths = write_selection(res, tmp_path / "out")
    assert [p.name for p in paths] == ["selection.npz", "selection.csv", "class_counts.csv"]
    with np.load(tmp_path / "out" / "selection.npz") as data:
        assert data["indices"].tolist() == res["indices"].tolist()
        np.testing.assert_allclose(data["weights"], res["weights"])
        assert data["kept"].tolist() == res["kept"].tolist()
    rows = (tmp_path / "out" / "selection.csv").read_text().splitlines()
    assert rows[0] == "rank,index,label,weight" and len(rows) == 11
    assert rows[1].split(",")[1] == str(res["indices"][0])
    counts = (tmp_path / "out" / "class_counts.csv").read_text().splitlines()
    assert counts[0] == "class,size,kept,share,weight"
    assert counts[2].split(",")[:3] == ["lamp", "8", str(res["kept"][1])]


def test_select_embeddings_uniform_prior_reweights_the_same_subset(embeddings):
    X, y = embeddings
    emp = select_embeddings(X, y, selector="sgs", budget=10, k=0.4, seed=0)
    uni = select_embeddings(X, y, selector="sgs", budget=10, k=0.4, seed=0,
                            target_prior="uniform")
    assert uni["indices"].tolist() == emp["indices"].tolist()
    assert uni["selector"].target_prior == "uniform"
    # each class carries half the total weight, whatever it kept
    mass = uni["class_weight"] * uni["kept"]
    np.testing.assert_allclose(mass, [5.0, 5.0])
    assert not np.allclose(uni["class_weight"], emp["class_weight"])
    with pytest.raises(ValueError, match="--target-prior must be one of empirical, uniform"):
        select_embeddings(X, y, selector="fl-rbf", budget=10, target_prior="test")


def test_select_embeddings_passes_max_memory_to_the_kernel(embeddings):
    X, y = embeddings
    res = select_embeddings(X, y, selector="sgs", budget=8, max_memory="1MiB")
    assert res["selector"].base.max_memory == "1MiB"
    assert res["selector"].base_.max_memory == "1MiB"  # the fitted phase-2 selector too
    res = select_embeddings(X, y, selector="fl-rbf", budget=8, max_memory=2**20)
    assert res["selector"].max_memory == 2**20
    assert len(select_embeddings(X, y, selector="random", budget=8, max_memory="1MiB")[
        "indices"]) == 8


def test_select_embeddings_without_labels_and_needs(embeddings):
    X, y = embeddings
    res = select_embeddings(X, None, selector="kcenter", budget=5)
    assert "classes" not in res and len(res["indices"]) == 5
    assert "no per-class table" in selection_table(res)
    with pytest.raises(ValueError, match="--selector sgs needs class labels"):
        select_embeddings(X, None, selector="sgs", budget=5)
    with pytest.raises(ValueError, match=r"ranks samples by a score \(el2n\); pass --scores"):
        select_embeddings(X, y, selector="el2n", budget=5)
    with pytest.raises(ValueError, match="--selector drop needs the per-class validation recall"):
        select_embeddings(X, y, selector="drop", budget=5)
    with pytest.raises(ValueError, match="--budget 100 is more than the 48 rows"):
        select_embeddings(X, y, selector="random", budget=100)
    res = select_embeddings(X, y, selector="drop", budget=6, recall={"chair": 0.9, "lamp": 0.4})
    assert res["kept"].sum() == 6


# --------------------------------------------------------------------------- plots and reports


def _fake_results(tmp_path, name, oa, macc):
    d = tmp_path / name
    d.mkdir()
    acc = {"oa": oa, "macc": macc, "per_class": [oa, macc]}
    res = {"config": {"dataset": "synthetic"}, "data": {"n_train": 100},
           "teacher": {"after": {"oa": 0.9, "macc": 0.85}},
           "selection": {"selector": "sgs", "k": 0.4, "n_selected": 10},
           "student": acc,
           "reference": {**acc, "oa": oa - 0.05, "selection": {"n_selected": 10}}}
    (d / "results.json").write_text(json.dumps(res))
    return d


def test_compare_runs_table_and_plot(tmp_path):
    pytest.importorskip("matplotlib")
    dirs = [_fake_results(tmp_path, "a", 0.7, 0.6), _fake_results(tmp_path, "b", 0.72, 0.58)]
    rows = compare_runs(dirs, tmp_path / "cmp")
    labels = [(r["run"], r["label"]) for r in rows]
    assert labels == [("a", "sgs k=0.4"), ("a", "random"), ("a", "teacher (full data)"),
                      ("b", "sgs k=0.4"), ("b", "random"), ("b", "teacher (full data)")]
    assert rows[1]["oa"] == pytest.approx(0.65)
    text = (tmp_path / "cmp" / "comparison.md").read_text()
    assert "| a | sgs k=0.4 | synthetic | 10 | 70.0 | 60.0 |" in text
    assert (tmp_path / "cmp" / "comparison.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(FileNotFoundError, match="holds no results.json or sweep.json"):
        compare_runs([tmp_path / "cmp"])


def test_plots_write_pngs(tmp_path):
    pytest.importorskip("matplotlib")
    from coreset3d import plots

    sizes = np.array([120, 40, 12, 0])
    paths = [
        plots.plot_retention(sizes, {"sgs": [10, 8, 5, 0], "random": [14, 5, 1, 0]},
                             tmp_path / "r.png", class_names=["a", "b", "c", "d"]),
        plots.plot_per_class_accuracy(sizes, {"teacher": [0.9, 0.8, None, None],
                                              "student": [0.8, 0.6, 0.2, None]},
                                      tmp_path / "a.png"),
        plots.plot_tradeoff([("k=0", 0.8, 0.7), ("k=1", 0.78, 0.75)], tmp_path / "t.png",
                            references={"teacher": (0.9, 0.88)}),
    ]
    for path in paths:
        assert path.read_bytes()[:4] == b"\x89PNG" and path.stat().st_size > 5000


# --------------------------------------------------------------------------- docs


def test_user_guide_python_blocks_run(capsys):
    torch = pytest.importorskip("torch")
    guide = Path(__file__).resolve().parents[1] / "docs" / "user_guide.md"
    blocks = re.findall(r"```python\n(.*?)```", guide.read_text(), re.S)
    assert blocks, "docs/user_guide.md has no python block"
    namespace = {}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models run faster on one thread
    try:
        for block in blocks:
            exec(compile(block, str(guide), "exec"), namespace)
    finally:
        torch.set_num_threads(threads)
    printed = capsys.readouterr().out
    assert re.search(r"student OA 0\.\d+ mAcc 0\.\d+ on \d+ of \d+ shapes", printed)
    assert namespace["selector"].n_selected_ == len(namespace["idx"])
