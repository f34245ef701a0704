"""Procedural 3D shapes: the built-in, long-tailed demo dataset.

Each class is a parametric surface family, sampled in a vectorised way for a
batch of shapes at once (y is up, as in the PointNet HDF5 release). Shared
nuisances then act on every class: a smooth random warp and taper, anisotropic
scaling, a rotation about the up axis, partial occlusion and Gaussian noise.
"""

from numbers import Integral, Real

import numpy as np

from ._base import PointCloudDataset, _check_split
from ._longtail import _check_ratio, _long_tail_sizes

__all__ = ["make_synthetic_shapes"]

# Confusable partners (sphere/ellipsoid, box/rounded box, cylinder/capsule/cup)
# sit at distant ranks, so that tail classes compete with head classes.
SHAPE_NAMES = (
    "sphere", "box", "cylinder", "cone", "torus", "ellipsoid", "rounded_box", "capsule",
    "cup", "chair", "table", "pyramid", "helix",
)  # fmt: skip

_OVERSAMPLE = 1.5  # surface points drawn per kept point, so occlusion can drop up to 1/3
_MAX_OCCLUDED = 0.3
_CHUNK = 256  # shapes generated at once, to bound memory


# --------------------------------------------------------------------------- #
# Sampling primitives: each returns (m, q, 3) float64.
# --------------------------------------------------------------------------- #


def _pick(rng, weights, q):
    """For each of the m rows of ``weights`` (m, k), draw q part indices with p ~ weights."""
    m, k = weights.shape
    cum = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
    offsets = np.arange(m)[:, None]
    flat = np.searchsorted((cum + offsets).ravel(), (rng.random((m, q)) + offsets).ravel(), "right")
    return np.minimum(flat.reshape(m, q) - offsets * k, k - 1)


def _unit_vectors(rng, m, q):
    v = rng.standard_normal((m, q, 3))
    return v / np.linalg.norm(v, axis=2, keepdims=True)


def _boxes(rng, lo, hi, q):
    """Uniform points on the surfaces of the union of K axis-aligned boxes ``lo``/``hi`` (m, K, 3).

    Faces are picked by area; overlapping boxes leave some points inside the
    union, as a scanned assembly of parts would.
    """
    m = lo.shape[0]
    size = hi - lo
    # face 2*a + s of a box lies at coordinate a = lo (s=0) or hi (s=1); its area spans the others
    face_area = np.repeat(np.prod(size, axis=2, keepdims=True) / size, 2, axis=2)
    part = _pick(rng, face_area.reshape(m, -1) + 1e-12, q)
    box, axis, side = part // 6, (part % 6) // 2, part % 2
    rows = np.arange(m)[:, None]
    lo_p, size_p = lo[rows, box], size[rows, box]
    unit = rng.random((m, q, 3))
    np.put_along_axis(unit, axis[..., None], side[..., None].astype(float), axis=2)
    return lo_p + unit * size_p


def _triangles(rng, tris, q):
    """Uniform points on triangles ``tris`` (m, T, 3 vertices, 3)."""
    m = tris.shape[0]
    edge1, edge2 = tris[:, :, 1] - tris[:, :, 0], tris[:, :, 2] - tris[:, :, 0]
    area = 0.5 * np.linalg.norm(np.cross(edge1, edge2), axis=2)
    tri = tris[np.arange(m)[:, None], _pick(rng, area + 1e-12, q)]  # (m, q, 3, 3)
    u, v = rng.random((2, m, q, 1))
    flip = u + v > 1
    u, v = np.where(flip, 1 - u, u), np.where(flip, 1 - v, v)
    return tri[:, :, 0] + u * (tri[:, :, 1] - tri[:, :, 0]) + v * (tri[:, :, 2] - tri[:, :, 0])


