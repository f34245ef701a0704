import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402
from torch.utils.data import Dataset  # noqa: E402

from coreset3d.metrics import mean_class_accuracy, overall_accuracy  # noqa: E402
from coreset3d.torch import EncoderHead, PointNet, evaluate, fit_classifier  # noqa: E402
from coreset3d.torch._train import WarmupCosine  # noqa: E402

FAST = {"batch_size": 8, "warmup_epochs": 1, "device": "cpu", "progress": False}


def _data(n=24, n_points=32, n_classes=3, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % n_classes
    pts = rng.normal(size=(n, n_points, 3)).astype(np.float32)
    pts *= (1.0 + labels)[:, None, None].astype(np.float32)  # class = scale
    return pts, labels


def _net(seed=0, n_classes=3):
    torch.manual_seed(seed)
    return PointNet(n_classes, width=0.0625, embed_dim=4)


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def _same_state(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_same_seed_same_weights_and_caller_rng_untouched():
    pts, y = _data()
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a, b = _net(), _net()
    torch.set_rng_state(before)
    fit_classifier(a, pts, y, epochs=2, seed=5, **FAST)
    assert torch.equal(torch.get_rng_state(), before)
    fit_classifier(b, pts, y, epochs=2, seed=5, **FAST)
    assert _same_state(_state(a), _state(b))
    c = _net()
    fit_classifier(c, pts, y, epochs=2, seed=6, **FAST)
    assert not _same_state(_state(a), _state(c))


class _Spy(nn.Module):
    """A tiny PointNet that keeps every training batch it is given."""

    def __init__(self):
        super().__init__()
        self.net = _net()
        self.head = self.net.head
        self.batches = []

    def forward_features(self, x):
        return self.net.forward_features(x)

    def forward(self, x):
        self.batches.append(x.clone())
        return self.net(x)


class _Stop(Exception):
    pass


def _stop_after_first(epoch, history):
    if epoch == 1:
        raise _Stop


def test_resumed_run_ends_with_the_same_weights(tmp_path):
    pts, y = _data()
    opts = dict(epochs=2, record_dynamics=True, augment="default", **FAST)
    full = _net()
    full_hist = fit_classifier(full, pts, y, **opts)

    interrupted = _net()
    with pytest.raises(_Stop):
        fit_classifier(interrupted, pts, y, checkpoint_dir=tmp_path, callbacks=[_stop_after_first],
                       **opts)
    resumed = _net(seed=99)  # a fresh process would build the model again
    hist = fit_classifier(resumed, pts, y, checkpoint_dir=tmp_path, **opts)
    assert hist.resumed_from == 1
    assert _same_state(_state(full), _state(resumed))
    np.testing.assert_array_equal(hist.loss, full_hist.loss)
    np.testing.assert_array_equal(hist.margins, full_hist.margins)
    # A finished run resumes to the end at once; a different run refuses the checkpoint.
    again = _net(seed=7)
    fit_classifier(again, pts, y, checkpoint_dir=tmp_path, **opts)
    assert _same_state(_state(full), _state(again))
    with pytest.raises(ValueError, match=r"written by a different run \(epochs: 2 vs 3 now"):
        fit_classifier(_net(), pts, y, checkpoint_dir=tmp_path, **{**opts, "epochs": 3})
    fit_classifier(_net(), pts, y, checkpoint_dir=tmp_path, resume=False, **{**opts, "epochs": 3})


def test_schedule_warms_up_then_decays_to_zero():
    f = WarmupCosine(4, 20)
    assert [f(s) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    values = [f(s) for s in range(4, 21)]
    assert values[0] == 1.0 and values[-1] == pytest.approx(0.0)
    assert all(a >= b for a, b in zip(values, values[1:], strict=False))
    pts, y = _data()
    hist = fit_classifier(_net(), pts, y, epochs=3, lr=0.01, **FAST)
    assert hist.lr[0] == pytest.approx(0.01) and hist.lr[-1] == pytest.approx(0.0)


def test_learns_an_easy_problem_and_evaluate_matches_metrics():
    pts, y = _data(n=48)
    net = _net()
    hist = fit_classifier(net, pts, y, epochs=15, lr=0.02, augment=None, batch_size=16,
                          warmup_epochs=1, device="cpu", progress=False)
    assert hist.loss[-1] < hist.loss[0]
    report = evaluate(net, pts, y, device="cpu")
    with torch.no_grad():
        pred = net.eval()(torch.from_numpy(pts)).argmax(1).numpy()
    assert report["oa"] == pytest.approx(overall_accuracy(y, pred))
    assert report["macc"] == pytest.approx(mean_class_accuracy(y, pred))
    assert report["per_class"].shape == (3,)
    assert report["oa"] > 0.6


def test_mode_is_restored_and_weights_drive_the_loss():
    pts, y = _data()
    net = _net().eval()
    net.global_mlp[1].train()  # a caller's mixed setting survives
    fit_classifier(net, pts, y, epochs=1, **FAST)
    assert not net.training and net.global_mlp[1].training
    # A zero weight on every sample of class 2 removes class 2 from the loss.
    logged = []

    def record(epoch, history):
        logged.append(history.loss[-1])

    w = (y != 2).astype(float)
    a, b = _net(), _net()
    fit_classifier(a, pts, y, epochs=1, sample_weight=w, callbacks=[record], **FAST)
    fit_classifier(b, pts, y, epochs=1, callbacks=[record], **FAST)
    assert logged[0] != logged[1]
    # Uniform weights of any scale are the plain mean.
    c, d = _net(), _net()
    fit_classifier(c, pts, y, epochs=1, sample_weight=np.full(len(y), 3.0), **FAST)
    fit_classifier(d, pts, y, epochs=1, **FAST)
    for k in c.state_dict():
        torch.testing.assert_close(c.state_dict()[k], d.state_dict()[k])


class _Clouds(Dataset):
    def __init__(self, pts, y):
        self.pts, self.y = pts, y

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return torch.from_numpy(self.pts[i]), int(self.y[i])


def test_dataset_input_trains_like_arrays():
    pts, y = _data()
    a, b = _net(), _net()
    fit_classifier(a, pts, y, epochs=1, **FAST)
    fit_classifier(b, _Clouds(pts, y), epochs=1, **FAST)
    assert _same_state(_state(a), _state(b))
    from_dataset = evaluate(b, _Clouds(pts, y), device="cpu")
    from_arrays = evaluate(b, pts, y, device="cpu")
    assert from_dataset["oa"] == from_arrays["oa"]
    np.testing.assert_array_equal(from_dataset["per_class"], from_arrays["per_class"])


def test_dynamics_record_and_balanced_sampler():
    pts, y = _data(n=30)
    y = np.where(np.arange(30) < 24, 0, np.where(np.arange(30) < 28, 1, 2))
    spy = _Spy()
    hist = fit_classifier(spy, pts, y, epochs=2, sampler="balanced", record_dynamics=True,
                          **{**FAST, "augment": None})
    assert hist.margins.shape == (2, 30)
    assert np.isnan(hist.margins).any()  # draws with replacement miss some samples
    assert (hist.correct == (hist.margins > 0)).all()
    assert hist.seen.sum() > 0 and not hist.correct[~hist.seen].any()
    # n draws per epoch, less a lone last sample; classes drawn about equally often
    drawn = torch.cat(spy.batches)
    assert drawn.shape[0] >= 2 * 29
    raw = torch.from_numpy(pts)
    rows = [int((raw == row).all(dim=(1, 2)).nonzero()[0, 0]) for row in drawn]
    counts = np.bincount(y[rows], minlength=3)
    assert counts.min() >= 10 and counts[0] <= 32  # shuffling would draw class 0 ~48 times


def test_user_sampler_sets_the_draws():
    pts, y = _data()
    spy = _Spy()
    sampler = torch.utils.data.SubsetRandomSampler([3, 5, 7, 9])
    fit_classifier(spy, pts, y, epochs=1, sampler=sampler, augment=None, **FAST)
    drawn = torch.cat(spy.batches)
    assert drawn.shape[0] == 4
    expected = torch.from_numpy(pts[[3, 5, 7, 9]])
    assert all((expected == row).all(dim=(1, 2)).any() for row in drawn)


def test_mixed_precision_on_cpu_trains():
    pts, y = _data()
    net = _net()
    hist = fit_classifier(net, pts, y, epochs=2, mixed_precision=True, **FAST)
    assert np.all(np.isfinite(hist.loss))
    assert all(p.dtype == torch.float32 for p in net.parameters())


def test_toy_vectors_and_no_augmentation():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 2)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    model = EncoderHead(nn.Sequential(nn.Linear(2, 4), nn.ReLU()), nn.Linear(4, 2))
    with pytest.raises(ValueError, match="augment='default' is for point clouds"):
        fit_classifier(model, X, y, epochs=1, **FAST)
    fit_classifier(model, X, y, epochs=1, augment=None, **FAST)


def test_errors():
    pts, y = _data()
    net = _net()
    with pytest.raises(ValueError, match=r"labels must lie in 0..2 \(the model's head has 3"):
        fit_classifier(net, pts, y + 1, epochs=1, **FAST)
    with pytest.raises(ValueError, match=r"labels must have shape \(24,\)"):
        fit_classifier(net, pts, y[:5], epochs=1, **FAST)
    with pytest.raises(TypeError, match="labels must be integer class indices"):
        fit_classifier(net, pts, y.astype(float), epochs=1, **FAST)
    with pytest.raises(ValueError, match="labels are required with array points"):
        fit_classifier(net, pts, epochs=1, **FAST)
    with pytest.raises(ValueError, match=r"sample_weight must have shape \(24,\)"):
        fit_classifier(net, pts, y, sample_weight=np.ones(3), epochs=1, **FAST)
    with pytest.raises(ValueError, match="sample_weight must be finite and non-negative"):
        fit_classifier(net, pts, y, sample_weight=-np.ones(24), epochs=1, **FAST)
    with pytest.raises(ValueError, match="epochs must be an int >= 1"):
        fit_classifier(net, pts, y, epochs=0, **FAST)
    with pytest.raises(ValueError, match="sampler must be None"):
        fit_classifier(net, pts, y, epochs=1, sampler="uniform", **FAST)
    with pytest.raises(TypeError, match="a sized iterable of indices"):
        fit_classifier(net, pts, y, epochs=1, sampler=iter(range(24)), **FAST)
    with pytest.raises(ValueError, match="sampler yielded indices outside 0..23"):
        fit_classifier(net, pts, y, epochs=1, sampler=[0, 30], **FAST)
    with pytest.raises(ValueError, match="label_smoothing must be in"):
        fit_classifier(net, pts, y, epochs=1, label_smoothing=1.0, **FAST)
    with pytest.raises(ValueError, match="contains NaN or infinite"):
        fit_classifier(net, np.full_like(pts, np.nan), y, epochs=1, **FAST)
    with pytest.raises(TypeError, match="must expose forward_features"):
        fit_classifier(nn.Linear(3, 3), pts, y, epochs=1, **FAST)
    with pytest.raises(ValueError, match="asks for CUDA but"):
        if not torch.cuda.is_available():
            fit_classifier(net, pts, y, epochs=1, **{**FAST, "device": "cuda"})
        else:
            raise ValueError("asks for CUDA but (skipped: CUDA present)")
