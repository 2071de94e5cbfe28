"""Equilibrium propagation: EP vs backprop, asymmetry bias, holomorphic nudges, solver, training.

Tolerances: the fixed points are solved to a residual of 1e-13 in float64, so exact identities hold
to ~1e-10 relative; finite-nudge errors are compared through their order in beta (docs/derivations.md, §7).
"""

from __future__ import annotations

import math
import textwrap

import pytest
import torch

from probtheory.energy.equilibrium_propagation import EquilibriumPropagation, asymmetry_bias
from probtheory.errors import InputDataError, UnsupportedError


def _flat(grads: dict[str, torch.Tensor]) -> torch.Tensor:
    return torch.cat([g.flatten() for g in grads.values()])


def _problem(symmetric: bool, layered: bool = True, seed: int = 0, batch: int = 3):
    model = EquilibriumPropagation(3, 6, 2, symmetric=symmetric, layered=layered, tol=1e-13, seed=seed)
    g = torch.Generator().manual_seed(seed + 100)
    with torch.no_grad():
        model.bias.copy_(0.5 * torch.randn(model.bias.shape, generator=g, dtype=torch.float64))
    x = torch.randn(batch, 3, generator=g, dtype=torch.float64)
    y = 2 * torch.rand(batch, 2, generator=g, dtype=torch.float64) - 1
    return model, x, y


@pytest.mark.parametrize("layered", [True, False])
def test_equilibrium_propagation_symmetric_weights_match_backprop(layered):
    model, x, y = _problem(symmetric=True, layered=layered)
    backprop = _flat(model.backprop_gradient(x, y))
    free = model.relax(x)
    jac = model.state_jacobian(free, x)
    assert (jac - jac.mT).abs().max() < 1e-14  # energy form + symmetric W -> symmetric Jacobian
    assert _flat(model.gradient_bias(x, y)).norm() < 1e-12 * backprop.norm()
    # symmetric nudge: error ~ c beta^2, so halving beta quarters it (log2 ratio 2 +- 0.3)
    errors = [(_flat(model.ep_gradient(x, y, b, "symmetric")) - backprop).norm() for b in (0.02, 0.01)]
    assert abs(math.log2(errors[0] / errors[1]) - 2.0) < 0.3
    # one-sided nudge: O(beta), log2 ratio 1
    one_sided = [(_flat(model.ep_gradient(x, y, b, "one_sided")) - backprop).norm() for b in (0.02, 0.01)]
    assert abs(math.log2(one_sided[0] / one_sided[1]) - 1.0) < 0.3
    # holomorphic, r = 0.02, N = 6: error ~ (r/R)^6 with R ~ 0.3, far below 1e-5
    holomorphic = _flat(model.ep_gradient(x, y, 0.02, "holomorphic", 6))
    assert (holomorphic - backprop).norm() < 1e-5 * backprop.norm()


