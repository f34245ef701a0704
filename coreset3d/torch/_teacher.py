"""The teacher stage of 3D-Pruner, end to end and cached: train, calibrate, embed, score.

:func:`prepare_teacher` chains :func:`fit_classifier`, :func:`calibrate_head`,
:func:`extract_embeddings`-style inference and the per-sample scores, and
stores each result in an :class:`~coreset3d.cache.ArtifactCache` under the
content hash of its inputs, so the benchmarks and the pipeline train a
teacher once and reuse it, and an interrupted training run resumes from its
last epoch.
"""

import json
import logging
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass, field, fields
from numbers import Integral, Real

import numpy as np
import torch

from ..cache import ArtifactCache, content_hash
from ._augment import Compose, RandomResample, default_augmentation
from ._calibrate import calibrate_head
from ._embed import run_inference
from ._models import DGCNN, PointNet
from ._scores import (
    area_under_margin,
    el2n_scores,
    entropy_scores,
    forgetting_events,
    head_gradnorm_scores,
    loss_scores,
)
from ._train import TrainingHistory, evaluate, fit_classifier
from ._utils import as_source, resolve_device

__all__ = ["TeacherConfig", "TeacherArtifacts", "prepare_teacher"]

logger = logging.getLogger("coreset3d.torch.teacher")

_VERSION = 1  # bump when a change to this module changes what an artifact holds
_KIND_TEACHER = "teacher"
_KIND_CHECKPOINT = "teacher-checkpoint"
_KIND_CALIBRATED = "teacher-calibrated"
_KIND_OUTPUTS = "teacher-outputs"
_PROGRESS = "progress.json"
# Fields that change the calibration (and outputs) but not the trained teacher.
_CALIB_FIELDS = ("calib_epochs", "calib_batch_size", "calib_lr", "calib_views")


