import numpy as np
import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from coreset3d.torch import (  # noqa: E402
    DGCNN,
    PointNet,
    distill,
    distillation_loss,
    kd_loss,
    rkd_angle_loss,
    rkd_distance_loss,
)

FAST = {"batch_size": 4, "warmup_epochs": 0, "device": "cpu", "progress": False}


def _np_softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _huber(a, b):
    d = np.abs(a - b)
    return np.where(d < 1.0, 0.5 * d**2, d - 0.5).mean()


def _np_rkd_distance(s, t):
    def norm_dist(e):
        d = np.sqrt(((e[:, None] - e[None]) ** 2).sum(-1))
        off = ~np.eye(len(e), dtype=bool)
        return d / d[off].mean()

    return _huber(norm_dist(s), norm_dist(t))


def _np_rkd_angle(s, t):
    def cosines(e):
        b = len(e)
        out = np.zeros((b, b, b))
        for i in range(b):
            for j in range(b):
                for k in range(b):
                    u, v = e[j] - e[i], e[k] - e[i]
                    nu, nv = np.linalg.norm(u), np.linalg.norm(v)
                    if nu > 0 and nv > 0:
                        out[i, j, k] = u @ v / (nu * nv)
        return out

    return _huber(cosines(s), cosines(t))


def test_kd_loss_is_t2_scaled_batchmean_kl():
    rng = np.random.default_rng(0)
    s, t = rng.normal(size=(4, 5)), rng.normal(size=(4, 5)) * 3
    T = 4.0
    p_t, p_s = _np_softmax(t / T), _np_softmax(s / T)
    kl = (p_t * (np.log(p_t) - np.log(p_s))).sum(1)
    got = kd_loss(torch.tensor(s), torch.tensor(t), temperature=T)
    assert float(got) == pytest.approx(T**2 * kl.mean(), rel=1e-5)
    # torch's own batchmean KL agrees
    ref = nn.functional.kl_div(torch.log_softmax(torch.tensor(s) / T, 1),
                               torch.softmax(torch.tensor(t) / T, 1), reduction="batchmean")
    assert float(got) == pytest.approx(T**2 * float(ref), rel=1e-5)
    w = np.array([1.0, 0.0, 2.0, 1.0])
    got_w = kd_loss(torch.tensor(s), torch.tensor(t), T, sample_weight=torch.tensor(w))
    assert float(got_w) == pytest.approx(T**2 * (w * kl).sum() / w.sum(), rel=1e-5)
    # no gradient reaches the teacher's logits
    tt = torch.tensor(t, requires_grad=True)
    kd_loss(torch.tensor(s, requires_grad=True), tt, T).backward()
    assert tt.grad is None


def test_rkd_losses_match_numpy_and_are_scale_invariant():
    rng = np.random.default_rng(0)
    s, t = rng.normal(size=(5, 3)), rng.normal(size=(5, 4))  # sizes may differ
    s_t, t_t = torch.tensor(s), torch.tensor(t)
    assert float(rkd_distance_loss(s_t, t_t)) == pytest.approx(_np_rkd_distance(s, t), rel=1e-5)
    assert float(rkd_angle_loss(s_t, t_t)) == pytest.approx(_np_rkd_angle(s, t), rel=1e-5)
    for loss in (rkd_distance_loss, rkd_angle_loss):
        base = float(loss(s_t, t_t))
        assert base > 0.01
        assert float(loss(7.0 * s_t, 0.1 * t_t)) == pytest.approx(base, rel=1e-5)
        assert float(loss(s_t, t_t)) != pytest.approx(float(loss(s_t, t_t**2)))


def test_rkd_gradients_finite_with_duplicates_and_small_batches():
    e = torch.tensor([[0.0, 1.0], [0.0, 1.0], [2.0, 0.0], [1.0, 1.0]], requires_grad=True)
    t = torch.randn(4, 3)
    (rkd_distance_loss(e, t) + rkd_angle_loss(e, t)).backward()
    assert torch.isfinite(e.grad).all()
    assert float(rkd_distance_loss(torch.ones(1, 2), torch.ones(1, 2))) == 0.0
    assert float(rkd_angle_loss(torch.ones(2, 2), torch.zeros(2, 2))) == 0.0
    with pytest.raises(ValueError, match="with the same B"):
        rkd_distance_loss(torch.ones(3, 2), torch.ones(4, 2))