def test_equilibrium_propagation_backprop_matches_finite_differences():
    model, x, y = _problem(symmetric=False, layered=False)
    grads = model.backprop_gradient(x, y)
    eps = 1e-6
    for name, param in model.named_parameters():
        flat = param.detach().view(-1)
        for i in (0, flat.numel() // 2, flat.numel() - 1):
            if name == "input_weight" and model.input_mask.view(-1)[i] == 0:
                continue
            old = flat[i].item()
            with torch.no_grad():
                flat[i] = old + eps
                up = model.loss(x, y).item()
                flat[i] = old - eps
                down = model.loss(x, y).item()
                flat[i] = old
            # central difference: O(eps^2) truncation, 1e-13 / eps round-off
            assert grads[name].view(-1)[i].item() == pytest.approx((up - down) / (2 * eps), abs=1e-7)


def test_equilibrium_propagation_asymmetric_bias_follows_closed_form():
    model, x, y = _problem(symmetric=False)
    backprop = _flat(model.backprop_gradient(x, y))
    bias = _flat(model.gradient_bias(x, y))
    assert bias.norm() > 0.05 * backprop.norm()  # a real bias, not a vanishing one
    holomorphic = _flat(model.ep_gradient(x, y, 0.02, "holomorphic", 6))
    assert (holomorphic - backprop - bias).norm() < 1e-5 * backprop.norm()
    # the bias is J^-1 dC - J^-T dC
    free = model.relax(x)
    jac, dc = model.state_jacobian(free, x), model.cost_gradient(free, y)
    direct = torch.linalg.solve(jac, dc) - torch.linalg.solve(jac.mT, dc)
    torch.testing.assert_close(asymmetry_bias(jac, dc), direct, rtol=1e-10, atol=1e-13)


def test_equilibrium_propagation_holomorphic_error_shrinks_geometrically():
    model, x, y = _problem(symmetric=False, seed=3)
    free = model.relax(x)
    exact = torch.linalg.solve(model.state_jacobian(free, x), model.cost_gradient(free, y))
    errors = [
        (model.ep_error_vector(x, y, 0.05, "holomorphic", n)[1] - exact).norm().item() for n in range(1, 7)
    ]
    slope = (math.log(errors[-1]) - math.log(errors[0])) / 5
    assert math.exp(slope) < 0.5, errors
    assert errors[-1] < 1e-3 * errors[0]


def test_equilibrium_propagation_one_and_two_points_are_finite_differences():
    model, x, y = _problem(symmetric=False)
    one = model.ep_error_vector(x, y, 0.03, "holomorphic", 1)[1]
    torch.testing.assert_close(one, model.ep_error_vector(x, y, 0.03, "one_sided")[1], rtol=1e-9, atol=1e-11)
    two = model.ep_error_vector(x, y, 0.03, "holomorphic", 2)[1]
    torch.testing.assert_close(two, model.ep_error_vector(x, y, 0.03, "symmetric")[1], rtol=1e-9, atol=1e-11)


def test_equilibrium_propagation_closed_form_jacobian_matches_autodiff():
    model, x, _ = _problem(symmetric=False, layered=False)
    s = torch.randn(3, 8, dtype=torch.complex128, generator=torch.Generator().manual_seed(1))
    from probtheory.energy.hopfield_network import _batch_jacobian

    auto = _batch_jacobian(lambda z: model.vector_field(z, x), s)
    torch.testing.assert_close(model.state_jacobian(s, x), auto, rtol=1e-12, atol=1e-14)


def test_equilibrium_propagation_hutchinson_homeostasis_is_unbiased():
    model, x, _ = _problem(symmetric=False)
    exact = model.jacobian_asymmetry(x).item()
    # each draw averages 10 independent probes per example; z = 5 against the draws' standard error
    repeated = x.repeat(10, 1)
    draws = torch.stack([model.homeostasis_penalty(repeated, seed=i).detach() for i in range(40)])
    assert abs(draws.mean().item() - exact) <= 5 * draws.std().item() / math.sqrt(40)
    assert draws.std() > 0  # a real Monte-Carlo estimate, not the exact value
    symmetric, xs, _ = _problem(symmetric=True)
    assert symmetric.homeostasis_penalty(xs, seed=0).abs().item() < 1e-12


def test_equilibrium_propagation_homeostasis_gradient_reduces_asymmetry():
    model, x, _ = _problem(symmetric=False, layered=False)
    before = model.jacobian_asymmetry(x).item()
    for step in range(20):
        penalty = model.homeostasis_penalty(x, num_probes=4, seed=step)
        grads = torch.autograd.grad(penalty, list(model.parameters()), allow_unused=True)
        with torch.no_grad():
            for p, g in zip(model.parameters(), grads, strict=True):
                if g is not None:
                    p -= 0.05 * g
    assert model.jacobian_asymmetry(x).item() < 0.7 * before


def test_equilibrium_propagation_convergence_warning_reports_residual():
    model, x, _ = _problem(symmetric=True)
    model.method, model.max_iter = "euler", 3
    with pytest.warns(RuntimeWarning, match=r"did not converge: residual .* > tol"):
        model.relax(x)
    model.method, model.max_iter = "newton", 1000
    with torch.no_grad():
        assert model.vector_field(model.relax(x), x).abs().max() <= 1e-13


def test_equilibrium_propagation_newton_and_euler_reach_the_same_fixed_point():
    model, x, _ = _problem(symmetric=False, layered=False)
    newton = model.relax(x)
    model.method, model.max_iter = "euler", 20000
    torch.testing.assert_close(model.relax(x), newton, rtol=0, atol=1e-11)


def test_equilibrium_propagation_bad_input():
    model, x, y = _problem(symmetric=True)
    with pytest.raises(InputDataError, match="beta"):
        model.ep_gradient(x, y, beta=0.0)
    with pytest.raises(InputDataError, match="num_points"):
        model.ep_gradient(x, y, beta=0.1, nudge="holomorphic", num_points=0)
    with pytest.raises(InputDataError, match="nudge"):
        model.ep_gradient(x, y, beta=0.1, nudge="central")
    bad = x.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(InputDataError, match="`x`.*non-finite"):
        model.backprop_gradient(bad, y)
    with pytest.raises(InputDataError, match="`y`.*non-finite"):
        model.ep_gradient(x, torch.full_like(y, float("inf")))
    with pytest.raises(InputDataError, match="`x`.*batch x 3"):
        model.predict(torch.zeros(2, 4, dtype=torch.float64))
    with pytest.raises(InputDataError, match="`y`"):
        model.ep_gradient(x, y[:2])
    with pytest.raises(InputDataError, match="`y`"):
        model.relax(x, beta=0.1)
    with pytest.raises(InputDataError, match="estimator"):
        model.fit(x, y, epochs=1, estimator="bptt", progress=False)
    with pytest.raises(InputDataError, match="jacobian"):
        asymmetry_bias(torch.zeros(2, 3, 4), torch.zeros(2, 3))
    with pytest.raises(UnsupportedError, match="activation"):
        EquilibriumPropagation(3, 4, 2, activation="relu")
    with pytest.raises(InputDataError, match="hidden_dim"):
        EquilibriumPropagation(3, 0, 2)


def test_equilibrium_propagation_docstring_example_trains_on_digits():
    # the module's example (asymmetric weights, holomorphic EP, homeostasis) runs and learns
    import probtheory.energy.equilibrium_propagation as module

    namespace: dict = {}
    exec(textwrap.dedent(module.__doc__.split("Example::")[1]), namespace)
    history, accuracy = namespace["history"], namespace["accuracy"]
    assert len(history) == 5 and history == namespace["model"].history_
    assert history[-1] < 0.5 * history[0]
    assert accuracy > 0.5  # chance is 0.1


def test_equilibrium_propagation_fit_is_reproducible():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(24, 2, generator=g, dtype=torch.float64)
    y = torch.tanh(x[:, :1])
    runs = [
        EquilibriumPropagation(2, 4, 1, symmetric=False, seed=1).fit(
            x, y, epochs=1, seed=5, batch_size=8, homeostasis=0.1, progress=False
        )
        for _ in range(2)
    ]
    assert runs[0] == runs[1]


def test_equilibrium_propagation_symmetric_training_with_symmetric_nudges():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(48, 2, generator=g, dtype=torch.float64)
    y = torch.tanh(x[:, :1] - x[:, 1:])
    model = EquilibriumPropagation(2, 8, 1, symmetric=True, seed=1)
    history = model.fit(x, y, epochs=4, lr=0.3, seed=0, estimator="symmetric", batch_size=16, progress=False)
    assert history[-1] < 0.5 * history[0]