@dataclass(frozen=True)
class TeacherConfig:
    """Settings of the teacher: network, training and calibration.

    Every field enters the cache key of the artifacts it affects: the
    calibration fields key only the calibrated teacher and its outputs, so
    changing them reuses the trained network.

    Parameters
    ----------
    model : {"pointnet", "dgcnn"}, default="pointnet"
        :class:`PointNet` or :class:`DGCNN`.
    width : float, default=1.0
        Channel multiplier of the network.
    embed_dim : int, default=256
        Size of the embedding the selectors receive.
    dropout : float or None, default=None
        Dropout of the embedding MLP; None keeps the model's default.
    k : int, default=20
        Neighbours per point (DGCNN only).
    n_points : int or None, default=None
        Points per shape the teacher sees; None uses all the data holds.
        Evaluation, calibration and embeddings use the first ``n_points`` of
        each shape (the HDF5 releases store points in random order).
    resample : bool, default=True
        With ``n_points`` below the points stored, train on a fresh random
        subset of ``n_points`` points of each shape at every step (an
        augmentation) instead of the fixed first ``n_points``.
    augment : {"default", "none"}, default="default"
        "default": random anisotropic scaling and translation
        (:func:`default_augmentation`); "none": no augmentation.
    epochs : int, default=200
    batch_size : int, default=32
    lr : float, default=1e-3
        Peak AdamW learning rate (warm-up, then cosine decay to 0).
    weight_decay : float, default=0.05
    warmup_epochs : float, default=5
    label_smoothing : float, default=0.0
    mixed_precision : bool, default=False
        bfloat16 autocast on CPU, float16 on CUDA (training only; inference
        runs in float32).
    seed : int, default=0
        Seeds the initial weights, shuffling, augmentation and calibration.
    calib_epochs : int, default=30
        Epochs of class-balanced head re-training (:func:`calibrate_head`).
    calib_batch_size : int, default=256
    calib_lr : float, default=1e-2
    calib_views : int, default=1
        Embeddings per training shape the calibrated head learns from: the
        shape itself plus ``calib_views - 1`` augmented copies (the training
        augmentation), see ``n_views`` of :func:`calibrate_head`.

    Examples
    --------
    >>> cfg = TeacherConfig(width=0.5, n_points=512, epochs=60)
    >>> cfg.model, cfg.replace(epochs=10).epochs
    ('pointnet', 10)
    """

    model: str = "pointnet"
    width: float = 1.0
    embed_dim: int = 256
    dropout: float | None = None
    k: int = 20
    n_points: int | None = None
    resample: bool = True
    augment: str = "default"
    epochs: int = 200
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_epochs: float = 5
    label_smoothing: float = 0.0
    mixed_precision: bool = False
    seed: int = 0
    calib_epochs: int = 30
    calib_batch_size: int = 256
    calib_lr: float = 1e-2
    calib_views: int = 1

    def __post_init__(self):
        if self.model not in ("pointnet", "dgcnn"):
            raise ValueError(f"TeacherConfig.model must be 'pointnet' or 'dgcnn', got "
                             f"{self.model!r}.")
        if self.augment not in ("default", "none"):
            raise ValueError(f"TeacherConfig.augment must be 'default' or 'none', got "
                             f"{self.augment!r}.")
        for name in ("embed_dim", "k", "epochs", "batch_size", "calib_epochs",
                     "calib_batch_size", "calib_views"):
            _check_int(getattr(self, name), name)
        if self.calib_views > 1 and self.augment == "none":
            raise ValueError(f"TeacherConfig.calib_views={self.calib_views} draws augmented "
                             "views, but augment='none'; use augment='default' or calib_views=1.")
        if self.n_points is not None:
            _check_int(self.n_points, "n_points")
        if self.n_points is not None and self.n_points < 1:
            raise ValueError(f"TeacherConfig.n_points must be None or >= 1, got {self.n_points}.")
        for name in ("width", "lr", "calib_lr"):
            _check_real(getattr(self, name), name, positive=True)
        for name in ("weight_decay", "warmup_epochs", "label_smoothing"):
            _check_real(getattr(self, name), name, positive=False)
        if self.dropout is not None:
            _check_real(self.dropout, "dropout", positive=False)
        for name in ("resample", "mixed_precision"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"TeacherConfig.{name} must be a bool, got "
                                 f"{getattr(self, name)!r}.")
        if not isinstance(self.seed, Integral) or isinstance(self.seed, bool) or self.seed < 0:
            raise ValueError(f"TeacherConfig.seed must be an int >= 0, got {self.seed!r}.")

    def replace(self, **changes):
        """A copy with some fields changed (validated again)."""
        unknown = sorted(set(changes) - {f.name for f in fields(self)})
        if unknown:
            raise ValueError(f"TeacherConfig has no field(s) {unknown}; fields are "
                             f"{[f.name for f in fields(self)]}.")
        return TeacherConfig(**{**asdict(self), **changes})

    def build_model(self, n_classes):
        """A freshly initialised network of this configuration (global torch RNG)."""
        kwargs = {"width": self.width, "embed_dim": self.embed_dim}
        if self.dropout is not None:
            kwargs["dropout"] = self.dropout
        if self.model == "dgcnn":
            return DGCNN(n_classes, k=self.k, **kwargs)
        return PointNet(n_classes, **kwargs)


def _check_int(value, name):
    if not isinstance(value, Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"TeacherConfig.{name} must be an int >= 1, got {value!r}.")


def _check_real(value, name, *, positive):
    ok = isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (positive and value == 0):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"TeacherConfig.{name} must be a finite number {bound}, got {value!r}.")


