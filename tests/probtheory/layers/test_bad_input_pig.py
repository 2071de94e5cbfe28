"""Bad input to GaussianEmbedding and PhysicsInformedGaussians: one row per mistake, each with its error."""

from __future__ import annotations

import pytest
import torch

from probtheory.errors import InputDataError
from probtheory.layers import GaussianEmbedding, PhysicsInformedGaussians
from tests.bad_input import BadInput, check_case

NAN = float("nan")


def embedding(full: bool = False) -> GaussianEmbedding:
    return GaussianEmbedding(2, 3, 2, full_covariance=full, seed=0).double()


def mixture(**change):
    parts = {
        "means": torch.zeros(3, 2, dtype=torch.float64),
        "covariances": torch.eye(2, dtype=torch.float64).repeat(3, 1, 1),
        "features": torch.ones(3, 2, dtype=torch.float64),
    }
    parts.update(change)
    return parts


F64 = torch.float64
NOT_PD = torch.tensor([[1.0, 2.0], [2.0, 1.0]], dtype=torch.float64).repeat(3, 1, 1)
CORRELATED = torch.tensor([[1.0, 0.5], [0.5, 1.0]], dtype=torch.float64).repeat(3, 1, 1)
ASYMMETRIC = torch.tensor([[1.0, 0.5], [0.0, 1.0]], dtype=torch.float64).repeat(3, 1, 1)

CASES = [
    BadInput("GaussianEmbedding", "scale zero", lambda: GaussianEmbedding(2, 3, 2, scale=0.0),
             InputDataError, "scale"),
    BadInput("GaussianEmbedding", "negative scale", lambda: GaussianEmbedding(2, 3, 2, scale=-0.1),
             InputDataError, "scale"),
    BadInput("GaussianEmbedding", "NaN scale", lambda: GaussianEmbedding(2, 3, 2, scale=NAN),
             InputDataError, "scale"),
    BadInput("GaussianEmbedding", "zero Gaussians", lambda: GaussianEmbedding(2, 0, 2),
             InputDataError, "num_gaussians"),
    BadInput("GaussianEmbedding", "zero input dimension", lambda: GaussianEmbedding(0, 3, 2),
             InputDataError, "in_features"),
    BadInput("GaussianEmbedding", "fractional feature count", lambda: GaussianEmbedding(2, 3, 2.5),
             InputDataError, "out_features"),
    BadInput("GaussianEmbedding", "empty box", lambda: GaussianEmbedding(2, 3, 2, low=1.0, high=1.0),
             InputDataError, "high"),
    BadInput("GaussianEmbedding", "feature_std zero", lambda: GaussianEmbedding(2, 3, 2, feature_std=0.0),
             InputDataError, "feature_std"),
    BadInput("GaussianEmbedding", "full_covariance a string",
             lambda: GaussianEmbedding(2, 3, 2, full_covariance="yes"), InputDataError, "full_covariance"),
    BadInput("GaussianEmbedding", "negative seed", lambda: GaussianEmbedding(2, 3, 2, seed=-1),
             InputDataError, "seed"),
    BadInput("GaussianEmbedding.forward", "wrong input dimension",
             lambda: embedding()(torch.zeros(5, 3, dtype=torch.float64)), InputDataError, "x"),
    BadInput("GaussianEmbedding.forward", "a 1-d vector of points",
             lambda: embedding()(torch.zeros(5, dtype=torch.float64)), InputDataError, "x"),
    BadInput("GaussianEmbedding.forward", "integer points",
             lambda: embedding()(torch.zeros(5, 2, dtype=torch.int64)), InputDataError, "x"),
    BadInput("GaussianEmbedding.forward", "not a tensor", lambda: embedding()([[0.0, 0.0]]),
             InputDataError, "x"),
    BadInput("GaussianEmbedding.gaussians", "wrong input dimension",
             lambda: embedding().gaussians(torch.zeros(5, 1, dtype=torch.float64)), InputDataError, "x"),
    BadInput("GaussianEmbedding.set_mixture", "covariance not positive definite",
             lambda: embedding(True).set_mixture(**mixture(covariances=NOT_PD)), InputDataError,
             "covariances"),
    BadInput("GaussianEmbedding.set_mixture", "covariance not symmetric",
             lambda: embedding(True).set_mixture(**mixture(covariances=ASYMMETRIC)), InputDataError,
             "covariances"),
    BadInput("GaussianEmbedding.set_mixture", "correlated covariance for an axis-aligned embedding",
             lambda: embedding().set_mixture(**mixture(covariances=CORRELATED)), InputDataError,
             "covariances"),
    BadInput("GaussianEmbedding.set_mixture", "zero variance",
             lambda: embedding().set_mixture(**mixture(covariances=torch.zeros(3, 2, 2, dtype=F64))),
             InputDataError, "covariances"),
    BadInput("GaussianEmbedding.set_mixture", "means of the wrong shape",
             lambda: embedding().set_mixture(**mixture(means=torch.zeros(4, 2, dtype=torch.float64))),
             InputDataError, "means"),
    BadInput("GaussianEmbedding.set_mixture", "NaN feature",
             lambda: embedding().set_mixture(**mixture(features=torch.full((3, 2), NAN, dtype=F64))),
             InputDataError, "features"),
    BadInput("PhysicsInformedGaussians", "scale zero", lambda: PhysicsInformedGaussians(2, 8, scale=0.0),
             InputDataError, "scale"),
    BadInput("PhysicsInformedGaussians", "negative depth", lambda: PhysicsInformedGaussians(2, 8, depth=-1),
             InputDataError, "depth"),
    BadInput("PhysicsInformedGaussians", "zero hidden width",
             lambda: PhysicsInformedGaussians(2, 8, hidden_features=0), InputDataError, "hidden_features"),
    BadInput("PhysicsInformedGaussians.forward", "wrong input dimension",
             lambda: PhysicsInformedGaussians(2, 8, seed=0)(torch.zeros(4, 1)), InputDataError, "x"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_input(case):
    check_case(case)


def test_a_refused_mixture_leaves_the_parameters_unchanged():
    layer = embedding(True)
    before = {name: p.detach().clone() for name, p in layer.named_parameters()}
    with pytest.raises(InputDataError):
        layer.set_mixture(**mixture(covariances=NOT_PD))
    for name, p in layer.named_parameters():
        torch.testing.assert_close(p, before[name], rtol=0, atol=0)
