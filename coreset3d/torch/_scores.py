"""Per-sample difficulty scores for the scalar pruning baselines.

The closed-form scores (loss, entropy, EL2N, head GradNorm) are numpy
functions of a model's logits and embeddings (see
:func:`~coreset3d.torch.extract_embeddings`); the training-dynamics scores
(forgetting events, AUM) read the record that
``fit_classifier(..., record_dynamics=True)`` keeps. :func:`sample_scores`
computes the first group straight from a model. For every score but AUM a
higher value means a harder (more informative, or noisier) sample; a low
AUM flags a likely mislabeled one.
"""

import numpy as np
import torch
import torch.nn.functional as F
from scipy.special import log_softmax
from tqdm.auto import tqdm

from ._embed import run_inference
from ._utils import (
    as_source,
    check_encoder_head,
    check_positive_int,
    index_batches,
    preserve_mode,
    resolve_device,
)

__all__ = [
    "loss_scores",
    "entropy_scores",
    "el2n_scores",
    "head_gradnorm_scores",
    "forgetting_events",
    "area_under_margin",
    "sample_scores",
]

_SCORES = ("loss", "entropy", "el2n", "gradnorm")


def _check_logits(logits, labels=None):
    logits = np.asarray(logits, dtype=np.float64)
    if logits.ndim != 2 or logits.shape[0] == 0:
        raise ValueError(
            f"logits must have shape (n_samples, n_classes) with n_samples >= 1, got "
            f"{logits.shape}."
        )
    if not np.all(np.isfinite(logits)):
        raise ValueError("logits contain NaN or infinite values.")
    if labels is None:
        return logits, None
    labels = np.asarray(labels)
    if labels.shape != (logits.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"labels must be {logits.shape[0]} integer classes (one per row of logits), got "
            f"shape {labels.shape} and dtype {labels.dtype}."
        )
    if labels.min() < 0 or labels.max() >= logits.shape[1]:
        raise ValueError(
            f"labels must lie in 0..{logits.shape[1] - 1} (the columns of logits), got values "
            f"in {labels.min()}..{labels.max()}."
        )
    return logits, labels


def loss_scores(logits, labels):
    """Cross-entropy loss of each sample.

    Parameters
    ----------
    logits : array-like of shape (n_samples, n_classes)
    labels : array-like of shape (n_samples,)
        Integer classes ``0..n_classes-1``.

    Returns
    -------
    loss : ndarray of shape (n_samples,), float64

    Examples
    --------
    >>> loss_scores([[0.0, 0.0]], [1]).round(4)
    array([0.6931])
    """
    logits, labels = _check_logits(logits, labels)
    return -log_softmax(logits, axis=1)[np.arange(labels.shape[0]), labels]


def entropy_scores(logits):
    """Entropy (nats) of each sample's predicted class distribution.

    Parameters
    ----------
    logits : array-like of shape (n_samples, n_classes)

    Returns
    -------
    entropy : ndarray of shape (n_samples,), float64
        In [0, log n_classes]; high means an uncertain prediction.

    References
    ----------
    Coleman et al., "Selection via Proxy", ICLR 2020 (entropy baseline).

    Examples
    --------
    >>> entropy_scores([[0.0, 0.0], [100.0, 0.0]]).round(4)
    array([0.6931, 0.    ])
    """
    logits, _ = _check_logits(logits)
    logp = log_softmax(logits, axis=1)
    return -(np.exp(logp) * logp).sum(axis=1)


def _residual(logits, labels):
    """softmax(logits) - onehot(labels), (n, C)."""
    p = np.exp(log_softmax(logits, axis=1))
    p[np.arange(labels.shape[0]), labels] -= 1.0
    return p


def el2n_scores(logits, labels):
    """EL2N: L2 norm of the error vector ``softmax(logits) - onehot(label)``.

    Parameters
    ----------
    logits : array-like of shape (n_samples, n_classes)
    labels : array-like of shape (n_samples,)
        Integer classes ``0..n_classes-1``.

    Returns
    -------
    el2n : ndarray of shape (n_samples,), float64
        In [0, sqrt(2)].

    Notes
    -----
    Paul et al. average it over a few networks early in training; pass the
    logits of such a network (or the mean score of several).

    References
    ----------
    Paul, Ganguli & Dziugaite, "Deep Learning on a Data Diet", NeurIPS 2021,
    Eq. 2.

    Examples
    --------
    >>> el2n_scores([[0.0, 0.0]], [0]).round(4)
    array([0.7071])
    """
    logits, labels = _check_logits(logits, labels)
    return np.linalg.norm(_residual(logits, labels), axis=1)


