import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from probtheory.errors import InputDataError
from probtheory.layers.powernorm import (
    PowerNorm,
    batch_norm_exact_grad,
    power_norm_batch,
    power_norm_exact_grad,
)
from probtheory.layers.swap import swap_modules

F64 = torch.float64


def _batch(seed, shape=(16, 3), shift=1.5, scale=2.0):
    gen = torch.Generator().manual_seed(seed)
    x = scale * torch.randn(shape, generator=gen, dtype=F64) + shift
    g = torch.randn(shape, generator=gen, dtype=F64)
    gamma = 0.5 + torch.rand(shape[-1], generator=gen, dtype=F64)
    return x, g, gamma


@pytest.mark.parametrize("eps", [0.0, 1e-3])
def test_power_norm_exact_grad_is_the_autograd_gradient_of_pn_v(eps):
    x, g, gamma = _batch(0)
    x.requires_grad_(True)
    (auto,) = torch.autograd.grad((g * power_norm_batch(x, gamma, None, eps=eps)).sum(), x)
    torch.testing.assert_close(
        power_norm_exact_grad(x.detach(), g, gamma, eps=eps), auto, rtol=1e-12, atol=1e-13
    )


def test_batch_norm_exact_grad_is_torch_batch_norm_gradient():
    x, g, gamma = _batch(1)
    x.requires_grad_(True)
    y = F.batch_norm(x, None, None, gamma, None, training=True, eps=1e-3)
    (auto,) = torch.autograd.grad((g * y).sum(), x)
    torch.testing.assert_close(
        batch_norm_exact_grad(x.detach(), g, gamma, eps=1e-3), auto, rtol=1e-12, atol=1e-13
    )


def test_gradients_are_projections_with_the_f2a_norms():
    # docs/derivations.md, §3: BN removes span{1, x_hat}, PN removes span{x_hat} (eps = 0)
    x, g, gamma = _batch(2, shape=(16, 1))
    b = x.shape[0]
    pn, bn = power_norm_exact_grad(x, g, gamma), batch_norm_exact_grad(x, g, gamma)
    psi2, sigma2 = x.square().mean(), x.var(unbiased=False)
    x_pn, x_bn = x / psi2.sqrt(), (x - x.mean()) / sigma2.sqrt()
    assert abs((pn * x_pn).sum().item()) < 1e-12
    assert abs(bn.sum().item()) < 1e-12 and abs((bn * x_bn).sum().item()) < 1e-12
    pn_energy = gamma**2 / psi2 * (g.square().sum() - (x_pn * g).sum() ** 2 / b)
    bn_energy = gamma**2 / sigma2 * (g.square().sum() - g.sum() ** 2 / b - (x_bn * g).sum() ** 2 / b)
    torch.testing.assert_close(pn.square().sum(), pn_energy.squeeze(), rtol=1e-12, atol=0)
    torch.testing.assert_close(bn.square().sum(), bn_energy.squeeze(), rtol=1e-12, atol=0)


def _algorithm_1(xs, gs, gamma, beta, alpha, eps, warmup):
    """Algorithm 1 of Shen et al. (ICML 2020) written out step by step: outputs and input gradients."""
    phi, nu = torch.ones(xs.shape[-1], dtype=F64), torch.zeros(xs.shape[-1], dtype=F64)
    outs, grads = [], []
    for t, (x, g) in enumerate(zip(xs, gs, strict=True), start=1):
        g_hat = gamma * g
        if t <= warmup:
            psi = torch.sqrt(x.square().mean(0) + eps)
            x_hat = x / psi
            grads.append((g_hat - x_hat * (g_hat * x_hat).mean(0)) / psi)
        else:
            psi = torch.sqrt(phi + eps)
            x_hat = x / psi
            x_tilde = g_hat - nu * x_hat
            grads.append(x_tilde / psi)
            nu = nu * (1 - (1 - alpha) * x_hat.square().mean(0)) + (1 - alpha) * (g_hat * x_hat).mean(0)
        outs.append(gamma * x_hat + beta)
        phi = alpha * phi + (1 - alpha) * x.square().mean(0)
    return outs, grads, phi, nu


