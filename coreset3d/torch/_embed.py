"""Embeddings and logits of a trained network, batched, without gradients."""

import numpy as np
import torch
from tqdm.auto import tqdm

from ._utils import (
    as_source,
    check_encoder_head,
    check_positive_int,
    index_batches,
    preserve_mode,
    resolve_device,
)

__all__ = ["extract_embeddings"]


def run_inference(model, source, *, batch_size, device, progress, desc="embed", transform=None,
                  generator=None):
    """(embeddings, logits, labels) numpy of every sample of ``source``, in order.

    ``labels`` is None when the source has none. ``transform`` (an
    augmentation, called as ``transform(x, generator=generator)``) is applied
    to every batch before the forward pass when given.
    """
    embeddings, logits, labels = [], [], []
    batches = index_batches(len(source), batch_size)
    with preserve_mode(model, training=False), torch.no_grad():
        bar = tqdm(total=len(source), desc=desc, unit="sample", disable=not progress, leave=False)
        with bar:
            for _, x, y in source.batches(batches, device):
                if y is not None:
                    labels.append(y.cpu())
                if transform is not None:
                    x = transform(x, generator=generator)
                feats = model.forward_features(x)
                embeddings.append(feats.float().cpu())
                logits.append(model.head(feats).float().cpu())
                bar.update(x.shape[0])
    y_all = torch.cat(labels).numpy() if labels else None
    return torch.cat(embeddings).numpy(), torch.cat(logits).numpy(), y_all


def extract_embeddings(model, points, *, batch_size=64, device="auto", progress=True):
    """Embeddings and logits of every sample, from a model in eval mode.

    Parameters
    ----------
    model : nn.Module
        A network with ``forward_features`` and a linear ``head`` (see
        :class:`EncoderHead`). It is moved to ``device`` (in place, as
        ``nn.Module.to`` does); its train/eval flags are restored afterwards.
    points : array-like of shape (n_samples, ...) or torch Dataset
        Inputs, e.g. point clouds (n_samples, n_points, 3); a Dataset yields
        ``x`` or ``(x, ...)`` items.
    batch_size : int, default=64
        Samples per forward pass.
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
        "auto" uses CUDA when available.
    progress : bool, default=True
        Show a tqdm progress bar.

    Returns
    -------
    embeddings : ndarray of shape (n_samples, embed_dim), float32
        ``model.forward_features(x)``, the ``X`` the selectors take.
    logits : ndarray of shape (n_samples, n_classes), float32
        ``model.head(embeddings)``.

    See Also
    --------
    coreset3d.torch.sample_scores : scalar scores computed from these outputs.

    Notes
    -----
    One forward pass per sample under ``torch.no_grad``; memory
    O(batch_size) activations plus the O(n_samples (embed_dim + n_classes))
    outputs.

    Examples
    --------
    >>> import numpy as np
    >>> from coreset3d.torch import PointNet
    >>> net = PointNet(n_classes=3, width=0.125, embed_dim=8)
    >>> pts = np.random.default_rng(0).normal(size=(5, 32, 3)).astype(np.float32)
    >>> emb, logits = extract_embeddings(net, pts, device="cpu", progress=False)
    >>> emb.shape, logits.shape, emb.dtype, net.training
    ((5, 8), (5, 3), dtype('float32'), True)
    """
    check_encoder_head(model)
    batch_size = check_positive_int(batch_size, "batch_size")
    device = resolve_device(device)
    source = as_source(points, need_labels=False).to(device)
    model.to(device)
    emb, logits, _ = run_inference(model, source, batch_size=batch_size, device=device,
                                   progress=progress)
    return np.ascontiguousarray(emb), np.ascontiguousarray(logits)
