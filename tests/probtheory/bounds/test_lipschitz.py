"""Local Lipschitz bounds: soundness, hierarchy, limits, CNNs and bad input (docs/derivations.md, §1)."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from probtheory.bounds.lipschitz import (
    METHODS,
    exact_local_lipschitz,
    lipschitz_bracket,
    lipschitz_lower_bound,
    local_lipschitz_bound,
)
from probtheory.errors import ConfigurationError, InputDataError, UnsupportedError
from proofs_checks.catalog.lipschitz import LipschitzInstance, lipschitz_instances


def _worked_example_instance():
    """docs/derivations.md, §1, worked example: d=3, m=8, default_rng(0), b ~ 0.5 N, x0 ~ 0.3 N, eps = 0.4."""
    rng = np.random.default_rng(0)
    w, b, v, x0 = rng.standard_normal((8, 3)), 0.5 * rng.standard_normal(8), rng.standard_normal(8), None
    x0 = 0.3 * rng.standard_normal(3)
    net = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 1, bias=False)).double()
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor(w))
        net[0].bias.copy_(torch.tensor(b))
        net[2].weight.copy_(torch.tensor(v).reshape(1, 8))
    return net, torch.tensor(x0)


def test_lipschitz_reference_values_of_the_worked_example():
    net, x0 = _worked_example_instance()
    exact = exact_local_lipschitz(net, x0, 0.4)
    assert exact.lower == exact.upper
    assert exact.lower == pytest.approx(3.9581, abs=5e-5)
    assert local_lipschitz_bound(net, x0, 0.4, method="interval").upper == pytest.approx(7.2676, abs=5e-5)
    assert local_lipschitz_bound(net, x0, 0.4, method="global").upper == pytest.approx(16.4132, abs=5e-5)
    # the box-relaxed value 6.2152 (all 2^7 sign patterns) is the best a box relaxation of D can do
    propagation = local_lipschitz_bound(net, x0, 0.4).upper
    assert 6.2152 <= propagation < 7.2676
    lower = lipschitz_lower_bound(net, x0, 0.4, seed=0)
    assert lower.lower == pytest.approx(3.9581, abs=5e-5)


def _assert_sound(inst: LipschitzInstance, norm="inf", samples=256, steps=20, exact=True):
    model, center = inst.network(), inst.center()
    low = lipschitz_lower_bound(
        model, center, inst.radius, norm, steps=steps, restarts=2, samples=samples, seed=inst.seed
    )
    reference = low.lower
    if exact and inst.activation != "tanh":
        ex = exact_local_lipschitz(model, center, inst.radius, norm)
        # every attained gradient norm is below the exact constant (up to float64 evaluation order)
        assert low.lower <= ex.lower * (1 + 1e-12), (low.lower, ex.lower)
        reference = max(reference, ex.lower)
    values = [local_lipschitz_bound(model, center, inst.radius, norm, method=m).upper for m in METHODS]
    # no tolerance: the bounds include their own float64 rounding slack
    assert all(v >= reference for v in values), (values, reference)
    assert values[0] <= values[1]


@settings(max_examples=15, deadline=None)
@given(lipschitz_instances(), st.sampled_from(("inf", "2", "1")))
def test_lipschitz_soundness_property(inst, norm):
    _assert_sound(inst, norm)


@pytest.mark.slow
@settings(max_examples=10_000, deadline=None)
@given(lipschitz_instances(in_features=(1, 2), width=(1, 4)), st.sampled_from(("inf", "2", "1")))
def test_lipschitz_soundness_property_thorough(inst, norm):
    _assert_sound(inst, norm, samples=32, steps=3)


def test_lipschitz_hierarchy_on_deeper_net():
    torch.manual_seed(3)
    net = nn.Sequential(nn.Linear(3, 12), nn.ReLU(), nn.Linear(12, 12), nn.ReLU(), nn.Linear(12, 2)).double()
    x0 = torch.randn(3, dtype=torch.float64)
    exact = exact_local_lipschitz(net, x0, 0.3)
    values = [local_lipschitz_bound(net, x0, 0.3, method=m).upper for m in METHODS]
    assert exact.lower <= values[0] <= values[1] <= values[2]
    assert values[0] < values[1]  # propagation is strictly tighter here


def test_lipschitz_small_radius_limit_relu_and_tanh():
    torch.manual_seed(0)
    for act in (nn.ReLU(), nn.Tanh()):
        net = nn.Sequential(nn.Linear(4, 16), act, nn.Linear(16, 16), act, nn.Linear(16, 3)).double()
        x0 = torch.randn(4, dtype=torch.float64)
        jac = torch.autograd.functional.jacobian(net, x0)
        grad_norm = float(jac.abs().sum(1).max())
        errors = [local_lipschitz_bound(net, x0, r).upper - grad_norm for r in (1e-3, 1e-5, 1e-7)]
        assert all(e >= 0 for e in errors)
        if isinstance(act, nn.ReLU):
            assert errors[-1] <= 1e-12 * grad_norm
        else:  # smooth: the error shrinks linearly with the radius
            assert errors[2] <= 1e-3 * errors[0] and errors[2] < 1e-5 * grad_norm


def test_lipschitz_monotone_in_radius():
    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(3, 10), nn.Tanh(), nn.Linear(10, 10), nn.LeakyReLU(0.2), nn.Linear(10, 1))
    x0 = torch.randn(3)
    for method in METHODS:
        values = [local_lipschitz_bound(net, x0, 0.01 * 2**i, method=method).upper for i in range(8)]
        assert all(b >= a for a, b in zip(values, values[1:], strict=False)), (method, values)


def test_lipschitz_output_index_and_norms():
    torch.manual_seed(2)
    net = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 3)).double()
    x0 = torch.randn(3, dtype=torch.float64)
    full = local_lipschitz_bound(net, x0, 0.2)
    rows = [local_lipschitz_bound(net, x0, 0.2, output_index=j).upper for j in range(3)]
    assert max(rows) == pytest.approx(full.upper, rel=1e-12)
    for norm in ("inf", "2", "1"):
        exact = exact_local_lipschitz(net, x0, 0.2, norm=norm)
        low = lipschitz_lower_bound(net, x0, 0.2, norm=norm, seed=0)
        ups = [local_lipschitz_bound(net, x0, 0.2, norm=norm, method=m).upper for m in METHODS]
        assert low.lower <= exact.lower + 1e-12 and exact.lower <= ups[0] <= min(ups[1], ups[2])
        if norm != "2":  # |J| <= |W_L| |D| ... |W_1| entrywise bounds l-inf / l1 operator norms only
            assert ups[1] <= ups[2]
    # norms of one vector: ||g||_inf <= ||g||_2 <= ||g||_1
    values = [exact_local_lipschitz(net, x0, 0.2, norm=n).lower for n in ("1", "2", "inf")]
    assert values[0] <= values[1] <= values[2]
    assert local_lipschitz_bound(net, x0, 0.2, norm=math.inf).norm == "inf"


def test_lipschitz_lower_bound_finds_thin_region_by_ascent():
    # |x| has gradient 1 everywhere but the box [0.5, 1.5] only sees slope 1; put a steep neuron
    # active only in a thin slab x > 1.45 of the box: uniform sampling rarely hits it
    net = nn.Sequential(nn.Linear(1, 2), nn.ReLU(), nn.Linear(2, 1)).double()
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0], [1.0]]))
        net[0].bias.copy_(torch.tensor([0.0, -1.45]))
        net[2].weight.copy_(torch.tensor([[1.0, 50.0]]))
        net[2].bias.zero_()
    x0 = torch.tensor([1.0], dtype=torch.float64)
    low = lipschitz_lower_bound(net, x0, 0.5, samples=4, steps=30, seed=0)
    assert low.lower == pytest.approx(51.0)
    assert exact_local_lipschitz(net, x0, 0.5).lower == pytest.approx(51.0)
    assert local_lipschitz_bound(net, x0, 0.5).upper >= 51.0
    assert lipschitz_lower_bound(net, x0, 0.5, samples=4, steps=0, seed=0).details["sampled"] <= 51.0


def test_lipschitz_cnn_support():
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.Conv2d(3, 2, 3, stride=2), nn.Tanh(),
        nn.Flatten(), nn.Linear(2 * 2 * 2, 3),
    ).double()  # fmt: skip
    x0 = torch.randn(1, 6, 6, dtype=torch.float64)
    bracket = lipschitz_bracket(net, x0, 0.05, seed=0, steps=20)
    values = [local_lipschitz_bound(net, x0, 0.05, method=m).upper for m in METHODS]
    assert bracket.lower <= values[0] <= values[1] <= values[2]
    # the dense conv matrices reproduce the network: its autograd Jacobian at x0 is attained
    jac = torch.autograd.functional.jacobian(lambda x: net(x.unsqueeze(0))[0], x0).reshape(3, -1)
    assert local_lipschitz_bound(net, x0, 0.05).lower == pytest.approx(
        float(jac.abs().sum(1).max()), rel=1e-12
    )


def test_lipschitz_exact_refuses_and_limits():
    net = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1))
    with pytest.raises(UnsupportedError, match="piecewise-linear"):
        exact_local_lipschitz(net, torch.zeros(2), 0.1)
    wide = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 1))
    with pytest.raises(UnsupportedError, match="max_unstable"):
        exact_local_lipschitz(wide, torch.zeros(2), 5.0)
    with pytest.raises(ConfigurationError, match="max_regions"):
        exact_local_lipschitz(wide, torch.zeros(2), 5.0, max_unstable=100, max_regions=3)


@pytest.mark.parametrize(
    ("layer", "name"), [(nn.Sigmoid(), "Sigmoid"), (nn.BatchNorm1d(4), "BatchNorm1d"), (nn.GELU(), "GELU")]
)
def test_lipschitz_unsupported_layer_named(layer, name):
    net = nn.Sequential(nn.Linear(2, 4), layer, nn.Linear(4, 1))
    with pytest.raises(UnsupportedError, match=name):
        local_lipschitz_bound(net, torch.zeros(2), 0.1)


def test_lipschitz_bad_inputs():
    net = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1))
    with pytest.raises(InputDataError, match="radius"):
        local_lipschitz_bound(net, torch.zeros(2), 0.0)
    with pytest.raises(InputDataError, match="radius"):
        local_lipschitz_bound(net, torch.zeros(2), -1.0)
    with pytest.raises(InputDataError, match="center"):
        local_lipschitz_bound(net, torch.zeros(3), 0.1)
    with pytest.raises(InputDataError, match="center"):
        local_lipschitz_bound(net, torch.tensor([0.0, math.nan]), 0.1)
    with pytest.raises(InputDataError, match="method"):
        local_lipschitz_bound(net, torch.zeros(2), 0.1, method="crown")
    with pytest.raises(InputDataError, match="norm"):
        local_lipschitz_bound(net, torch.zeros(2), 0.1, norm=3)
    with pytest.raises(InputDataError, match="output_index"):
        local_lipschitz_bound(net, torch.zeros(2), 0.1, output_index=1)
    with pytest.raises(UnsupportedError, match="model"):
        local_lipschitz_bound(nn.Linear(2, 1), torch.zeros(2), 0.1)
    with pytest.raises(UnsupportedError, match="negative_slope"):
        local_lipschitz_bound(nn.Sequential(nn.Linear(2, 2), nn.LeakyReLU(-0.5)), torch.zeros(2), 0.1)
    bad = nn.Sequential(nn.Linear(2, 4), nn.ReLU(), nn.Linear(4, 1))
    with torch.no_grad():
        bad[0].weight[0, 0] = math.inf
    with pytest.raises(InputDataError, match="model"):
        local_lipschitz_bound(bad, torch.zeros(2), 0.1)
    conv = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten())
    with pytest.raises(InputDataError, match="center"):
        local_lipschitz_bound(conv, torch.zeros(2, 5, 5), 0.1)
    with pytest.raises(InputDataError, match="steps"):
        lipschitz_lower_bound(net, torch.zeros(2), 0.1, steps=-1)


def test_lipschitz_lower_bound_is_seeded():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2))
    a = lipschitz_lower_bound(net, torch.zeros(3), 0.5, seed=7, samples=32, steps=10)
    b = lipschitz_lower_bound(net, torch.zeros(3), 0.5, seed=7, samples=32, steps=10)
    assert a.lower == b.lower and a.upper == math.inf
    assert torch.equal(a.details["argmax"], b.details["argmax"])
    assert (a.details["argmax"].abs() <= 0.5).all()
