import pytest

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

from coreset3d.torch import DGCNN, EncoderHead, PointNet, split_model  # noqa: E402
from coreset3d.torch._models import _EdgeConv, knn_indices  # noqa: E402


@pytest.mark.parametrize(
    "model",
    [
        lambda: PointNet(5, width=0.0625, embed_dim=6),
        lambda: DGCNN(5, k=4, width=0.0625, embed_dim=6),
    ],
    ids=["pointnet", "dgcnn"],
)
@pytest.mark.parametrize("training", [True, False])
def test_forward_features_shapes_and_head(model, training):
    torch.manual_seed(0)
    net = model().train(training)
    x = torch.randn(3, 32, 3)
    feats = net.forward_features(x)
    assert feats.shape == (3, 6)
    assert isinstance(net.head, nn.Linear) and net.head.in_features == 6
    net.eval()  # dropout off: two passes agree
    assert torch.allclose(net(x), net.head(net.forward_features(x)))
    assert net(x).shape == (3, 5)


def test_pointnet_is_permutation_invariant():
    net = PointNet(3, width=0.0625, embed_dim=4).eval()
    x = torch.randn(2, 32, 3)
    perm = torch.randperm(32)
    assert torch.allclose(net.forward_features(x), net.forward_features(x[:, perm]), atol=1e-6)


def test_models_reject_bad_input_and_params():
    with pytest.raises(ValueError, match=r"PointNet expects point clouds of shape \(batch, n_po"):
        PointNet(3, width=0.0625).forward_features(torch.randn(2, 3, 32)[:, :2])
    with pytest.raises(ValueError, match="DGCNN: k must be an int >= 1"):
        DGCNN(3, k=0)
    with pytest.raises(ValueError, match="PointNet: dropout must be a probability"):
        PointNet(3, dropout=1.0)
    with pytest.raises(ValueError, match="n_classes must be an int >= 1"):
        DGCNN(0)


def test_knn_indices_match_brute_force():
    torch.manual_seed(0)
    f = torch.randn(2, 5, 12)  # (B, C, N)
    idx = knn_indices(f, 4)
    pts = f.transpose(1, 2)
    dist = torch.cdist(pts, pts)
    expected = dist.argsort(dim=-1)[..., :4]
    assert torch.equal(idx.sort(dim=-1).values, expected.sort(dim=-1).values)
    assert knn_indices(f, 50).shape == (2, 12, 12)  # k capped at N


def test_edgeconv_equals_concatenated_edge_features():
    # h([x_j - x_i, x_i]) with W = [W1, W2] equals W1 x_j + (W2 - W1) x_i, the split we use.
    torch.manual_seed(0)
    conv = _EdgeConv(3, 4, k=3).eval()
    with torch.no_grad():
        conv.norm.running_mean.uniform_(-0.5, 0.5)
        conv.norm.running_var.uniform_(0.5, 2.0)
    x = torch.randn(2, 3, 10)
    w1 = conv.neighbour.weight[:, :, 0]
    w2 = conv.centre.weight[:, :, 0] + w1
    idx = knn_indices(x, 3)
    pts = x.transpose(1, 2)  # (B, N, C)
    nbrs = torch.stack([pts[b][idx[b]] for b in range(2)])  # (B, N, k, C)
    centre = pts.unsqueeze(2).expand_as(nbrs)
    edge = torch.cat([nbrs - centre, centre], dim=-1) @ torch.cat([w1, w2], dim=1).T
    ref = conv.act(conv.norm(edge.permute(0, 3, 1, 2))).amax(dim=-1)
    assert torch.allclose(conv(x), ref, atol=1e-5)


def test_dgcnn_backward_runs_and_reaches_all_parameters():
    torch.manual_seed(0)
    net = DGCNN(3, k=4, width=0.0625, embed_dim=4)
    loss = net(torch.randn(4, 16, 3)).logsumexp(dim=1).mean()
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())


def test_encoder_head_and_split_model_share_parameters():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Flatten(), nn.Linear(6, 4), nn.ReLU())
            self.fc = nn.Linear(4, 2)

        def forward(self, x):
            return self.fc(self.body(x))

    net = Net()
    wrapped = split_model(net, encoder_attr="body", head_attr="fc")
    x = torch.randn(3, 2, 3)
    assert torch.equal(wrapped(x), net(x))
    assert wrapped.head is net.fc and wrapped.encoder is net.body
    with pytest.raises(ValueError, match=r"encoder_attr='encoder' is not a submodule.*'body'"):
        split_model(net, head_attr="fc")
    with pytest.raises(TypeError, match="head must be an nn.Linear"):
        EncoderHead(nn.Identity(), nn.Sequential(nn.Linear(4, 2)))