@dataclass
class TeacherArtifacts:
    """What :func:`prepare_teacher` returns.

    Attributes
    ----------
    teacher : nn.Module
        The trained network, in eval mode, on the requested device.
    calibrated : nn.Module
        The same encoder with the class-balanced head (CSL), in eval mode.
    embeddings : ndarray of shape (n_train, embed_dim), float32
        ``forward_features`` of every training shape (first ``n_points``
        points, no augmentation). The encoder is frozen by the calibration,
        so these are the embeddings of both networks.
    logits : ndarray of shape (n_train, n_classes), float32
        Logits of the calibrated teacher (the soft labels for distillation).
    logits_uncalibrated : ndarray of shape (n_train, n_classes), float32
        Logits of the teacher before calibration.
    scores : dict of str -> ndarray of shape (n_train,)
        ``"loss"``, ``"entropy"``, ``"el2n"``, ``"gradnorm"`` (head) from the
        calibrated logits; ``"forgetting"`` and ``"aum"`` from the margins
        recorded while training the teacher.
    history : TrainingHistory
        The teacher's per-epoch loss, learning rate and margins.
    test_embeddings, test_logits : ndarray or None
        The same outputs on the test split (calibrated logits), when given.
    report : dict
        JSON-serialisable: OA/mAcc/per-class accuracy before and after
        calibration, epochs, wall times, cache keys and hits, the config.
    keys : dict
        The cache keys of the stages (``"teacher"``, ``"calibrated"``).
    """

    teacher: torch.nn.Module
    calibrated: torch.nn.Module
    embeddings: np.ndarray
    logits: np.ndarray
    logits_uncalibrated: np.ndarray
    scores: dict
    history: TrainingHistory
    test_embeddings: np.ndarray | None
    test_logits: np.ndarray | None
    report: dict
    keys: dict = field(default_factory=dict)


class _OutOfTime(Exception):
    """Raised by the time-budget callback to stop training after a checkpoint."""


def _as_arrays(points, labels, name):
    source = as_source(points, labels, name=name)  # validates shapes, dtypes, finiteness
    pts = source.points.numpy()
    if pts.ndim != 3 or pts.shape[2] != 3:
        raise ValueError(f"{name} must be point clouds of shape (n, n_points, 3), got "
                         f"{pts.shape}.")
    return pts, source.labels.numpy()


def _acc_json(acc):
    return {"oa": float(acc["oa"]), "macc": float(acc["macc"]),
            "per_class": [None if np.isnan(v) else float(v) for v in acc["per_class"]]}


def _read_progress(ckpt_dir):
    path = os.path.join(ckpt_dir, _PROGRESS)
    if not os.path.exists(path):
        return {"train_s": 0.0, "curve": [], "sessions": 0}
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def _write_progress(ckpt_dir, progress):
    path = os.path.join(ckpt_dir, _PROGRESS)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(progress, fh)
    os.replace(tmp, path)


def _fork(device, seed):
    """Context: a private global RNG seeded with ``seed`` (caller's state restored)."""
    devices = [device.index or 0] if device.type == "cuda" else []
    rng = torch.random.fork_rng(devices=devices)
    rng.__enter__()
    torch.manual_seed(seed)
    return rng


