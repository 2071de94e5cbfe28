"""The Bayesian MLP behind the BNN surrogates: batched forward pass, densities, MAP, RNG isolation."""

from __future__ import annotations

import math

import pytest
import torch
from pyro import poutine
from torch import nn

from bo.models.bayesian_mlp import MLPLayout, local_rng, train_map
from probtheory.errors import InputDataError

DTYPE = torch.float64


def _sequential(layout: MLPLayout, theta: torch.Tensor) -> nn.Sequential:
    """One network as a plain nn.Sequential, filled from the flat vector by hand (the oracle)."""
    layers, start = [], 0
    for i, (fan_in, fan_out) in enumerate(zip(layout.sizes[:-1], layout.sizes[1:], strict=True)):
        linear = nn.Linear(fan_in, fan_out, dtype=DTYPE)
        with torch.no_grad():
            linear.weight.copy_(theta[start : start + fan_in * fan_out].reshape(fan_in, fan_out).T)
            start += fan_in * fan_out
            linear.bias.copy_(theta[start : start + fan_out])
            start += fan_out
        layers.append(linear)
        if i < layout.depth:
            layers.append(nn.Tanh())
    assert start == layout.num_params
    return nn.Sequential(*layers)


@pytest.fixture
def layout():
    return MLPLayout(in_features=3, width=5, depth=2, out_features=2)


def test_num_params(layout):
    assert layout.num_params == (3 + 1) * 5 + (5 + 1) * 5 + (5 + 1) * 2


def test_batched_forward_equals_one_network_at_a_time(layout):
    generator = torch.Generator().manual_seed(0)
    theta = torch.randn(4, layout.num_params, generator=generator, dtype=DTYPE)
    X = torch.rand(7, 3, generator=generator, dtype=DTYPE)
    batched = layout.forward(theta, X)
    assert batched.shape == (4, 7, 2)
    for s in range(4):
        torch.testing.assert_close(batched[s], _sequential(layout, theta[s])(X))
    # extra batch dims and an unbatched vector broadcast the same way
    torch.testing.assert_close(layout.forward(theta.reshape(2, 2, -1), X), batched.reshape(2, 2, 7, 2))
    torch.testing.assert_close(layout.forward(theta[1], X), batched[1])


def test_features_and_last_layer_reproduce_the_output(layout):
    theta = torch.randn(layout.num_params, dtype=DTYPE)
    X = torch.rand(6, 3, dtype=DTYPE)
    features = layout.features(theta.unsqueeze(0), X)[0]
    last = layout.last_layer(theta)
    assert last.shape == (6, 2)
    torch.testing.assert_close(features @ last[:-1] + last[-1], layout.forward(theta, X))
    new_last = torch.randn(6, 2, dtype=DTYPE)
    replaced = layout.with_last_layer(theta, new_last)
    torch.testing.assert_close(layout.last_layer(replaced), new_last)
    torch.testing.assert_close(replaced[: -new_last.numel()], theta[: -new_last.numel()])


def test_log_density_equals_the_pyro_models(layout):
    theta = torch.randn(layout.num_params, dtype=DTYPE)
    X, Y = torch.rand(5, 3, dtype=DTYPE), torch.randn(5, 2, dtype=DTYPE)
    conditioned = poutine.condition(layout.pyro_model, data={"theta": theta})
    trace = poutine.trace(conditioned).get_trace(X, Y, 2.5, 0.3)
    expected = layout.log_prior(theta, 2.5) + layout.log_likelihood(theta, X, Y, 0.3)
    torch.testing.assert_close(trace.log_prob_sum(), expected)
    # and the likelihood is the textbook Gaussian
    residual = Y - layout.forward(theta, X)
    manual = -0.5 * residual.square().sum() / 0.3 - 0.5 * Y.numel() * math.log(2 * math.pi * 0.3)
    torch.testing.assert_close(layout.log_likelihood(theta, X, Y, 0.3), manual)


def test_initialisation_follows_nn_linear_bounds(layout):
    theta = layout.initial(200, torch.Generator().manual_seed(0))
    first_layer = theta[:, : (3 + 1) * 5]
    assert first_layer.abs().max() <= 1 / math.sqrt(3)
    assert first_layer.abs().max() > 0.9 / math.sqrt(3)


def test_train_map_reaches_a_stationary_point_of_the_log_posterior():
    layout = MLPLayout(1, 6, 1)
    generator = torch.Generator().manual_seed(0)
    X = torch.rand(12, 1, generator=generator, dtype=DTYPE)
    Y = torch.sin(5 * X)
    init = layout.initial(3, generator)
    theta = train_map(layout, X, Y, init, prior_var=1.0, noise_var=0.1, steps=3000, lr=1e-2)

    def grad_norm(t):
        t = t.clone().requires_grad_(True)
        (layout.log_prior(t, 1.0) + layout.log_likelihood(t, X, Y, 0.1)).sum().backward()
        return t.grad.norm(dim=-1)

    # Adam with a constant step only gets near the mode: the gradient shrinks by > 50x.
    assert (grad_norm(theta) < grad_norm(init) / 50).all()


def test_local_rng_is_reproducible_and_restores_the_callers_state():
    torch.manual_seed(3)
    expected_after = torch.rand(2)
    torch.manual_seed(3)
    with local_rng(11):
        first = torch.rand(2)
    assert torch.equal(torch.rand(2), expected_after)
    with local_rng(11):
        assert torch.equal(torch.rand(2), first)


def test_bad_layout_raises():
    with pytest.raises(InputDataError):
        MLPLayout(2, 0, 1)
    with pytest.raises(InputDataError):
        MLPLayout(2, 4, 0)
