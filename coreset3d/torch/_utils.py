"""Validation and data plumbing shared by the torch modules (private)."""

from numbers import Integral, Real

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset


def resolve_device(device):
    """``"auto"`` -> cuda when available, else cpu; anything else -> torch.device."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not isinstance(device, str):
        raise TypeError(
            f"device must be 'auto', a device string such as 'cpu' or 'cuda:0', or a "
            f"torch.device; got {type(device).__name__}."
        )
    try:
        resolved = torch.device(device)
    except RuntimeError as exc:
        raise ValueError(
            f"device={device!r} is not a device torch knows; pass 'auto', 'cpu' or 'cuda'."
        ) from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} asks for CUDA but torch.cuda.is_available() is False; pass "
            "device='auto' or 'cpu'."
        )
    return resolved


def check_encoder_head(model, name="model"):
    """Check that ``model`` follows the encoder/head protocol; return its head."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"{name} must be a torch.nn.Module, got {type(model).__name__}.")
    head = getattr(model, "head", None)
    if not callable(getattr(model, "forward_features", None)) or not isinstance(head, nn.Linear):
        raise TypeError(
            f"{name} ({type(model).__name__}) must expose forward_features(x) -> (B, embed_dim) "
            "and a linear head (an nn.Linear attribute 'head'); wrap it with "
            "coreset3d.torch.split_model(model, encoder_attr=..., head_attr=...) or "
            "coreset3d.torch.EncoderHead(encoder, head)."
        )
    return head


def check_positive_int(value, name):
    if not isinstance(value, Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}.")
    return int(value)


def check_nonnegative(value, name, *, upper=None):
    if not isinstance(value, Real) or isinstance(value, bool) or not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}.")
    if value < 0 or (upper is not None and value > upper):
        bound = f"in [0, {upper}]" if upper is not None else ">= 0"
        raise ValueError(f"{name} must be {bound}, got {value!r}.")
    return float(value)


def check_seed(seed):
    if not isinstance(seed, Integral) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}.")
    return int(seed)


class TensorSource:
    """Samples held as tensors: ``points`` (n, ...) float32 and optional int64 labels."""

    def __init__(self, points, labels):
        self.points = points
        self.labels = labels

    def __len__(self):
        return self.points.shape[0]

    def to(self, device):
        labels = None if self.labels is None else self.labels.to(device)
        return TensorSource(self.points.to(device), labels)

    def batches(self, index_batches, device, num_workers=0):
        for idx in index_batches:
            idx_dev = idx.to(self.points.device)
            x = self.points[idx_dev].to(device, non_blocking=True)
            y = None if self.labels is None else self.labels[idx_dev].to(device)
            yield idx, x, y


class _Indexed(Dataset):
    def __init__(self, dataset, with_labels):
        self.dataset = dataset
        self.with_labels = with_labels

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, i):
        item = self.dataset[i]
        x, rest = (item[0], item[1:]) if isinstance(item, (tuple, list)) else (item, ())
        x = torch.as_tensor(x, dtype=torch.float32)
        if not self.with_labels:
            return i, x, 0
        if len(rest) == 0:
            raise ValueError(
                f"dataset item {i} has no label: a torch Dataset passed as points must return "
                "(points, label, ...) tuples when labels=None."
            )
        return i, x, torch.as_tensor(rest[0])


class DatasetSource:
    """Samples served by a torch ``Dataset`` whose items are ``x`` or ``(x, y, ...)``."""

    def __init__(self, dataset, with_labels):
        self.dataset = dataset
        self.with_labels = with_labels

    def __len__(self):
        return len(self.dataset)

    def to(self, device):
        return self

    def batches(self, index_batches, device, num_workers=0):
        loader = DataLoader(
            _Indexed(self.dataset, self.with_labels),
            batch_sampler=[idx.tolist() for idx in index_batches],
            num_workers=num_workers,
            # Its own generator: the loader's base seed must not consume the global RNG
            # (dropout draws from it), or Dataset and array inputs would train differently.
            generator=torch.Generator().manual_seed(0),
        )
        for idx, x, y in loader:
            y = y.to(device, dtype=torch.long) if self.with_labels else None
            yield idx, x.to(device, non_blocking=True), y