def _train_teacher(config, train_pts, train_y, test, n_classes, cache, key, device, progress,
                   callbacks, eval_every, time_budget_s):
    """Train (or resume) the teacher; return (model, history, meta, complete)."""
    ckpt_dir = cache.path(_KIND_CHECKPOINT, key)
    os.makedirs(ckpt_dir, exist_ok=True)
    state = _read_progress(ckpt_dir)
    state["sessions"] += 1
    epochs_before = int(state.get("epochs_done", 0))
    rng = _fork(device, config.seed)
    try:
        model = config.build_model(n_classes)
    finally:
        rng.__exit__(None, None, None)

    n = config.n_points
    transforms = []
    if config.resample and n < train_pts.shape[1]:
        transforms.append(RandomResample(n))
        fit_points = train_pts
    else:
        fit_points = np.ascontiguousarray(train_pts[:, :n])
    if config.augment == "default":
        transforms.extend(default_augmentation().transforms)
    augment = Compose(transforms) if transforms else None

    started = time.perf_counter()
    last = [started]
    base_s = state["train_s"]  # seconds spent by earlier (interrupted) sessions

    def log_epoch(epoch, history):
        now = time.perf_counter()
        epoch_s, last[0] = now - last[0], now
        line = (f"epoch {epoch}/{config.epochs} loss {history.loss[-1]:.4f} "
                f"lr {history.lr[-1]:.2e} time {epoch_s:.1f}s")
        if test is not None and eval_every and (epoch % eval_every == 0 or epoch == config.epochs):
            acc = evaluate(model, test[0][:, :n], test[1], device=device)
            state["curve"].append([epoch, float(acc["oa"]), float(acc["macc"])])
            line += f" test OA {acc['oa']:.4f} mAcc {acc['macc']:.4f}"
        state["train_s"] = base_s + time.perf_counter() - started
        state["epochs_done"] = epoch
        _write_progress(ckpt_dir, state)
        remaining = config.epochs - epoch
        logger.info("%s (eta %.0fs)", line, remaining * epoch_s)
        if (time_budget_s is not None and remaining
                and now - started + epoch_s > time_budget_s):
            raise _OutOfTime(epoch)

    complete = True
    try:
        history = fit_classifier(
            model, fit_points, train_y, epochs=config.epochs, batch_size=config.batch_size,
            lr=config.lr, weight_decay=config.weight_decay, warmup_epochs=config.warmup_epochs,
            label_smoothing=config.label_smoothing, augment=augment,
            mixed_precision=config.mixed_precision, record_dynamics=True, device=device,
            seed=config.seed, checkpoint_dir=ckpt_dir, resume=True, progress=progress,
            callbacks=[log_epoch, *(callbacks or [])],
        )
    except _OutOfTime:
        complete = False
        ckpt = torch.load(os.path.join(ckpt_dir, "checkpoint.pt"), map_location="cpu",
                          weights_only=True)
        model.load_state_dict(ckpt["model"])
        model.to(device)
        margins = ckpt["margins"][: ckpt["epoch"]].numpy().astype(np.float32)
        history = TrainingHistory(loss=ckpt["loss"].numpy(), lr=ckpt["lr"].numpy(),
                                  margins=margins, resumed_from=epochs_before)
        logger.info("time budget of %.0fs reached after epoch %d of %d; the checkpoint in %s "
                    "resumes it", time_budget_s, int(ckpt["epoch"]), config.epochs, ckpt_dir)
    meta = {"epochs_done": len(history.loss), "train_s": state["train_s"],
            "sessions": state["sessions"], "curve": state["curve"],
            "resumed_from": int(history.resumed_from)}
    return model, history, meta, complete


def _pack_teacher(model, history, meta):
    return {"state_dict": {k: v.cpu() for k, v in model.state_dict().items()},
            "loss": torch.from_numpy(history.loss), "lr": torch.from_numpy(history.lr),
            "margins": torch.from_numpy(history.margins), "meta": json.dumps(meta)}


def _unpack_teacher(blob, config, n_classes, device):
    model = config.build_model(n_classes)
    model.load_state_dict(blob["state_dict"])
    history = TrainingHistory(loss=blob["loss"].numpy(), lr=blob["lr"].numpy(),
                              margins=blob["margins"].numpy())
    return model.to(device), history, json.loads(blob["meta"])


