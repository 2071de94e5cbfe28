"""Neural processes (CNP, NP, MPNP), the GP task sampler and meta-training."""

import math
import re
import textwrap

import pytest
import torch
from torch.distributions import Distribution, MixtureSameFamily, Normal

import probtheory.processes.mpnp as mpnp_module
from probtheory.errors import InputDataError
from probtheory.processes.mpnp import MPNP, MPNPConfig
from probtheory.processes.neural_process import CNP, NP, NeuralProcessConfig, NPConfig
from probtheory.processes.tasks import GPTaskSampler, exact_gp_log_likelihood, gp_kernel_matrix
from probtheory.processes.training import meta_train

SMALL = {"hidden": 16, "depth": 2}


def _models():
    return [
        CNP(NeuralProcessConfig(**SMALL), seed=0),
        NP(NPConfig(**SMALL, latent=8, num_samples=4), seed=0),
        MPNP(MPNPConfig(**SMALL, num_samples=4, num_pseudo=5, num_heads=2, num_inducing=4), seed=0),
    ]


@pytest.fixture(scope="module")
def batch():
    return GPTaskSampler("rbf").sample(3, num_context=7, num_target=5, seed=0)


# ------------------------------------------------------------------ task sampler


def test_sampler_shapes_and_bnp_split_ranges():
    sampler = GPTaskSampler("matern52", max_num_points=20)
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        b = sampler.sample(4, generator=g)
        n_c, n_t = b.context_x.shape[1], b.target_x.shape[1]
        assert b.context_x.shape == (4, n_c, 1) and b.context_y.shape == (4, n_c)
        assert b.target_x.shape == (4, n_t, 1) and b.target_y.shape == (4, n_t)
        assert 3 <= n_c <= 16 and 3 <= n_t and n_c + n_t <= 20
        assert b.x.shape == (4, n_c + n_t, 1) and b.context_x.dtype == torch.float64
        assert ((b.x >= -2) & (b.x <= 2)).all()


def test_sampler_is_seeded():
    sampler = GPTaskSampler("periodic", t_noise_scale=0.1)
    a, b, c = sampler.sample(2, seed=3), sampler.sample(2, seed=3), sampler.sample(2, seed=4)
    assert torch.equal(a.context_y, b.context_y) and torch.equal(a.target_x, b.target_x)
    assert not torch.equal(a.context_x, c.context_x)


def test_sampler_draws_have_the_kernel_covariance():
    # 4000 draws of y at two fixed-seed inputs: the sample covariance matches K + s^2 I within 5 se
    sampler = GPTaskSampler("rbf", lengthscale=(0.5, 0.5), outputscale=(0.8, 0.8), max_num_points=8)
    b = sampler.sample(4000, num_context=1, num_target=1, seed=1)
    x, y = b.x, b.y  # inputs differ per task, so compare the standardised product
    k = gp_kernel_matrix("rbf", x, x, b.lengthscale, b.outputscale, b.period)
    var = k[:, 0, 0] + 0.02**2
    z = y[:, 0] * y[:, 1] - k[:, 0, 1]
    se = (y[:, 0] * y[:, 1]).std() / math.sqrt(len(z))
    assert abs(z.mean()) < 5 * se
    assert abs((y[:, 0] ** 2 / var).mean() - 1) < 5 * math.sqrt(2 / len(z))


def test_student_t_noise_has_heavier_tails():
    gauss = GPTaskSampler("rbf", lengthscale=(0.3, 0.3), outputscale=(1.0, 1.0)).sample(500, 20, 20, seed=0)
    heavy = GPTaskSampler("rbf", lengthscale=(0.3, 0.3), outputscale=(1.0, 1.0), t_noise_scale=0.5).sample(
        500, 20, 20, seed=0
    )
    residual = (heavy.y - gauss.y).flatten()  # same seed: the difference is the t noise alone
    kurtosis = ((residual - residual.mean()) ** 4).mean() / residual.var() ** 2
    assert kurtosis > 10  # t_2 has infinite kurtosis; a normal has 3