def _disk(rng, m, q, radius, y):
    """Uniform points on horizontal disks of ``radius`` (m, 1) at height ``y`` (m, 1)."""
    rho = radius * np.sqrt(rng.random((m, q)))
    theta = rng.uniform(0, 2 * np.pi, (m, q))
    return np.stack([rho * np.cos(theta), np.broadcast_to(y, (m, q)), rho * np.sin(theta)], axis=2)


def _tube(rng, m, q, r_bottom, r_top, half_height):
    """Points on the side of a (truncated) cone or cylinder about the y axis, y in +-half_height.

    The radius runs linearly from ``r_bottom`` to ``r_top`` (each (m, 1)); the
    height fraction is drawn by inverting the area CDF, which grows with the
    radius.
    """
    a, b = r_bottom, r_top
    u = rng.random((m, q))
    slanted = np.abs(b - a) > 1e-9
    t = np.where(slanted, (np.sqrt(a**2 + u * (b**2 - a**2)) - a) / np.where(slanted, b - a, 1), u)
    radius = a + t * (b - a)
    theta = rng.uniform(0, 2 * np.pi, (m, q))
    y = (2 * t - 1) * half_height
    return np.stack([radius * np.cos(theta), y, radius * np.sin(theta)], axis=2)


def _select(parts, part_index):
    """Point-wise choice among candidate arrays ``parts`` (each (m, q, 3))."""
    return np.choose(part_index[..., None], parts)


def _cylinder_like(rng, m, q, caps, r_top_range=(1.0, 1.0)):
    """Cylinder side plus the chosen end caps ("flat", "round", "bottom")."""
    hh = rng.uniform(0.6, 1.4, (m, 1))
    r_top = rng.uniform(*r_top_range, (m, 1))
    one = np.ones((m, 1))
    side = _tube(rng, m, q, one, r_top, hh)
    if caps == "round":
        v = _unit_vectors(rng, m, q)
        up = v[:, :, 1:2] >= 0
        ends = v + np.where(up, 1, -1) * hh[..., None] * np.array([0, 1, 0])
        area = np.hstack([4 * np.pi * hh, 4 * np.pi * one])
        return _select([side, ends], _pick(rng, area, q))
    bottom = _disk(rng, m, q, one, -hh)
    side_area = np.pi * (1 + r_top) * np.sqrt((2 * hh) ** 2 + (r_top - 1) ** 2)
    if caps == "bottom":
        return _select([side, bottom], _pick(rng, np.hstack([side_area, np.pi * one]), q))
    top = _disk(rng, m, q, r_top, hh)
    area = np.hstack([side_area, np.pi * one, np.pi * r_top**2])
    return _select([side, bottom, top], _pick(rng, area, q))


def _sphere(rng, m, q):
    return _unit_vectors(rng, m, q)


def _ellipsoid(rng, m, q):
    """A slightly flattened sphere: semi-axes 1, 0.85-1 and 0.7-0.85, in random directions."""
    radii = np.ones((m, 3))
    radii[:, 1] = rng.uniform(0.7, 0.85, m)
    radii[:, 2] = rng.uniform(0.85, 1.0, m)
    radii = np.take_along_axis(radii, rng.random((m, 3)).argsort(axis=1), axis=1)
    return _unit_vectors(rng, m, q) * radii[:, None, :]


def _box(rng, m, q):
    half = rng.uniform(0.5, 1.0, (m, 1, 3))
    return _boxes(rng, -half, half, q)


def _rounded_box(rng, m, q):
    """A superellipsoid |x|^p + |y|^p + |z|^p = 1 with p in [4, 8], stretched like a box."""
    cube = _boxes(rng, -np.ones((m, 1, 3)), np.ones((m, 1, 3)), q)
    p = rng.uniform(4.0, 8.0, (m, 1, 1))
    surface = cube / ((np.abs(cube) ** p).sum(axis=2, keepdims=True)) ** (1 / p)
    return surface * rng.uniform(0.5, 1.0, (m, 1, 3))


