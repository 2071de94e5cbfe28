"""Monotone DBM: parameterisation, proximal softmax, unique fixed point, implicit gradients, API.

Tolerances: everything runs in float64. Fixed points are solved to a mean-field residual of
1e-10; by m-strong convexity a solve is then within ~|projected gradient| / m <~ 1e-9 of the
unique minimiser, so distinct solves agree far inside the 1e-6 bar. Finite differences use
eps = 1e-5 (truncation ~eps^2) on fixed points solved to 1e-13 (error ~tol / eps = 1e-8), far
inside the 1e-4 relative bar.
"""

import re
import warnings

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import probtheory.energy.monotone_dbm as monotone_dbm_module
from probtheory.energy._anderson import solve_fixed_point
from probtheory.energy.categorical_mean_field import (
    default_step,
    mean_field_free_energy,
    mean_field_residual,
    solve_mean_field,
)
from probtheory.energy.monotone_dbm import MonotoneDBM
from probtheory.energy.proximal_softmax import block_softmax, prox_softmax
from probtheory.errors import ConfigurationError, InputDataError

F64 = torch.float64


def _model(sizes, m=0.1, seed=0, bias_scale=1.0, factor_scale=1.0, **options):
    model = MonotoneDBM(sizes, m=m, seed=seed, **options)
    g = torch.Generator().manual_seed(seed + 100)
    with torch.no_grad():
        model.factor.mul_(factor_scale)
        model.bias.copy_(bias_scale * torch.randn(model.bias.shape, generator=g, dtype=F64))
    return model


def _simplex_points(sizes, rows, seed):
    g = torch.Generator().manual_seed(seed)
    return block_softmax(torch.log(-torch.log(torch.rand(rows, sum(sizes), generator=g, dtype=F64))), sizes)


# ----------------------------------------------------------------------- parameterisation


@pytest.mark.parametrize("m", [0.05, 0.3, 0.9])
def test_coupling_is_hollow_symmetric_and_strongly_monotone(m):
    sizes = [2, 3, 4, 2, 5]
    model = _model(sizes, m=m, factor_scale=3.0)
    w = model.coupling().detach()
    assert torch.equal(w, w.T)
    offsets = [0, 2, 5, 9, 11, 16]
    for a, b in zip(offsets[:-1], offsets[1:], strict=True):
        assert torch.count_nonzero(w[a:b, a:b]) == 0
    assert torch.linalg.eigvalsh(torch.eye(16, dtype=F64) - w)[0] >= m - 1e-12


# ------------------------------------------------------------------------ proximal softmax


@pytest.mark.parametrize("alpha", [1e-3, 0.05, 0.3, 0.7, 0.99])
def test_prox_softmax_solves_its_optimality_conditions(alpha):
    sizes = [2, 3, 5]
    y = 3 * torch.randn(7, 10, generator=torch.Generator().manual_seed(1), dtype=F64)
    z = prox_softmax(y, sizes, alpha)
    assert (z >= 0).all()
    sums = torch.stack([b.sum(-1) for b in z.split(sizes, -1)], -1)
    torch.testing.assert_close(sums, torch.ones_like(sums), rtol=0, atol=1e-14)
    # (1 - alpha) z + alpha log z - y is constant within each block (over the entries that did
    # not underflow to 0: with small alpha, z_j ~ exp(-t / alpha))
    lhs = (1 - alpha) * z + alpha * torch.log(z) - y
    for block, zb in zip(lhs.split(sizes, -1), z.split(sizes, -1), strict=True):
        positive = zb > 1e-250
        spread = block.where(positive, -torch.inf).amax(-1) - block.where(positive, torch.inf).amin(-1)
        assert spread.max() < 1e-12


def test_prox_softmax_minimises_its_objective():
    sizes, alpha = [3, 4], 0.2
    y = torch.randn(1, 7, generator=torch.Generator().manual_seed(2), dtype=F64)

    def objective(z):
        return 0.5 * (z - y).square().sum(-1) + alpha * (
            torch.special.xlogy(z, z).sum(-1) - 0.5 * z.square().sum(-1)
        )

    z = prox_softmax(y, sizes, alpha)
    others = _simplex_points(sizes, 200, 3)
    near = z + 1e-3 * (others - z)
    assert (objective(torch.cat([others, near])) > objective(z)).all()


