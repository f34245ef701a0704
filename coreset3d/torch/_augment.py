"""Batched point-cloud augmentations on tensors.

Every transform maps a batch ``points`` of shape (B, N, 3) to a new tensor
(the input is not modified) and draws one set of random parameters per
cloud from the optional ``generator``, so a seeded generator makes the
augmentation reproducible. Draws happen on the generator's device and move
to the points' device.
"""

import math
from numbers import Integral, Real

import torch

__all__ = [
    "Compose",
    "RandomScale",
    "RandomTranslate",
    "Jitter",
    "RandomRotate",
    "RandomPointDropout",
    "RandomResample",
    "default_augmentation",
]

_AXES = {"x": 0, "y": 1, "z": 2}


def _check_batch(points, name):
    if not isinstance(points, torch.Tensor) or points.ndim != 3 or points.shape[-1] != 3:
        shape = tuple(points.shape) if isinstance(points, torch.Tensor) else type(points).__name__
        raise ValueError(f"{name} expects a tensor of shape (batch, n_points, 3), got {shape}.")


def _draw(kind, shape, points, generator):
    device = generator.device if generator is not None else points.device
    fn = torch.rand if kind == "uniform" else torch.randn
    out = fn(shape, generator=generator, device=device, dtype=torch.float32)
    return out.to(points.device)


def _check_real(value, name, cls, *, low=0.0, strict=False):
    bad = not isinstance(value, Real) or isinstance(value, bool) or not math.isfinite(value)
    if bad or value < low or (strict and value == low):
        rel = ">" if strict else ">="
        raise ValueError(f"{cls}: {name} must be a finite number {rel} {low}, got {value!r}.")
    return float(value)


class _Transform:
    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class RandomScale(_Transform):
    """Multiply each cloud by a random factor in ``[low, high]``.

    Parameters
    ----------
    low, high : float, default=2/3, 3/2
        Range of the scale factors (DGCNN's ``translate_pointcloud`` range).
    anisotropic : bool, default=True
        Draw one factor per axis (True) or one per cloud (False).

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> RandomScale()(torch.ones(2, 5, 3), generator=g).shape
    torch.Size([2, 5, 3])
    """

    def __init__(self, low=2 / 3, high=3 / 2, *, anisotropic=True):
        self.low = _check_real(low, "low", "RandomScale", strict=True)
        self.high = _check_real(high, "high", "RandomScale", low=self.low)
        self.anisotropic = bool(anisotropic)

    def __call__(self, points, generator=None):
        _check_batch(points, "RandomScale")
        shape = (points.shape[0], 1, 3 if self.anisotropic else 1)
        u = _draw("uniform", shape, points, generator)
        return points * (self.low + (self.high - self.low) * u).to(points.dtype)


class RandomTranslate(_Transform):
    """Shift each cloud by a random vector with entries in ``[-shift, shift]``.

    Parameters
    ----------
    shift : float, default=0.2
        Largest shift per axis.

    Examples
    --------
    >>> import torch
    >>> out = RandomTranslate(0.1)(torch.zeros(4, 8, 3))
    >>> bool(out.abs().max() <= 0.1), bool((out == out[:, :1]).all())
    (True, True)
    """

    def __init__(self, shift=0.2):
        self.shift = _check_real(shift, "shift", "RandomTranslate")

    def __call__(self, points, generator=None):
        _check_batch(points, "RandomTranslate")
        u = _draw("uniform", (points.shape[0], 1, 3), points, generator)
        return points + (self.shift * (2.0 * u - 1.0)).to(points.dtype)


class Jitter(_Transform):
    """Add clipped Gaussian noise to every coordinate.

    Parameters
    ----------
    sigma : float, default=0.01
        Standard deviation of the noise.
    clip : float, default=0.05
        The noise is clipped to ``[-clip, clip]``.

    Examples
    --------
    >>> import torch
    >>> bool(Jitter(sigma=1.0, clip=0.05)(torch.zeros(2, 100, 3)).abs().max() <= 0.05)
    True
    """

    def __init__(self, sigma=0.01, clip=0.05):
        self.sigma = _check_real(sigma, "sigma", "Jitter")
        self.clip = _check_real(clip, "clip", "Jitter")

    def __call__(self, points, generator=None):
        _check_batch(points, "Jitter")
        noise = _draw("normal", tuple(points.shape), points, generator)
        return points + (self.sigma * noise).clamp(-self.clip, self.clip).to(points.dtype)