def _cylinder(rng, m, q):
    return _cylinder_like(rng, m, q, "flat")


def _capsule(rng, m, q):
    return _cylinder_like(rng, m, q, "round")


def _cup(rng, m, q):
    """An open, slightly flared cylinder with a bottom."""
    return _cylinder_like(rng, m, q, "bottom", r_top_range=(1.0, 1.3))


def _cone(rng, m, q):
    height = rng.uniform(1.2, 2.5, (m, 1))
    one, zero = np.ones((m, 1)), np.zeros((m, 1))
    side = _tube(rng, m, q, one, zero, height / 2)
    base = _disk(rng, m, q, one, -height / 2)
    area = np.hstack([np.pi * np.sqrt(1 + height**2), np.pi * one])
    return _select([side, base], _pick(rng, area, q))


def _torus(rng, m, q):
    minor = rng.uniform(0.2, 0.45, (m, 1))
    theta, phi = rng.uniform(0, 2 * np.pi, (2, m, q))
    ring = 1 + minor * np.cos(phi)
    return np.stack([ring * np.cos(theta), minor * np.sin(phi), ring * np.sin(theta)], axis=2)


def _pyramid(rng, m, q):
    """A square pyramid: four sides and the base, as six triangles."""
    height = rng.uniform(1.0, 2.0, m)
    corners = np.array([[1, 0, 1], [-1, 0, 1], [-1, 0, -1], [1, 0, -1]], dtype=float)
    apex = np.zeros((m, 3))
    apex[:, 1] = height
    base = np.broadcast_to(corners, (m, 4, 3))
    sides = [np.stack([base[:, i], base[:, (i + 1) % 4], apex], axis=1) for i in range(4)]
    bottom = [base[:, [0, 1, 2]], base[:, [0, 2, 3]]]
    return _triangles(rng, np.stack(sides + bottom, axis=1), q)


def _helix(rng, m, q):
    """A spring: a tube of radius 0.1-0.25 swept along a helix of 2-4 turns."""
    turns = rng.uniform(2.0, 4.0, (m, 1))
    height = rng.uniform(1.5, 3.0, (m, 1))
    tube = rng.uniform(0.1, 0.25, (m, 1, 1))
    t = rng.uniform(0, 1, (m, q)) * 2 * np.pi * turns
    rise = height / (2 * np.pi * turns)
    centre = np.stack([np.cos(t), rise * t - height / 2, np.sin(t)], axis=2)
    tangent = np.stack([-np.sin(t), np.broadcast_to(rise, t.shape), np.cos(t)], axis=2)
    tangent /= np.linalg.norm(tangent, axis=2, keepdims=True)
    normal = np.stack([-np.cos(t), np.zeros_like(t), -np.sin(t)], axis=2)
    binormal = np.cross(tangent, normal)
    a = rng.uniform(0, 2 * np.pi, (m, q, 1))
    return centre + tube * (np.cos(a) * normal + np.sin(a) * binormal)


def _legs(m, half_w, half_d, top_y, thick):
    """Four vertical legs from y=0 to ``top_y`` under a rectangle: lo, hi of shape (m, 4, 3)."""
    sx = np.array([1, 1, -1, -1])[None, :]
    sz = np.array([1, -1, 1, -1])[None, :]
    cx, cz = sx * (half_w - thick), sz * (half_d - thick)
    zero = np.zeros((m, 4))
    lo = np.stack([cx - thick, zero, cz - thick], axis=2)
    hi = np.stack([cx + thick, np.broadcast_to(top_y, (m, 4)), cz + thick], axis=2)
    return lo, hi


