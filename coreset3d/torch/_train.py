"""Supervised training of a point-cloud classifier, and its evaluation.

:func:`fit_classifier` trains the teacher (or any baseline) on arrays or a
torch Dataset; the loop it runs, :func:`train_loop`, is shared with
:func:`coreset3d.torch.distill` and the head calibration, which plug in their
own per-batch loss.
"""

import math
import os
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Sampler
from tqdm.auto import tqdm

from ..metrics import mean_class_accuracy, overall_accuracy, per_class_accuracy
from ._augment import default_augmentation
from ._embed import run_inference
from ._utils import (
    TensorSource,
    as_source,
    check_encoder_head,
    check_nonnegative,
    check_positive_int,
    check_sample_weight,
    check_seed,
    preserve_mode,
    resolve_device,
)

__all__ = ["TrainingHistory", "fit_classifier", "evaluate"]

_CHECKPOINT = "checkpoint.pt"
_FORMAT = 1


@dataclass
class TrainingHistory:
    """What a training run recorded, epoch by epoch.

    Attributes
    ----------
    loss : ndarray of shape (n_epochs,)
        Mean training loss of each epoch.
    lr : ndarray of shape (n_epochs,)
        Learning rate at the end of each epoch.
    margins : ndarray of shape (n_epochs, n_samples) or None
        With ``record_dynamics=True``: for each epoch and sample, the assigned
        logit minus the largest other logit, measured on the (augmented)
        mini-batch the sample was trained in, in train mode; NaN where the
        sample was not drawn that epoch. Input of
        :func:`~coreset3d.torch.area_under_margin`.
    resumed_from : int
        Epochs already done by the checkpoint the run resumed from (0 when
        it started fresh).
    modules : dict
        Extra modules trained with the model (``"projection"`` for
        :func:`~coreset3d.torch.distill`).
    """

    loss: np.ndarray
    lr: np.ndarray
    margins: np.ndarray | None = None
    resumed_from: int = 0
    modules: dict = field(default_factory=dict)

    @property
    def correct(self):
        """(n_epochs, n_samples) bool: classified correctly (margin > 0) in that epoch."""
        if self.margins is None:
            raise ValueError("no dynamics recorded; train with record_dynamics=True.")
        return np.nan_to_num(self.margins, nan=-np.inf) > 0

    @property
    def seen(self):
        """(n_epochs, n_samples) bool: drawn in that epoch (so ``correct`` is observed)."""
        if self.margins is None:
            raise ValueError("no dynamics recorded; train with record_dynamics=True.")
        return ~np.isnan(self.margins)


class WarmupCosine:
    """LR factor per step: linear warm-up to 1 over ``warmup`` steps, then cosine to 0."""

    def __init__(self, warmup, total):
        self.warmup = int(warmup)
        self.total = int(total)

    def __call__(self, step):
        if step < self.warmup:
            return (step + 1) / self.warmup
        span = max(1, self.total - self.warmup)
        progress = min(1.0, (step - self.warmup) / span)
        return 0.5 * (1.0 + math.cos(math.pi * progress))


def _margins(logits, y):
    true = logits.gather(1, y[:, None]).squeeze(1)
    other = logits.scatter(1, y[:, None], float("-inf")).amax(dim=1)
    return true - other


def _draw_order(sampler, n, labels, generator):
    """Indices one epoch visits, in order."""
    if sampler is None:
        return torch.randperm(n, generator=generator)
    if isinstance(sampler, str):  # "balanced": class-uniform draws with replacement
        counts = torch.bincount(labels)
        weights = 1.0 / counts[labels].double()
        return torch.multinomial(weights, n, replacement=True, generator=generator)
    order = torch.as_tensor(list(iter(sampler)), dtype=torch.long)
    if order.numel() and (order.min() < 0 or order.max() >= n):
        raise ValueError(f"sampler yielded indices outside 0..{n - 1}; it must index the samples.")
    return order


def _epoch_batches(order, batch_size):
    batches = list(order.split(batch_size))
    # A batch of one breaks batch norm in train mode; that sample waits for the next epoch.
    if len(batches) > 1 and batches[-1].numel() == 1:
        batches.pop()
    return batches


