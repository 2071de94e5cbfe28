"""The PFN transformer's attention structure: what may and may not influence a prediction."""

import torch

from probtheory.pfn import PFNTransformer, TransformerConfig


def _net(seed=0):
    torch.manual_seed(seed)
    net = PFNTransformer(
        TransformerConfig(num_features=2, num_buckets=10, emsize=16, nhead=2, nhid=32, nlayers=2)
    )
    # zero-initialised output projections make every layer the identity; perturb them so the
    # structural tests below exercise real attention
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return net.eval()


def _data(b=3, s=7, q=5):
    g = torch.Generator().manual_seed(1)
    return torch.rand(b, s, 2, generator=g), torch.randn(b, s, generator=g), torch.rand(b, q, 2, generator=g)


def test_permutation_invariance_over_the_training_set():
    net = _net()
    x, y, xq = _data()
    perm = torch.randperm(x.shape[1], generator=torch.Generator().manual_seed(2))
    assert torch.allclose(net(x, y, xq), net(x[:, perm], y[:, perm], xq), atol=1e-5)


def test_queries_never_see_each_other():
    net = _net()
    x, y, xq = _data()
    alone = net(x, y, xq[:, :1])
    together = net(x, y, xq)
    other = xq.clone()
    other[:, 1:] = torch.rand_like(other[:, 1:])
    assert torch.allclose(alone, together[:, :1], atol=1e-5)
    assert torch.allclose(together[:, :1], net(x, y, other)[:, :1], atol=1e-5)


def test_prediction_depends_on_the_context():
    net = _net()
    x, y, xq = _data()
    assert not torch.allclose(net(x, y, xq), net(x, y + 1.0, xq), atol=1e-3)


def test_cached_context_equals_single_pass():
    net = _net()
    x, y, xq = _data()
    cache = net.encode_context(x, y)
    assert torch.allclose(net.predict_logits(cache, xq), net(x, y, xq), atol=1e-5)
    assert torch.allclose(net.predict_logits(cache, xq[:, 2:]), net(x, y, xq)[:, 2:], atol=1e-5)


def test_empty_context():
    net = _net()
    _, _, xq = _data()
    logits = net(torch.zeros(3, 0, 2), torch.zeros(3, 0), xq)
    assert logits.shape == (3, 5, 10) and torch.isfinite(logits).all()


def test_skipping_the_last_layers_context_rows_changes_nothing():
    """Both paths stop the context after its last keys and values; every row through every layer agrees."""
    net = _net()
    x, y, xq = _data()
    s = x.shape[1]
    h = torch.cat([net.encode_x(x) + net.encode_y(y.unsqueeze(-1)), net.encode_x(xq)], 1)
    for layer in net.layers:
        k, v = layer.keys_values(h[:, :s])
        h = layer(h, k, v)  # context rows too, in every layer
    every_row = net.decoder(h[:, s:])
    assert torch.allclose(net(x, y, xq), every_row, atol=1e-6)
    assert torch.allclose(net.predict_logits(net.encode_context(x, y), xq), every_row, atol=1e-6)