def test_exact_gp_log_likelihood_matches_joint_gaussian_conditioning(batch):
    b = batch
    k = gp_kernel_matrix(b.kernel, b.x, b.x, b.lengthscale, b.outputscale, b.period)
    k = k + b.noise_std**2 * torch.eye(k.shape[-1], dtype=k.dtype)
    n_c = b.context_x.shape[1]
    k_cc, k_tc, k_tt = k[:, :n_c, :n_c], k[:, n_c:, :n_c], k[:, n_c:, n_c:]
    mean = (k_tc @ torch.linalg.solve(k_cc, b.context_y.unsqueeze(-1))).squeeze(-1)
    var = (k_tt - k_tc @ torch.linalg.solve(k_cc, k_tc.transpose(-1, -2))).diagonal(dim1=-2, dim2=-1)
    expected = Normal(mean, var.sqrt()).log_prob(b.target_y).mean(-1)
    torch.testing.assert_close(exact_gp_log_likelihood(b), expected, rtol=1e-9, atol=1e-9)


def test_sampler_rejects_bad_options():
    with pytest.raises(InputDataError, match="kernel"):
        GPTaskSampler("cosine")
    with pytest.raises(InputDataError, match="lengthscale"):
        GPTaskSampler(lengthscale=(0.5, 0.1))
    with pytest.raises(InputDataError, match="batch_size"):
        GPTaskSampler().sample(0)


# ------------------------------------------------------------------ predictions


@pytest.mark.parametrize("index", [0, 1, 2], ids=["CNP", "NP", "MPNP"])
def test_predict_returns_a_distribution_of_the_right_shape(batch, index):
    model = _models()[index]
    predictive = model.predict(batch.context_x, batch.context_y, batch.target_x, seed=0)
    assert isinstance(predictive, Distribution)
    assert predictive.batch_shape == batch.target_y.shape
    assert predictive.mean.dtype == torch.float64
    if isinstance(model, CNP):
        assert isinstance(predictive, Normal)
    else:
        assert isinstance(predictive, MixtureSameFamily)
        assert predictive.mixture_distribution.probs.shape == (*batch.target_y.shape, 4)
    assert (predictive.variance > 0).all()
    assert predictive.sample((2,)).shape == (2, *batch.target_y.shape)
    ll = model.log_likelihood(batch.context_x, batch.context_y, batch.target_x, batch.target_y, seed=0)
    torch.testing.assert_close(ll, predictive.log_prob(batch.target_y).mean(-1))


@pytest.mark.parametrize("index", [0, 1, 2], ids=["CNP", "NP", "MPNP"])
def test_unbatched_and_multi_batch_inputs(batch, index):
    model = _models()[index]
    single = model.predict(batch.context_x[0], batch.context_y[0], batch.target_x[0], seed=0)
    assert single.batch_shape == batch.target_y[0].shape
    cx, cy, tx = (t.expand(2, *t.shape) for t in (batch.context_x, batch.context_y, batch.target_x))
    assert model.predict(cx, cy, tx, seed=0).batch_shape == (2, *batch.target_y.shape)


def test_mixture_predictive_is_seeded_and_has_k_components(batch):
    model = _models()[2]
    args = (batch.context_x, batch.context_y, batch.target_x)
    a, b, c = model.predict(*args, seed=1), model.predict(*args, seed=1), model.predict(*args, seed=2)
    torch.testing.assert_close(a.mean, b.mean, rtol=0, atol=0)
    assert not torch.allclose(a.mean, c.mean)
    assert model.predict(*args, num_samples=7, seed=0).component_distribution.batch_shape[-1] == 7


def test_initialisation_is_seeded():
    a, b = (MPNP(MPNPConfig(**SMALL, num_heads=2), seed=5) for _ in range(2))
    c = MPNP(MPNPConfig(**SMALL, num_heads=2), seed=6)
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(p, q), name
    assert any(not torch.equal(p, r) for p, r in zip(a.parameters(), c.parameters(), strict=True))


