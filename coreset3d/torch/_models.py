"""CPU-sized point-cloud classifiers and the encoder/head protocol.

Every network that :mod:`coreset3d.torch` trains, scores or distils follows
one protocol: ``forward_features(x) -> (B, embed_dim)`` gives the embedding
the selectors work on and a linear ``head`` (an ``nn.Linear``) maps it to
logits, so ``model(x) == model.head(model.forward_features(x))``.
:class:`PointNet` and :class:`DGCNN` follow it; wrap any other model with
:class:`EncoderHead` or :func:`split_model`.
"""

from numbers import Integral, Real

import torch
from torch import nn

__all__ = ["PointNet", "DGCNN", "EncoderHead", "split_model"]


def _scaled(channels, width):
    return max(1, int(round(channels * width)))


def _check_init(n_classes, width, embed_dim, dropout, cls):
    if not isinstance(n_classes, Integral) or n_classes < 1:
        raise ValueError(f"{cls}: n_classes must be an int >= 1, got {n_classes!r}.")
    if not isinstance(width, Real) or not width > 0:
        raise ValueError(f"{cls}: width must be a number > 0 (channel multiplier), got {width!r}.")
    if not isinstance(embed_dim, Integral) or embed_dim < 1:
        raise ValueError(f"{cls}: embed_dim must be an int >= 1, got {embed_dim!r}.")
    if not isinstance(dropout, Real) or not 0 <= dropout < 1:
        raise ValueError(f"{cls}: dropout must be a probability in [0, 1), got {dropout!r}.")


def _check_points(x, cls):
    if x.ndim != 3 or x.shape[-1] != 3:
        raise ValueError(
            f"{cls} expects point clouds of shape (batch, n_points, 3), got {tuple(x.shape)}."
        )


class PointNet(nn.Module):
    """PointNet classifier without the T-Nets (vanilla PointNet).

    A shared per-point MLP (1x1 convolutions 64-64-64-128-``1024 * width``
    with batch norm), a max-pool over points, then an MLP to the
    ``embed_dim`` embedding and a linear head.

    Parameters
    ----------
    n_classes : int
        Number of output classes.
    width : float, default=1.0
        Multiplier of every hidden width (0.25 gives a model a quarter as
        wide, for CPU runs and tests).
    embed_dim : int, default=256
        Size of the embedding returned by :meth:`forward_features`.
    dropout : float, default=0.3
        Dropout probability inside the embedding MLP.

    Attributes
    ----------
    point_mlp : nn.Sequential
        The shared per-point MLP, input (B, 3, N).
    global_mlp : nn.Sequential
        Max-pooled global feature -> embedding (B, embed_dim).
    head : nn.Linear
        Embedding -> logits (B, n_classes).

    See Also
    --------
    DGCNN : a stronger, slower local-geometry network.

    Notes
    -----
    Time O(B N width^2) per forward; memory O(B N width). The embedding is
    taken after the last ReLU, so ``head(forward_features(x))`` are the
    logits in both train and eval mode.

    References
    ----------
    Qi et al., "PointNet: Deep Learning on Point Sets for 3D Classification
    and Segmentation", CVPR 2017 (the vanilla variant of Sec. 5.1).

    Examples
    --------
    >>> import torch
    >>> net = PointNet(n_classes=4, width=0.125, embed_dim=16).eval()
    >>> net.forward_features(torch.randn(2, 32, 3)).shape, net(torch.randn(2, 32, 3)).shape
    (torch.Size([2, 16]), torch.Size([2, 4]))
    """

    def __init__(self, n_classes, *, width=1.0, embed_dim=256, dropout=0.3):
        super().__init__()
        _check_init(n_classes, width, embed_dim, dropout, "PointNet")
        channels = [_scaled(c, width) for c in (64, 64, 64, 128, 1024)]
        layers, c_in = [], 3
        for c_out in channels:
            layers += [nn.Conv1d(c_in, c_out, 1, bias=False), nn.BatchNorm1d(c_out), nn.ReLU()]
            c_in = c_out
        self.point_mlp = nn.Sequential(*layers)
        hidden = _scaled(512, width)
        self.global_mlp = nn.Sequential(
            nn.Linear(channels[-1], hidden, bias=False),
            nn.BatchNorm1d(hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, embed_dim, bias=False),
            nn.BatchNorm1d(embed_dim),
            nn.ReLU(),
        )
        self.head = nn.Linear(embed_dim, n_classes)
        self.embed_dim = int(embed_dim)
        self.n_classes = int(n_classes)

    def forward_features(self, x):
        """Embedding of a batch of point clouds ``x`` (B, N, 3) -> (B, embed_dim)."""
        _check_points(x, "PointNet")
        per_point = self.point_mlp(x.transpose(1, 2))
        return self.global_mlp(per_point.amax(dim=2))

    def forward(self, x):
        """Logits (B, n_classes) of ``x`` (B, N, 3)."""
        return self.head(self.forward_features(x))


