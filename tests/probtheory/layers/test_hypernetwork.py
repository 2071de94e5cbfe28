"""Hypernetworks with magnitude invariant parametrizations: encoding, residual theta_0, shapes, errors."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from probtheory.errors import InputDataError
from probtheory.layers import HyperNetwork, encode_input


def _primary():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 2))


@pytest.mark.parametrize("h", [1, 3])
def test_cos_sin_encoding_has_constant_norm(h):
    gammas = torch.rand(50, h, generator=torch.Generator().manual_seed(0))
    norms = encode_input(gammas).norm(dim=-1)
    torch.testing.assert_close(norms, torch.full_like(norms, math.sqrt(h)))
    torch.testing.assert_close(encode_input(torch.zeros(1)), torch.tensor([1.0, 0.0]))


def test_residual_bias_holds_the_primary_weights_and_forward_is_functional():
    primary = _primary()
    hyper = HyperNetwork(primary, input_dim=1, hidden_sizes=(8,), seed=0)
    flat = torch.cat([p.reshape(-1) for p in primary.parameters()])
    torch.testing.assert_close(hyper.backbone[-1].bias.detach(), flat)
    # with the backbone's last weight zeroed, theta(gamma) = theta_0: the primary network itself
    with torch.no_grad():
        hyper.backbone[-1].weight.zero_()
    x = torch.randn(4, 3)
    torch.testing.assert_close(hyper(torch.tensor([0.7]), x), primary(x))


def test_gradients_reach_the_hypernetwork_not_the_primary():
    primary = _primary()
    hyper = HyperNetwork(primary, input_dim=2, hidden_sizes=(8, 8), seed=0)
    hyper(torch.tensor([0.2, 0.9]), torch.randn(4, 3)).square().sum().backward()
    assert all(p.grad is not None for p in hyper.backbone.parameters())
    assert all(p.grad is None for p in primary.parameters())


def test_bias_free_backbone_is_positively_homogeneous_at_init():
    hyper = HyperNetwork(_primary(), input_dim=1, hidden_sizes=(16, 16), residual=False, seed=1)
    z = torch.randn(2)
    torch.testing.assert_close(hyper.backbone(3.0 * z), 3.0 * hyper.backbone(z), rtol=1e-5, atol=1e-6)


def test_default_parametrization_scales_with_the_raw_input():
    hyper = HyperNetwork(_primary(), 1, (16,), encoding="identity", residual=False, init="default", seed=0)
    assert hyper.backbone[0].in_features == 1
    assert hyper.backbone[-1].bias.abs().max() <= 1 / math.sqrt(16)


def test_bad_input_raises():
    primary = _primary()
    with pytest.raises(InputDataError, match="encoding"):
        HyperNetwork(primary, 1, encoding="fourier")
    with pytest.raises(InputDataError, match="init"):
        HyperNetwork(primary, 1, init="xavier")
    with pytest.raises(InputDataError, match="input_dim"):
        HyperNetwork(primary, 0)
    with pytest.raises(InputDataError, match="primary"):
        HyperNetwork(nn.ReLU(), 1)
    hyper = HyperNetwork(primary, 1, (4,), seed=0)
    with pytest.raises(InputDataError, match="gamma"):
        hyper(torch.tensor([1.5]), torch.randn(2, 3))
    with pytest.raises(InputDataError, match="gamma"):
        hyper(torch.tensor([0.5, 0.5]), torch.randn(2, 3))
    with pytest.raises(InputDataError, match="gamma"):
        hyper(torch.tensor([float("nan")]), torch.randn(2, 3))