def _optimum(alpha, weights, labels, groups, teacher_logits, T=2.0):
    """Minimise distillation_loss over a free logit table per input (interpolating student)."""
    torch.manual_seed(0)
    table = nn.Parameter(torch.zeros(3, 3, dtype=torch.float64))
    opt = torch.optim.LBFGS([table], lr=1, max_iter=500, tolerance_grad=1e-12,
                            tolerance_change=1e-14, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = distillation_loss(table[groups], labels, teacher_logits[groups],
                                 sample_weight=weights, alpha=alpha, temperature=T,
                                 rkd_scale=0.0)
        loss.backward()
        return loss

    opt.step(closure)
    return torch.softmax(table.detach() / (T if alpha == 1 else 1.0), dim=1)


def test_kd_optimum_ignores_sample_weights_but_hard_label_optimum_moves():
    # Proposition 4.1: three inputs, four samples each, conflicting (noisy) labels.
    groups = torch.arange(3).repeat_interleave(4)
    labels = torch.tensor([0, 0, 0, 1, 1, 1, 2, 0, 2, 2, 1, 2])
    teacher = torch.tensor([[2.0, 0.5, -1.0], [0.0, 1.5, 0.2], [-1.0, 0.3, 1.0]],
                           dtype=torch.float64)
    w1 = torch.ones(12, dtype=torch.float64)
    w2 = torch.tensor([5.0, 0.2, 1, 3, 1, 0.5, 2, 4, 1, 1, 0.1, 3], dtype=torch.float64)
    kd1, kd2 = _optimum(1.0, w1, labels, groups, teacher), _optimum(1.0, w2, labels, groups,
                                                                     teacher)
    torch.testing.assert_close(kd1, kd2, atol=1e-5, rtol=0)
    torch.testing.assert_close(kd1, torch.softmax(teacher / 2.0, dim=1), atol=1e-5, rtol=0)
    ce1, ce2 = _optimum(0.0, w1, labels, groups, teacher), _optimum(0.0, w2, labels, groups,
                                                                     teacher)
    # The hard-label optimum is the weighted label frequency of each input.
    freq2 = torch.zeros(3, 3, dtype=torch.float64).index_put_((groups, labels), w2,
                                                               accumulate=True)
    torch.testing.assert_close(ce2, freq2 / freq2.sum(1, keepdim=True), atol=1e-4, rtol=0)
    assert (ce1 - ce2).abs().max() > 0.1


def _clouds(n=8):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 32, 3)).astype(np.float32), np.arange(n) % 2


def test_only_the_student_learns_and_teacher_mode_is_restored():
    pts, y = _clouds()
    torch.manual_seed(0)
    teacher = PointNet(2, width=0.0625, embed_dim=6).train()
    student = PointNet(2, width=0.0625, embed_dim=4)
    t_before = {k: v.clone() for k, v in teacher.state_dict().items()}
    s_before = {k: v.clone() for k, v in student.state_dict().items()}
    seen = {"teacher": [], "student": [], "mode": []}
    student.point_mlp.register_forward_pre_hook(
        lambda m, args: seen["student"].append(args[0].transpose(1, 2).clone())
    )
    orig = teacher.forward_features

    def spy(x):
        seen["teacher"].append(x.clone())
        seen["mode"].append(teacher.training)
        return orig(x)

    teacher.forward_features = spy
    hist = distill(student, teacher, pts, y, epochs=2, **FAST)
    del teacher.forward_features
    assert teacher.training  # restored
    assert seen["mode"] and not any(seen["mode"])  # eval during distillation
    # The teacher saw exactly the student's augmented batches.
    assert len(seen["teacher"]) == len(seen["student"]) == 4
    for a, b in zip(seen["teacher"], seen["student"], strict=True):
        assert torch.equal(a, b)
    raw = torch.from_numpy(pts)
    for batch in seen["student"]:  # augmented: no cloud equals an input cloud
        assert not (batch[:, None] == raw[None]).all(dim=-1).all(dim=-1).any()
    assert all(torch.equal(t_before[k], v) for k, v in teacher.state_dict().items())
    assert all(p.grad is None for p in teacher.parameters())
    assert any(not torch.equal(s_before[k], v) for k, v in student.state_dict().items())
    proj = hist.modules["projection"]
    assert isinstance(proj, nn.Linear) and proj.weight.shape == (6, 4)
    torch.manual_seed(0)  # distill seeds the projection's initialisation with seed=0
    assert not torch.equal(proj.weight, nn.Linear(4, 6, bias=False).weight)  # it was trained