def test_prox_softmax_at_alpha_one_is_softmax():
    sizes = [2, 3, 4]
    y = torch.randn(4, 9, generator=torch.Generator().manual_seed(4), dtype=F64)
    torch.testing.assert_close(prox_softmax(y, sizes, 1.0), block_softmax(y, sizes), rtol=0, atol=1e-15)
    torch.testing.assert_close(prox_softmax(y, sizes, 1 - 1e-9), block_softmax(y, sizes), rtol=0, atol=1e-7)


# ---------------------------------------------------------------------- unique fixed point


@settings(max_examples=12)
@given(
    sizes=st.lists(st.integers(2, 4), min_size=2, max_size=9),
    m=st.floats(0.02, 0.6),
    factor_scale=st.floats(0.3, 3.0),
    bias_scale=st.floats(0.0, 3.0),
    observe=st.floats(0.0, 0.6),
    seed=st.integers(0, 10_000),
)
def test_fixed_point_is_unique_and_minimises_the_free_energy(
    sizes, m, factor_scale, bias_scale, observe, seed
):
    model = _model(sizes, m=m, seed=seed, bias_scale=bias_scale, factor_scale=factor_scale)
    w, b = model.coupling().detach(), model.bias.detach()
    g = torch.Generator().manual_seed(seed)
    x = torch.stack([torch.randint(0, k, (1,), generator=g) for k in sizes], -1).expand(12, -1)
    mask = (torch.rand(len(sizes), generator=g, dtype=F64) < observe).expand(12, -1)
    clamp, free = model._clamp(x, mask)
    sol = solve_mean_field(
        w, b, sizes, clamp=clamp, free=free, init=_simplex_points(sizes, 12, seed), tol=1e-10, max_iter=5000
    )
    q = sol.marginals
    assert sol.converged
    assert (q - q[:1]).abs().max() <= 1e-6
    assert mean_field_residual(q, w, b, sizes, free).max() <= 1e-6
    others = torch.where(free[:1], _simplex_points(sizes, 50, seed + 1), clamp[:1])
    assert (mean_field_free_energy(others, w, b) >= mean_field_free_energy(q[:1], w, b) - 1e-12).all()


def test_anderson_reaches_the_same_fixed_point_in_fewer_iterations():
    sizes = [2] * 64
    model = _model(sizes, m=0.05, seed=5, rank=32, bias_scale=0.0)
    w, b = model.coupling().detach(), model.bias.detach()
    plain = solve_mean_field(w, b, sizes, tol=1e-10, max_iter=20_000, anderson_memory=0)
    fast = solve_mean_field(w, b, sizes, tol=1e-10, max_iter=20_000, anderson_memory=5)
    assert plain.converged and fast.converged
    assert (plain.marginals - fast.marginals).abs().max() <= 1e-8
    assert fast.iterations < 0.75 * plain.iterations


def test_non_convergence_warns_with_the_residual():
    sizes = [2] * 20
    model = _model(sizes, m=0.02, seed=6, factor_scale=2.0, max_iter=2)
    x = torch.zeros(3, 20, dtype=torch.long)
    mask = torch.zeros(3, 20, dtype=torch.bool)
    with pytest.warns(RuntimeWarning, match=r"did not converge: residual .* = \d\.\d+e[-+]\d+ > tol"):
        model.mean_field(x, mask)
    assert not model.last_solution.converged
    assert model.last_solution.residual.max() > model.tol


def test_the_step_rule_is_the_optimal_contraction():
    model = _model([2, 3, 2], m=0.2, seed=7)
    w = model.coupling().detach()
    eig = torch.linalg.eigvalsh(torch.eye(7, dtype=F64) - w)
    assert default_step(w) == pytest.approx(min(1.0, 2 / float(eig[0] + eig[-1])))