def as_source(points, labels=None, *, need_labels=True, n_classes=None, name="points"):
    """Validate ``points`` (+ ``labels``) and wrap them as a batch source.

    ``points`` is an array-like of shape (n, ...) or a torch ``Dataset``. With a
    Dataset, labels come from its items when ``labels`` is None.
    """
    if isinstance(points, Dataset) and not isinstance(points, torch.Tensor):
        n = len(points)
        if n == 0:
            raise ValueError(f"{name} is an empty Dataset; pass at least one sample.")
        if labels is None:
            return DatasetSource(points, with_labels=need_labels)
        labels_t = _check_labels(labels, n, n_classes, name)
        return _LabelledDatasetSource(points, labels_t)
    if isinstance(points, torch.Tensor):
        points_t = points.detach().to(torch.float32)
    else:
        arr = np.asarray(points)
        if arr.dtype == object or not np.issubdtype(arr.dtype, np.number):
            raise TypeError(
                f"{name} must be a numeric array of shape (n_samples, ...) or a torch Dataset, "
                f"got {type(points).__name__} (dtype {arr.dtype}); for a dataset object pass its "
                "point array and labels (e.g. ds.points, ds.labels)."
            )
        points_t = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))
    if points_t.ndim < 2 or points_t.shape[0] == 0:
        raise ValueError(
            f"{name} must have shape (n_samples, ...) with n_samples >= 1, e.g. (n, n_points, 3) "
            f"point clouds; got shape {tuple(points_t.shape)}."
        )
    if not torch.isfinite(points_t).all():
        raise ValueError(f"{name} contains NaN or infinite values; clean or drop those samples.")
    labels_t = None
    if labels is not None:
        labels_t = _check_labels(labels, points_t.shape[0], n_classes, name)
    elif need_labels:
        raise ValueError(f"labels are required with array {name}; pass labels of shape (n,).")
    return TensorSource(points_t, labels_t)


class _LabelledDatasetSource(DatasetSource):
    """A Dataset for the inputs with labels given separately."""

    def __init__(self, dataset, labels):
        super().__init__(dataset, with_labels=False)
        self.labels = labels

    def batches(self, index_batches, device, num_workers=0):
        for idx, x, _ in super().batches(index_batches, device, num_workers):
            yield idx, x, self.labels[idx].to(device)


def _check_labels(labels, n, n_classes, name):
    if isinstance(labels, torch.Tensor):
        labels = labels.detach().cpu().numpy()
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != n:
        raise ValueError(
            f"labels must have shape ({n},) to match {name}, got shape {labels.shape}."
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(
            f"labels must be integer class indices 0..n_classes-1, got dtype {labels.dtype}; "
            "encode string labels first (e.g. sklearn.preprocessing.LabelEncoder)."
        )
    if labels.min() < 0 or (n_classes is not None and labels.max() >= n_classes):
        hi = "n_classes-1" if n_classes is None else str(n_classes - 1)
        raise ValueError(
            f"labels must lie in 0..{hi} (the model's head has {n_classes} outputs), got values "
            f"in {labels.min()}..{labels.max()}."
        )
    return torch.from_numpy(labels.astype(np.int64))


def check_sample_weight(sample_weight, n):
    """None -> None; otherwise a float32 tensor of n finite non-negative weights."""
    if sample_weight is None:
        return None
    if isinstance(sample_weight, torch.Tensor):
        sample_weight = sample_weight.detach().cpu().numpy()
    w = np.asarray(sample_weight, dtype=np.float64)
    if w.ndim != 1 or w.shape[0] != n:
        raise ValueError(
            f"sample_weight must have shape ({n},), one weight per sample, got shape {w.shape}."
        )
    if not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValueError(
            "sample_weight must be finite and non-negative with a positive sum (e.g. a "
            "selector's weights_)."
        )
    return torch.from_numpy(w.astype(np.float32))


def module_device(module):
    """Device of the first parameter or buffer of ``module`` (cpu when it has none)."""
    for t in module.parameters():
        return t.device
    for t in module.buffers():
        return t.device
    return torch.device("cpu")


class preserve_mode:
    """Context manager: set ``module`` to eval (or train) mode, restore every flag on exit.

    Flags are kept per submodule, so a submodule the caller froze in eval mode
    (e.g. a frozen batch norm) stays so afterwards.
    """

    def __init__(self, module, training=False):
        self.module = module
        self.training = training

    def __enter__(self):
        self.flags = [(m, m.training) for m in self.module.modules()]
        self.module.train(self.training)
        return self.module

    def __exit__(self, *exc):
        for m, flag in self.flags:
            m.training = flag
        return False


def index_batches(n, batch_size):
    """Consecutive index batches 0..n-1 for inference."""
    return [torch.arange(s, min(s + batch_size, n)) for s in range(0, n, batch_size)]