def test_student_points_feed_the_student_a_prefix_of_the_teachers_batch():
    pts, y = _clouds()
    torch.manual_seed(0)
    teacher = PointNet(2, width=0.0625, embed_dim=6)
    student = PointNet(2, width=0.0625, embed_dim=4)
    seen = {"teacher": [], "student": []}
    student.point_mlp.register_forward_pre_hook(
        lambda m, args: seen["student"].append(args[0].transpose(1, 2).clone())
    )
    teacher.point_mlp.register_forward_pre_hook(
        lambda m, args: seen["teacher"].append(args[0].transpose(1, 2).clone())
    )
    distill(student, teacher, pts, y, student_points=5, epochs=1, **FAST)
    assert len(seen["teacher"]) == len(seen["student"]) == 2
    for t, s in zip(seen["teacher"], seen["student"], strict=True):
        assert t.shape[1] == pts.shape[1] and s.shape[1] == 5
        assert torch.equal(s, t[:, :5])
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="student_points must be a positive int"):
            distill(student, teacher, pts, y, student_points=bad, epochs=1, **FAST)
    with pytest.raises(ValueError, match="lower student_points or resample to more points"):
        distill(student, teacher, pts, y, student_points=pts.shape[1] + 1, epochs=1, **FAST)


def test_resumed_distillation_matches_uninterrupted(tmp_path):
    pts, y = _clouds()
    w = np.linspace(0.5, 2.0, 8)

    def models():
        torch.manual_seed(0)
        return PointNet(2, width=0.0625, embed_dim=6), PointNet(2, width=0.0625, embed_dim=4)

    teacher, student = models()
    ref = distill(student, teacher, pts, y, sample_weight=w, epochs=2, **FAST)

    def stop(epoch, history):
        if epoch == 1:
            raise KeyboardInterrupt

    teacher2, student2 = models()
    with pytest.raises(KeyboardInterrupt):
        distill(student2, teacher2, pts, y, sample_weight=w, epochs=2, checkpoint_dir=tmp_path,
                callbacks=[stop], **FAST)
    teacher3, student3 = models()
    hist = distill(student3, teacher3, pts, y, sample_weight=w, epochs=2,
                   checkpoint_dir=tmp_path, **FAST)
    assert hist.resumed_from == 1
    for k, v in student.state_dict().items():
        assert torch.equal(v, student3.state_dict()[k])
    assert torch.equal(ref.modules["projection"].weight, hist.modules["projection"].weight)


def test_dgcnn_cross_architecture_with_mixed_precision():
    pts, y = _clouds()
    torch.manual_seed(0)
    teacher = PointNet(2, width=0.0625, embed_dim=6)
    student = DGCNN(2, k=4, width=0.0625, embed_dim=4)
    hist = distill(student, teacher, pts, y, epochs=1, mixed_precision=True, **FAST)
    assert np.all(np.isfinite(hist.loss))
    assert hist.modules["projection"].weight.shape == (6, 4)


def test_ablations_and_errors():
    pts, y = _clouds()
    torch.manual_seed(0)
    student = PointNet(2, width=0.0625, embed_dim=4)
    distill(student, None, pts, y, alpha=0.0, rkd_scale=0.0, epochs=1, **FAST)
    same = PointNet(2, width=0.0625, embed_dim=4)
    hist = distill(student, same, pts, y, rkd_scale=0.0, epochs=1, **FAST)
    assert hist.modules == {}
    assert distill(student, same, pts, y, epochs=1, **FAST).modules == {}  # equal sizes
    with pytest.raises(ValueError, match="teacher=None is only allowed for hard-label"):
        distill(student, None, pts, y, epochs=1, **FAST)
    with pytest.raises(ValueError, match="teacher has 3 classes but student has 2"):
        distill(student, PointNet(3, width=0.0625), pts, y, epochs=1, **FAST)
    with pytest.raises(ValueError, match="teacher and student are the same module"):
        distill(student, student, pts, y, epochs=1, **FAST)
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1.0\]"):
        distill(student, same, pts, y, alpha=1.5, epochs=1, **FAST)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        distill(student, same, pts, y, temperature=0, epochs=1, **FAST)
    with pytest.raises(ValueError, match="projection must be 'auto', True or False"):
        distill(student, same, pts, y, projection="yes", epochs=1, **FAST)
    with pytest.raises(ValueError, match="alpha > 0 needs teacher_logits"):
        distillation_loss(torch.zeros(2, 2), torch.tensor([0, 1]))
