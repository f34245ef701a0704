"""Class-balanced calibration of a teacher's head (the paper's CSL step)."""

import copy

import numpy as np
import torch
import torch.nn.functional as F

from ._augment import default_augmentation
from ._embed import run_inference
from ._train import accuracy_report, train_loop
from ._utils import (
    TensorSource,
    as_source,
    check_encoder_head,
    check_positive_int,
    resolve_device,
)

__all__ = ["calibrate_head"]


def calibrate_head(
    model,
    points,
    labels=None,
    *,
    eval_points=None,
    eval_labels=None,
    epochs=30,
    batch_size=256,
    lr=1e-2,
    weight_decay=1e-4,
    warmup_epochs=1,
    sampler="balanced",
    n_views=1,
    augment="default",
    embed_batch_size=64,
    device="auto",
    seed=0,
    progress=True,
):
    """Re-train a classifier's head with class-uniform sampling, encoder frozen.

    A teacher trained on a long-tailed set inherits its class prior in the
    head: minority classes get small logits. Freezing the encoder and
    learning a fresh linear head from class-uniform batches gives
    class-balanced (calibrated) soft labels for distillation, and raises the
    teacher's mean class accuracy.

    Parameters
    ----------
    model : nn.Module
        The trained network (``forward_features`` + linear ``head``). It is
        not modified: the result is a calibrated deep copy.
    points : array-like of shape (n_samples, ...) or torch Dataset
        The full training set (un-augmented).
    labels : array-like of shape (n_samples,), default=None
        Integer classes; None when a Dataset yields ``(x, y)``.
    eval_points, eval_labels : default=None
        Data for the before/after report (e.g. the test set); the training
        set when omitted.
    epochs : int, default=30
        Passes of class-uniform draws (``n_views * n_samples`` draws each).
    batch_size : int, default=256
        Embeddings per step.
    lr : float, default=1e-2
        Peak AdamW learning rate of the head.
    weight_decay : float, default=1e-4
        AdamW weight decay of the head's weight.
    warmup_epochs : float, default=1
        Linear warm-up, then cosine decay.
    sampler : "balanced", None or torch Sampler, default="balanced"
        "balanced" draws every class equally often (with replacement); None
        is plain shuffling, for ablations.
    n_views : int, default=1
        Embeddings per training sample the head learns from: the sample as
        given, plus ``n_views - 1`` passes of the frozen encoder over
        ``augment``-ed copies. More views show the head the spread of
        features that unseen shapes produce, at one encoder pass per view.
    augment : "default" or callable, default="default"
        Augmentation of the extra views, called as ``augment(x,
        generator=g)`` on a batch; "default" is :func:`default_augmentation`
        (random anisotropic scaling and translation). Unused with
        ``n_views=1``.
    embed_batch_size : int, default=64
        Samples per forward pass of the encoder.
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
    seed : int, default=0
        Seeds the head's re-initialisation and the sampling.
    progress : bool, default=True
        Show tqdm progress bars.

    Returns
    -------
    calibrated : nn.Module
        A deep copy of ``model`` with the re-trained head, on ``device``, in
        the train/eval mode ``model`` was in.
    report : dict
        ``"before"`` and ``"after"``: the :func:`evaluate` dicts (OA, mAcc,
        per-class accuracy) of ``model`` and ``calibrated`` on the eval data;
        ``"eval_set"``: "eval" or "train"; ``"history"``: the head's
        :class:`TrainingHistory`.

    See Also
    --------
    distill : uses the calibrated model as teacher.

    Notes
    -----
    The encoder is frozen and run in eval mode, so its embeddings are
    computed once, without augmentation, and the head is trained on the
    stored (n_views * n_samples, embed_dim) matrix: ``n_views`` encoder
    passes over the data, then ``epochs * n_views * n_samples`` cheap
    linear draws (an epoch goes over every stored embedding).
    Training on stored embeddings is exact, not an approximation: fresh
    augmentations at every step would need the encoder again, so the views
    are drawn once. The eval embeddings are shared by the before and after
    report for the same reason.

    References
    ----------
    "Exploring 3D Dataset Pruning", class-balanced soft labels (CSL);
    Kang et al., "Decoupling Representation and Classifier for Long-Tailed
    Recognition", ICLR 2020 (classifier re-training, cRT).

    Examples
    --------
    >>> import numpy as np
    >>> from torch import nn
    >>> from coreset3d.torch import EncoderHead
    >>> net = EncoderHead(nn.Sequential(nn.Linear(2, 8), nn.ReLU()), nn.Linear(8, 2))
    >>> X = np.random.default_rng(0).normal(size=(40, 2)).astype(np.float32)
    >>> y = (X[:, 0] > 1).astype(int)
    >>> cal, report = calibrate_head(net, X, y, epochs=2, device="cpu", progress=False)
    >>> sorted(report), cal.head is net.head
    (['after', 'before', 'eval_set', 'history'], False)
    """
    head = check_encoder_head(model)
    n_classes = head.out_features
    device = resolve_device(device)
    embed_batch_size = check_positive_int(embed_batch_size, "embed_batch_size")
    n_views = check_positive_int(n_views, "n_views")
    if augment == "default":
        augment = default_augmentation()
    elif not callable(augment):
        raise TypeError(f"augment must be 'default' or a callable augment(x, generator=g), "
                        f"got {augment!r}.")
    train = as_source(points, labels, n_classes=n_classes).to(device)
    model.to(device)
    emb, _, y = run_inference(model, train, batch_size=embed_batch_size, device=device,
                              progress=progress, desc="embed train")
    if n_views > 1:
        gen = torch.Generator(device=device).manual_seed(int(seed))
        views = [run_inference(model, train, batch_size=embed_batch_size, device=device,
                               progress=progress, desc=f"embed view {v + 2}/{n_views}",
                               transform=augment, generator=gen)[0]
                 for v in range(n_views - 1)]
        train_emb = np.concatenate([emb, *views])
        train_y = np.tile(y, n_views)
    else:
        train_emb, train_y = emb, y
    if eval_points is None:
        if eval_labels is not None:
            raise ValueError("eval_labels was given without eval_points; pass both or neither.")
        eval_emb, eval_y, eval_set = emb, y, "train"
    else:
        held_out = as_source(eval_points, eval_labels, n_classes=n_classes, name="eval_points")
        eval_emb, _, eval_y = run_inference(model, held_out.to(device), batch_size=embed_batch_size,
                                            device=device, progress=progress, desc="embed eval")
        eval_set = "eval"

    calibrated = copy.deepcopy(model)
    new_head = calibrated.head
    fork_devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=fork_devices):
        torch.manual_seed(int(seed))
        new_head.reset_parameters()
    for p in new_head.parameters():
        p.requires_grad_(True)

    def loss_fn(x, target, _w):
        logits = new_head(x)
        return F.cross_entropy(logits.float(), target), logits

    history = train_loop(
        new_head, TensorSource(torch.from_numpy(train_emb), torch.from_numpy(train_y)),
        loss_fn=loss_fn, n_classes=n_classes, epochs=epochs,
        batch_size=batch_size, lr=lr,
        weight_decay=weight_decay, warmup_epochs=warmup_epochs, augment=None, sampler=sampler,
        mixed_precision=False, record_dynamics=False, device=device, seed=seed,
        checkpoint_dir=None, resume=False, progress=progress, callbacks=None, num_workers=0,
        desc="calibrate", fingerprint={"kind": "calibrate_head"},
    )
    report = {
        "before": accuracy_report(eval_y, _predict(head, eval_emb, device), n_classes),
        "after": accuracy_report(eval_y, _predict(new_head, eval_emb, device), n_classes),
        "eval_set": eval_set,
        "history": history,
    }
    return calibrated, report


def _predict(head, embeddings, device):
    with torch.no_grad():
        logits = head(torch.from_numpy(np.ascontiguousarray(embeddings)).to(device))
    return logits.argmax(dim=1).cpu().numpy()
