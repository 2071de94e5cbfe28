"""Deep kernel machines: the oracles of docs/derivations.md, §9, gradients, classification, bad input.

Tolerances: the oracles compare float64 computations of the same quantity along different
code paths, so they agree to round-off amplified by the condition numbers of the kernel
matrices (1e-6 leaves several orders of margin). The stationary-condition checks are limited
by how far L-BFGS converges (gradient tolerance 1e-12 on a problem of size 8 x 8).
"""

import math

import numpy as np
import pytest
import torch

from probtheory.errors import ConfigurationError, InputDataError, NotFittedError
from probtheory.gp import (
    DeepKernelMachine,
    LinearGramKernel,
    ReluGramKernel,
    SEGramKernel,
    StructuredGram,
    relu_gram_kernel,
    se_gram_kernel,
)
from probtheory.kernels import NNGPKernel

F64 = torch.float64


def _data(n=50, d=3, seed=0, columns=None):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=F64)
    shape = (n,) if columns is None else (n, columns)
    y = torch.sin(2 * x[:, :1]).expand(n, columns or 1).reshape(shape)
    return x, y + 0.1 * torch.randn(shape, generator=g, dtype=F64)


def _perturb_factors(model, scale=0.1, seed=3):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for factor in model.gram_factors:
            factor.add_(scale * torch.randn(factor.shape, generator=g, dtype=F64).tril())


def _lbfgs(model, iterations=300):
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.LBFGS(
        params,
        lr=1.0,
        max_iter=iterations,
        tolerance_grad=1e-12,
        tolerance_change=1e-15,
        line_search_fn="strong_wolfe",
    )

    def closure():
        opt.zero_grad()
        loss = -model.objective()
        loss.backward()
        return loss

    opt.step(closure)
    return model.objective().item()


# ----------------------------------------------------------------------------- Gram kernels


def test_gram_kernels_match_their_closed_forms():
    g = torch.Generator().manual_seed(0)
    f = torch.randn(6, 4, generator=g, dtype=F64)
    gram = f @ f.T / 4
    wv, bv = 1.7, 0.3
    relu = ReluGramKernel(wv, bv)(gram).detach().numpy()
    gn = gram.numpy()
    norms = np.sqrt(np.outer(np.diag(gn), np.diag(gn)))
    theta = np.arccos(np.clip(gn / norms, -1, 1))
    arccos = norms / (2 * np.pi) * (np.sin(theta) + (np.pi - theta) * np.cos(theta))
    np.testing.assert_allclose(relu, wv * arccos + bv, rtol=1e-12, atol=1e-12)
    se = SEGramKernel(0.8, 1.3)(gram).detach().numpy()
    sq = np.diag(gn)[:, None] - 2 * gn + np.diag(gn)[None, :]
    np.testing.assert_allclose(se, 1.3 * np.exp(-sq / (2 * 0.8**2)), rtol=1e-12, atol=1e-14)
    # The functional forms are what the modules use.
    d = gram.diagonal()
    assert torch.equal(relu_gram_kernel(gram, d[:, None], d[None, :], wv, bv).diagonal(), wv * d / 2 + bv)
    assert torch.equal(
        se_gram_kernel(gram, d[:, None], d[None, :], 0.8, 1.3).diagonal(), torch.full((6,), 1.3, dtype=F64)
    )


