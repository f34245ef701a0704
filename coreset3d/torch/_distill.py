"""Student training on a coreset with calibrated soft labels and relational KD.

The loss on a batch is (term B of *Exploring 3D Dataset Pruning*)::

    (1 - alpha) * CE_w(student, labels)
    + alpha * T^2 * KL_w(teacher_T || student_T)
    + rkd_scale * (w_d * RKD_distance + w_a * RKD_angle)

where ``_w`` marks the per-sample weights (a selector's ``weights_``) and
the RKD terms compare the pairwise geometry of the student's and the
teacher's embeddings of the same batch.
"""

from numbers import Integral

import torch
import torch.nn.functional as F
from torch import nn

from ._train import train_loop, weighted_mean
from ._utils import (
    as_source,
    check_encoder_head,
    check_nonnegative,
    check_sample_weight,
    check_seed,
    preserve_mode,
    resolve_device,
)

__all__ = ["kd_loss", "rkd_distance_loss", "rkd_angle_loss", "distillation_loss", "distill"]


def kd_loss(student_logits, teacher_logits, temperature=5.0, sample_weight=None):
    """Hinton's distillation loss ``T^2 * KL(softmax(t / T) || softmax(s / T))``.

    Parameters
    ----------
    student_logits : Tensor of shape (B, n_classes)
    teacher_logits : Tensor of shape (B, n_classes)
        Treated as constants (no gradient flows into them).
    temperature : float, default=5.0
        Softening temperature ``T`` > 0.
    sample_weight : Tensor of shape (B,), default=None
        Per-sample weights; the per-sample KL terms are averaged with them.

    Returns
    -------
    loss : scalar Tensor
        With no weights, the "batchmean" KL (sum over classes, mean over the
        batch) times ``T^2``.

    Notes
    -----
    The ``T^2`` factor keeps the gradient scale independent of ``T``.

    References
    ----------
    Hinton, Vinyals & Dean, "Distilling the Knowledge in a Neural Network",
    2015, Sec. 2.

    Examples
    --------
    >>> import torch
    >>> float(kd_loss(torch.zeros(2, 3), torch.zeros(2, 3)))
    0.0
    """
    if student_logits.shape != teacher_logits.shape or student_logits.ndim != 2:
        raise ValueError(
            f"student_logits and teacher_logits must both have shape (B, n_classes), got "
            f"{tuple(student_logits.shape)} and {tuple(teacher_logits.shape)}."
        )
    t = check_nonnegative(temperature, "temperature")
    if t == 0:
        raise ValueError("temperature must be > 0, got 0.")
    log_s = F.log_softmax(student_logits.float() / t, dim=1)
    log_t = F.log_softmax(teacher_logits.detach().float() / t, dim=1)
    kl = F.kl_div(log_s, log_t, reduction="none", log_target=True).sum(dim=1)
    return (t * t) * weighted_mean(kl, sample_weight)


def _check_pair(student, teacher, name):
    if student.ndim != 2 or teacher.ndim != 2 or student.shape[0] != teacher.shape[0]:
        raise ValueError(
            f"{name}: student and teacher embeddings must be (B, d_s) and (B, d_t) with the same "
            f"B, got {tuple(student.shape)} and {tuple(teacher.shape)}."
        )


def _relational_huber(student, teacher, relation, min_batch, name):
    """Mean Huber loss between ``relation`` of the student and of the (constant) teacher.

    A batch of fewer than ``min_batch`` samples has no relation to compare
    and gives a zero that keeps the student in the graph.
    """
    _check_pair(student, teacher, name)
    if student.shape[0] < min_batch:
        return student.float().sum() * 0.0
    r_s = relation(student.float())
    with torch.no_grad():
        r_t = relation(teacher.detach().float())
    return F.smooth_l1_loss(r_s, r_t, reduction="mean")


