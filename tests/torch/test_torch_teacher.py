import json
import logging

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import coreset3d.torch._teacher as teacher_mod  # noqa: E402
from coreset3d.cache import ArtifactCache  # noqa: E402
from coreset3d.torch import (  # noqa: E402
    TeacherConfig,
    extract_embeddings,
    fit_classifier,
    prepare_teacher,
)

CFG = TeacherConfig(width=0.0625, embed_dim=4, epochs=2, batch_size=8, warmup_epochs=1,
                    calib_epochs=2, calib_batch_size=16)
RUN = {"device": "cpu", "progress": False}


def _data(n=24, n_points=32, n_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % n_classes
    pts = rng.normal(size=(n, n_points, 3)).astype(np.float32)
    pts *= (1.0 + labels)[:, None, None].astype(np.float32)  # class = scale
    return pts, labels


@pytest.fixture
def counted(monkeypatch):
    """Count the calls of the training and calibration functions prepare_teacher uses."""
    calls = {"fit": 0, "calibrate": 0}

    def fit(*args, **kwargs):
        calls["fit"] += 1
        return fit_classifier(*args, **kwargs)

    real_calibrate = teacher_mod.calibrate_head

    def calibrate(*args, **kwargs):
        calls["calibrate"] += 1
        return real_calibrate(*args, **kwargs)

    monkeypatch.setattr(teacher_mod, "fit_classifier", fit)
    monkeypatch.setattr(teacher_mod, "calibrate_head", calibrate)
    return calls


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def _same_state(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_second_call_hits_the_cache(tmp_path, counted):
    pts, y = _data()
    test_pts, test_y = _data(n=12, seed=1)
    first = prepare_teacher(pts, y, test_pts, test_y, CFG, cache=tmp_path, **RUN)
    assert counted == {"fit": 1, "calibrate": 1}
    assert first.report["cache_hits"] == {"teacher": False, "calibrated": False,
                                          "outputs": False}
    second = prepare_teacher(pts, y, test_pts, test_y, CFG, cache=ArtifactCache(tmp_path), **RUN)
    assert counted == {"fit": 1, "calibrate": 1}  # nothing trained again
    assert second.report["cache_hits"] == {"teacher": True, "calibrated": True, "outputs": True}
    assert second.keys == first.keys
    assert _same_state(_state(first.teacher), _state(second.teacher))
    assert _same_state(_state(first.calibrated), _state(second.calibrated))
    np.testing.assert_array_equal(first.embeddings, second.embeddings)
    np.testing.assert_array_equal(first.history.margins, second.history.margins)
    for name in first.scores:
        np.testing.assert_array_equal(first.scores[name], second.scores[name])
    for part in ("before", "after"):
        assert first.report[part] == second.report[part]
    # the checkpoint folder of a finished run is removed; the artifacts remain
    assert not (tmp_path / "teacher-checkpoint" / first.keys["teacher"]).exists()
    assert (tmp_path / "teacher" / f"{first.keys['teacher']}.pt").exists()


def test_changed_config_or_data_gives_new_keys(tmp_path, counted):
    pts, y = _data()
    base = prepare_teacher(pts, y, config=CFG, cache=tmp_path, **RUN)
    recal = prepare_teacher(pts, y, config=CFG.replace(calib_epochs=3), cache=tmp_path, **RUN)
    views = prepare_teacher(pts, y, config=CFG.replace(calib_views=2), cache=tmp_path, **RUN)
    # a calibration setting reuses the trained network and re-calibrates
    assert recal.keys["teacher"] == views.keys["teacher"] == base.keys["teacher"]
    assert len({recal.keys["calibrated"], views.keys["calibrated"],
                base.keys["calibrated"]}) == 3
    assert counted == {"fit": 1, "calibrate": 3}
    retrained = prepare_teacher(pts, y, config=CFG.replace(lr=2e-3), cache=tmp_path, **RUN)
    assert retrained.keys["teacher"] != base.keys["teacher"]
    assert counted["fit"] == 2
    pts2 = pts.copy()
    pts2[0, 0, 0] += 1.0
    other = prepare_teacher(pts2, y, config=CFG, cache=tmp_path, **RUN)
    assert other.keys["teacher"] != base.keys["teacher"]
    assert counted["fit"] == 3


class _Killed(Exception):
    pass


def _kill_after_first(epoch, history):
    if epoch == 1:
        raise _Killed


def test_killed_run_resumes_to_the_same_teacher(tmp_path):
    pts, y = _data()
    cfg = CFG.replace(epochs=3)
    reference = prepare_teacher(pts, y, config=cfg, cache=tmp_path / "a", **RUN)
    with pytest.raises(_Killed):
        prepare_teacher(pts, y, config=cfg, cache=tmp_path / "b", callbacks=[_kill_after_first],
                        **RUN)
    key = reference.keys["teacher"]
    assert (tmp_path / "b" / "teacher-checkpoint" / key / "checkpoint.pt").exists()
    assert not (tmp_path / "b" / "teacher" / f"{key}.pt").exists()
    resumed = prepare_teacher(pts, y, config=cfg, cache=tmp_path / "b", **RUN)
    assert resumed.keys["teacher"] == key
    assert resumed.report["resumed_from"] == 1
    assert resumed.report["train_sessions"] == 2
    assert _same_state(_state(reference.teacher), _state(resumed.teacher))
    np.testing.assert_array_equal(reference.history.margins, resumed.history.margins)


def test_time_budget_stops_early_and_caches_nothing(tmp_path, counted):
    pts, y = _data()
    cfg = CFG.replace(epochs=4)
    part = prepare_teacher(pts, y, config=cfg, cache=tmp_path, time_budget_s=1e-9, **RUN)
    assert part.report["complete"] is False
    assert part.report["epochs_done"] == 1
    assert part.history.margins.shape == (1, len(y))
    key = part.keys["teacher"]
    assert not (tmp_path / "teacher" / f"{key}.pt").exists()
    assert not (tmp_path / "teacher-calibrated").exists()
    assert not (tmp_path / "teacher-outputs").exists()
    again = prepare_teacher(pts, y, config=cfg, cache=tmp_path, time_budget_s=1e-9, **RUN)
    assert again.report["resumed_from"] == 1 and again.report["epochs_done"] == 2
    done = prepare_teacher(pts, y, config=cfg, cache=tmp_path, **RUN)
    assert done.report["complete"] is True
    assert done.report["resumed_from"] == 2 and done.report["epochs_done"] == 4
    assert done.report["train_sessions"] == 3
    assert (tmp_path / "teacher" / f"{key}.pt").exists()


def test_outputs_match_the_models(tmp_path):
    pts, y = _data(n_points=40)
    test_pts, test_y = _data(n=12, n_points=40, seed=1)
    torch.manual_seed(7)
    rng_before = torch.get_rng_state()
    out = prepare_teacher(pts, y, test_pts, test_y, CFG.replace(n_points=32), cache=tmp_path,
                          **RUN)
    assert torch.equal(torch.get_rng_state(), rng_before)  # caller's RNG untouched
    assert not out.teacher.training and not out.calibrated.training
    first32 = pts[:, :32]
    emb_t, logits_t = extract_embeddings(out.teacher, first32, **RUN)
    emb_c, logits_c = extract_embeddings(out.calibrated, first32, **RUN)
    # the calibration freezes the encoder: one set of embeddings for both networks
    np.testing.assert_allclose(out.embeddings, emb_t, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out.embeddings, emb_c, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out.logits, logits_c, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out.logits_uncalibrated, logits_t, rtol=1e-5, atol=1e-5)
    assert not np.allclose(out.logits, out.logits_uncalibrated)
    assert out.test_embeddings.shape == (12, 4) and out.test_logits.shape == (12, 3)
    assert sorted(out.scores) == ["aum", "el2n", "entropy", "forgetting", "gradnorm", "loss"]
    assert all(s.shape == (len(y),) for s in out.scores.values())
    assert out.history.margins.shape == (CFG.epochs, len(y))
    rep = out.report
    json.dumps(rep)  # JSON-serialisable as is
    assert rep["config"]["n_points"] == 32 and rep["points_stored"] == 40
    assert rep["eval_set"] == "test" and rep["n_test"] == 12
    assert 0.0 <= rep["after"]["macc"] <= 1.0 and len(rep["after"]["per_class"]) == 3
    assert rep["epochs_done"] == CFG.epochs and rep["complete"] is True


def test_progress_is_logged_with_test_accuracy(tmp_path, caplog):
    pts, y = _data()
    test_pts, test_y = _data(n=12, seed=1)
    with caplog.at_level(logging.INFO, logger="coreset3d.torch.teacher"):
        out = prepare_teacher(pts, y, test_pts, test_y, CFG, cache=tmp_path, eval_every=1, **RUN)
    epochs = [r.getMessage() for r in caplog.records if r.getMessage().startswith("epoch ")]
    assert len(epochs) == CFG.epochs and "test OA" in epochs[-1]
    assert [row[0] for row in out.report["test_curve"]] == [1, 2]


def test_config_validation():
    with pytest.raises(ValueError, match="model must be 'pointnet' or 'dgcnn', got 'resnet'"):
        TeacherConfig(model="resnet")
    with pytest.raises(ValueError, match=r"TeacherConfig.epochs must be an int >= 1, got 0"):
        TeacherConfig(epochs=0)
    with pytest.raises(ValueError, match=r"TeacherConfig.lr must be a finite number > 0"):
        TeacherConfig(lr=0.0)
    with pytest.raises(ValueError, match=r"TeacherConfig.augment must be"):
        TeacherConfig(augment="rotate")
    with pytest.raises(ValueError, match=r"calib_views=2 draws augmented views, but augment"):
        TeacherConfig(calib_views=2, augment="none")
    with pytest.raises(ValueError, match=r"TeacherConfig.calib_views must be an int >= 1"):
        TeacherConfig(calib_views=0)
    with pytest.raises(ValueError, match=r"has no field\(s\) \['epoch'\]"):
        CFG.replace(epoch=3)
    assert CFG.replace(model="dgcnn", k=4).build_model(3).head.out_features == 3


def test_input_errors(tmp_path):
    pts, y = _data()
    with pytest.raises(ValueError, match="n_points=64 but the shapes hold only 32 points"):
        prepare_teacher(pts, y, config=CFG.replace(n_points=64), cache=tmp_path, **RUN)
    with pytest.raises(ValueError, match="pass both test_points and test_labels"):
        prepare_teacher(pts, y, pts, config=CFG, cache=tmp_path, **RUN)
    with pytest.raises(TypeError, match="config must be a TeacherConfig"):
        prepare_teacher(pts, y, config={"epochs": 2}, cache=tmp_path, **RUN)
    with pytest.raises(TypeError, match="cache must be an ArtifactCache"):
        prepare_teacher(pts, y, config=CFG, cache=3, **RUN)
    with pytest.raises(ValueError, match="test_points have 16 points per shape"):
        prepare_teacher(pts, y, pts[:, :16], y, config=CFG, cache=tmp_path, **RUN)
    with pytest.raises(ValueError, match="n_classes must be an int > the largest label"):
        prepare_teacher(pts, y, config=CFG, cache=tmp_path, n_classes=2, **RUN)
    with pytest.raises(ValueError, match="eval_every must be an int >= 0"):
        prepare_teacher(pts, y, config=CFG, cache=tmp_path, eval_every=-1, **RUN)
