"""A reusable contract test for BoTorch surrogates (GPyTorch's ``gpytorch/test`` pattern).

Every surrogate, ours or a user's, is tested the same way by subclassing
:class:`SurrogateContract` in a pytest test module and supplying the factory::

    from bo.testing import SurrogateContract

    class TestMySurrogate(SurrogateContract):
        def make_model(self, train_X, train_Y):
            return MySurrogate(train_X, train_Y, steps=100)  # unfitted

The contract fits the model once per test class and checks what BoTorch's acquisition
machinery relies on (what ``botorch.models.model.Model`` and ``botorch.posteriors.Posterior``
must provide for qLogEI, qLogNEI, qUCB, ``MaxPosteriorSampling`` and ``optimize_acqf``; see
docs/concepts.md, "BoTorch contract"): posterior and sample
shapes for `n x d`, `b x q x d` and `b1 x b2 x q x d` inputs; finite, non-zero gradients of
the mean and of samples with respect to X; reproducible samples under a seeded sampler from
``botorch.sampling.get_sampler`` and common base samples across t-batches (so that
``optimize_acqf``'s deterministic optimiser is sound); float32 and float64 inputs; joint
q-batch samples for sample-based posteriors; ``optimize_acqf`` runs of qLogEI, qLogNEI and
qUCB with q = 1 and 2 and Thompson sampling by ``MaxPosteriorSampling``; and the project's
errors for bad input (``output_indices`` out of range, also for one output), use before
``fit()`` and a second ``fit()``, and a warning for inputs far outside the unit cube. Sizes
are tiny: the whole contract takes seconds for a GP. This module imports pytest.
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import pytest
import torch
from botorch.acquisition import (
    qLogExpectedImprovement,
    qLogNoisyExpectedImprovement,
    qUpperConfidenceBound,
)
from botorch.acquisition.objective import ScalarizedPosteriorTransform
from botorch.exceptions import InputDataWarning
from botorch.generation import MaxPosteriorSampling
from botorch.models.model import Model
from botorch.optim import optimize_acqf
from botorch.sampling.get_sampler import get_sampler
from torch import Tensor

from bo.posteriors import SampleEnsemblePosterior
from probtheory._checks import check_inputs
from probtheory.errors import AlreadyFittedError, InputDataError, NotFittedError

__all__ = ["SurrogateContract", "contract_objective"]

_ACQUISITION_FUNCTIONS = ("qLogEI", "qLogNEI", "qUCB")


def contract_objective(X: Tensor) -> Tensor:
    """The smooth test function the contract trains on: `... x d` inputs to `... x 1` outputs."""
    check_inputs("X", X)
    scales = torch.arange(1, X.shape[-1] + 1, dtype=X.dtype, device=X.device)
    return torch.sin(3.0 * scales * X).sum(dim=-1, keepdim=True) + (X - 0.5).square().sum(
        dim=-1, keepdim=True
    )


class SurrogateContract:
    """Pytest mixin: the BoTorch contract every probtheory surrogate satisfies.

    Subclasses (named ``Test...``) implement :meth:`make_model`; they may override the
    class attributes to change the problem size.

    Attributes:
        d: Input dimension of the training data.
        n_train: Number of training points.
        num_mc_samples: Monte-Carlo samples of the samplers the contract builds.
    """

    d: ClassVar[int] = 2
    n_train: ClassVar[int] = 10
    num_mc_samples: ClassVar[int] = 32

    def make_model(self, train_X: Tensor, train_Y: Tensor) -> Any:
        """Build the surrogate under test, *unfitted*, with a ``fit()`` method.

        Args:
            train_X: An `n x d` tensor of inputs in the unit cube.
            train_Y: An `n x 1` tensor of observations.

        Returns:
            The unfitted model (a ``botorch.models.model.Model``).
        """
        raise NotImplementedError("subclasses of SurrogateContract implement make_model(train_X, train_Y)")

    # ------------------------------------------------------------------ fixtures
    def _data(self, dtype: torch.dtype = torch.float64) -> tuple[Tensor, Tensor]:
        generator = torch.Generator().manual_seed(0)
        train_X = torch.rand(self.n_train, self.d, generator=generator, dtype=torch.float64)
        return train_X.to(dtype), contract_objective(train_X).to(dtype)

    def _fitted(self, dtype: torch.dtype) -> Model:
        model = self.make_model(*self._data(dtype))
        model.fit()
        return model

    @pytest.fixture(scope="class")
    @classmethod
    def model(cls) -> Model:
        """The surrogate fitted on float64 data, shared by the tests of one class."""
        return cls()._fitted(torch.float64)

    def _inputs(self, *shape: int, dtype: torch.dtype = torch.float64, seed: int = 1) -> Tensor:
        generator = torch.Generator().manual_seed(seed)
        return torch.rand(*shape, self.d, generator=generator, dtype=torch.float64).to(dtype)

    def _sampler(self, posterior: Any, seed: int = 0) -> Any:
        return get_sampler(posterior, torch.Size([self.num_mc_samples]), seed=seed)

    # ------------------------------------------------------------------ the model
    def test_is_a_fitted_botorch_model(self, model: Model) -> None:
        """A fitted ``botorch.models.model.Model`` with one output."""
        assert isinstance(model, Model)
        assert model.num_outputs == 1
        assert model.is_fitted

    @pytest.mark.parametrize("batch_shape", [(), (3,), (2, 3)], ids=["n_x_d", "b_x_q_x_d", "b1_x_b2_x_q_x_d"])
    @pytest.mark.parametrize("q", [1, 4])
    def test_posterior_shapes(self, model: Model, batch_shape: tuple[int, ...], q: int) -> None:
        """Posterior moments and samples have shape `sample_shape x batch_shape x q x m`."""
        X = self._inputs(*batch_shape, q)
        posterior = model.posterior(X)
        event = torch.Size(batch_shape + (q, 1))
        assert posterior.mean.shape == event
        assert posterior.variance.shape == event
        assert torch.isfinite(posterior.mean).all()
        assert (posterior.variance > 0).all()
        assert posterior._extended_shape(torch.Size([5])) == torch.Size([5]) + event
        assert posterior.rsample(torch.Size([5])).shape == torch.Size([5]) + event
        samples = self._sampler(posterior)(posterior)
        assert samples.shape == torch.Size([self.num_mc_samples]) + event
        assert torch.isfinite(samples).all()
        assert posterior.dtype == torch.float64 and posterior.device == X.device

    def test_observation_noise_adds_variance(self, model: Model) -> None:
        """``observation_noise=True`` widens the predictive distribution."""
        X = self._inputs(6)
        plain = model.posterior(X).variance
        noisy = model.posterior(X, observation_noise=True)
        assert (noisy.variance >= plain - 1e-9 * plain.abs().max()).all()
        assert (noisy.variance > plain).any()
        assert self._sampler(noisy)(noisy).shape == torch.Size([self.num_mc_samples, 6, 1])

    def test_posterior_transform_is_applied(self, model: Model) -> None:
        """A ``ScalarizedPosteriorTransform`` is applied to moments and samples."""
        X = self._inputs(2, 3)
        base = model.posterior(X)
        transform = ScalarizedPosteriorTransform(weights=torch.tensor([2.0], dtype=torch.float64), offset=1.0)
        scaled = model.posterior(X, posterior_transform=transform)
        torch.testing.assert_close(scaled.mean, 2.0 * base.mean + 1.0)
        torch.testing.assert_close(scaled.variance, 4.0 * base.variance)
        assert self._sampler(scaled)(scaled).shape == torch.Size([self.num_mc_samples, 2, 3, 1])

    # ------------------------------------------------------------------ gradients
    def test_gradient_of_mean_wrt_X(self, model: Model) -> None:
        """The posterior mean has finite, non-zero gradients with respect to X."""
        X = self._inputs(2, 3).requires_grad_(True)
        model.posterior(X).mean.sum().backward()
        assert torch.isfinite(X.grad).all()
        assert X.grad.abs().sum() > 0

    def test_gradient_of_samples_wrt_X(self, model: Model) -> None:
        """Samples (default sampler and ``rsample``) have finite, non-zero gradients with respect to X."""
        for draw in ("sampler", "rsample"):
            X = self._inputs(2, 3).requires_grad_(True)
            posterior = model.posterior(X)
            samples = (
                self._sampler(posterior)(posterior)
                if draw == "sampler"
                else posterior.rsample(torch.Size([8]))
            )
            samples.sum().backward()
            assert torch.isfinite(X.grad).all(), draw
            assert X.grad.abs().sum() > 0, draw

    # ------------------------------------------------------------------ reproducibility
    def test_seeded_sampler_is_deterministic(self, model: Model) -> None:
        """A seeded sampler reproduces its samples; another seed changes them."""
        X = self._inputs(2, 3)
        first = self._sampler(model.posterior(X), seed=0)(model.posterior(X))
        again = self._sampler(model.posterior(X), seed=0)(model.posterior(X))
        torch.testing.assert_close(first, again, rtol=0.0, atol=0.0)
        sampler = self._sampler(model.posterior(X), seed=0)
        torch.testing.assert_close(
            sampler(model.posterior(X)), sampler(model.posterior(X)), rtol=0.0, atol=0.0
        )
        other = self._sampler(model.posterior(X), seed=1)(model.posterior(X))
        assert not torch.equal(first, other)

    def test_base_samples_are_shared_across_t_batches(self, model: Model) -> None:
        """A candidate's samples do not depend on the rest of its t-batch (SAA)."""
        # SAA: a candidate's samples must not depend on the other candidates of the t-batch.
        X = self._inputs(4, 2)
        batched = model.posterior(X)
        alone = model.posterior(X[2:3])
        samples_batched = self._sampler(batched, seed=3)(batched)
        samples_alone = self._sampler(alone, seed=3)(alone)
        torch.testing.assert_close(samples_batched[:, 2:3], samples_alone, rtol=1e-6, atol=1e-8)

    # ------------------------------------------------------------------ dtypes
    @pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
    def test_dtypes(self, dtype: torch.dtype) -> None:
        """float32 and float64 training data and inputs both work, with gradients to X."""
        model = self._fitted(dtype)
        X = self._inputs(2, 3, dtype=dtype).requires_grad_(True)
        posterior = model.posterior(X)
        samples = self._sampler(posterior)(posterior)
        assert torch.isfinite(posterior.mean).all() and torch.isfinite(samples).all()
        samples.sum().backward()
        assert X.grad.dtype == dtype and torch.isfinite(X.grad).all()

    # ------------------------------------------------------------------ sample-based posteriors
    def test_q_batch_samples_are_joint(self, model: Model) -> None:
        """Each sample of a sample-based posterior is one function draw over the whole q-batch."""
        X = self._inputs(3, 4)
        posterior = model.posterior(X)
        if not isinstance(posterior, SampleEnsemblePosterior):
            pytest.skip(
                "joint draws are checked for sample-based posteriors; Gaussian ones are joint by construction"
            )
        draws = posterior.values  # S x b x q x m
        for samples in (self._sampler(posterior)(posterior), posterior.rsample(torch.Size([16]))):
            # distance of each sample's whole q-batch to each draw's q-batch: S' x S x b
            distance = (samples.unsqueeze(1) - draws.unsqueeze(0)).abs().amax(dim=(-2, -1))
            assert (distance.amin(dim=1) == 0).all(), "a sample mixes function draws across its q-batch"

    # ------------------------------------------------------------------ acquisition
    @pytest.mark.parametrize("q", [1, 2])
    @pytest.mark.parametrize("name", _ACQUISITION_FUNCTIONS)
    def test_optimize_acqf(self, model: Model, name: str, q: int) -> None:
        """qLogEI, qLogNEI and qUCB optimise through ``optimize_acqf`` with deterministic values."""
        train_X, train_Y = self._data()
        sampler = self._sampler(model.posterior(train_X[:1]))
        if name == "qLogEI":
            acqf = qLogExpectedImprovement(model, best_f=train_Y.max(), sampler=sampler)
        elif name == "qLogNEI":
            acqf = qLogNoisyExpectedImprovement(model, X_baseline=train_X, sampler=sampler)
        else:
            acqf = qUpperConfidenceBound(model, beta=2.0, sampler=sampler)
        bounds = torch.stack([torch.zeros(self.d), torch.ones(self.d)]).to(torch.float64)
        candidates, value = optimize_acqf(
            acqf,
            bounds=bounds,
            q=q,
            num_restarts=2,
            raw_samples=16,
            options={"maxiter": 10, "batch_limit": 8},
        )
        assert candidates.shape == (q, self.d)
        assert ((candidates >= 0) & (candidates <= 1)).all()
        assert torch.isfinite(value).all()
        # Sample Average Approximation: the acquisition value is a deterministic function of X.
        X = self._inputs(3, q)
        torch.testing.assert_close(acqf(X), acqf(X), rtol=0.0, atol=0.0)

    def test_thompson_sampling(self, model: Model) -> None:
        """``MaxPosteriorSampling`` picks distinct candidates from the candidate set."""
        candidates = self._inputs(32)
        chosen = MaxPosteriorSampling(model, replacement=False)(candidates, num_samples=3)
        assert chosen.shape == (3, self.d)
        assert all((candidates == row).all(dim=-1).any() for row in chosen)

    # ------------------------------------------------------------------ errors
    @pytest.mark.parametrize(
        "case",
        ["X_1d", "X_outside_cube", "X_nan", "X_int", "Y_inf", "Y_1d", "n_mismatch", "too_few_points"],
    )
    def test_bad_training_data_raises(self, case: str) -> None:
        """Malformed training data raises ``InputDataError`` naming the argument."""
        train_X, train_Y = self._data()
        if case == "X_1d":
            train_X = train_X[:, 0]
        elif case == "X_outside_cube":
            train_X = train_X * 10.0
        elif case == "X_nan":
            train_X = train_X.clone()
            train_X[0, 0] = float("nan")
        elif case == "X_int":
            train_X = (train_X > 0.5).long()
        elif case == "Y_inf":
            train_Y = train_Y.clone()
            train_Y[1, 0] = float("inf")
        elif case == "Y_1d":
            train_Y = train_Y[:, 0]
        elif case == "n_mismatch":
            train_Y = train_Y[:-1]
        else:
            train_X, train_Y = train_X[:1], train_Y[:1]
        with pytest.raises(InputDataError) as info:
            self.make_model(train_X, train_Y)
        argument = "train_Y" if case in ("Y_inf", "Y_1d", "n_mismatch") else "train_X"
        assert info.value.argument == argument
        if case == "X_outside_cube":
            assert "normalize" in str(info.value)

    def test_posterior_before_fit_raises(self) -> None:
        """``posterior`` before ``fit()`` raises ``NotFittedError``."""
        unfitted = self.make_model(*self._data())
        with pytest.raises(NotFittedError, match="fit"):
            unfitted.posterior(self._inputs(3))

    def test_second_fit_raises(self, model: Model) -> None:
        """A second ``fit()`` raises ``AlreadyFittedError``."""
        with pytest.raises(AlreadyFittedError):
            model.fit()

    @pytest.mark.parametrize("case", ["wrong_d", "nan", "1d"])
    def test_bad_posterior_inputs_raise(self, model: Model, case: str) -> None:
        """Malformed posterior inputs (wrong d, NaN, 1-d) raise ``InputDataError``."""
        X = self._inputs(4)
        if case == "wrong_d":
            X = torch.rand(4, self.d + 1, dtype=torch.float64)
        elif case == "nan":
            X[0, 0] = float("nan")
        else:
            X = X[0]
        with pytest.raises(InputDataError) as info:
            model.posterior(X)
        assert info.value.argument == "X"

    @pytest.mark.parametrize(
        "output_indices", [[1], [0, 1], [], 0], ids=["out_of_range", "too_many", "empty", "int"]
    )
    def test_bad_output_indices_raise(self, model: Model, output_indices: Any) -> None:
        """``output_indices`` outside [0, m) raise ``InputDataError``, also for a one-output model."""
        with pytest.raises(InputDataError) as info:
            model.posterior(self._inputs(4), output_indices=output_indices)
        assert info.value.argument == "output_indices"
        assert model.posterior(self._inputs(4), output_indices=[0]).mean.shape == (4, 1)

    def test_inputs_far_outside_the_unit_cube_warn(self, model: Model) -> None:
        """Unnormalised posterior inputs get an ``InputDataWarning`` naming the surrogate."""
        with pytest.warns(InputDataWarning, match=rf"{type(model).__name__}\.posterior: `X`"):
            model.posterior(10.0 * self._inputs(4) - 5.0)
        with warnings.catch_warnings():
            warnings.simplefilter("error", InputDataWarning)
            model.posterior(self._inputs(4).clamp(0.0, 1.0) * 1.05 - 0.025)  # within the tolerance