def _normalised_distances(e):
    """Pairwise distances (B, B), zero diagonal, divided by their off-diagonal mean."""
    b = e.shape[0]
    with torch.autocast(e.device.type, enabled=False):  # fp32 under mixed precision
        e = e.float()
        sq = (e * e).sum(dim=1)
        d2 = (sq[:, None] + sq[None, :] - 2.0 * e @ e.T).clamp_min(1e-12)
        off = ~torch.eye(b, dtype=torch.bool, device=e.device)
        d = torch.where(off, d2.sqrt(), torch.zeros_like(d2))
        return d / (d.sum() / off.sum()).clamp_min(1e-12)


def rkd_distance_loss(student, teacher):
    """RKD distance loss: Huber loss between batch-mean-normalised pairwise distances.

    Parameters
    ----------
    student : Tensor of shape (B, d_s)
        Student embeddings.
    teacher : Tensor of shape (B, d_t)
        Teacher embeddings of the same samples (any size: only distances
        are compared); treated as constants.

    Returns
    -------
    loss : scalar Tensor
        Smooth-L1 (Huber, delta 1) between the two (B, B) matrices of
        distances, each divided by its mean over the B (B - 1) pairs;
        averaged over all B^2 entries as in the reference implementation.
        Invariant to a global scale of either embedding.

    Notes
    -----
    O(B^2 d) time and O(B^2) memory.

    References
    ----------
    Park et al., "Relational Knowledge Distillation", CVPR 2019, Eq. 4-5.

    Examples
    --------
    >>> import torch
    >>> e = torch.randn(6, 4)
    >>> float(rkd_distance_loss(3.0 * e, e)) < 1e-6
    True
    """
    return _relational_huber(student, teacher, _normalised_distances, 2, "rkd_distance_loss")


def _angles(e):
    """(B, B, B) cosines of the angle at anchor i between e_j - e_i and e_k - e_i."""
    with torch.autocast(e.device.type, enabled=False):  # fp32 under mixed precision
        e = e.float()
        diff = F.normalize(e[None, :, :] - e[:, None, :], p=2, dim=2)  # [i, j] = unit(e_j - e_i)
        return torch.bmm(diff, diff.transpose(1, 2))


def rkd_angle_loss(student, teacher):
    """RKD angle loss: Huber loss between the angles all triplets form.

    Parameters
    ----------
    student : Tensor of shape (B, d_s)
        Student embeddings.
    teacher : Tensor of shape (B, d_t)
        Teacher embeddings of the same samples; treated as constants.

    Returns
    -------
    loss : scalar Tensor
        Smooth-L1 (Huber, delta 1) between ``cos angle(e_j - e_i, e_k - e_i)``
        of the student and the teacher, averaged over all B^3 triplets
        ``(i, j, k)`` (a zero difference vector gives cosine 0 in both, as
        in the reference implementation). Invariant to a global scale.

    Notes
    -----
    O(B^3 + B^2 d) time, O(B^3 + B^2 d) memory.

    References
    ----------
    Park et al., "Relational Knowledge Distillation", CVPR 2019, Eq. 6-7.

    Examples
    --------
    >>> import torch
    >>> e = torch.randn(5, 3)
    >>> float(rkd_angle_loss(2.0 * e, e)) < 1e-6
    True
    """
    return _relational_huber(student, teacher, _angles, 3, "rkd_angle_loss")


