"""AdjointDPM (Pan et al., ICLR 2024): the sigma-form probability-flow sampler and its adjoint gradients.

Exact properties: one Euler step is one DDIM step; for a linear noise predictor the solve is a
matrix exponential, so the adjoint gradient has a closed form; on a small MLP the adjoint gradient
converges to the gradient of the discretised solve at the solver's order; the memory held for
backward does not grow with the number of steps.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from probtheory.plugins.evaluation import saved_tensor_bytes
from probtheory.sciml.diffusion import NoiseSchedule, ProbabilityFlowSampler, denoising_loss

SCHEDULE = NoiseSchedule.linear(1000)


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny tensors: intra-op threads only spin (10x slower on a loaded 2-core machine)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class TinyEps(nn.Module):
    """A small conditional noise predictor: ``eps(x, t, c)``."""

    def __init__(self, dim: int = 2, cond_dim: int = 3, width: int = 16) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(dim + 1 + cond_dim, width), nn.Tanh(), nn.Linear(width, width), nn.Tanh(),
            nn.Linear(width, dim),
        )  # fmt: skip

    def forward(self, x, t, c):
        return self.net(torch.cat([x, (t / 1000)[:, None], c], dim=-1))


class LinearEps(nn.Module):
    """``eps(x, t) = W x``: the probability-flow ODE is then linear with a closed-form solution."""

    def __init__(self, weight: torch.Tensor) -> None:
        super().__init__()
        self.weight = nn.Parameter(weight.clone())

    def forward(self, x, t):
        return x @ self.weight.T


def _tiny(seed: int = 0) -> TinyEps:
    torch.manual_seed(seed)
    return TinyEps().double()


def _flat_gradients(model, steps, adjoint, method="rk4", seed=0):
    g = torch.Generator().manual_seed(seed)
    x_T = torch.randn(4, 2, generator=g, dtype=torch.float64, requires_grad=True)
    cond = torch.randn(4, 3, generator=g, dtype=torch.float64, requires_grad=True)
    target = torch.randn(4, 2, generator=g, dtype=torch.float64)
    model.zero_grad()
    sampler = ProbabilityFlowSampler(model, SCHEDULE, steps, adjoint, method=method)
    (sampler(x_T, cond) - target).pow(2).sum().backward()
    return torch.cat(
        [x_T.grad.flatten(), cond.grad.flatten()] + [p.grad.flatten() for p in model.parameters()]
    )


def test_euler_steps_are_ddim_steps():
    model = _tiny()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(5, 2, generator=g, dtype=torch.float64)
    cond = torch.randn(5, 3, generator=g, dtype=torch.float64)
    steps = 7
    sampler = ProbabilityFlowSampler(model, SCHEDULE, steps, method="euler")
    times = sampler.timesteps
    assert times[0] == 999 and times[-1] == 0
    abar = SCHEDULE.alphas_cumprod
    with torch.no_grad():
        ours = sampler(x, cond)
        # DDIM (Song et al., ICLR 2021, Eq. 12, eta = 0) on the same grid; abar at real t from sigma(t)
        ddim = x
        for t, s in zip(times[:-1].tolist(), times[1:].tolist(), strict=True):
            a_t = abar[int(t)] if t == int(t) else 1 / (1 + SCHEDULE.sigma(t) ** 2)
            a_s = abar[int(s)] if s == int(s) else 1 / (1 + SCHEDULE.sigma(s) ** 2)
            eps = model(ddim, torch.full((5,), t, dtype=torch.float64), cond)
            x0_pred = (ddim - (1 - a_t).sqrt() * eps) / a_t.sqrt()
            ddim = a_s.sqrt() * x0_pred + (1 - a_s).sqrt() * eps
    torch.testing.assert_close(ours, ddim, rtol=1e-12, atol=1e-12)
    # and a single step is exactly one DDIM step from T - 1 to 0
    one = ProbabilityFlowSampler(model, SCHEDULE, 1, method="euler")
    with torch.no_grad():
        eps = model(x, torch.full((5,), 999.0, dtype=torch.float64), cond)
        x0_pred = (x - (1 - abar[999]).sqrt() * eps) / abar[999].sqrt()
        torch.testing.assert_close(one(x, cond), abar[0].sqrt() * x0_pred + (1 - abar[0]).sqrt() * eps)


def test_linear_model_gradient_matches_matrix_exponential():
    # eps = W x: dy/dsigma = W y / sqrt(1 + sigma^2), so y_min = expm(W (asinh s_min - asinh s_max)) y_max
    g = torch.Generator().manual_seed(2)
    weight = 0.3 * torch.randn(3, 3, generator=g, dtype=torch.float64)
    x_T = torch.randn(6, 3, generator=g, dtype=torch.float64)
    probe = torch.randn(6, 3, generator=g, dtype=torch.float64)
    schedule = SCHEDULE  # sigma in [0.01, 157]; RK4's error: 4.6e-6 at 50 steps, 2.9e-7 at 100, 1.8e-8 at 200
    s_max, s_min = schedule.sigmas[-1], schedule.sigmas[0]

    def closed_form(w, x):
        propagator = torch.linalg.matrix_exp(w * (torch.asinh(s_min) - torch.asinh(s_max)))
        return (x * torch.sqrt(1 + s_max**2)) @ propagator.T / torch.sqrt(1 + s_min**2)

    w_ref, x_ref = weight.clone().requires_grad_(), x_T.clone().requires_grad_()
    (closed_form(w_ref, x_ref) * probe).sum().backward()

    model = LinearEps(weight)
    x = x_T.clone().requires_grad_()
    sampler = ProbabilityFlowSampler(model, schedule, 100)
    out = sampler(x)
    exact = closed_form(weight, x_T)
    assert ((out.detach() - exact).norm() / exact.norm()).item() < 1e-6
    (out * probe).sum().backward()
    for ours, reference in ((x.grad, x_ref.grad), (model.weight.grad, w_ref.grad)):
        assert ((ours - reference).norm() / reference.norm()).item() < 1e-6


def test_adjoint_matches_backprop_at_fifty_rk4_steps():
    model = _tiny()
    adjoint, backprop = _flat_gradients(model, 50, True), _flat_gradients(model, 50, False)
    for part in (slice(0, 8), slice(8, 20), slice(20, None)):  # x_T, cond, weights
        a, b = adjoint[part], backprop[part]
        assert (a @ b / (a.norm() * b.norm())).item() >= 0.999
    assert ((adjoint - backprop).norm() / backprop.norm()).item() < 1e-5


@pytest.mark.parametrize(("method", "order", "steps"), [("rk4", 4, (10, 20, 40)), ("euler", 1, (20, 40, 80))])
def test_gap_to_backprop_shrinks_at_the_solver_order(method, order, steps):
    model = _tiny(3)
    gaps = []
    for n in steps:
        a, b = _flat_gradients(model, n, True, method), _flat_gradients(model, n, False, method)
        gaps.append(((a - b).norm() / b.norm()).item())
    observed = [math.log2(g0 / g1) for g0, g1 in zip(gaps, gaps[1:], strict=False)]
    # asymptotic order within 0.3 (RK4's observed order is about 4.5 on this non-uniform sigma grid)
    assert all(o > order - 0.3 for o in observed), (gaps, observed)


def test_memory_flat_in_steps_while_backprop_grows():
    model = _tiny()
    g = torch.Generator().manual_seed(4)
    x_T = torch.randn(32, 2, generator=g, dtype=torch.float64)
    cond = torch.randn(32, 3, generator=g, dtype=torch.float64)

    def held(steps, adjoint):
        sampler = ProbabilityFlowSampler(model, SCHEDULE, steps, adjoint)
        x = x_T.clone().requires_grad_()
        return saved_tensor_bytes(
            lambda: sampler(x, cond).square().sum().backward(), exclude=model.parameters()
        )

    assert held(10, True) == held(100, True) > 0
    assert held(100, False) >= 9 * held(10, False)
    assert held(100, True) <= 0.1 * held(100, False)


def test_gradient_only_for_what_requires_it_and_integer_conditioning():
    class ClassEps(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed, self.out = nn.Embedding(2, 2), nn.Linear(3, 2)

        def forward(self, x, t, labels):
            return self.out(torch.cat([x + self.embed(labels), (t / 1000)[:, None]], -1))

    torch.manual_seed(0)
    model = ClassEps().double()
    labels = torch.tensor([0, 1, 1])
    x = torch.randn(3, 2, dtype=torch.float64, requires_grad=True)
    adj = ProbabilityFlowSampler(model, SCHEDULE, 40)(x, labels).sum()
    adj.backward()
    grads = [x.grad.clone()] + [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    x.grad = None
    ProbabilityFlowSampler(model, SCHEDULE, 40, adjoint=False)(x, labels).sum().backward()
    for ours, reference in zip(grads, [x.grad] + [p.grad for p in model.parameters()], strict=True):
        assert ((ours - reference).norm() / reference.norm()).item() < 1e-4


def test_schedule_sigma_and_timestep_are_inverse():
    times = torch.tensor([0.0, 0.5, 17.25, 998.9, 999.0], dtype=torch.float64)
    torch.testing.assert_close(SCHEDULE.timestep(SCHEDULE.sigma(times)), times, rtol=0, atol=1e-9)
    abar = SCHEDULE.alphas_cumprod
    torch.testing.assert_close(
        SCHEDULE.sigma(torch.arange(1000.0)), ((1 - abar) / abar).sqrt(), rtol=1e-12, atol=0
    )
    assert bool((SCHEDULE.sigmas.diff() > 0).all())


def test_denoising_loss_trains_through_fit():
    from probtheory.training import fit

    schedule = NoiseSchedule.linear(50, 1e-3, 0.2)
    torch.manual_seed(0)
    model = TinyEps(cond_dim=0)
    data = [torch.randn(64, 2) * 0.1 + 1.0 for _ in range(4)]
    loss = denoising_loss(schedule, generator=torch.Generator().manual_seed(0))
    wrapped = _Unconditional(model)
    with torch.no_grad():
        before = float(loss(wrapped, data[0]))
    fit(
        wrapped,
        data,
        epochs=10,
        loss=loss,
        optimizer=torch.optim.Adam(wrapped.parameters(), 1e-2),
        progress=False,
    )
    with torch.no_grad():
        assert float(loss(wrapped, data[0])) < 0.5 * before


class _Unconditional(nn.Module):
    def __init__(self, model: TinyEps) -> None:
        super().__init__()
        self.model = model

    def forward(self, x, t):
        return self.model(x, t, x[:, :0])
