import math

import pytest

torch = pytest.importorskip("torch")

from coreset3d.torch import (  # noqa: E402
    Compose,
    Jitter,
    RandomPointDropout,
    RandomResample,
    RandomRotate,
    RandomScale,
    RandomTranslate,
    default_augmentation,
)

ALL = [
    RandomScale(),
    RandomScale(anisotropic=False),
    RandomTranslate(),
    Jitter(),
    RandomRotate(),
    RandomRotate("z"),
    RandomPointDropout(),
    RandomResample(),
    default_augmentation(),
    Compose([RandomRotate(), Jitter(), RandomPointDropout()]),
]


@pytest.mark.parametrize("transform", ALL, ids=repr)
def test_shape_dtype_kept_input_untouched_and_seeded(transform):
    x = torch.randn(4, 32, 3)
    before = x.clone()
    out = transform(x, generator=torch.Generator().manual_seed(3))
    assert out.shape == x.shape and out.dtype == x.dtype
    assert torch.equal(x, before)
    again = transform(x, generator=torch.Generator().manual_seed(3))
    assert torch.equal(out, again)


@pytest.mark.parametrize("axis, up", [("x", 0), ("y", 1), ("z", 2), (1, 1)])
def test_rotation_preserves_norms_distances_and_the_up_coordinate(axis, up):
    x = torch.randn(3, 20, 3, dtype=torch.float64)
    y = RandomRotate(axis)(x, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(x.norm(dim=-1), y.norm(dim=-1))
    assert torch.allclose(torch.cdist(x, x), torch.cdist(y, y))
    assert torch.equal(x[..., up], y[..., up])
    assert not torch.allclose(x, y)


def test_rotation_about_y_matches_pointnet_matrix():
    rot = RandomRotate("y", low=math.pi / 2, high=math.pi / 2)
    x = torch.tensor([[[1.0, 2.0, 3.0]]], dtype=torch.float64)
    # PointNet: x @ [[c, 0, s], [0, 1, 0], [-s, 0, c]] with c = 0, s = 1 -> (-z, y, x)
    assert torch.allclose(rot(x), torch.tensor([[[-3.0, 2.0, 1.0]]], dtype=torch.float64))


def test_scale_translate_jitter_ranges():
    ones = torch.ones(64, 8, 3)
    s = RandomScale(0.5, 2.0)(ones)
    assert s.min() >= 0.5 and s.max() <= 2.0
    iso = RandomScale(0.5, 2.0, anisotropic=False)(ones)
    assert torch.equal(iso, iso[..., :1].expand_as(iso))  # one factor per cloud
    t = RandomTranslate(0.1)(torch.zeros(64, 8, 3))
    assert t.abs().max() <= 0.1 and torch.equal(t, t[:, :1].expand_as(t))
    j = Jitter(sigma=10.0, clip=0.02)(torch.zeros(4, 100, 3))
    assert j.abs().max() <= 0.02 and j.abs().max() > 0.019


def test_dropout_replaces_by_first_point_and_resample_is_a_subset():
    x = torch.randn(8, 32, 3)
    d = RandomPointDropout(0.8)(x, generator=torch.Generator().manual_seed(0))
    changed = (d != x).any(dim=-1)
    assert changed.any()
    first = x[:, :1].expand_as(x)
    assert torch.equal(d[changed], first[changed])
    r = RandomResample(10)(x)
    assert r.shape == (8, 10, 3)
    for b in range(8):  # every kept point is a distinct point of the same cloud
        match = (r[b][:, None] == x[b][None]).all(dim=-1)
        assert torch.equal(match.sum(dim=1), torch.ones(10, dtype=torch.long))
        assert match.any(dim=0).sum() == 10


def test_generator_on_cpu_with_points_elsewhere_uses_generator_device():
    g = torch.Generator().manual_seed(0)
    out = RandomRotate()(torch.randn(2, 5, 3), generator=g)
    assert out.device.type == "cpu"


def test_errors():
    with pytest.raises(ValueError, match=r"expects a tensor of shape \(batch, n_points, 3\)"):
        Jitter()(torch.zeros(5, 3))
    with pytest.raises(ValueError, match="axis must be 'x', 'y', 'z'"):
        RandomRotate("w")
    with pytest.raises(ValueError, match="RandomScale: high must be a finite number >= 2.0"):
        RandomScale(2.0, 1.0)
    with pytest.raises(ValueError, match="n_points=40 but the clouds have only 32 points"):
        RandomResample(40)(torch.zeros(1, 32, 3))
    with pytest.raises(ValueError, match=r"max_ratio must be in \[0, 1\)"):
        RandomPointDropout(1.0)
    with pytest.raises(TypeError, match="every transform must be callable"):
        Compose([1])