# -------------------------------------------------------------------- implicit gradients


@pytest.mark.parametrize(("seed", "observe"), [(0, 0.0), (1, 0.3), (2, 0.6)])
def test_implicit_gradients_match_central_finite_differences(seed, observe):
    sizes = [2, 3, 2, 4, 2]
    model = _model(sizes, m=0.1, seed=seed, factor_scale=1.5, tol=1e-13, max_iter=10_000)
    g = torch.Generator().manual_seed(seed)
    x = torch.stack([torch.randint(0, k, (4,), generator=g) for k in sizes], -1)
    mask = torch.rand(4, len(sizes), generator=g, dtype=F64) < observe
    weights = torch.randn(4, sum(sizes), generator=g, dtype=F64)

    def loss():
        return (weights * model.mean_field(x, mask)).sum()

    grads = torch.autograd.grad(loss(), [model.factor, model.bias])
    eps = 1e-5
    for param, grad in zip([model.factor, model.bias], grads, strict=True):
        for _ in range(3):
            d = torch.randn(param.shape, generator=g, dtype=F64)
            with torch.no_grad():
                param.add_(eps * d)
                plus = float(loss())
                param.sub_(2 * eps * d)
                minus = float(loss())
                param.add_(eps * d)
            fd = (plus - minus) / (2 * eps)
            analytic = float((grad * d).sum())
            assert abs(analytic - fd) <= 1e-4 * max(abs(fd), abs(analytic), 1e-8), (analytic, fd)


def _graph_nodes(tensor):
    seen, frontier = {}, [tensor.grad_fn]
    while frontier:
        node = frontier.pop()
        if id(node) not in seen:
            seen[id(node)] = type(node).__name__
            frontier.extend(n for n, _ in node.next_functions if n is not None)
    return sorted(seen.values())


def test_gradient_does_not_unroll_the_solver():
    graphs, iterations = [], []
    for tol in (1e-2, 1e-12):
        model = _model([2, 2, 3], seed=8, tol=tol)
        graphs.append(_graph_nodes(model.mean_field()))
        iterations.append(model.last_solution.iterations)
    assert iterations[1] > iterations[0]
    assert graphs[0] == graphs[1]  # the graph does not grow with the number of iterations
    assert graphs[0].count("_ImplicitMeanFieldBackward") == 1


# --------------------------------------------------------------------------- the model API


def test_complete_classify_and_predict_proba():
    sizes = [2, 2, 2, 3]
    model = _model(sizes, seed=9)
    x = torch.tensor([[0, 1, 1, 2], [1, 0, 1, 0]])
    mask = torch.tensor([[True, False, True, False], [False, True, True, True]])
    completed = model.complete(x, mask)
    assert completed.shape == x.shape and completed.dtype == torch.long
    assert torch.equal(completed[mask], x[mask])
    proba = model.predict_proba(x)
    assert proba.shape == (2, 3)
    torch.testing.assert_close(proba.sum(-1), torch.ones(2, dtype=F64))
    assert torch.equal(model.classify(x), proba.argmax(-1))
    torch.testing.assert_close(model.predictive(x).probs, proba)
    # the target's own entry is ignored
    assert torch.equal(
        model.predict_proba(x), model.predict_proba(torch.tensor([[0, 1, 1, 0], [1, 0, 1, 1]]))
    )


def test_clamped_variables_stay_one_hot_and_batch_dims_are_kept():
    model = _model([2, 3, 2], hidden_sizes=[2, 2], seed=10)
    x = torch.tensor([[[1, 2, 0], [0, 0, 1]]])  # 1 x 2 x 3
    mask = torch.tensor([[[True, True, False], [False, True, False]]])
    q = model.mean_field(x, mask)
    assert q.shape == (1, 2, 11)
    torch.testing.assert_close(q[0, 0, :5], torch.tensor([0, 1, 0, 0, 1], dtype=F64))
    torch.testing.assert_close(q[0, 1, 2:5], torch.tensor([1, 0, 0], dtype=F64))
    assert model.mean_field().shape == (11,)