def knn_indices(features, k):
    """Indices of the ``k`` nearest neighbours of every point, in feature space.

    Parameters
    ----------
    features : Tensor of shape (B, C, N)
    k : int
        Neighbours per point (the point itself included); capped at N.

    Returns
    -------
    idx : LongTensor of shape (B, N, k)
    """
    # fp32 even under autocast: low-precision distances reorder near neighbours.
    with torch.no_grad(), torch.autocast(features.device.type, enabled=False):
        f = features.float()
        sq = (f * f).sum(dim=1)  # (B, N)
        # -||fi - fj||^2 = 2 <fi, fj> - |fi|^2 - |fj|^2, one batched matmul, no (B,N,N,C).
        neg_dist = 2.0 * torch.bmm(f.transpose(1, 2), f) - sq[:, :, None] - sq[:, None, :]
        return neg_dist.topk(min(k, f.shape[2]), dim=-1).indices


class _EdgeConv(nn.Module):
    """EdgeConv h(x_i, x_j - x_i) with max aggregation over the kNN graph.

    The 1x1 convolution on the concatenated edge feature ``[x_j - x_i, x_i]``
    is linear, so it splits as ``A x_j + B x_i``: both projections run on the
    N points before the gather, which then moves C_out (not 2 C_in) channels
    per edge.
    """

    def __init__(self, c_in, c_out, k):
        super().__init__()
        self.k = k
        self.neighbour = nn.Conv1d(c_in, c_out, 1, bias=False)
        self.centre = nn.Conv1d(c_in, c_out, 1, bias=False)
        self.norm = nn.BatchNorm2d(c_out)
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x):
        b, _, n = x.shape
        idx = knn_indices(x, self.k)  # (B, N, k)
        k = idx.shape[2]
        nb = self.neighbour(x).transpose(1, 2).reshape(b * n, -1)  # (B*N, C_out)
        offset = torch.arange(b, device=x.device).view(b, 1, 1) * n
        gathered = nb[(idx + offset).reshape(-1)].view(b, n, k, -1)
        edges = gathered.permute(0, 3, 1, 2) + self.centre(x).unsqueeze(-1)  # (B, C_out, N, k)
        return self.act(self.norm(edges)).amax(dim=-1)


class DGCNN(nn.Module):
    """Dynamic Graph CNN classifier (EdgeConv on a kNN graph rebuilt per layer).

    Four EdgeConv layers (64-64-128-256 channels times ``width``), each on the
    kNN graph of the previous layer's features, a 1x1 convolution to
    ``1024 * width`` channels, max- and average-pooling, then an MLP to the
    ``embed_dim`` embedding and a linear head.

    Parameters
    ----------
    n_classes : int
        Number of output classes.
    k : int, default=20
        Neighbours per point in each EdgeConv (capped at the number of points).
    width : float, default=1.0
        Multiplier of every hidden width.
    embed_dim : int, default=256
        Size of the embedding returned by :meth:`forward_features`.
    dropout : float, default=0.5
        Dropout probability inside the embedding MLP.

    Attributes
    ----------
    edge_convs : nn.ModuleList
        The four EdgeConv layers.
    head : nn.Linear
        Embedding -> logits (B, n_classes).

    See Also
    --------
    PointNet : a lighter network without local neighbourhoods.

    Notes
    -----
    The kNN graph costs one batched matmul and ``torch.topk`` per layer,
    O(B N^2 C) time and O(B N^2) memory for the distances (no (B, N, N, C)
    difference tensor). Each EdgeConv projects the points before gathering
    their neighbours (see ``_EdgeConv``), so the edge tensor is
    (B, C_out, N, k); this parametrisation is equivalent to the original
    1x1 convolution on ``[x_j - x_i, x_i]``.

    References
    ----------
    Wang et al., "Dynamic Graph CNN for Learning on Point Clouds", ACM TOG
    2019 (EdgeConv, Eq. 8).

    Examples
    --------
    >>> import torch
    >>> net = DGCNN(n_classes=4, k=4, width=0.0625, embed_dim=8).eval()
    >>> net.forward_features(torch.randn(2, 32, 3)).shape
    torch.Size([2, 8])
    """

    def __init__(self, n_classes, *, k=20, width=1.0, embed_dim=256, dropout=0.5):
        super().__init__()
        _check_init(n_classes, width, embed_dim, dropout, "DGCNN")
        if not isinstance(k, Integral) or k < 1:
            raise ValueError(f"DGCNN: k must be an int >= 1 (neighbours per point), got {k!r}.")
        channels = [_scaled(c, width) for c in (64, 64, 128, 256)]
        convs, c_in = [], 3
        for c_out in channels:
            convs.append(_EdgeConv(c_in, c_out, int(k)))
            c_in = c_out
        self.edge_convs = nn.ModuleList(convs)
        global_dim = _scaled(1024, width)
        self.fuse = nn.Sequential(
            nn.Conv1d(sum(channels), global_dim, 1, bias=False),
            nn.BatchNorm1d(global_dim),
            nn.LeakyReLU(0.2),
        )
        hidden = _scaled(512, width)
        self.global_mlp = nn.Sequential(
            nn.Linear(2 * global_dim, hidden, bias=False),
            nn.BatchNorm1d(hidden),
            nn.LeakyReLU(0.2),
            nn.Dropout(dropout),
            nn.Linear(hidden, embed_dim, bias=False),
            nn.BatchNorm1d(embed_dim),
            nn.LeakyReLU(0.2),
        )
        self.head = nn.Linear(embed_dim, n_classes)
        self.k = int(k)
        self.embed_dim = int(embed_dim)
        self.n_classes = int(n_classes)

    def forward_features(self, x):
        """Embedding of a batch of point clouds ``x`` (B, N, 3) -> (B, embed_dim)."""
        _check_points(x, "DGCNN")
        h = x.transpose(1, 2)
        levels = []
        for conv in self.edge_convs:
            h = conv(h)
            levels.append(h)
        fused = self.fuse(torch.cat(levels, dim=1))
        pooled = torch.cat([fused.amax(dim=2), fused.mean(dim=2)], dim=1)
        return self.global_mlp(pooled)

    def forward(self, x):
        """Logits (B, n_classes) of ``x`` (B, N, 3)."""
        return self.head(self.forward_features(x))


