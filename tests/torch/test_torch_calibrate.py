import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from coreset3d.torch import EncoderHead, calibrate_head, fit_classifier  # noqa: E402

MEANS = np.array([[0.0, 0.0], [1.6, 0.0], [0.8, 1.4]])


def _gaussians(counts, seed):
    rng = np.random.default_rng(seed)
    X = np.concatenate([rng.normal(MEANS[c], 0.8, size=(n, 2)) for c, n in enumerate(counts)])
    y = np.repeat(np.arange(len(counts)), counts)
    return X.astype(np.float32), y


def _long_tailed_teacher():
    X, y = _gaussians([300, 40, 8], seed=0)
    torch.manual_seed(0)
    model = EncoderHead(nn.Sequential(nn.Linear(2, 16), nn.ReLU()), nn.Linear(16, 3))
    fit_classifier(model, X, y, epochs=20, batch_size=32, lr=0.02, warmup_epochs=1,
                   augment=None, device="cpu", progress=False)
    return model, X, y


def test_calibration_raises_macc_of_a_long_tailed_teacher():
    teacher, X, y = _long_tailed_teacher()
    teacher.train()
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    X_test, y_test = _gaussians([200, 200, 200], seed=1)
    calibrated, report = calibrate_head(teacher, X, y, eval_points=X_test, eval_labels=y_test,
                                        epochs=30, batch_size=64, device="cpu", progress=False)
    assert report["eval_set"] == "eval"
    # The plain teacher under-predicts the tail; the class-balanced head recovers it.
    assert report["before"]["per_class"][2] < 0.5
    assert report["after"]["macc"] > report["before"]["macc"] + 0.1
    assert report["after"]["per_class"][2] > report["before"]["per_class"][2]
    # The teacher is untouched; the copy shares nothing and keeps the encoder's weights.
    assert all(torch.equal(before[k], v) for k, v in teacher.state_dict().items())
    assert teacher.training and calibrated.training
    assert calibrated.head is not teacher.head
    for p, q in zip(calibrated.encoder.parameters(), teacher.encoder.parameters(), strict=True):
        assert torch.equal(p, q) and p.data_ptr() != q.data_ptr()
    assert not torch.equal(calibrated.head.weight, teacher.head.weight)


def test_calibration_is_seeded_and_reports_on_train_set_by_default():
    teacher, X, y = _long_tailed_teacher()
    a, rep_a = calibrate_head(teacher, X, y, epochs=2, device="cpu", progress=False, seed=3)
    b, _ = calibrate_head(teacher, X, y, epochs=2, device="cpu", progress=False, seed=3)
    assert rep_a["eval_set"] == "train"
    assert torch.equal(a.head.weight, b.head.weight)
    assert len(rep_a["history"].loss) == 2


def test_calibration_errors():
    teacher, X, y = _long_tailed_teacher()
    with pytest.raises(ValueError, match="eval_labels was given without eval_points"):
        calibrate_head(teacher, X, y, eval_labels=y, device="cpu", progress=False)
    with pytest.raises(ValueError, match=r"labels must have shape \(5,\) to match eval_points"):
        calibrate_head(teacher, X, y, eval_points=X[:5], eval_labels=y, epochs=1, device="cpu",
                       progress=False)
    with pytest.raises(TypeError, match="must expose forward_features"):
        calibrate_head(nn.Linear(2, 3), X, y, device="cpu")


class _Noise:
    """A toy augmentation for 2-D inputs that counts its calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self, x, generator=None):
        self.calls += 1
        return x + 0.3 * torch.randn(x.shape, generator=generator)


def test_calibration_views_learn_from_augmented_embeddings_deterministically():
    teacher, X, y = _long_tailed_teacher()
    noise = _Noise()
    a, rep = calibrate_head(teacher, X, y, epochs=2, n_views=3, augment=noise,
                            embed_batch_size=100, device="cpu", progress=False, seed=1)
    # two extra passes over 348 samples in batches of 100
    assert noise.calls == 2 * 4
    b, _ = calibrate_head(teacher, X, y, epochs=2, n_views=3, augment=_Noise(),
                          embed_batch_size=100, device="cpu", progress=False, seed=1)
    single, _ = calibrate_head(teacher, X, y, epochs=2, device="cpu", progress=False, seed=1)
    assert torch.equal(a.head.weight, b.head.weight)
    assert not torch.equal(a.head.weight, single.head.weight)
    assert len(rep["history"].loss) == 2


def test_calibration_view_errors():
    teacher, X, y = _long_tailed_teacher()
    with pytest.raises(ValueError, match="n_views"):
        calibrate_head(teacher, X, y, n_views=0, device="cpu", progress=False)
    with pytest.raises(TypeError, match="augment must be 'default' or a callable"):
        calibrate_head(teacher, X, y, n_views=2, augment="flip", device="cpu", progress=False)