class RandomRotate(_Transform):
    """Rotate each cloud about one coordinate axis by a random angle.

    Parameters
    ----------
    axis : {"x", "y", "z"} or int, default="y"
        The up axis. ModelNet40's HDF5 release (``modelnet40_ply_hdf5_2048``)
        and ScanObjectNN's HDF5 files are y-up: PointNet's
        ``rotate_point_cloud`` turns them about y. Mesh folders converted
        from .off files are often z-up.
    low, high : float, default=0, 2*pi
        Range of the angle in radians.

    Notes
    -----
    A rotation preserves every point's norm and pairwise distance.

    Examples
    --------
    >>> import torch
    >>> x = torch.randn(2, 16, 3)
    >>> y = RandomRotate(axis="y")(x)
    >>> torch.allclose(x.norm(dim=-1), y.norm(dim=-1), atol=1e-5), torch.equal(x[..., 1], y[..., 1])
    (True, True)
    """

    def __init__(self, axis="y", low=0.0, high=2 * math.pi):
        if isinstance(axis, str) and axis.lower() in _AXES:
            self.axis = axis.lower()
        elif isinstance(axis, Integral) and 0 <= axis <= 2:
            self.axis = "xyz"[axis]
        else:
            raise ValueError(f"RandomRotate: axis must be 'x', 'y', 'z' or 0..2, got {axis!r}.")
        self.low = float(low)
        self.high = float(high)
        if not (math.isfinite(self.low) and math.isfinite(self.high) and self.low <= self.high):
            raise ValueError(
                f"RandomRotate: need finite angles low <= high (radians), got {low!r}, {high!r}."
            )

    def __call__(self, points, generator=None):
        _check_batch(points, "RandomRotate")
        b = points.shape[0]
        theta = self.low + (self.high - self.low) * _draw("uniform", (b,), points, generator)
        c, s = torch.cos(theta), torch.sin(theta)
        a = _AXES[self.axis]
        i, j = [d for d in range(3) if d != a]
        rot = torch.zeros(b, 3, 3, device=points.device)
        rot[:, a, a] = 1.0
        rot[:, i, i] = c
        rot[:, j, j] = c
        rot[:, i, j] = s
        rot[:, j, i] = -s
        # Row-vector points, x @ R; about y, R is PointNet's [[c, 0, s], [0, 1, 0], [-s, 0, c]].
        return torch.bmm(points, rot.to(points.dtype))


class RandomPointDropout(_Transform):
    """Drop a random share of each cloud's points, keeping the shape.

    Each cloud draws a ratio in ``[0, max_ratio]`` and every point is dropped
    with that probability; dropped points are replaced by the cloud's first
    point (PointNet++'s ``random_point_dropout``), which leaves max-pooled
    features free of the dropped points.

    Parameters
    ----------
    max_ratio : float, default=0.875
        Largest dropout ratio, in [0, 1).

    Examples
    --------
    >>> import torch
    >>> RandomPointDropout()(torch.randn(2, 32, 3)).shape
    torch.Size([2, 32, 3])
    """

    def __init__(self, max_ratio=0.875):
        self.max_ratio = _check_real(max_ratio, "max_ratio", "RandomPointDropout")
        if self.max_ratio >= 1:
            raise ValueError(
                f"RandomPointDropout: max_ratio must be in [0, 1), got {max_ratio!r}."
            )

    def __call__(self, points, generator=None):
        _check_batch(points, "RandomPointDropout")
        b, n, _ = points.shape
        ratio = self.max_ratio * _draw("uniform", (b, 1), points, generator)
        drop = _draw("uniform", (b, n), points, generator) <= ratio
        return torch.where(drop.unsqueeze(-1), points[:, :1, :], points)


class RandomResample(_Transform):
    """Draw ``n_points`` points of each cloud without replacement.

    Parameters
    ----------
    n_points : int or None, default=None
        Points kept per cloud (e.g. 1024 of ModelNet40's 2048); None keeps
        all of them in a random order.

    Examples
    --------
    >>> import torch
    >>> RandomResample(16)(torch.randn(2, 32, 3)).shape
    torch.Size([2, 16, 3])
    """

    def __init__(self, n_points=None):
        if n_points is not None and (not isinstance(n_points, Integral) or n_points < 1):
            raise ValueError(
                f"RandomResample: n_points must be None or an int >= 1, got {n_points!r}."
            )
        self.n_points = n_points

    def __call__(self, points, generator=None):
        _check_batch(points, "RandomResample")
        b, n, _ = points.shape
        keep = n if self.n_points is None else self.n_points
        if keep > n:
            raise ValueError(
                f"RandomResample: n_points={keep} but the clouds have only {n} points; pass "
                f"n_points <= {n}."
            )
        order = _draw("uniform", (b, n), points, generator).argsort(dim=1)[:, :keep]
        return torch.gather(points, 1, order.unsqueeze(-1).expand(b, keep, 3))


class Compose(_Transform):
    """Apply transforms in sequence, all drawing from the same generator.

    Parameters
    ----------
    transforms : list of callables
        Each called as ``t(points, generator=generator)``.

    Examples
    --------
    >>> import torch
    >>> aug = Compose([RandomScale(), RandomRotate("z"), Jitter()])
    >>> aug(torch.randn(4, 32, 3), generator=torch.Generator().manual_seed(0)).shape
    torch.Size([4, 32, 3])
    """

    def __init__(self, transforms):
        transforms = list(transforms)
        for t in transforms:
            if not callable(t):
                raise TypeError(f"Compose: every transform must be callable, got {t!r}.")
        self.transforms = transforms

    def __call__(self, points, generator=None):
        for t in self.transforms:
            points = t(points, generator=generator)
        return points


def default_augmentation():
    """The standard ModelNet40 training augmentation: anisotropic scale, then shift.

    Returns
    -------
    Compose
        ``RandomScale(2/3, 3/2)`` then ``RandomTranslate(0.2)``, as in DGCNN
        and most point-cloud classification code.

    Examples
    --------
    >>> [type(t).__name__ for t in default_augmentation().transforms]
    ['RandomScale', 'RandomTranslate']
    """
    return Compose([RandomScale(), RandomTranslate()])