@pytest.mark.parametrize(
    "kernel", [ReluGramKernel(1.5, 0.2), SEGramKernel(0.7, 1.1), LinearGramKernel(2.0, 0.5)]
)
def test_structured_form_is_the_blocks_of_the_full_kernel(kernel):
    g = torch.Generator().manual_seed(1)
    f = torch.randn(9, 5, generator=g, dtype=F64)
    full = f @ f.T / 5
    ii, ti, t = full[:4, :4], full[4:, :4], full[4:, 4:].diagonal()
    k_full = kernel(full).detach()
    k = kernel(StructuredGram(ii, ti, t))
    torch.testing.assert_close(k.ii.detach(), k_full[:4, :4], rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(k.ti.detach(), k_full[4:, :4], rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(k.t.detach(), k_full[4:, 4:].diagonal(), rtol=1e-13, atol=1e-13)


# -------------------------------------------------------------------- oracle 1: nu = inf


def test_infinite_dof_is_the_nngp_log_marginal_likelihood():
    """Oracle 1: dof = inf gives G_l = K(G_{l-1}) and the NNGP GP's log p(y), here to 1e-6."""
    x, y = _data(50)
    for depth in (1, 2):
        dkm = DeepKernelMachine(x, y, depth=depth, kernel=ReluGramKernel(1.7, 0.2), dof=math.inf, noise=0.05)
        nngp = NNGPKernel(depth=depth + 1).double()
        nngp.weight_variance, nngp.bias_variance = 1.7, 0.2
        cov = nngp(x).to_dense() + 0.05 * torch.eye(50, dtype=F64)
        ref = torch.distributions.MultivariateNormal(torch.zeros(50, dtype=F64), cov).log_prob(y)
        assert dkm.objective().item() == pytest.approx(ref.item(), abs=1e-6)
        assert not list(dkm.gram_factors)  # no free Gram matrices at all


def test_infinite_dof_predictive_is_the_nngp_gp_posterior():
    x, y = _data(40)
    xs = _data(7, seed=9)[0]
    dkm = DeepKernelMachine(x, y, depth=2, kernel=ReluGramKernel(1.7, 0.2), dof=math.inf, noise=0.05)
    dkm.requires_grad_(False)
    dkm.fit(steps=1, progress=False)  # everything frozen: evaluates and marks fitted
    pred = dkm.predict(xs)
    nngp = NNGPKernel(depth=3).double()
    nngp.weight_variance, nngp.bias_variance = 1.7, 0.2
    with torch.no_grad():
        k = nngp(x).to_dense() + 0.05 * torch.eye(40, dtype=F64)
        ks = nngp(xs, x).to_dense()
        mean = ks @ torch.linalg.solve(k, y)
        var = nngp(xs, diag=True) - (ks * torch.linalg.solve(k, ks.T).T).sum(-1) + 0.05
    torch.testing.assert_close(pred.mean, mean, rtol=1e-8, atol=1e-8)
    torch.testing.assert_close(pred.variance, var, rtol=1e-8, atol=1e-8)


def test_large_dof_approaches_the_nngp_objective():
    """The gain of the optimised G over the NNGP shrinks like 1/nu (strongly concave KL term)."""
    x, y = _data(20, seed=4)
    kernel = ReluGramKernel(1.5, 0.2)
    nngp = DeepKernelMachine(x, y, depth=1, kernel=kernel, dof=math.inf, noise=0.1).objective().item()
    gaps, moves = [], []
    for nu in (30.0, 300.0):
        dkm = DeepKernelMachine(x, y, depth=1, kernel=ReluGramKernel(1.5, 0.2), dof=nu, noise=0.1, jitter=0.0)
        assert dkm.objective().item() == pytest.approx(nngp, abs=1e-9)  # initialised at the NNGP
        dkm.kernel.requires_grad_(False)
        dkm.raw_noise.requires_grad_(False)
        prior = dkm.gram_matrices()[0]
        gaps.append(_lbfgs(dkm, iterations=100) - nngp)
        moves.append((dkm.gram_matrices()[0] - prior).norm().item())
    assert gaps[0] > gaps[1] > 0
    assert 7 < gaps[0] / gaps[1] < 12  # 1/nu: a factor of 10, up to O(1/nu) corrections
    assert 7 < moves[0] / moves[1] < 12


# ----------------------------------------------------------- oracle 2: linear kernel, one layer


def test_linear_kernel_optimum_satisfies_the_stationary_condition_from_two_inits():
    """Oracle 2: nu (K0^-1 - G^-1) = N_out [(G + s I)^-1 S (G + s I)^-1 - (G + s I)^-1], unique G."""
    g = torch.Generator().manual_seed(1)
    p, n0, n_out, s2, nu = 8, 12, 3, 0.5, 1.0
    x = torch.randn(p, n0, generator=g, dtype=F64)
    y = torch.randn(p, n_out, generator=g, dtype=F64)
    k0 = x @ x.T / n0
    s_hat = y @ y.T / n_out
    optima = []
    for seed in (0, 1):
        dkm = DeepKernelMachine(
            x, y, depth=1, kernel=LinearGramKernel(1.0, 0.0), dof=nu, noise=s2, jitter=0.0
        )
        dkm.kernel.requires_grad_(False)
        dkm.raw_noise.requires_grad_(False)
        init = torch.randn(p, p, generator=torch.Generator().manual_seed(seed), dtype=F64).tril()
        with torch.no_grad():
            dkm.gram_factors[0].copy_(init + 3 * torch.eye(p, dtype=F64))
        history = dkm.fit(steps=200, lr=0.02, progress=False)  # gradient ascent (Adam) ...
        assert history[-1] > history[0]
        _lbfgs(dkm)  # ... polished by L-BFGS to the stationary point
        gram = dkm.gram_matrices()[0]
        inv = torch.linalg.inv(gram + s2 * torch.eye(p, dtype=F64))
        lhs = nu * (torch.linalg.inv(k0) - torch.linalg.inv(gram))
        rhs = n_out * (inv @ s_hat @ inv - inv)
        assert (lhs - rhs).abs().max().item() < 1e-5 * max(1.0, lhs.abs().max().item())
        optima.append(gram)
    torch.testing.assert_close(optima[0], optima[1], rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------- oracle 3: sparse with P_i = P


@pytest.mark.parametrize(("kernel", "whiten"), [("relu", True), ("se", True), ("relu", False)])
def test_sparse_with_all_points_as_inducing_equals_the_exact_objective(kernel, whiten):
    """Oracle 3: inducing points = training inputs and q(F_i) at its optimum give the exact L."""
    x, y = _data(30, columns=2)
    options = {"depth": 2, "kernel": kernel, "dof": [1.0, 2.0], "jitter": 0.0, "whiten": whiten}
    exact = DeepKernelMachine(x, y, **options)
    _perturb_factors(exact)
    sparse = DeepKernelMachine(x, y, num_inducing=30, **options)
    torch.testing.assert_close(sparse.inducing_inputs.detach(), x, rtol=0, atol=0)
    sparse.load_state_dict(exact.state_dict(), strict=False)
    sparse.optimal_output_()
    assert sparse.objective().item() == pytest.approx(exact.objective().item(), rel=1e-8)


def test_whitened_and_plain_parametrisations_give_the_same_objective():
    """G = L W W^T L^T / P (whitened) and G = V V^T / P with V = L W are the same G and L."""
    x, y = _data(25)
    whitened = DeepKernelMachine(x, y, depth=2, dof=[1.0, 2.0], jitter=0.0)
    _perturb_factors(whitened, scale=0.3)
    plain = DeepKernelMachine(x, y, depth=2, dof=[1.0, 2.0], jitter=0.0, whiten=False)
    with torch.no_grad():
        for layer, gram in enumerate(whitened.gram_matrices()):
            # V = chol(G) * sqrt(P) reproduces G exactly in the plain parametrisation.
            plain.gram_factors[layer].copy_(torch.linalg.cholesky(gram) * math.sqrt(25))
    for a, b in zip(whitened.gram_matrices(), plain.gram_matrices(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)
    assert plain.objective().item() == pytest.approx(whitened.objective().item(), rel=1e-9)


@pytest.mark.parametrize("whiten", [True, False])
def test_finite_dof_starts_at_the_nngp_predictive(whiten):
    x, y = _data(30)
    xs = _data(6, seed=8)[0]
    predictions = []
    for dof in (math.inf, 2.0):
        dkm = DeepKernelMachine(x, y, depth=2, dof=dof, jitter=0.0, whiten=whiten)
        dkm.requires_grad_(False)
        dkm.fit(steps=1, progress=False)
        predictions.append(dkm.predict(xs))
    torch.testing.assert_close(predictions[0].mean, predictions[1].mean, rtol=1e-8, atol=1e-8)
    torch.testing.assert_close(predictions[0].stddev, predictions[1].stddev, rtol=1e-8, atol=1e-8)


def test_minibatch_objective_is_unbiased():
    """Averaged over a partition of the data, the scaled minibatch objective is the full one."""
    x, y = _data(40)
    dkm = DeepKernelMachine(x, y, depth=2, dof=1.0, num_inducing=8)
    _perturb_factors(dkm)
    batches = torch.randperm(40, generator=torch.Generator().manual_seed(0)).reshape(4, 10)
    average = sum(dkm.objective(batch=b).item() for b in batches) / 4
    assert average == pytest.approx(dkm.objective().item(), rel=1e-10)


# --------------------------------------------------------------------------------- gradients


@pytest.mark.parametrize(
    "options",
    [
        {"kernel": "relu"},
        {"kernel": "relu", "whiten": False},
        {"kernel": "se", "num_inducing": 5},
        {"kernel": "se", "num_inducing": 5, "whiten": False},
        {"kernel": "relu", "num_inducing": 5, "likelihood": "categorical"},
    ],
)
def test_objective_gradient_matches_central_differences(options):
    """Directional derivatives, one random direction per parameter tensor, h = 1e-6 (float64)."""
    x, y = _data(10, seed=2)
    if options.get("likelihood") == "categorical":
        y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    dkm = DeepKernelMachine(x, y, depth=2, dof=[1.0, 3.0], **options)
    _perturb_factors(dkm, scale=0.2)
    value = dkm.objective()
    params = dict(dkm.named_parameters())
    grads = dict(zip(params, torch.autograd.grad(value, list(params.values())), strict=True))
    g = torch.Generator().manual_seed(5)
    for name, param in params.items():
        direction = torch.randn(param.shape, generator=g, dtype=F64)
        if "factor" in name:
            direction = direction.tril()
        h = 1e-6
        with torch.no_grad():
            param.add_(h * direction)
            up = dkm.objective().item()
            param.sub_(2 * h * direction)
            down = dkm.objective().item()
            param.add_(h * direction)
        numeric = (up - down) / (2 * h)
        analytic = (grads[name] * direction).sum().item()
        assert analytic == pytest.approx(numeric, rel=1e-5, abs=1e-6 * max(1.0, abs(value.item()))), name


# ---------------------------------------------------------------------- fitting, prediction


def test_fit_improves_the_objective_and_predicts_per_point():
    x, y = _data(30, columns=2)
    dkm = DeepKernelMachine(x, y, depth=2, dof=1.0)
    history = dkm.fit(steps=30, lr=0.02, progress=False)
    assert len(history) == 30 and history[-1] > history[0]
    assert history[-1] == pytest.approx(dkm.objective().item() / 30, rel=0.05)
    pred = dkm.predict(x[:5])
    assert isinstance(pred, torch.distributions.Normal) and pred.mean.shape == (5, 2)
    grams = dkm.gram_matrices()
    assert len(grams) == 2 and grams[0].shape == (30, 30)
    assert torch.linalg.eigvalsh(grams[1]).min() > 0


def test_sparse_fit_with_minibatches():
    x, y = _data(60)
    dkm = DeepKernelMachine(x, y, depth=2, dof=1.0, num_inducing=10)
    history = dkm.fit(steps=40, lr=0.02, progress=False, batch_size=20)
    assert np.mean(history[-5:]) > np.mean(history[:5])
    assert dkm.predict(x[:4]).mean.shape == (4,)
    assert dkm.gram_matrices()[0].shape == (10, 10)


@pytest.mark.parametrize("num_inducing", [12, None])
def test_classification_beats_chance_on_separable_blobs(num_inducing):
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[2.5, 0.0], [-1.25, 2.2], [-1.25, -2.2]], dtype=F64)
    labels = torch.arange(3).repeat(30)
    x = centres[labels] + 0.5 * torch.randn(90, 2, generator=g, dtype=F64)
    train, test = slice(0, 60), slice(60, 90)
    dkm = DeepKernelMachine(
        x[train], labels[train], depth=1, dof=1.0, likelihood="categorical", num_inducing=num_inducing
    )
    history = dkm.fit(steps=60, lr=0.05, progress=False)
    assert history[-1] > history[0]
    pred = dkm.predict(x[test])
    assert isinstance(pred, torch.distributions.Categorical) and pred.probs.shape == (30, 3)
    accuracy = (pred.probs.argmax(-1) == labels[test]).double().mean().item()
    assert accuracy >= 0.9  # chance is 1/3


# ------------------------------------------------------------------------------- bad input


def test_bad_input_is_rejected_with_named_errors():
    x, y = _data(10)
    cases = [
        ({"dof": 0.0}, "dof"),
        ({"dof": -1.0}, "dof"),
        ({"dof": float("nan")}, "dof"),
        ({"dof": [1.0]}, "dof"),
        ({"num_inducing": 0}, "num_inducing"),
        ({"num_inducing": 11}, "num_inducing"),
        ({"depth": 0}, "depth"),
        ({"noise": 0.0}, "noise"),
        ({"kernel": "rbf"}, "kernel"),
        ({"likelihood": "poisson"}, "likelihood"),
    ]
    for options, argument in cases:
        with pytest.raises(InputDataError) as err:
            DeepKernelMachine(x, y, **options)
        assert err.value.argument == argument
    bad_x = x.clone()
    bad_x[3, 1] = float("nan")
    for args, argument in [
        ((bad_x, y), "train_x"),
        ((x, y.clone().fill_(float("inf"))), "train_y"),
        ((x[0], y), "train_x"),
        ((x, y[:5]), "train_y"),
        ((x[None], y), "train_x"),
    ]:
        with pytest.raises(InputDataError) as err:
            DeepKernelMachine(*args)
        assert err.value.argument == argument
    with pytest.raises(InputDataError, match="train_y"):
        DeepKernelMachine(x, y, likelihood="categorical")  # float labels
    with pytest.raises(InputDataError, match="weight_variance"):
        ReluGramKernel(-1.0, 0.1)
    with pytest.raises(InputDataError, match="lengthscale"):
        SEGramKernel(0.0)


def test_kernel_that_is_not_positive_definite_raises_instead_of_nan():
    x, y = _data(10)
    with pytest.raises(InputDataError, match="positive definite") as err:
        DeepKernelMachine(x, y, depth=1, kernel=SEGramKernel(lengthscale=1e5), dof=1.0, jitter=0.0)
    assert err.value.argument == "kernel"
    dkm = DeepKernelMachine(x, y, depth=1, kernel=SEGramKernel(1.0), dof=1.0, jitter=0.0)
    with torch.no_grad():
        dkm.kernel.raw_lengthscale.fill_(1e5)
    with pytest.raises(InputDataError, match="positive definite"):
        dkm.objective()


def test_predict_before_fit_and_misuse_raise():
    x, y = _data(10)
    dkm = DeepKernelMachine(x, y, depth=1)
    with pytest.raises(NotFittedError):
        dkm.predict(x)
    with pytest.raises(ConfigurationError):
        dkm.fit(steps=1, batch_size=4, progress=False)  # minibatches need the sparse DKM
    dkm.fit(steps=1, progress=False)
    with pytest.raises(InputDataError, match="test_x"):
        dkm.predict(x[:, :2])