def head_gradnorm_scores(logits, embeddings, labels, *, bias=True):
    """Norm of the cross-entropy gradient with respect to a linear head.

    For logits ``W h + b`` the gradient is ``(p - y) h^T`` for ``W`` and
    ``p - y`` for ``b``, so its norm is ``||p - y|| * sqrt(||h||^2 + 1)``
    (without the 1 when the head has no bias): no backward pass needed.

    Parameters
    ----------
    logits : array-like of shape (n_samples, n_classes)
        ``head(embeddings)``.
    embeddings : array-like of shape (n_samples, embed_dim)
        The head's input ``h``.
    labels : array-like of shape (n_samples,)
        Integer classes ``0..n_classes-1``.
    bias : bool, default=True
        Whether the head has a bias.

    Returns
    -------
    gradnorm : ndarray of shape (n_samples,), float64

    See Also
    --------
    sample_scores : ``gradnorm="full"`` for the gradient of all parameters.

    References
    ----------
    Paul, Ganguli & Dziugaite, "Deep Learning on a Data Diet", NeurIPS 2021,
    Eq. 1 (GraNd), restricted to the last layer.

    Examples
    --------
    >>> head_gradnorm_scores([[0.0, 0.0]], [[3.0, 4.0]], [0], bias=False).round(4)
    array([3.5355])
    """
    logits, labels = _check_logits(logits, labels)
    h = np.asarray(embeddings, dtype=np.float64)
    if h.ndim != 2 or h.shape[0] != logits.shape[0]:
        raise ValueError(
            f"embeddings must have shape ({logits.shape[0]}, embed_dim) to match logits, got "
            f"{h.shape}."
        )
    h_sq = (h * h).sum(axis=1) + (1.0 if bias else 0.0)
    return np.linalg.norm(_residual(logits, labels), axis=1) * np.sqrt(h_sq)


def forgetting_events(correct, seen=None):
    """Number of forgetting events (correct -> incorrect transitions) per sample.

    Parameters
    ----------
    correct : array-like of shape (n_epochs, n_samples), bool
        Whether each sample was classified correctly in each epoch
        (``history.correct`` of ``fit_classifier(..., record_dynamics=True)``).
    seen : array-like of shape (n_epochs, n_samples), bool, default=None
        Which entries were observed (``history.seen``); transitions are
        counted between consecutive observed epochs. Default: all.

    Returns
    -------
    counts : ndarray of shape (n_samples,), float64
        Forgetting events; a sample never classified correctly (never
        learned) gets ``n_epochs``, more than any learned sample can reach,
        so it ranks as the most forgettable.

    Notes
    -----
    O(n_epochs n_samples).

    References
    ----------
    Toneva et al., "An Empirical Study of Example Forgetting during Deep
    Neural Network Learning", ICLR 2019, Sec. 2 (unlearned examples are
    treated as forgotten an infinite number of times).

    Examples
    --------
    >>> correct = [[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 1, 0]]
    >>> forgetting_events(correct)
    array([2., 0., 4.])
    """
    correct = np.asarray(correct)
    if correct.ndim != 2 or correct.shape[0] == 0:
        raise ValueError(
            f"correct must have shape (n_epochs, n_samples) with n_epochs >= 1, got "
            f"{correct.shape}."
        )
    correct = correct.astype(bool)
    seen = np.ones_like(correct) if seen is None else np.asarray(seen, dtype=bool)
    if seen.shape != correct.shape:
        raise ValueError(f"seen must have the shape of correct {correct.shape}, got {seen.shape}.")
    n_epochs, n_samples = correct.shape
    counts = np.zeros(n_samples)
    last = np.zeros(n_samples, dtype=bool)  # outcome at the last observed epoch
    observed = np.zeros(n_samples, dtype=bool)
    for t in range(n_epochs):
        now = correct[t]
        counts += seen[t] & observed & last & ~now
        last = np.where(seen[t], now, last)
        observed |= seen[t]
    learned = (correct & seen).any(axis=0)
    counts[~learned] = n_epochs
    return counts