def distillation_loss(
    student_logits,
    labels,
    teacher_logits=None,
    student_embeddings=None,
    teacher_embeddings=None,
    *,
    sample_weight=None,
    alpha=0.8,
    temperature=5.0,
    distance_weight=50.0,
    angle_weight=100.0,
    rkd_scale=0.1,
    label_smoothing=0.0,
):
    """The full student loss: weighted CE + weighted KD + scaled RKD.

    Parameters
    ----------
    student_logits : Tensor of shape (B, n_classes)
    labels : LongTensor of shape (B,)
    teacher_logits : Tensor of shape (B, n_classes), default=None
        Needed when ``alpha > 0``.
    student_embeddings, teacher_embeddings : Tensor of shape (B, d), default=None
        Needed when ``rkd_scale > 0`` (the student's already projected to the
        teacher's size when a projection is used).
    sample_weight : Tensor of shape (B,), default=None
        Weights of the per-sample terms (CE and KD); RKD compares the batch
        as a whole and is not weighted.
    alpha : float, default=0.8
        Share of the KD term; ``1 - alpha`` goes to the hard-label CE.
    temperature : float, default=5.0
    distance_weight, angle_weight : float, default=50.0, 100.0
        ``w_d`` and ``w_a`` of the RKD terms.
    rkd_scale : float, default=0.1
        Multiplier of the whole RKD term (0 turns it off).
    label_smoothing : float, default=0.0
        Label smoothing of the hard-label CE.

    Returns
    -------
    loss : scalar Tensor

    Notes
    -----
    With ``alpha = 1`` and an interpolating student, the minimiser on every
    input is the teacher's distribution whatever the (positive) weights: the
    weights change only how fast, not where, it converges. With ``alpha = 0``
    and conflicting labels on one input, the minimiser is the weighted label
    frequency, so the weights move it (Proposition 4.1 of the paper).

    References
    ----------
    "Exploring 3D Dataset Pruning", term B and Proposition 4.1.

    Examples
    --------
    >>> import torch
    >>> logits, y = torch.zeros(4, 3), torch.tensor([0, 1, 2, 0])
    >>> round(float(distillation_loss(logits, y, alpha=0.0, rkd_scale=0.0)), 4)
    1.0986
    """
    alpha = check_nonnegative(alpha, "alpha", upper=1.0)
    rkd_scale = check_nonnegative(rkd_scale, "rkd_scale")
    loss = student_logits.float().sum() * 0.0
    if alpha < 1:
        ce = F.cross_entropy(student_logits.float(), labels, reduction="none",
                             label_smoothing=label_smoothing)
        loss = loss + (1.0 - alpha) * weighted_mean(ce, sample_weight)
    if alpha > 0:
        if teacher_logits is None:
            raise ValueError("alpha > 0 needs teacher_logits; pass them or set alpha=0.")
        loss = loss + alpha * kd_loss(student_logits, teacher_logits, temperature, sample_weight)
    if rkd_scale > 0 and (distance_weight > 0 or angle_weight > 0):
        if student_embeddings is None or teacher_embeddings is None:
            raise ValueError(
                "rkd_scale > 0 needs student_embeddings and teacher_embeddings; pass them or set "
                "rkd_scale=0."
            )
        rkd = 0.0
        if distance_weight > 0:
            rkd = rkd + distance_weight * rkd_distance_loss(student_embeddings, teacher_embeddings)
        if angle_weight > 0:
            rkd = rkd + angle_weight * rkd_angle_loss(student_embeddings, teacher_embeddings)
        loss = loss + rkd_scale * rkd
    return loss