def test_cnp_ignores_the_order_of_the_context(batch):
    model = _models()[0]
    perm = torch.randperm(batch.context_x.shape[1], generator=torch.Generator().manual_seed(0))
    a = model.predict(batch.context_x, batch.context_y, batch.target_x)
    b = model.predict(batch.context_x[:, perm], batch.context_y[:, perm], batch.target_x)
    torch.testing.assert_close(a.mean, b.mean, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ MPNP: parameters and loss


def test_sample_parameters_pool_real_and_pseudo_representations(batch):
    model = _models()[2].double()
    theta = model.sample_parameters(batch.context_x, batch.context_y, num_samples=6, seed=0)
    assert theta.shape == (6, 3, 16)
    g = torch.Generator().manual_seed(0)
    r_c = model.encoder(batch.context_x, batch.context_y)
    r_p = model.generator(r_c, 6, model.config.num_pseudo, g)
    n, m = r_c.shape[1], r_p.shape[2]
    torch.testing.assert_close(theta, (n * r_c.mean(1) + m * r_p.mean(2)) / (n + m))


def test_three_term_loss(batch):
    torch.manual_seed(0)
    model = _models()[2].double()
    terms = model.loss_terms(batch, torch.Generator().manual_seed(0))
    for value in (terms.total, terms.marginal, terms.amortised, terms.pseudo):
        assert value.shape == () and torch.isfinite(value)
    torch.testing.assert_close(terms.total, terms.marginal + terms.amortised + terms.pseudo)

    # L_amort is the CNP loss of the same encoder and decoder
    cnp = CNP(NeuralProcessConfig(**SMALL)).double()
    cnp.load_state_dict(model.state_dict(), strict=False)
    torch.testing.assert_close(terms.amortised, cnp.loss(batch))

    # L_marg = -logmeanexp_k(ll_k) <= mean_k(-ll_k) (Jensen), and the pseudo term is its own
    # average over the pseudo-only thetas; both recomputed here from the pieces.
    context_r, pseudo_r, theta = model._thetas(
        batch.context_x, batch.context_y, 4, torch.Generator().manual_seed(0)
    )
    mean, std = model.decoder(batch.x, theta)
    ll = Normal(mean, std).log_prob(batch.y).sum(-1)  # K x B: log-likelihood of all of Z per theta_k
    per_point = batch.y.shape[-1]
    marg = -((torch.logsumexp(ll, 0) - math.log(4)) / per_point).mean()
    torch.testing.assert_close(terms.marginal, marg)
    assert terms.marginal <= -(ll / per_point).mean() + 1e-12
    mean, std = model.decoder(batch.x, pseudo_r.mean(-2))
    pseudo = -(Normal(mean, std).log_prob(batch.y).sum(-1) / batch.y.shape[-1]).mean()
    torch.testing.assert_close(terms.pseudo, pseudo)


def test_loss_weights_are_applied(batch):
    config = MPNPConfig(**SMALL, num_heads=2, num_samples=3, amortised_weight=0.5, pseudo_weight=0.0)
    terms = MPNP(config, seed=0).loss_terms(batch, torch.Generator().manual_seed(0))
    torch.testing.assert_close(terms.total, terms.marginal + 0.5 * terms.amortised)


def test_np_elbo_is_finite_and_seeded(batch):
    model = _models()[1]
    a = model.loss(batch, torch.Generator().manual_seed(0))
    b = model.loss(batch, torch.Generator().manual_seed(0))
    assert torch.isfinite(a) and a == b


# ------------------------------------------------------------------ training and persistence


@pytest.mark.parametrize("index", [0, 1, 2], ids=["CNP", "NP", "MPNP"])
def test_meta_training_improves_held_out_likelihood(index):
    model = _models()[index]
    sampler = GPTaskSampler("rbf", lengthscale=(0.5, 0.5), outputscale=(1.0, 1.0), max_num_points=20)
    test = sampler.sample(32, num_context=10, num_target=10, seed=99)

    def held_out():
        with torch.no_grad():
            return model.log_likelihood(
                test.context_x, test.context_y, test.target_x, test.target_y, seed=0
            ).mean()

    before = held_out()
    history = meta_train(model, sampler, steps=60, batch_size=8, lr=3e-3, seed=0, progress=False)
    assert len(history) == 60
    assert sum(history[-10:]) < sum(history[:10])
    assert held_out() > before + 0.1


def test_meta_train_rejects_bad_arguments():
    with pytest.raises(InputDataError, match="steps"):
        meta_train(_models()[0], GPTaskSampler(), steps=0, progress=False)
    with pytest.raises(InputDataError, match="model"):
        meta_train(torch.nn.Linear(1, 1), GPTaskSampler(), steps=1, progress=False)


@pytest.mark.parametrize("index", [0, 1, 2], ids=["CNP", "NP", "MPNP"])
def test_save_and_load_round_trip(tmp_path, batch, index):
    model = _models()[index]
    model.save(tmp_path / "model.safetensors")
    loaded = type(model).load(tmp_path / "model.safetensors")
    assert loaded.config == model.config
    a = model.predict(batch.context_x, batch.context_y, batch.target_x, seed=0)
    b = loaded.predict(batch.context_x, batch.context_y, batch.target_x, seed=0)
    torch.testing.assert_close(a.mean, b.mean)
    with pytest.raises(InputDataError, match="path"):
        (CNP if index else NP).load(tmp_path / "model.safetensors")


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize("index", [0, 1, 2], ids=["CNP", "NP", "MPNP"])
def test_empty_context_is_rejected(batch, index):
    model = _models()[index]
    with pytest.raises(InputDataError, match="context_x.*empty context"):
        model.predict(batch.context_x[:, :0], batch.context_y[:, :0], batch.target_x)


def test_shape_mismatches_are_rejected(batch):
    model = _models()[2]
    cx, cy, tx = batch.context_x, batch.context_y, batch.target_x
    with pytest.raises(InputDataError, match="context_y"):
        model.predict(cx, cy[:, :-1], tx)
    with pytest.raises(InputDataError, match="target_x"):
        model.predict(cx, cy, tx[:2])
    with pytest.raises(InputDataError, match="context_x.*trailing dimension"):
        model.predict(torch.cat([cx, cx], -1), cy, tx)
    with pytest.raises(InputDataError, match="target_y"):
        model.log_likelihood(cx, cy, tx, batch.target_y[:, :-1])
    with pytest.raises(InputDataError, match="context_y"):
        model.predict(cx, cy * float("nan"), tx)


def test_fewer_than_one_sample_is_rejected(batch):
    model = _models()[2]
    with pytest.raises(InputDataError, match="num_samples"):
        model.predict(batch.context_x, batch.context_y, batch.target_x, num_samples=0)
    with pytest.raises(InputDataError, match="num_samples"):
        model.sample_parameters(batch.context_x, batch.context_y, num_samples=0)
    with pytest.raises(InputDataError, match="num_samples"):
        MPNPConfig(num_samples=0)


def test_bad_configs_are_rejected():
    with pytest.raises(InputDataError, match="num_heads"):
        MPNPConfig(hidden=10, num_heads=4)
    with pytest.raises(InputDataError, match="num_pseudo"):
        MPNPConfig(num_pseudo=0)
    with pytest.raises(InputDataError, match="config"):
        MPNP(NeuralProcessConfig())


def test_module_docstring_example_runs():
    (code,) = re.findall(r"```python\n(.*?)```", mpnp_module.__doc__, flags=re.S)
    exec(compile(textwrap.dedent(code), "mpnp-docstring", "exec"), {})  # noqa: S102 - our own example