def area_under_margin(margins):
    """AUM: mean over epochs of the assigned logit minus the largest other logit.

    Parameters
    ----------
    margins : array-like of shape (n_epochs, n_samples)
        Per-epoch margins (``history.margins`` of
        ``fit_classifier(..., record_dynamics=True)``); NaN marks an epoch in
        which the sample was not drawn.

    Returns
    -------
    aum : ndarray of shape (n_samples,), float64
        Mean over the observed epochs; NaN for a sample never observed. Low
        (negative) values flag likely mislabeled samples.

    References
    ----------
    Pleiss et al., "Identifying Mislabeled Data using the Area Under the
    Margin Ranking", NeurIPS 2020, Eq. 1-2.

    Examples
    --------
    >>> area_under_margin([[1.0, -2.0], [3.0, np.nan]])
    array([ 2., -2.])
    """
    margins = np.asarray(margins, dtype=np.float64)
    if margins.ndim != 2 or margins.shape[0] == 0:
        raise ValueError(
            f"margins must have shape (n_epochs, n_samples) with n_epochs >= 1, got "
            f"{margins.shape}."
        )
    seen = ~np.isnan(margins)
    total = np.where(seen, margins, 0.0).sum(axis=0)
    count = seen.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _full_gradnorms(model, source, device, progress):
    params = [p for p in model.parameters() if p.requires_grad]
    out = np.empty(len(source))
    with preserve_mode(model, training=False):
        batches = index_batches(len(source), 1)
        bar = tqdm(total=len(source), desc="gradnorm", disable=not progress, leave=False)
        with bar:
            for idx, x, y in source.batches(batches, device):
                loss = F.cross_entropy(model(x).float(), y)
                grads = torch.autograd.grad(loss, params, allow_unused=True)
                sq = sum(g.double().pow(2).sum() for g in grads if g is not None)
                out[idx.item()] = float(torch.sqrt(torch.as_tensor(sq)))
                bar.update(1)
    return out


def sample_scores(model, points, labels, *, scores=_SCORES, gradnorm="head", batch_size=64,
                  device="auto", progress=True):
    """Loss, entropy, EL2N and GradNorm of every sample under a trained model.

    Parameters
    ----------
    model : nn.Module
        A network with ``forward_features`` and a linear ``head``; run in
        eval mode, its flags restored afterwards, moved to ``device``.
    points : array-like of shape (n_samples, ...) or torch Dataset
        Inputs (un-augmented).
    labels : array-like of shape (n_samples,) or None
        Integer classes; None when a Dataset yields ``(x, y)``.
    scores : sequence of {"loss", "entropy", "el2n", "gradnorm"}, default=all
        Which scores to compute.
    gradnorm : {"head", "full"}, default="head"
        "head": closed form for the linear head
        (:func:`head_gradnorm_scores`); "full": norm of the gradient of all
        trainable parameters, one backward pass per sample (slow).
    batch_size : int, default=64
        Samples per forward pass.
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
    progress : bool, default=True
        Show tqdm progress bars.

    Returns
    -------
    scores : dict of str -> ndarray of shape (n_samples,)

    See Also
    --------
    forgetting_events, area_under_margin : scores from training dynamics.

    Notes
    -----
    One forward pass per sample, plus one backward pass per sample for
    ``gradnorm="full"``.

    Examples
    --------
    >>> import numpy as np
    >>> from coreset3d.torch import PointNet
    >>> net = PointNet(n_classes=2, width=0.125, embed_dim=8)
    >>> pts = np.random.default_rng(0).normal(size=(4, 32, 3)).astype(np.float32)
    >>> out = sample_scores(net, pts, [0, 1, 0, 1], device="cpu", progress=False)
    >>> sorted(out), out["el2n"].shape
    (['el2n', 'entropy', 'gradnorm', 'loss'], (4,))
    """
    head = check_encoder_head(model)
    wanted = [scores] if isinstance(scores, str) else list(scores)
    unknown = [s for s in wanted if s not in _SCORES]
    if unknown or not wanted:
        raise ValueError(f"scores must be a non-empty subset of {list(_SCORES)}, got {scores!r}.")
    if gradnorm not in ("head", "full"):
        raise ValueError(f"gradnorm must be 'head' or 'full', got {gradnorm!r}.")
    batch_size = check_positive_int(batch_size, "batch_size")
    device = resolve_device(device)
    source = as_source(points, labels, n_classes=head.out_features).to(device)
    model.to(device)
    emb, logits, y = run_inference(model, source, batch_size=batch_size, device=device,
                                   progress=progress, desc="scores")
    logits, y = _check_logits(logits, y)
    out = {}
    if "loss" in wanted:
        out["loss"] = loss_scores(logits, y)
    if "entropy" in wanted:
        out["entropy"] = entropy_scores(logits)
    if "el2n" in wanted:
        out["el2n"] = el2n_scores(logits, y)
    if "gradnorm" in wanted:
        if gradnorm == "head":
            out["gradnorm"] = head_gradnorm_scores(logits, emb, y, bias=head.bias is not None)
        else:
            out["gradnorm"] = _full_gradnorms(model, source, device, progress)
    return out
