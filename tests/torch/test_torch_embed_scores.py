import numpy as np
import pytest

torch = pytest.importorskip("torch")

import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from coreset3d.torch import (  # noqa: E402
    EncoderHead,
    PointNet,
    area_under_margin,
    el2n_scores,
    entropy_scores,
    extract_embeddings,
    forgetting_events,
    head_gradnorm_scores,
    loss_scores,
    sample_scores,
)


def _pointnet():
    torch.manual_seed(0)
    net = PointNet(3, width=0.0625, embed_dim=5)
    # Non-trivial running stats so eval mode differs from train mode.
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
    return net


def test_extract_embeddings_matches_manual_forward_and_restores_mode():
    net = _pointnet().train()
    net.point_mlp[1].eval()
    pts = np.random.default_rng(0).normal(size=(11, 32, 3)).astype(np.float32)
    emb, logits = extract_embeddings(net, pts, batch_size=4, device="cpu", progress=False)
    assert emb.dtype == np.float32 and logits.dtype == np.float32
    assert emb.shape == (11, 5) and logits.shape == (11, 3)
    assert net.training and not net.point_mlp[1].training  # flags restored one by one
    with torch.no_grad():
        net.eval()
        ref_emb = net.forward_features(torch.from_numpy(pts))
        ref_logits = net(torch.from_numpy(pts))
    np.testing.assert_allclose(emb, ref_emb.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(logits, ref_logits.numpy(), rtol=1e-5, atol=1e-6)
    assert all(p.grad is None for p in net.parameters())


def test_extract_embeddings_errors():
    with pytest.raises(ValueError, match="batch_size must be an int >= 1"):
        extract_embeddings(_pointnet(), np.zeros((2, 32, 3)), batch_size=0, device="cpu")
    with pytest.raises(ValueError, match=r"must have shape \(n_samples, ...\)"):
        extract_embeddings(_pointnet(), np.zeros(3), device="cpu")
    with pytest.raises(TypeError, match="wrap it with"):
        extract_embeddings(nn.Linear(3, 2), np.zeros((2, 3)), device="cpu")


LOGITS = np.array([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0], [-3.0, 5.0, 1.0]])
LABELS = np.array([0, 2, 0])


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_closed_form_scores_by_hand():
    p = _softmax(LOGITS)
    onehot = np.eye(3)[LABELS]
    np.testing.assert_allclose(el2n_scores(LOGITS, LABELS), np.sqrt(((p - onehot) ** 2).sum(1)))
    np.testing.assert_allclose(entropy_scores(LOGITS), -(p * np.log(p)).sum(1))
    np.testing.assert_allclose(loss_scores(LOGITS, LABELS), -np.log(p[[0, 1, 2], LABELS]))
    assert entropy_scores(LOGITS)[1] == pytest.approx(np.log(3))
    # The row with the wrong confident guess is the hardest by all three.
    for scores in (el2n_scores(LOGITS, LABELS), loss_scores(LOGITS, LABELS)):
        assert scores.argmax() == 2


@pytest.mark.parametrize("bias", [True, False])
def test_head_gradnorm_equals_autograd(bias):
    torch.manual_seed(0)
    head = nn.Linear(4, 3, bias=bias).double()
    h = torch.randn(5, 4, dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 2, 1])
    expected = []
    for i in range(5):
        loss = F.cross_entropy(head(h[i : i + 1]), y[i : i + 1])
        grads = torch.autograd.grad(loss, list(head.parameters()))
        expected.append(torch.sqrt(sum((g**2).sum() for g in grads)).item())
    with torch.no_grad():
        logits = head(h).numpy()
    got = head_gradnorm_scores(logits, h.numpy(), y.numpy(), bias=bias)
    np.testing.assert_allclose(got, expected, rtol=1e-10)


def test_sample_scores_full_gradnorm_equals_head_form_when_encoder_frozen():
    torch.manual_seed(0)
    model = EncoderHead(nn.Sequential(nn.Linear(2, 6), nn.Tanh()), nn.Linear(6, 3))
    for p in model.encoder.parameters():
        p.requires_grad_(False)
    X = np.random.default_rng(1).normal(size=(7, 2)).astype(np.float32)
    y = np.array([0, 1, 2, 0, 1, 2, 0])
    head = sample_scores(model, X, y, device="cpu", progress=False)
    full = sample_scores(model, X, y, scores=["gradnorm"], gradnorm="full", device="cpu",
                         progress=False)
    np.testing.assert_allclose(full["gradnorm"], head["gradnorm"], rtol=1e-4)
    emb, logits = extract_embeddings(model, X, device="cpu", progress=False)
    np.testing.assert_allclose(head["el2n"], el2n_scores(logits, y))
    assert list(full) == ["gradnorm"]


def test_forgetting_events_on_a_hand_made_record():
    correct = np.array(
        [  # epochs x samples
            [1, 0, 0, 1, 1],
            [0, 1, 0, 1, 0],
            [1, 1, 0, 1, 1],
            [0, 0, 0, 1, 0],
            [1, 0, 0, 1, 1],
        ],
        dtype=bool,
    )
    # s0: 1->0 at t1, t3 = 2; s1: 1->0 at t3 = 1; s2 never learned = 5 epochs; s3: 0.
    np.testing.assert_array_equal(forgetting_events(correct)[:4], [2, 1, 5, 0])
    # s4 was not drawn at t1 and t3: nothing is forgotten between observed epochs.
    seen = np.ones_like(correct)
    seen[[1, 3], 4] = False
    np.testing.assert_array_equal(forgetting_events(correct, seen), [2, 1, 5, 0, 0])
    assert forgetting_events(correct)[4] == 2
    with pytest.raises(ValueError, match="seen must have the shape of correct"):
        forgetting_events(correct, seen[:2])


def test_area_under_margin_and_errors():
    margins = np.array([[1.0, -1.0, np.nan], [3.0, -2.0, np.nan], [2.0, np.nan, np.nan]])
    np.testing.assert_allclose(area_under_margin(margins), [2.0, -1.5, np.nan])
    with pytest.raises(ValueError, match=r"margins must have shape \(n_epochs, n_samples\)"):
        area_under_margin(np.zeros(3))
    with pytest.raises(ValueError, match=r"labels must lie in 0..2"):
        el2n_scores(LOGITS, np.array([0, 3, 1]))
    with pytest.raises(ValueError, match="logits contain NaN"):
        entropy_scores(np.full((2, 2), np.nan))
    with pytest.raises(ValueError, match="scores must be a non-empty subset"):
        sample_scores(_pointnet(), np.zeros((2, 32, 3)), [0, 1], scores=["aum"], device="cpu")
    with pytest.raises(ValueError, match="gradnorm must be 'head' or 'full'"):
        sample_scores(_pointnet(), np.zeros((2, 32, 3)), [0, 1], gradnorm="all", device="cpu")


def test_dynamics_from_training_feed_the_scores():
    from coreset3d.torch import fit_classifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(16, 2)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    torch.manual_seed(0)
    model = EncoderHead(nn.Sequential(nn.Linear(2, 4), nn.ReLU()), nn.Linear(4, 2))
    hist = fit_classifier(model, X, y, epochs=3, batch_size=4, warmup_epochs=0, augment=None,
                          record_dynamics=True, device="cpu", progress=False)
    counts = forgetting_events(hist.correct, hist.seen)
    aum = area_under_margin(hist.margins)
    assert counts.shape == (16,) and aum.shape == (16,)
    assert np.all(np.isfinite(aum)) and np.all((counts >= 0) & (counts <= 3))