def _slab_on_legs(rng, q, half_w, half_d, top_y, top_t, leg, back_h=None):
    """A slab on four legs (a table); with ``back_h``, a backrest on its rear edge (a chair).

    Every argument but ``rng`` and ``q`` is an (m, 1) array of per-shape sizes.
    """
    lo = [np.stack([-half_w, top_y, -half_d], axis=2)]
    hi = [np.stack([half_w, top_y + top_t, half_d], axis=2)]
    if back_h is not None:
        lo.append(np.stack([-half_w, top_y + top_t, -half_d], axis=2))
        hi.append(np.stack([half_w, top_y + top_t + back_h, -half_d + top_t], axis=2))
    legs_lo, legs_hi = _legs(half_w.shape[0], half_w, half_d, top_y, leg)
    lo, hi = np.concatenate([*lo, legs_lo], axis=1), np.concatenate([*hi, legs_hi], axis=1)
    return _boxes(rng, lo, hi, q)


def _chair(rng, m, q):
    """Seat, backrest and four legs, as six boxes."""
    half_w, half_d = rng.uniform(0.4, 0.6, (2, m, 1))
    seat_y = rng.uniform(0.8, 1.2, (m, 1))
    seat_t = rng.uniform(0.06, 0.12, (m, 1))
    back_h = rng.uniform(0.8, 1.4, (m, 1))
    leg = rng.uniform(0.03, 0.06, (m, 1))
    return _slab_on_legs(rng, q, half_w, half_d, seat_y, seat_t, leg, back_h)


def _table(rng, m, q):
    """A top and four legs, as five boxes."""
    half_w = rng.uniform(0.6, 1.1, (m, 1))
    half_d = rng.uniform(0.4, 0.7, (m, 1))
    top_y = rng.uniform(0.8, 1.2, (m, 1))
    top_t = rng.uniform(0.05, 0.1, (m, 1))
    leg = rng.uniform(0.03, 0.07, (m, 1))
    return _slab_on_legs(rng, q, half_w, half_d, top_y, top_t, leg)


_GENERATORS = {
    "sphere": _sphere, "box": _box, "cylinder": _cylinder, "cone": _cone, "torus": _torus,
    "ellipsoid": _ellipsoid, "rounded_box": _rounded_box, "capsule": _capsule, "cup": _cup,
    "chair": _chair, "table": _table, "pyramid": _pyramid, "helix": _helix,
}  # fmt: skip


# --------------------------------------------------------------------------- #
# Nuisances shared by every class.
# --------------------------------------------------------------------------- #


def _normalize(points):
    """Centre each shape on its centroid and scale it into the unit sphere."""
    points = points - points.mean(axis=1, keepdims=True)
    radius = np.sqrt((points**2).sum(axis=2)).max(axis=1)
    return points / radius[:, None, None]


def _nuisances(rng, points, n_points, noise, occlusion):
    """Warp, taper, scale, rotate about y, occlude, jitter, normalise.

    Maps the (m, q, 3) raw surface samples to (m, n_points, 3) shapes.
    """
    m, q, _ = points.shape
    points = _normalize(points)
    # smooth random warp: a sum of three low-frequency sinusoids, amplitude <= 0.04
    freq = rng.normal(0, 1.5, (m, 3, 3))
    phase = rng.uniform(0, 2 * np.pi, (m, 1, 3))
    amp = rng.uniform(0, 0.04, (m, 1, 3))
    points = points + amp * np.sin(points @ freq + phase)
    # taper: the horizontal section widens or narrows with height by up to 15%
    taper = rng.uniform(-0.15, 0.15, (m, 1))
    widen = 1 + taper * points[:, :, 1]
    points[:, :, 0] *= widen
    points[:, :, 2] *= widen
    # anisotropic scaling, log-normal with 7% spread per axis
    points = points * np.exp(rng.normal(0, 0.07, (m, 1, 3)))
    # rotation about the up (y) axis
    angle = rng.uniform(0, 2 * np.pi, m)
    cos, sin = np.cos(angle)[:, None], np.sin(angle)[:, None]
    x, z = points[:, :, 0].copy(), points[:, :, 2]
    points[:, :, 0] = cos * x + sin * z
    points[:, :, 2] = -sin * x + cos * z
    # occlusion: drop the points beyond a random plane that cut off 5-30% of them,
    # then keep n_points of the rest uniformly at random
    keys = rng.random((m, q))
    occluded = rng.random(m) < occlusion
    if occluded.any():
        k = int(occluded.sum())
        direction = _unit_vectors(rng, k, 1)
        proj = (points[occluded] * direction).sum(axis=2)
        cut = rng.uniform(0.05, _MAX_OCCLUDED, k)
        rank = np.floor((1 - cut) * q).astype(np.intp)
        threshold = np.take_along_axis(np.sort(proj, axis=1), rank[:, None], axis=1)
        keys[occluded] += 2.0 * (proj >= threshold)
    keep = np.argpartition(keys, n_points - 1, axis=1)[:, :n_points]
    points = np.take_along_axis(points, keep[:, :, None], axis=1)
    points = points + rng.normal(0, noise, points.shape)
    return _normalize(points)