@pytest.mark.parametrize("warmup", [0, 2])
def test_training_steps_follow_algorithm_1(warmup):
    gen = torch.Generator().manual_seed(3)
    xs = 3 * torch.randn(5, 8, 4, generator=gen, dtype=F64) + 1
    gs = torch.randn(5, 8, 4, generator=gen, dtype=F64)
    layer = PowerNorm(4, alpha_fwd=0.8, alpha_bkw=0.8, eps=1e-5, warmup_iters=warmup).double()
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([1.5, 0.5, -1.0, 2.0]))
        layer.bias.copy_(torch.tensor([0.1, 0.2, 0.3, 0.4]))
    outs, grads, phi, nu = _algorithm_1(xs, gs, layer.weight.detach(), layer.bias.detach(), 0.8, 1e-5, warmup)
    for x, g, out, grad in zip(xs, gs, outs, grads, strict=True):
        x = x.clone().requires_grad_(True)
        y = layer(x)
        (grad_x,) = torch.autograd.grad(y, x, g)
        torch.testing.assert_close(y.detach(), out, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(grad_x, grad, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(layer.running_phi, phi, rtol=1e-12, atol=0)
    torch.testing.assert_close(layer.running_nu, nu, rtol=1e-12, atol=1e-14)
    assert int(layer.num_batches_tracked) == 5


def test_affine_parameter_gradients_are_exact():
    layer = PowerNorm(3).double()
    x, g, _ = _batch(4)
    layer(x).backward(g)
    x_hat = x / torch.sqrt(torch.ones(3, dtype=F64) + layer.eps)  # the first step uses psi_0^2 = 1
    torch.testing.assert_close(layer.weight.grad, (g * x_hat).sum(0), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(layer.bias.grad, g.sum(0), rtol=1e-12, atol=1e-12)


def test_eval_mode_uses_the_running_statistic_and_does_not_update_it():
    layer = PowerNorm(3, warmup_iters=1).double()
    for seed in range(3):
        layer(_batch(seed)[0])
    layer.eval()
    phi = layer.running_phi.clone()
    x = _batch(7)[0]
    torch.testing.assert_close(layer(x), x / torch.sqrt(phi + layer.eps), rtol=1e-14, atol=0)
    assert torch.equal(layer.running_phi, phi) and int(layer.num_batches_tracked) == 3


def test_no_centring_a_constant_batch_is_not_zeroed():
    layer = PowerNorm(2, warmup_iters=1).double()
    out = layer(torch.full((4, 2), 3.0, dtype=F64))
    torch.testing.assert_close(out, torch.full((4, 2), 3.0 / math.sqrt(9.0 + 1e-5), dtype=F64))


def test_leading_dimensions_are_one_batch_of_tokens():
    x = torch.randn(4, 5, 6, generator=torch.Generator().manual_seed(0))
    a, b = PowerNorm(6, warmup_iters=1), PowerNorm(6, warmup_iters=1)
    torch.testing.assert_close(a(x), b(x.reshape(20, 6)).reshape(4, 5, 6))
    torch.testing.assert_close(a.running_phi, b.running_phi)


def test_drop_in_for_layer_norm_in_a_transformer_block_trains():
    torch.manual_seed(0)
    block = nn.TransformerEncoderLayer(16, 2, dim_feedforward=32, dropout=0.0, batch_first=True)
    assert (
        swap_modules(block, nn.LayerNorm, lambda old: PowerNorm(old.normalized_shape[0], warmup_iters=5)) == 2
    )
    head = nn.Linear(16, 1)
    x = torch.randn(8, 6, 16)
    target = x[..., :3].sum(-1, keepdim=True)
    optimizer = torch.optim.Adam([*block.parameters(), *head.parameters()], lr=3e-3)
    losses = []
    for _ in range(40):
        optimizer.zero_grad()
        loss = F.mse_loss(head(block(x)), target)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert all(math.isfinite(v) for v in losses)
    assert losses[-1] < 0.5 * losses[0]
    assert int(block.norm1.num_batches_tracked) == 40 and block.norm1.running_nu.abs().sum() > 0
    # evaluation: the fused fast path would bypass norm1/norm2, so it is switched off
    block.eval()
    previous = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with torch.no_grad():
            out = block(x)
            h = block.norm1(x + block.self_attn(x, x, x, need_weights=False)[0])
            expected = block.norm2(h + block.linear2(F.relu(block.linear1(h))))
    finally:
        torch.backends.mha.set_fastpath_enabled(previous)
    torch.testing.assert_close(out, expected)


def test_state_dict_round_trip_keeps_the_running_statistics():
    layer = PowerNorm(3)
    layer(torch.randn(5, 3)).sum().backward()
    copy = PowerNorm(3)
    copy.load_state_dict(layer.state_dict())
    assert torch.equal(copy.running_phi, layer.running_phi) and torch.equal(copy.running_nu, layer.running_nu)


@pytest.mark.parametrize("alpha", [0.0, 1.0, 1.5, -0.1])
@pytest.mark.parametrize("name", ["alpha_fwd", "alpha_bkw"])
def test_alpha_outside_the_open_unit_interval_is_rejected(name, alpha):
    with pytest.raises(InputDataError, match=name):
        PowerNorm(3, **{name: alpha})


@pytest.mark.parametrize("eps", [0.0, -1e-5, float("nan")])
def test_nonpositive_eps_is_rejected(eps):
    with pytest.raises(InputDataError, match="eps"):
        PowerNorm(3, eps=eps)


def test_bad_construction_and_inputs_are_rejected():
    with pytest.raises(InputDataError, match="num_features"):
        PowerNorm(0)
    with pytest.raises(InputDataError, match="warmup_iters"):
        PowerNorm(3, warmup_iters=-1)
    layer = PowerNorm(3)
    with pytest.raises(InputDataError, match=r"`x`.*\.\.\. x 3"):
        layer(torch.randn(4, 5))
    with pytest.raises(InputDataError, match="batch dimension"):
        layer(torch.randn(3))
    with pytest.raises(InputDataError, match="floating"):
        layer(torch.ones(4, 3, dtype=torch.long))
    with pytest.raises(InputDataError, match="grad_output"):
        power_norm_exact_grad(torch.randn(4, 3), torch.randn(4, 2))