def distill(
    student,
    teacher,
    points,
    labels=None,
    *,
    sample_weight=None,
    alpha=0.8,
    temperature=5.0,
    distance_weight=50.0,
    angle_weight=100.0,
    rkd_scale=0.1,
    projection="auto",
    label_smoothing=0.0,
    student_points=None,
    epochs=200,
    batch_size=32,
    lr=1e-3,
    weight_decay=0.05,
    warmup_epochs=5,
    augment="default",
    sampler=None,
    mixed_precision=False,
    record_dynamics=False,
    device="auto",
    seed=0,
    checkpoint_dir=None,
    resume=True,
    progress=True,
    callbacks=None,
    num_workers=0,
):
    """Train a student on a coreset from a frozen (calibrated) teacher.

    Parameters
    ----------
    student : nn.Module
        Network to train (``forward_features`` + linear ``head``), in place.
    teacher : nn.Module or None
        Trained (ideally :func:`calibrate_head`-ed) network with the same
        number of classes. It is frozen: run in eval mode under
        ``torch.no_grad`` on every augmented batch, never updated, its
        train/eval flags restored afterwards. None is allowed when
        ``alpha=0`` and ``rkd_scale=0``.
    points : array-like of shape (n_subset, ...) or torch Dataset
        The selected samples (e.g. ``X_points[selector.sample_indices_]``).
    labels : array-like of shape (n_subset,), default=None
        Integer classes; None when a Dataset yields ``(x, y)``.
    sample_weight : array-like of shape (n_subset,), default=None
        Per-sample weights (a selector's ``weights_``) of the CE and KD terms.
    alpha : float, default=0.8
        Weight of the KD term; ``1 - alpha`` weighs the hard-label CE.
    temperature : float, default=5.0
        KD temperature ``T``.
    distance_weight, angle_weight : float, default=50.0, 100.0
        ``w_d``, ``w_a`` of the RKD distance and angle losses.
    rkd_scale : float, default=0.1
        Multiplier of the RKD term.
    projection : {"auto", True, False}, default="auto"
        Learn a linear map from the student's embedding to the teacher's
        size before RKD: "auto" when the sizes differ (cross-architecture
        distillation). It is trained with the student, checkpointed, and
        returned in ``history.modules["projection"]``.
    label_smoothing : float, default=0.0
        Label smoothing of the hard-label CE.
    student_points : int or None, default=None
        The student sees only the first ``student_points`` points of each
        augmented sample while the teacher sees all of them: a student
        cheaper than the teacher, distilled from the teacher at its own
        resolution. With a :class:`RandomResample` in ``augment`` the first
        points are a fresh random subset. None: both see the same points.
    epochs, batch_size, lr, weight_decay, warmup_epochs, augment, sampler, \
mixed_precision, record_dynamics, device, seed, checkpoint_dir, resume, progress, callbacks, \
num_workers
        As in :func:`fit_classifier` (same loop).

    Returns
    -------
    history : TrainingHistory

    See Also
    --------
    distillation_loss : the per-batch loss.
    calibrate_head : prepare the teacher.

    Notes
    -----
    Ablations of the paper: hard labels only (``alpha=0, rkd_scale=0``,
    no teacher needed); + calibrated soft labels (``rkd_scale=0``);
    + embedding geometry (the defaults). The teacher runs on the same
    augmented batch as the student: precomputing its outputs on the
    un-augmented subset would distil a different target. Cost per step: one
    teacher forward, one student forward and backward, and O(B^3) for the
    RKD angles.

    References
    ----------
    "Exploring 3D Dataset Pruning", term B (defaults of its release);
    Hinton et al. 2015; Park et al., CVPR 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from coreset3d.torch import PointNet
    >>> rng = np.random.default_rng(0)
    >>> pts = rng.normal(size=(8, 32, 3)).astype(np.float32)
    >>> y = np.arange(8) % 2
    >>> teacher = PointNet(2, width=0.125, embed_dim=8)
    >>> student = PointNet(2, width=0.0625, embed_dim=4)
    >>> hist = distill(student, teacher, pts, y, epochs=1, batch_size=4, warmup_epochs=0,
    ...                device="cpu", progress=False)
    >>> hist.modules["projection"]
    Linear(in_features=4, out_features=8, bias=False)
    """
    s_head = check_encoder_head(student, "student")
    n_classes = s_head.out_features
    alpha = check_nonnegative(alpha, "alpha", upper=1.0)
    rkd_scale = check_nonnegative(rkd_scale, "rkd_scale")
    distance_weight = check_nonnegative(distance_weight, "distance_weight")
    angle_weight = check_nonnegative(angle_weight, "angle_weight")
    check_nonnegative(temperature, "temperature")
    if temperature == 0:
        raise ValueError("temperature must be > 0, got 0.")
    if student_points is not None:
        if isinstance(student_points, bool) or not isinstance(student_points, Integral) \
                or student_points < 1:
            raise ValueError(f"student_points must be a positive int or None, got "
                             f"{student_points!r}.")
        student_points = int(student_points)
    label_smoothing = check_nonnegative(label_smoothing, "label_smoothing")
    if label_smoothing >= 1:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing!r}.")
    use_rkd = rkd_scale > 0 and (distance_weight > 0 or angle_weight > 0)
    need_teacher = alpha > 0 or use_rkd
    if teacher is None:
        if need_teacher:
            raise ValueError(
                "teacher=None is only allowed for hard-label training (alpha=0 and "
                "rkd_scale=0); pass a teacher model."
            )
    else:
        t_head = check_encoder_head(teacher, "teacher")
        if teacher is student:
            raise ValueError("teacher and student are the same module; pass a separate student.")
        if t_head.out_features != n_classes:
            raise ValueError(
                f"teacher has {t_head.out_features} classes but student has {n_classes}; "
                "they must classify the same classes."
            )
    if projection not in ("auto", True, False):
        raise ValueError(f"projection must be 'auto', True or False, got {projection!r}.")
    extra = {}
    if use_rkd:
        d_s, d_t = s_head.in_features, t_head.in_features
        if projection is True or (projection == "auto" and d_s != d_t):
            with torch.random.fork_rng(devices=[]):  # initialised on CPU, seeded
                torch.manual_seed(check_seed(seed))
                extra["projection"] = nn.Linear(d_s, d_t, bias=False)
    proj = extra.get("projection")

    source = as_source(points, labels, n_classes=n_classes)
    weights = check_sample_weight(sample_weight, len(source))

    def loss_fn(x, y, w):
        x_s = x
        if student_points is not None:
            if x.ndim < 2 or x.shape[1] < student_points:
                raise ValueError(
                    f"student_points={student_points} but the augmented batches hold "
                    f"{x.shape[1] if x.ndim >= 2 else 0} points a sample; lower student_points "
                    "or resample to more points in augment."
                )
            x_s = x[:, :student_points]
        s_emb = student.forward_features(x_s)
        s_logits = student.head(s_emb)
        t_emb = t_logits = None
        if need_teacher:
            with torch.no_grad():
                t_emb = teacher.forward_features(x)
                t_logits = teacher.head(t_emb)
        if proj is not None:
            s_emb = proj(s_emb)
        loss = distillation_loss(
            s_logits, y, t_logits, s_emb, t_emb, sample_weight=w, alpha=alpha,
            temperature=temperature, distance_weight=distance_weight, angle_weight=angle_weight,
            rkd_scale=rkd_scale, label_smoothing=label_smoothing,
        )
        return loss, s_logits

    device = resolve_device(device)
    if teacher is not None:
        teacher.to(device)
    fingerprint = {"kind": "distill", "alpha": alpha, "temperature": float(temperature),
                   "distance_weight": distance_weight, "angle_weight": angle_weight,
                   "rkd_scale": rkd_scale, "projection": proj is not None,
                   "label_smoothing": label_smoothing}
    if student_points is not None:  # (absent otherwise: older checkpoints still resume)
        fingerprint["student_points"] = student_points
    guard = preserve_mode(teacher if teacher is not None else nn.Identity(), training=False)
    with guard:
        return train_loop(
            student, source, loss_fn=loss_fn, n_classes=n_classes, extra_modules=extra,
            sample_weight=weights, epochs=epochs, batch_size=batch_size, lr=lr,
            weight_decay=weight_decay, warmup_epochs=warmup_epochs, augment=augment,
            sampler=sampler, mixed_precision=mixed_precision, record_dynamics=record_dynamics,
            device=device, seed=seed, checkpoint_dir=checkpoint_dir, resume=resume,
            progress=progress, callbacks=callbacks, num_workers=num_workers, desc="distill",
            fingerprint=fingerprint,
        )