def _generate(name, n_shapes, n_points, noise, occlusion, seed_seq):
    rng = np.random.default_rng(seed_seq)
    q = int(np.ceil(n_points * _OVERSAMPLE))
    out = np.empty((n_shapes, n_points, 3), dtype=np.float32)
    for start in range(0, n_shapes, _CHUNK):
        m = min(_CHUNK, n_shapes - start)
        raw = _GENERATORS[name](rng, m, q)
        out[start : start + m] = _nuisances(rng, raw, n_points, noise, occlusion)
    return out


def _check_int(value, name, low, high=None):
    if not isinstance(value, Integral) or isinstance(value, bool) or value < low or (
        high is not None and value > high
    ):
        bound = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be an int {bound}; got {name}={value!r}.")
    return int(value)


def _check_real(value, name, low, high):
    if not isinstance(value, Real) or isinstance(value, bool) or not low <= value <= high:
        raise ValueError(f"{name} must be a number in [{low}, {high}]; got {name}={value!r}.")
    return float(value)


def make_synthetic_shapes(
    n_classes=10,
    n_per_class_max=200,
    imbalance_ratio=10,
    n_points=1024,
    split="train",
    seed=0,
    *,
    n_test_per_class=None,
    noise=0.01,
    occlusion=0.5,
):
    """Generate a long-tailed dataset of procedural 3D shapes.

    Thirteen parametric surface families (sphere, box, cylinder, cone,
    torus, ellipsoid, rounded box, capsule, cup, chair, table, pyramid,
    helix); ``n_classes`` takes the first of them. Telling them apart needs
    real 3D geometry, and some pairs are confusable by design: a sphere and
    an ellipsoid whose shortest axis is 0.7-0.85 of its longest, a box and a
    superellipsoid of exponent 4-8 ("rounded box"), a cylinder, a capsule and
    an open cup. Every shape then gets a smooth random warp and taper,
    anisotropic scaling, a random rotation about the up (y) axis, with
    probability ``occlusion`` the loss of the 5-30% of its surface beyond a
    random plane, and Gaussian noise; it is centred and scaled into the unit
    sphere.

    Parameters
    ----------
    n_classes : int, default=10
        Number of classes, 2 to 13.
    n_per_class_max : int, default=200
        Size of the largest (first) class of the training split.
    imbalance_ratio : float, default=10
        Largest over smallest class size of the training split, >= 1. Class
        ``c`` gets ``floor(n_per_class_max * imbalance_ratio ** (-c / (C-1)))``
        shapes (the exponential profile of Cui et al. and Cao et al.).
    n_points : int, default=1024
        Points per shape.
    split : {"train", "test"}, default="train"
        ``"train"`` is long-tailed; ``"test"`` is balanced, with
        ``n_test_per_class`` shapes per class, and drawn from a random
        stream disjoint from the training one.
    seed : int, default=0
        Seed (>= 0). The same seed and arguments give the same dataset; each
        class and split draws from its own stream, so class ``c`` of a split
        does not change when other classes' sizes do.
    n_test_per_class : int, default=None
        Shapes per class of the test split; None means
        ``max(1, n_per_class_max // 2)``.
    noise : float, default=0.01
        Standard deviation of the Gaussian jitter, in units of the shape's
        radius before the final rescaling, in [0, 0.2].
    occlusion : float, default=0.5
        Probability that a shape is partially occluded, in [0, 1].

    Returns
    -------
    dataset : PointCloudDataset
        ``points`` (n_shapes, n_points, 3) float32 in random order,
        ``labels`` (n_shapes,) int64, ``class_names``, ``split``,
        ``source="synthetic"``; ``files`` is None.

    See Also
    --------
    make_long_tailed : impose another long tail on any dataset.
    load_modelnet40 : the real benchmark this stands in for.

    Notes
    -----
    Fully vectorised: O(n_shapes * n_points) time and memory, about a second
    for 2,000 shapes of 1,024 points. Surfaces are sampled uniformly by area
    for the flat parts and approximately so on curved ones (spheres,
    ellipsoids, tori, superellipsoids).

    References
    ----------
    .. [1] Cui et al., "Class-Balanced Loss Based on Effective Number of
       Samples", CVPR 2019 (the long-tail profile).
    .. [2] Cao et al., "Learning Imbalanced Datasets with Label-Distribution-
       Aware Margin Loss", NeurIPS 2019.

    Examples
    --------
    >>> from coreset3d.datasets import make_synthetic_shapes
    >>> train = make_synthetic_shapes(n_classes=5, n_per_class_max=40, imbalance_ratio=8,
    ...                               n_points=256)
    >>> train.class_counts().tolist()
    [40, 23, 14, 8, 5]
    >>> train.points.shape, train.class_names[:3]
    ((90, 256, 3), ['sphere', 'box', 'cylinder'])
    >>> test = make_synthetic_shapes(n_classes=5, n_per_class_max=40, n_points=256, split="test")
    >>> test.class_counts().tolist()
    [20, 20, 20, 20, 20]
    """
    n_classes = _check_int(n_classes, "n_classes", 2, len(SHAPE_NAMES))
    n_per_class_max = _check_int(n_per_class_max, "n_per_class_max", 1)
    n_points = _check_int(n_points, "n_points", 1)
    split = _check_split(split)
    seed = _check_int(seed, "seed", 0)
    noise = _check_real(noise, "noise", 0.0, 0.2)
    occlusion = _check_real(occlusion, "occlusion", 0.0, 1.0)
    _check_ratio(imbalance_ratio)
    if split == "train":
        sizes = _long_tail_sizes(n_per_class_max, n_classes, imbalance_ratio)
    else:
        if n_test_per_class is None:
            n_test_per_class = max(1, n_per_class_max // 2)
        n_test_per_class = _check_int(n_test_per_class, "n_test_per_class", 1)
        sizes = np.full(n_classes, n_test_per_class)
    stream = 0 if split == "train" else 1
    names = SHAPE_NAMES[:n_classes]
    points = np.empty((int(sizes.sum()), n_points, 3), dtype=np.float32)
    ends = np.cumsum(sizes)
    for c, name in enumerate(names):
        seed_seq = np.random.SeedSequence(seed, spawn_key=(stream, c))
        points[ends[c] - sizes[c] : ends[c]] = _generate(
            name, int(sizes[c]), n_points, noise, occlusion, seed_seq
        )
    labels = np.repeat(np.arange(n_classes, dtype=np.int64), sizes)
    shuffle_seq = np.random.SeedSequence(seed, spawn_key=(stream, len(SHAPE_NAMES)))
    order = np.random.default_rng(shuffle_seq).permutation(labels.size)
    return PointCloudDataset(
        points[order], labels[order], list(names), split=split, source="synthetic"
    )