def _check_sampler(sampler, source):
    if sampler is None:
        return None, len(source)
    if isinstance(sampler, str):
        if sampler != "balanced":
            raise ValueError(
                f"sampler must be None (shuffle), 'balanced' (class-uniform) or a torch Sampler, "
                f"got {sampler!r}."
            )
        if not isinstance(source, TensorSource) and getattr(source, "labels", None) is None:
            raise ValueError(
                "sampler='balanced' needs the labels up front; pass labels= with the Dataset."
            )
        return sampler, len(source)
    if not isinstance(sampler, Sampler) and not (
        hasattr(sampler, "__iter__") and hasattr(sampler, "__len__")
    ):
        raise TypeError(
            f"sampler must be None, 'balanced' or a torch.utils.data.Sampler (a sized iterable "
            f"of indices), got {type(sampler).__name__}."
        )
    return sampler, len(sampler)


def _resolve_augment(augment, source):
    if augment is None:
        return None
    if isinstance(augment, str):
        if augment != "default":
            raise ValueError(f"augment must be None, 'default' or a callable, got {augment!r}.")
        if isinstance(source, TensorSource) and (
            source.points.ndim != 3 or source.points.shape[-1] != 3
        ):
            raise ValueError(
                "augment='default' is for point clouds of shape (n, n_points, 3), got points of "
                f"shape {tuple(source.points.shape)}; pass augment=None or a callable."
            )
        return default_augmentation()
    if not callable(augment):
        raise TypeError(f"augment must be None, 'default' or a callable, got {augment!r}.")
    return augment