def test_readout_at_unit_temperature_is_the_mean_field_marginal():
    model = _model([2, 3, 4], seed=11, tol=1e-12)
    x = torch.tensor([[1, 0, 3]])
    mask = torch.tensor([[True, False, False]])
    q = model.mean_field(x, mask)
    torch.testing.assert_close(model.readout_log_proba(q).exp()[:, 2:], q[:, 2:], rtol=0, atol=1e-10)


def _two_class_data(n, seed):
    g = torch.Generator().manual_seed(seed)
    label = torch.randint(0, 2, (n,), generator=g)
    prototypes = torch.tensor([[1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1]])
    flips = torch.rand(n, 6, generator=g) < 0.1
    pixels = prototypes[label] ^ flips.long()
    return torch.cat([pixels, label[:, None]], 1)


def test_fit_learns_to_classify_and_complete():
    # two noisy prototypes (10% flipped pixels): a trained model recovers the label and the
    # hidden pixels far above chance (0.5); an untrained or wrongly differentiated one does not
    data = _two_class_data(200, 12)
    model = MonotoneDBM([2] * 6 + [2], seed=12, tol=1e-8)
    losses = model.fit(
        data, target=-1, target_weight=0.5, epochs=4, lr=0.05, batch_size=50, seed=0, progress=False
    )
    assert losses[-1] < 0.8 * losses[0]
    test = _two_class_data(200, 13)
    assert (model.classify(test) == test[:, -1]).double().mean() > 0.9
    mask = torch.ones_like(test, dtype=torch.bool)
    mask[:, :2] = False  # hide two pixels of the first half
    completed = model.complete(test, mask)
    clean = torch.tensor([[1, 1], [0, 0]])[test[:, -1]]
    assert (completed[:, :2] == clean).double().mean() > 0.7


def test_fit_reports_unconverged_solves_once_with_the_residual():
    model = MonotoneDBM([2] * 6 + [2], seed=0, max_iter=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(_two_class_data(40, 0), epochs=1, batch_size=20, seed=0, progress=False)
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(messages) == 1
    assert "4 mean-field or adjoint solves did not reach" in messages[0]
    assert "largest forward residual" in messages[0]


def test_fit_is_reproducible_with_a_seed():
    data = _two_class_data(60, 14)
    runs = []
    for _ in range(2):
        model = MonotoneDBM([2] * 6 + [2], seed=3, tol=1e-8)
        runs.append(model.fit(data, epochs=1, batch_size=30, seed=5, progress=False))
    assert runs[0] == runs[1]


# --------------------------------------------------------------------------- the solver


def test_generic_anderson_solves_a_linear_contraction():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(30, 30, generator=g, dtype=F64)
    a = 0.97 * a / torch.linalg.matrix_norm(a, 2)
    c = torch.randn(2, 30, generator=g, dtype=F64)
    exact = torch.linalg.solve(torch.eye(30, dtype=F64) - a, c.T).T

    def step(x):
        f = x @ a.T + c
        return f, (f @ a.T + c - f).abs().amax(-1)

    plain = solve_fixed_point(step, torch.zeros(2, 30, dtype=F64), tol=1e-12, max_iter=5000, memory=0)
    fast = solve_fixed_point(step, torch.zeros(2, 30, dtype=F64), tol=1e-12, max_iter=5000, memory=5)
    for result in (plain, fast):
        assert result.converged
        torch.testing.assert_close(result.solution, exact, rtol=0, atol=1e-9)
    assert fast.iterations < plain.iterations


# ---------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("m", [0.0, -0.1, 1.0, 1.5, float("nan")])
def test_strong_monotonicity_parameter_must_be_in_0_1(m):
    with pytest.raises(InputDataError, match="`m`"):
        MonotoneDBM([2, 2], m=m)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"visible_sizes": [2, 1]}, "visible_sizes"),
        ({"visible_sizes": []}, "visible_sizes"),
        ({"visible_sizes": "22"}, "visible_sizes"),
        ({"visible_sizes": [2], "hidden_sizes": [0]}, "hidden_sizes"),
        ({"visible_sizes": [2], "alpha": 1.5}, "alpha"),
        ({"visible_sizes": [2], "alpha": 0.0}, "alpha"),
        ({"visible_sizes": [2], "tol": -1.0}, "tol"),
        ({"visible_sizes": [2], "max_iter": 0}, "max_iter"),
        ({"visible_sizes": [2], "rank": 0}, "rank"),
    ],
)
def test_bad_constructor_arguments(kwargs, name):
    with pytest.raises(InputDataError, match=f"`{name}"):
        MonotoneDBM(**kwargs)


