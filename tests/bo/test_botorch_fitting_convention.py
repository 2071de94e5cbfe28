"""GP-family surrogates fitted the BoTorch way (``fit_gpytorch_mll``) drop into a BoTorch loop unchanged."""

import pytest
import torch
from botorch.acquisition import qLogNoisyExpectedImprovement
from botorch.fit import fit_gpytorch_mll
from botorch.optim import optimize_acqf
from botorch.sampling import SobolQMCNormalSampler
from gpytorch.mlls import ExactMarginalLogLikelihood

from bo.models import DKL, GP, HMCBNN, IBNN, SVIBNN, DeepEnsemble, LaplaceBNN, PFNSurrogate, StudentTP
from probtheory.errors import AlreadyFittedError, NotFittedError, UnsupportedError


@pytest.mark.parametrize("cls", [GP, IBNN, DKL], ids=lambda c: c.__name__)
def test_a_botorch_tutorial_loop_runs_with_the_surrogate(cls):
    g = torch.Generator().manual_seed(0)
    X = torch.rand(10, 2, generator=g, dtype=torch.float64)
    Y = torch.sin(6 * X).sum(-1, keepdim=True)
    bounds = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    for _ in range(2):  # the tutorial's loop: fit, acquire, evaluate, append
        model = cls(X, Y)
        model.eval()
        with pytest.raises(NotFittedError):  # eval() alone does not count as fitting
            model.posterior(X)
        fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
        assert model.is_fitted
        acquisition = qLogNoisyExpectedImprovement(model, X)
        candidate, _ = optimize_acqf(acquisition, bounds=bounds, q=1, num_restarts=2, raw_samples=32)
        assert candidate.shape == (1, 2) and ((candidate >= 0) & (candidate <= 1)).all()
        X = torch.cat([X, candidate])
        Y = torch.cat([Y, torch.sin(6 * candidate).sum(-1, keepdim=True)])
    with pytest.raises(AlreadyFittedError):
        model.fit()


@pytest.mark.parametrize(
    "cls", [DeepEnsemble, LaplaceBNN, SVIBNN, HMCBNN, PFNSurrogate, StudentTP], ids=lambda c: c.__name__
)
def test_surrogates_that_cannot_condition_say_so(cls):
    g = torch.Generator().manual_seed(0)
    X = torch.rand(6, 1, generator=g, dtype=torch.float64)  # one dimension: the shipped PFNs' too
    surrogate = cls(X, X.sum(-1, keepdim=True))
    name = cls.__name__
    with pytest.raises(UnsupportedError, match=rf"`{name}.fantasize`.*GP, IBNN or DKL"):
        surrogate.fantasize(X[:2], SobolQMCNormalSampler(torch.Size([2])))
    with pytest.raises(UnsupportedError, match=rf"`{name}.condition_on_observations`"):
        surrogate.condition_on_observations(X[:1], X[:1, :1])
