"""HMCBNN: chains really start at the MAP solutions, R-hat, posterior over the kept draws."""

from __future__ import annotations

import pytest
import torch
from pyro.infer.mcmc.hmc import HMC

from bo.models import HMCBNN, HMCBNNConfig
from bo.posteriors import SampleEnsemblePosterior
from bo.testing import contract_objective
from probtheory.errors import InputDataError

DTYPE = torch.float64
TINY = dict(width=8, depth=1, num_samples=10, warmup_steps=10, max_tree_depth=4, map_steps=300, seed=0)


def _data(n=10, d=2, seed=0):
    generator = torch.Generator().manual_seed(seed)
    X = torch.rand(n, d, generator=generator, dtype=DTYPE)
    return X, contract_objective(X)


@pytest.fixture(scope="module")
def fitted_with_spy():
    """A 3-chain fit, recording the state each NUTS chain is set up from."""
    starts = []
    original_setup = HMC.setup

    def spy(self, *args, **kwargs):
        starts.append(self.initial_params["theta"].detach().clone())
        return original_setup(self, *args, **kwargs)

    HMC.setup = spy
    try:
        model = HMCBNN(*_data(), num_chains=3, **TINY).fit()
    finally:
        HMC.setup = original_setup
    return model, starts


def test_every_chain_starts_at_its_map_solution(fitted_with_spy):
    # bnn-bo's MAP pretraining stepped an optimiser whose parameters never received gradients,
    # so its chains started at a random initialisation. Here the state NUTS starts from must be
    # the MAP solution, one per chain.
    model, starts = fitted_with_spy
    assert len(starts) == 3
    for chain, start in enumerate(starts):
        torch.testing.assert_close(start, model.map_weights[chain], rtol=0.0, atol=0.0)
    assert not torch.equal(model.map_weights[0], model.map_weights[1]), (
        "chains should start at different MAPs"
    )


def test_the_map_solutions_are_modes_not_random_initialisations(fitted_with_spy):
    model, _ = fitted_with_spy
    layout, (prior_var, noise_var) = model.layout, model.variances.tolist()
    X, Y = model.train_X, model.train_Y_standardized

    def potential_and_grad(theta):
        theta = theta.clone().requires_grad_(True)
        potential = -(layout.log_prior(theta, prior_var) + layout.log_likelihood(theta, X, Y, noise_var))
        potential.sum().backward()
        return potential.detach(), theta.grad.norm(dim=-1)

    random_init = layout.initial(3, torch.Generator().manual_seed(0)).to(
        X
    )  # what the chains used to start from
    u_map, g_map = potential_and_grad(model.map_weights)
    u_init, g_init = potential_and_grad(random_init)
    assert (u_map < u_init).all()
    assert (g_map < g_init / 10).all()


def test_r_hat_is_reported_and_finite(fitted_with_spy):
    model, _ = fitted_with_spy
    assert model.r_hat.shape == (model.layout.num_params,)
    assert model.function_r_hat.shape == (10, 1)
    assert torch.isfinite(model.r_hat).all() and torch.isfinite(model.function_r_hat).all()
    assert (model.r_hat > 0.5).all() and (model.function_r_hat > 0.5).all()
    assert len(model.diagnostics) == 3
    for info in model.diagnostics:
        assert info["step_size"] > 0 and 0 <= info["mean_accept_prob"] <= 1 and info["divergences"] >= 0


def _split_r_hat_by_hand(chains):
    """Split R-hat (Gelman et al., BDA3 eq. 11.4) of `chains x samples` draws of one scalar."""
    half = chains.shape[1] // 2
    halves = torch.cat([chains[:, :half], chains[:, -half:]])
    within = halves.var(dim=1).mean()
    between = half * halves.mean(dim=1).var()
    return (((half - 1) / half * within + between / half) / within).sqrt()


def test_r_hat_is_the_split_gelman_rubin_statistic_over_the_chains(fitted_with_spy):
    model, _ = fitted_with_spy
    chains = model.weight_samples.reshape(3, 10, -1)  # draws are stored chain-major
    for j in (0, 7, model.layout.num_params - 1):
        torch.testing.assert_close(model.r_hat[j], _split_r_hat_by_hand(chains[:, :, j]))
    outputs = model.layout.forward(chains, model.train_X)[..., 4, 0]
    torch.testing.assert_close(model.function_r_hat[4, 0], _split_r_hat_by_hand(outputs))


def test_posterior_is_the_uniform_mixture_of_the_kept_draws(fitted_with_spy):
    model, _ = fitted_with_spy
    Xt = torch.rand(2, 5, 2, dtype=DTYPE)
    posterior = model.posterior(Xt)
    assert isinstance(posterior, SampleEnsemblePosterior) and posterior.num_draws == 30
    with torch.no_grad():
        draws = model.layout.forward(model.weight_samples, Xt.reshape(-1, 2)).reshape(30, 2, 5, 1)
        draws, _ = model.outcome_transform.untransform(draws)
    torch.testing.assert_close(posterior.mean, draws.mean(0))
    assert (draws.std(0) > 0).all(), "the chains did not move"


def test_posterior_mean_fits_the_training_data(fitted_with_spy):
    model, _ = fitted_with_spy
    with torch.no_grad():
        residual = (model.posterior(model.train_X).mean - model.train_Y) / model.outcome_transform.stdvs
    assert residual.square().mean().sqrt() < 0.5


def test_fit_is_reproducible_and_leaves_the_global_rng_alone():
    X, Y = _data()
    torch.manual_seed(1)
    expected = torch.rand(3)
    torch.manual_seed(1)
    first = HMCBNN(X, Y, num_chains=1, **TINY).fit().weight_samples
    assert torch.equal(torch.rand(3), expected)
    assert torch.equal(HMCBNN(X, Y, num_chains=1, **TINY).fit().weight_samples, first)


def test_observation_noise_is_the_likelihood_variance(fitted_with_spy):
    model, _ = fitted_with_spy
    Xt = torch.rand(4, 2, dtype=DTYPE)
    with torch.no_grad():
        plain = model.posterior(Xt).variance
        noisy = model.posterior(Xt, observation_noise=True).variance
    torch.testing.assert_close(noisy, plain + model.config.noise_var * model.outcome_transform.stdvs.square())


def test_state_dict_round_trip_keeps_draws_and_diagnostics(fitted_with_spy):
    model, _ = fitted_with_spy
    restored = HMCBNN(model.train_X, model.train_Y, num_chains=3, **TINY)
    restored.load_state_dict(model.state_dict())
    assert restored.is_fitted
    torch.testing.assert_close(restored.r_hat, model.r_hat)
    Xt = torch.rand(3, 2, dtype=DTYPE)
    torch.testing.assert_close(restored.posterior(Xt).mean, model.posterior(Xt).mean)


@pytest.mark.parametrize(
    "options",
    [{"num_samples": 3}, {"num_chains": 0}, {"target_accept_prob": 1.0}, {"map_lr": 0.0}, {"width": 2.5}],
)
def test_bad_options_raise(options):
    with pytest.raises(InputDataError):
        HMCBNNConfig(**options)