def prepare_teacher(train_points, train_labels, test_points=None, test_labels=None,
                    config=None, *, cache=None, n_classes=None, device="auto", progress=True,
                    eval_every=0, time_budget_s=None, callbacks=None):
    """Train, calibrate and score the teacher of 3D-Pruner, reusing cached artifacts.

    Three cached stages, each keyed by the content hash of its inputs:

    1. **teacher** (``teacher/<key>.pt``): :func:`fit_classifier` on the
       training set with the per-sample margins recorded; key = hash of the
       training points, labels and the network/training fields of
       ``config``. Checkpoints go to ``teacher-checkpoint/<key>/`` after
       every epoch, so a killed run resumes where it stopped when called
       again with the same inputs.
    2. **calibrated** (``teacher-calibrated/<key>.pt``):
       :func:`calibrate_head` (class-balanced head re-training, CSL) with the
       before/after accuracy on the test split; key = teacher key + test data
       + calibration fields.
    3. **outputs** (``teacher-outputs/<key>.npz``): embeddings and logits of
       the training (and test) set, and the per-sample scores.

    Parameters
    ----------
    train_points : array-like of shape (n_train, n_points_stored, 3)
    train_labels : array-like of shape (n_train,)
        Integer classes ``0..n_classes-1``.
    test_points : array-like of shape (n_test, n_points_stored, 3), default=None
    test_labels : array-like of shape (n_test,), default=None
        The held-out split for the accuracy report; without it, the
        before/after accuracies are measured on the training set.
    config : TeacherConfig, default=None
        None uses ``TeacherConfig()``.
    cache : ArtifactCache, str or path, default=None
        Where artifacts live; None is ``ArtifactCache()`` (``$CORESET3D_CACHE``
        or ``~/.cache/coreset3d``).
    n_classes : int, default=None
        Outputs of the head; None is ``max(train_labels) + 1``.
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
    progress : bool, default=True
        Show tqdm progress bars (the ``coreset3d.torch.teacher`` logger
        reports every epoch either way).
    eval_every : int, default=0
        Evaluate on the test split every that many epochs (and after the
        last) and log OA/mAcc; 0 never does. Does not change the result.
    time_budget_s : float, default=None
        Stop training once the next epoch would end past this many seconds
        of this call. The checkpoint stays, so the same call resumes later;
        the partial teacher is calibrated and scored but nothing of it is
        cached, and ``report["complete"]`` is False.
    callbacks : list of callables, default=None
        Passed to :func:`fit_classifier` (``callback(epoch, history)`` after
        each epoch's checkpoint; an exception stops training and propagates,
        and the next call resumes).

    Returns
    -------
    TeacherArtifacts
        The models, the arrays and the report.

    See Also
    --------
    coreset3d.cache.ArtifactCache, fit_classifier, calibrate_head,
    sample_scores, forgetting_events, area_under_margin

    Notes
    -----
    Cost on a miss: ``epochs * n_train`` forward/backward passes of the
    network, then three inference passes (train embeddings for the
    calibration, train and test outputs) and ``calib_epochs * n_train``
    linear-head steps. A hit costs reading the artifacts and hashing the
    inputs (O(bytes)). The calibration freezes the encoder, so the
    calibrated teacher's embeddings equal the teacher's; only the logits
    differ. The scores ``loss``, ``entropy``, ``el2n`` and ``gradnorm``
    use the calibrated logits (the teacher the student learns from);
    ``forgetting`` and ``aum`` use the margins recorded on the augmented
    training batches. Caching is by content: renaming files or moving the
    data does not invalidate artifacts, changing one point or one setting
    does.

    References
    ----------
    "Exploring 3D Dataset Pruning" (3D-Pruner): teacher embeddings and
    class-balanced soft labels (CSL).

    Examples
    --------
    >>> import numpy as np, tempfile
    >>> rng = np.random.default_rng(0)
    >>> pts = rng.normal(size=(24, 32, 3)).astype(np.float32)
    >>> y = np.arange(24) % 2
    >>> pts[y == 1] *= 2.0
    >>> cfg = TeacherConfig(width=0.0625, embed_dim=4, epochs=2, batch_size=8,
    ...                     warmup_epochs=1, calib_epochs=2)
    >>> out = prepare_teacher(pts, y, config=cfg, cache=tempfile.mkdtemp(), device="cpu",
    ...                       progress=False)
    >>> out.embeddings.shape, sorted(out.scores)
    ((24, 4), ['aum', 'el2n', 'entropy', 'forgetting', 'gradnorm', 'loss'])
    """
    config = TeacherConfig() if config is None else config
    if not isinstance(config, TeacherConfig):
        raise TypeError(f"config must be a TeacherConfig, got {type(config).__name__}.")
    if cache is None or isinstance(cache, (str, os.PathLike)):
        cache = ArtifactCache(cache)
    elif not isinstance(cache, ArtifactCache):
        raise TypeError(f"cache must be an ArtifactCache, a path or None, got "
                        f"{type(cache).__name__}.")
    if not isinstance(eval_every, Integral) or isinstance(eval_every, bool) or eval_every < 0:
        raise ValueError(f"eval_every must be an int >= 0 (0: never), got {eval_every!r}.")
    if time_budget_s is not None and not (isinstance(time_budget_s, Real)
                                          and time_budget_s > 0):
        raise ValueError(f"time_budget_s must be None or a number > 0, got {time_budget_s!r}.")
    device = resolve_device(device)
    t0 = time.perf_counter()

    train_pts, train_y = _as_arrays(train_points, train_labels, "train_points")
    if (test_points is None) != (test_labels is None):
        raise ValueError("pass both test_points and test_labels, or neither.")
    test = None
    if test_points is not None:
        test = _as_arrays(test_points, test_labels, "test_points")
        if test[0].shape[1] != train_pts.shape[1]:
            raise ValueError(f"test_points have {test[0].shape[1]} points per shape but "
                             f"train_points have {train_pts.shape[1]}; pass both at the same "
                             "size.")
    if n_classes is None:
        n_classes = int(train_y.max()) + 1
    elif not isinstance(n_classes, Integral) or n_classes <= train_y.max():
        raise ValueError(f"n_classes must be an int > the largest label ({train_y.max()}), "
                         f"got {n_classes!r}.")
    n_classes = int(n_classes)
    if test is not None and test[1].max() >= n_classes:
        raise ValueError(f"test_labels go up to {test[1].max()} but the head has {n_classes} "
                         "outputs; pass n_classes.")
    n_stored = train_pts.shape[1]
    if config.n_points is None:
        config = config.replace(n_points=n_stored)
    if config.n_points > n_stored:
        raise ValueError(f"config.n_points={config.n_points} but the shapes hold only "
                         f"{n_stored} points; pass n_points <= {n_stored}.")
    n = config.n_points

    train_fields = {k: v for k, v in asdict(config).items() if k not in _CALIB_FIELDS}
    calib_fields = {k: getattr(config, k) for k in _CALIB_FIELDS}
    tkey = content_hash(train_pts, train_y, stage="teacher", version=_VERSION,
                        n_classes=n_classes, config=train_fields)
    test_arrays = () if test is None else test
    ckey = content_hash(*test_arrays, stage="calibrated", version=_VERSION, teacher=tkey,
                        config=calib_fields)
    keys = {"teacher": tkey, "calibrated": ckey}
    hits = {}

    # (a) the trained teacher
    if cache.exists(_KIND_TEACHER, tkey, "torch"):
        hits["teacher"] = True
        logger.info("teacher: cache hit %s", tkey[:12])
        teacher, history, tmeta = _unpack_teacher(cache.load_torch(_KIND_TEACHER, tkey), config,
                                                  n_classes, device)
        complete = True
    else:
        hits["teacher"] = False
        logger.info("teacher: training %s (%d epochs, %d shapes, %d points) on %s", tkey[:12],
                    config.epochs, len(train_y), n, device)
        teacher, history, tmeta, complete = _train_teacher(
            config, train_pts, train_y, test, n_classes, cache, tkey, device, progress,
            callbacks, eval_every, time_budget_s)
        if complete:
            cache.save_torch(_KIND_TEACHER, tkey, _pack_teacher(teacher, history, tmeta))
            shutil.rmtree(cache.path(_KIND_CHECKPOINT, tkey), ignore_errors=True)
    teacher.eval()

    train_n = np.ascontiguousarray(train_pts[:, :n])
    test_n = None if test is None else (np.ascontiguousarray(test[0][:, :n]), test[1])

    # (b) the calibrated teacher
    if complete and cache.exists(_KIND_CALIBRATED, ckey, "torch"):
        hits["calibrated"] = True
        logger.info("calibration: cache hit %s", ckey[:12])
        blob = cache.load_torch(_KIND_CALIBRATED, ckey)
        calibrated = config.build_model(n_classes)
        calibrated.load_state_dict(blob["state_dict"])
        calibrated.to(device)
        cmeta = json.loads(blob["meta"])
    else:
        hits["calibrated"] = False
        logger.info("calibration: re-training the head class-balanced (%d epochs)",
                    config.calib_epochs)
        started = time.perf_counter()
        calibrated, rep = calibrate_head(
            teacher, train_n, train_y,
            eval_points=None if test_n is None else test_n[0],
            eval_labels=None if test_n is None else test_n[1],
            epochs=config.calib_epochs, batch_size=config.calib_batch_size, lr=config.calib_lr,
            n_views=config.calib_views,
            augment=default_augmentation(),
            device=device, seed=config.seed, progress=progress)
        cmeta = {"before": _acc_json(rep["before"]), "after": _acc_json(rep["after"]),
                 "eval_set": "test" if test is not None else "train",
                 "calib_s": time.perf_counter() - started,
                 "calib_loss": [float(v) for v in rep["history"].loss]}
        if complete:
            cache.save_torch(_KIND_CALIBRATED, ckey, {
                "state_dict": {k: v.cpu() for k, v in calibrated.state_dict().items()},
                "meta": json.dumps(cmeta)})
    calibrated.eval()
    logger.info("teacher on %s: OA %.4f mAcc %.4f before calibration, OA %.4f mAcc %.4f after",
                cmeta["eval_set"], cmeta["before"]["oa"], cmeta["before"]["macc"],
                cmeta["after"]["oa"], cmeta["after"]["macc"])

    # (c) embeddings, logits and scores
    def compute_outputs():
        started = time.perf_counter()
        logger.info("outputs: embeddings, logits and scores of %d shapes", len(train_y))
        src = as_source(train_n, train_y)
        emb, logits, _ = run_inference(calibrated, src.to(device), batch_size=64, device=device,
                                       progress=progress, desc="embed train")
        with torch.no_grad():
            raw = teacher.head(torch.from_numpy(emb).to(device)).float().cpu().numpy()
        out = {
            "embeddings": emb, "logits": logits, "logits_uncalibrated": raw,
            "labels": train_y,
            "score_loss": loss_scores(logits, train_y),
            "score_entropy": entropy_scores(logits),
            "score_el2n": el2n_scores(logits, train_y),
            "score_gradnorm": head_gradnorm_scores(logits, emb, train_y,
                                                   bias=calibrated.head.bias is not None),
            "score_forgetting": forgetting_events(history.correct, history.seen),
            "score_aum": area_under_margin(history.margins),
        }
        if test_n is not None:
            t_emb, t_logits, _ = run_inference(calibrated, as_source(*test_n).to(device),
                                               batch_size=64, device=device,
                                               progress=progress, desc="embed test")
            out["test_embeddings"], out["test_logits"] = t_emb, t_logits
        out["wall_s"] = np.float64(time.perf_counter() - started)
        return out

    if complete:
        hits["outputs"] = cache.exists(_KIND_OUTPUTS, ckey, "npz")
        outputs = cache.get_or_compute(_KIND_OUTPUTS, ckey, compute_outputs)
    else:
        hits["outputs"] = False
        outputs = compute_outputs()

    scores = {k[len("score_"):]: v for k, v in outputs.items() if k.startswith("score_")}
    report = {
        "config": asdict(config),
        "n_train": int(len(train_y)), "n_test": None if test is None else int(len(test[1])),
        "n_classes": n_classes, "points_stored": int(n_stored),
        "epochs": config.epochs, "epochs_done": int(tmeta["epochs_done"]),
        "complete": bool(complete),
        "before": cmeta["before"], "after": cmeta["after"], "eval_set": cmeta["eval_set"],
        "wall_s": {"train": float(tmeta["train_s"]), "calibrate": float(cmeta["calib_s"]),
                   "outputs": float(outputs["wall_s"]),
                   "this_call": time.perf_counter() - t0},
        "train_sessions": int(tmeta["sessions"]), "resumed_from": int(tmeta["resumed_from"]),
        "test_curve": tmeta["curve"],
        "final_train_loss": float(history.loss[-1]),
        "device": str(device), "torch_threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
        "cache_root": str(cache.root), "keys": keys, "cache_hits": hits,
    }
    return TeacherArtifacts(
        teacher=teacher, calibrated=calibrated, embeddings=outputs["embeddings"],
        logits=outputs["logits"], logits_uncalibrated=outputs["logits_uncalibrated"],
        scores=scores, history=history, test_embeddings=outputs.get("test_embeddings"),
        test_logits=outputs.get("test_logits"), report=report, keys=keys)