def _optimizer(modules, lr, weight_decay):
    decay, no_decay = [], []
    for module in modules:
        for p in module.parameters():
            if p.requires_grad:
                (decay if p.ndim >= 2 else no_decay).append(p)
    if not decay and not no_decay:
        raise ValueError("the model has no trainable parameter (all have requires_grad=False).")
    groups = [{"params": decay, "weight_decay": weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return torch.optim.AdamW(groups, lr=lr)


def _rng_state(device, shuffle_gen, augment_gen):
    state = {"torch": torch.get_rng_state(), "shuffle": shuffle_gen.get_state(),
             "augment": augment_gen.get_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state, device, shuffle_gen, augment_gen):
    torch.set_rng_state(state["torch"])
    shuffle_gen.set_state(state["shuffle"])
    augment_gen.set_state(state["augment"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def _load_checkpoint(path, fingerprint):
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if ckpt.get("format") != _FORMAT:
        raise ValueError(f"{path} is not a coreset3d training checkpoint (format {_FORMAT}).")
    saved = ckpt["fingerprint"]
    diff = sorted(k for k in set(saved) | set(fingerprint) if saved.get(k) != fingerprint.get(k))
    if diff:
        details = ", ".join(f"{k}: {saved.get(k)!r} vs {fingerprint.get(k)!r} now" for k in diff)
        raise ValueError(
            f"the checkpoint {path} was written by a different run ({details}); pass "
            "resume=False to start over (it is overwritten) or use another checkpoint_dir."
        )
    return ckpt


def _save_checkpoint(path, state):
    tmp = path + ".tmp"
    torch.save(state, tmp)
    os.replace(tmp, path)  # atomic: a crash mid-save leaves the previous epoch's file


def train_loop(
    model,
    source,
    *,
    loss_fn,
    n_classes,
    extra_modules=None,
    sample_weight=None,
    epochs,
    batch_size,
    lr,
    weight_decay,
    warmup_epochs,
    augment,
    sampler,
    mixed_precision,
    record_dynamics,
    device,
    seed,
    checkpoint_dir,
    resume,
    progress,
    callbacks,
    num_workers,
    fingerprint,
    desc,
):
    """Run the shared AdamW + warm-up/cosine loop; return a :class:`TrainingHistory`.

    ``loss_fn(x, y, w) -> (loss, logits)`` is called on each (augmented)
    batch inside autocast, ``w`` being the batch's sample weights or None.
    ``source`` comes from ``as_source`` and ``device`` from ``resolve_device``;
    ``n_classes`` bounds the labels of Dataset batches.
    """
    epochs = check_positive_int(epochs, "epochs")
    batch_size = check_positive_int(batch_size, "batch_size")
    lr = check_nonnegative(lr, "lr")
    if lr == 0:
        raise ValueError("lr must be > 0, got 0.")
    weight_decay = check_nonnegative(weight_decay, "weight_decay")
    warmup_epochs = check_nonnegative(warmup_epochs, "warmup_epochs")
    seed = check_seed(seed)
    extra_modules = dict(extra_modules or {})
    callbacks = list(callbacks or [])
    augment = _resolve_augment(augment, source)
    sampler, n_draw = _check_sampler(sampler, source)
    if n_draw < 1:
        raise ValueError("sampler yields no index; it must draw at least one sample per epoch.")
    n = len(source)
    labels_all = getattr(source, "labels", None)

    model.to(device)
    for module in extra_modules.values():
        module.to(device)
    source = source.to(device)
    weights = None if sample_weight is None else sample_weight.to(device)

    steps = len(_epoch_batches(torch.arange(n_draw), batch_size))
    total = epochs * steps
    optimizer = _optimizer([model, *extra_modules.values()], lr, weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, WarmupCosine(min(round(warmup_epochs * steps), total), total)
    )
    amp_dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
    scaler = torch.amp.GradScaler(
        "cuda", enabled=bool(mixed_precision) and device.type == "cuda"
    )

    shuffle_gen = torch.Generator().manual_seed(seed)
    augment_gen = torch.Generator(device=device).manual_seed(seed + 1)
    margins = torch.full((epochs, n), float("nan")) if record_dynamics else None
    losses, lrs = [], []
    start = 0

    path = None
    fingerprint = {**fingerprint, "n_samples": n, "epochs": epochs, "batch_size": batch_size,
                   "lr": lr, "weight_decay": weight_decay, "warmup_epochs": warmup_epochs,
                   "seed": seed, "steps_per_epoch": steps,
                   "record_dynamics": bool(record_dynamics)}
    fork_devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=fork_devices):
        torch.manual_seed(seed)
        if checkpoint_dir is not None:
            os.makedirs(checkpoint_dir, exist_ok=True)
            path = os.path.join(os.fspath(checkpoint_dir), _CHECKPOINT)
            if resume and os.path.exists(path):
                ckpt = _load_checkpoint(path, fingerprint)
                model.load_state_dict(ckpt["model"])
                for name, module in extra_modules.items():
                    module.load_state_dict(ckpt["extra"][name])
                optimizer.load_state_dict(ckpt["optimizer"])
                scheduler.load_state_dict(ckpt["scheduler"])
                scaler.load_state_dict(ckpt["scaler"])
                _set_rng_state(ckpt["rng"], device, shuffle_gen, augment_gen)
                start = int(ckpt["epoch"])
                losses = ckpt["loss"].tolist()
                lrs = ckpt["lr"].tolist()
                if margins is not None:
                    margins = ckpt["margins"]
        resumed_from = start

        check_labels = not isinstance(source, TensorSource) and labels_all is None
        bar = tqdm(total=total, initial=start * steps, desc=desc, unit="step",
                   disable=not progress)
        with bar, preserve_mode(model, training=True):
            for epoch in range(start, epochs):
                model.train()
                for module in extra_modules.values():
                    module.train()
                order = _draw_order(sampler, n, labels_all, shuffle_gen)
                loss_sum, seen = 0.0, 0
                for idx, x, y in source.batches(_epoch_batches(order, batch_size), device,
                                                num_workers):
                    if check_labels and (y.min() < 0 or y.max() >= n_classes):
                        raise ValueError(
                            f"a batch has labels outside 0..{n_classes - 1} (the model's head "
                            "has that many outputs); check the dataset's labels."
                        )
                    if augment is not None:
                        x = augment(x, generator=augment_gen)
                    w = None if weights is None else weights[idx.to(device)]
                    with torch.autocast(device.type, dtype=amp_dtype,
                                        enabled=bool(mixed_precision)):
                        loss, logits = loss_fn(x, y, w)
                    if not torch.isfinite(loss):
                        raise FloatingPointError(
                            f"the training loss became {loss.item()} at epoch {epoch + 1}; "
                            "lower lr or disable mixed_precision."
                        )
                    optimizer.zero_grad(set_to_none=True)
                    scaler.scale(loss).backward()
                    scaler.step(optimizer)
                    scaler.update()
                    scheduler.step()
                    if margins is not None:
                        margins[epoch, idx] = _margins(logits.detach().float(), y).cpu()
                    loss_sum += loss.item() * x.shape[0]
                    seen += x.shape[0]
                    bar.update(1)
                losses.append(loss_sum / max(seen, 1))
                lrs.append(scheduler.get_last_lr()[0])
                bar.set_postfix(epoch=epoch + 1, loss=f"{losses[-1]:.4f}")
                if path is not None:
                    _save_checkpoint(path, {
                        "format": _FORMAT,
                        "fingerprint": fingerprint,
                        "epoch": epoch + 1,
                        "model": model.state_dict(),
                        "extra": {k: m.state_dict() for k, m in extra_modules.items()},
                        "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict(),
                        "scaler": scaler.state_dict(),
                        "rng": _rng_state(device, shuffle_gen, augment_gen),
                        "loss": torch.tensor(losses, dtype=torch.float64),
                        "lr": torch.tensor(lrs, dtype=torch.float64),
                        "margins": margins,
                    })
                if callbacks:
                    history = _history(losses, lrs, margins, resumed_from, extra_modules)
                    for callback in callbacks:
                        callback(epoch + 1, history)
    return _history(losses, lrs, margins, resumed_from, extra_modules)


def _history(losses, lrs, margins, resumed_from, modules):
    return TrainingHistory(
        loss=np.asarray(losses, dtype=np.float64),
        lr=np.asarray(lrs, dtype=np.float64),
        margins=None if margins is None else margins.numpy().astype(np.float32),
        resumed_from=resumed_from,
        modules=dict(modules),
    )


def weighted_mean(values, weights):
    """Mean of per-sample ``values``, weighted by ``weights`` when given."""
    if weights is None:
        return values.mean()
    return (weights * values).sum() / weights.sum().clamp_min(torch.finfo(values.dtype).tiny)


def fit_classifier(
    model,
    points,
    labels=None,
    *,
    epochs=200,
    batch_size=32,
    lr=1e-3,
    weight_decay=0.05,
    warmup_epochs=5,
    label_smoothing=0.0,
    sample_weight=None,
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
    """Train a classifier with AdamW, warm-up + cosine decay and label smoothing.

    Parameters
    ----------
    model : nn.Module
        A network with ``forward_features`` and a linear ``head`` (see
        :class:`EncoderHead`); trained in place and moved to ``device``. Its
        train/eval flags are restored afterwards.
    points : array-like of shape (n_samples, ...) or torch Dataset
        Training inputs, e.g. point clouds (n_samples, n_points, 3). A
        Dataset yields ``(x, y, ...)`` items (or ``x`` items with ``labels``).
    labels : array-like of shape (n_samples,), default=None
        Integer classes ``0..n_classes-1``; required with array ``points``.
    epochs : int, default=200
        Passes over the data (each of ``len(sampler)`` draws with a sampler).
    batch_size : int, default=32
        Samples per step. A final batch of a single sample is skipped (batch
        norm cannot train on it).
    lr : float, default=1e-3
        Peak learning rate of AdamW.
    weight_decay : float, default=0.05
        AdamW decoupled weight decay, applied to weight matrices and kernels
        only (not to biases or norm scales).
    warmup_epochs : float, default=5
        Linear warm-up length (capped at ``epochs``); the rate then follows a
        cosine to 0, both updated every step.
    label_smoothing : float, default=0.0
        Label smoothing of the cross-entropy, in [0, 1). DGCNN uses 0.2, but
        a smoothed teacher transfers less through its soft labels (Muller et
        al. 2019), hence the default.
    sample_weight : array-like of shape (n_samples,), default=None
        Per-sample weights (e.g. a selector's ``weights_``); the loss of a
        batch is the weighted mean of the per-sample cross-entropies.
    augment : "default", callable or None, default="default"
        Batch augmentation ``augment(x, generator=g)``; "default" is
        :func:`default_augmentation` (point clouds only).
    sampler : None, "balanced" or torch Sampler, default=None
        Order of the samples: a fresh shuffle every epoch (None), class-uniform
        draws with replacement ("balanced"), or any Sampler over
        ``range(n_samples)``.
    mixed_precision : bool, default=False
        Autocast to bfloat16 on CPU or float16 (with gradient scaling) on CUDA.
    record_dynamics : bool, default=False
        Record per-epoch, per-sample margins (hence correctness) in
        ``history.margins`` for forgetting events and AUM.
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
        "auto" uses CUDA when available.
    seed : int, default=0
        Seeds shuffling, augmentation and dropout; the caller's global torch
        RNG state is left as it was. On CPU, the same seed gives the same
        weights.
    checkpoint_dir : str or path, default=None
        Where to save ``checkpoint.pt`` after every epoch (model, optimizer,
        scheduler, gradient scaler, RNG states, epoch, history).
    resume : bool, default=True
        Continue from the checkpoint in ``checkpoint_dir`` when one exists;
        a resumed run ends with the same weights as an uninterrupted one.
    progress : bool, default=True
        Show a tqdm progress bar.
    callbacks : list of callables, default=None
        Each called as ``callback(epoch, history)`` after each epoch's
        checkpoint; raise to stop (the checkpoint allows resuming).
    num_workers : int, default=0
        DataLoader workers when ``points`` is a Dataset.

    Returns
    -------
    history : TrainingHistory
        Per-epoch loss and learning rate, and the margins when recorded.

    See Also
    --------
    evaluate : OA, mAcc and per-class accuracy of the trained model.
    distill : train a student on a subset from a teacher.

    Notes
    -----
    Cost: ``epochs * n_samples`` forward and backward passes. Arrays are
    moved to ``device`` once; Datasets are read through a DataLoader.

    References
    ----------
    Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR 2019
    (AdamW); Loshchilov & Hutter, "SGDR", ICLR 2017 (cosine schedule).

    Examples
    --------
    >>> import numpy as np
    >>> from coreset3d.torch import PointNet
    >>> rng = np.random.default_rng(0)
    >>> pts = rng.normal(size=(16, 32, 3)).astype(np.float32)
    >>> y = np.arange(16) % 2
    >>> net = PointNet(n_classes=2, width=0.125, embed_dim=8)
    >>> hist = fit_classifier(net, pts, y, epochs=2, batch_size=8, warmup_epochs=1,
    ...                       device="cpu", progress=False)
    >>> hist.loss.shape
    (2,)
    """
    head = check_encoder_head(model)
    source = as_source(points, labels, n_classes=head.out_features)
    weights = check_sample_weight(sample_weight, len(source))
    label_smoothing = check_nonnegative(label_smoothing, "label_smoothing")
    if label_smoothing >= 1:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing!r}.")

    def loss_fn(x, y, w):
        logits = model(x)
        ce = F.cross_entropy(logits.float(), y, reduction="none", label_smoothing=label_smoothing)
        return weighted_mean(ce, w), logits

    return train_loop(
        model, source, loss_fn=loss_fn, n_classes=head.out_features, sample_weight=weights,
        epochs=epochs, batch_size=batch_size, lr=lr, weight_decay=weight_decay,
        warmup_epochs=warmup_epochs, augment=augment, sampler=sampler,
        mixed_precision=mixed_precision, record_dynamics=record_dynamics,
        device=resolve_device(device), seed=seed, checkpoint_dir=checkpoint_dir, resume=resume,
        progress=progress, callbacks=callbacks, num_workers=num_workers, desc="fit",
        fingerprint={"kind": "fit_classifier", "label_smoothing": label_smoothing},
    )


def evaluate(model, points, labels=None, *, batch_size=64, device="auto", progress=False):
    """Overall, mean-class and per-class accuracy of a classifier.

    Parameters
    ----------
    model : nn.Module
        A network with ``forward_features`` and a linear ``head``; evaluated
        in eval mode, its flags restored afterwards.
    points : array-like of shape (n_samples, ...) or torch Dataset
        Test inputs (a Dataset yields ``(x, y, ...)`` when ``labels`` is None).
    labels : array-like of shape (n_samples,), default=None
        True classes ``0..n_classes-1``.
    batch_size : int, default=64
        Samples per forward pass.
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
        "auto" uses CUDA when available.
    progress : bool, default=False
        Show a tqdm progress bar.

    Returns
    -------
    report : dict
        ``"oa"`` (float), ``"macc"`` (float, over the classes present) and
        ``"per_class"`` (ndarray of shape (n_classes,), NaN for a class with
        no test sample).

    See Also
    --------
    coreset3d.metrics.overall_accuracy, coreset3d.metrics.mean_class_accuracy

    Examples
    --------
    >>> import numpy as np
    >>> from coreset3d.torch import PointNet
    >>> net = PointNet(n_classes=3, width=0.125, embed_dim=8)
    >>> pts = np.random.default_rng(0).normal(size=(6, 32, 3)).astype(np.float32)
    >>> sorted(evaluate(net, pts, [0, 1, 2, 0, 1, 2], device="cpu"))
    ['macc', 'oa', 'per_class']
    """
    head = check_encoder_head(model)
    batch_size = check_positive_int(batch_size, "batch_size")
    device = resolve_device(device)
    source = as_source(points, labels, n_classes=head.out_features)
    model.to(device)
    _, logits, y_true = run_inference(model, source.to(device), batch_size=batch_size,
                                      device=device, progress=progress, desc="evaluate")
    if y_true.min() < 0 or y_true.max() >= head.out_features:
        raise ValueError(
            f"labels must lie in 0..{head.out_features - 1} (the model's head has "
            f"{head.out_features} outputs), got values in {y_true.min()}..{y_true.max()}."
        )
    return accuracy_report(y_true, logits.argmax(axis=1), head.out_features)


def accuracy_report(y_true, y_pred, n_classes):
    """The dict that :func:`evaluate` returns, from labels and predictions."""
    classes = np.arange(n_classes)
    return {
        "oa": overall_accuracy(y_true, y_pred),
        "macc": mean_class_accuracy(y_true, y_pred, labels=classes),
        "per_class": per_class_accuracy(y_true, y_pred, labels=classes),
    }