@pytest.mark.parametrize(
    ("x", "match"),
    [
        (torch.tensor([[0, 2, 0]]), "column 1"),  # out of range for a binary variable
        (torch.tensor([[0, 1, -1]]), "column 2"),
        (torch.tensor([[0.0, 0.5, 1.0]]), "integer"),  # non-integer
        (torch.tensor([[0.0, float("nan"), 1.0]]), "finite"),
        (torch.tensor([[0, 1]]), "x"),  # wrong number of columns
        (torch.tensor([0, 1, 1]), "x"),  # no batch dimension
        (torch.tensor([[True, False, True]]), "dtype"),
    ],
)
def test_bad_data_is_rejected(x, match):
    model = MonotoneDBM([2, 2, 3], seed=0)
    with pytest.raises(InputDataError, match=match):
        model.mean_field(x)


def test_mask_must_match_the_data():
    model = MonotoneDBM([2, 2, 3], seed=0)
    x = torch.zeros(4, 3, dtype=torch.long)
    with pytest.raises(InputDataError, match="`mask`.*shape"):
        model.complete(x, torch.ones(4, 2, dtype=torch.bool))
    with pytest.raises(InputDataError, match="`mask`"):
        model.complete(x, torch.full((4, 3), 2))
    with pytest.raises(InputDataError, match="`mask`"):
        model.predict_proba(x, torch.ones(3, 3, dtype=torch.bool))


def test_bad_fit_and_solver_arguments():
    model = MonotoneDBM([2, 2, 3], seed=0)
    x = torch.zeros(4, 3, dtype=torch.long)
    with pytest.raises(InputDataError, match="mask_strategy"):
        model.fit(x, mask_strategy="random", progress=False)
    with pytest.raises(InputDataError, match="observe_prob"):
        model.fit(x, observe_prob=1.0, progress=False)
    with pytest.raises(InputDataError, match="variable"):
        model.fit(x, target=3, progress=False)
    with pytest.raises(ConfigurationError):
        model.fit(x, target=None, mask_strategy="target", progress=False)
    with pytest.raises(InputDataError, match="variable"):
        model.classify(x, variable=5)
    w = model.coupling().detach()
    with pytest.raises(InputDataError, match="coupling"):
        solve_mean_field(w[:-1], model.bias.detach(), [2, 2, 3])
    with pytest.raises(InputDataError, match="group_sizes"):
        solve_mean_field(w, model.bias.detach(), [2, 2, 1])
    with pytest.raises(InputDataError, match="alpha"):
        prox_softmax(torch.zeros(7, dtype=F64), [2, 2, 3], 2.0)


def test_solve_mean_field_is_silent_when_it_converges():
    model = _model([2, 3], seed=15)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sol = solve_mean_field(model.coupling().detach(), model.bias.detach(), [2, 3])
    assert sol.converged and sol.residual.max() <= 1e-6


@pytest.mark.slow
def test_module_docstring_example_runs(capsys):
    # the digits example of the module docstring (~10 s): it runs and learns something
    doc = monotone_dbm_module.__doc__
    block = doc[doc.index("    import torch") :]
    code = "\n".join(line[4:] for line in block.splitlines())
    namespace: dict = {}
    exec(compile(code, "monotone_dbm docstring", "exec"), namespace)  # noqa: S102 - our own docs
    printed = capsys.readouterr().out
    accuracy = float(re.search(r"accuracy (\S+),", printed).group(1))
    assert accuracy > 0.3  # chance: 0.1