class EncoderHead(nn.Module):
    """Put any encoder and linear head behind the encoder/head protocol.

    Parameters
    ----------
    encoder : nn.Module
        Maps a batch of inputs to embeddings (B, embed_dim).
    head : nn.Linear
        Maps embeddings to logits (B, n_classes).

    Attributes
    ----------
    encoder : nn.Module
    head : nn.Linear

    See Also
    --------
    split_model : build one from the attributes of an existing model.

    Notes
    -----
    The modules are shared, not copied: training the wrapper trains them.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> model = EncoderHead(nn.Sequential(nn.Flatten(), nn.Linear(6, 8), nn.ReLU()),
    ...                     nn.Linear(8, 3))
    >>> model.forward_features(torch.zeros(5, 2, 3)).shape, model(torch.zeros(5, 2, 3)).shape
    (torch.Size([5, 8]), torch.Size([5, 3]))
    """

    def __init__(self, encoder, head):
        super().__init__()
        if not isinstance(encoder, nn.Module):
            raise TypeError(f"encoder must be an nn.Module, got {type(encoder).__name__}.")
        if not isinstance(head, nn.Linear):
            raise TypeError(
                f"head must be an nn.Linear (the last layer, embeddings -> logits), got "
                f"{type(head).__name__}; move any non-linear layers into the encoder."
            )
        self.encoder = encoder
        self.head = head

    def forward_features(self, x):
        """Embeddings (B, embed_dim) of the batch ``x``."""
        return self.encoder(x)

    def forward(self, x):
        """Logits (B, n_classes) of the batch ``x``."""
        return self.head(self.encoder(x))


def split_model(model, *, encoder_attr="encoder", head_attr="head"):
    """Wrap a model whose forward is ``head(encoder(x))`` as an :class:`EncoderHead`.

    Parameters
    ----------
    model : nn.Module
        A classifier whose ``forward(x)`` equals
        ``getattr(model, head_attr)(getattr(model, encoder_attr)(x))``.
    encoder_attr : str, default="encoder"
        Name of the submodule that maps inputs to embeddings.
    head_attr : str, default="head"
        Name of the final ``nn.Linear`` (embeddings -> logits).

    Returns
    -------
    wrapped : EncoderHead
        Shares its modules (and so its parameters) with ``model``.

    See Also
    --------
    EncoderHead

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> class Net(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.backbone = nn.Sequential(nn.Flatten(), nn.Linear(6, 8), nn.ReLU())
    ...         self.fc = nn.Linear(8, 4)
    ...     def forward(self, x):
    ...         return self.fc(self.backbone(x))
    >>> net = Net()
    >>> model = split_model(net, encoder_attr="backbone", head_attr="fc")
    >>> x = torch.randn(5, 2, 3)
    >>> model.forward_features(x).shape, bool(torch.equal(model(x), net(x)))
    (torch.Size([5, 8]), True)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}.")
    found = dict(model.named_children())
    for attr, role in ((encoder_attr, "encoder_attr"), (head_attr, "head_attr")):
        if not isinstance(getattr(model, attr, None), nn.Module):
            raise ValueError(
                f"{role}={attr!r} is not a submodule of {type(model).__name__}; its submodules "
                f"are {sorted(found)}."
            )
    return EncoderHead(getattr(model, encoder_attr), getattr(model, head_attr))
