"""Bad input to probtheory.sciml.diffusion (AdjointDPM): one row per realistic mistake."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from probtheory.errors import InputDataError, UnknownNameError
from probtheory.sciml.diffusion import NoiseSchedule, ProbabilityFlowSampler, denoising_loss
from tests.bad_input import BadInput, check_case

SCHEDULE = NoiseSchedule.linear(20, 1e-3, 0.2)


class Eps(nn.Module):
    def __init__(self, out_dim: int = 2) -> None:
        super().__init__()
        self.linear = nn.Linear(3, out_dim)

    def forward(self, x, t):
        return self.linear(torch.cat([x, t[:, None] / 20], dim=-1))


def sampler(**kwargs) -> ProbabilityFlowSampler:
    options = {"eps_model": Eps(), "schedule": SCHEDULE, "steps": 4} | kwargs
    return ProbabilityFlowSampler(**options)


X = torch.randn(3, 2)

CASES = [
    BadInput("NoiseSchedule", "non-monotone schedule",
             lambda: NoiseSchedule(torch.tensor([0.9, 0.5, 0.6, 0.1])),
             InputDataError, "alphas_cumprod", pattern="non-monotone"),
    BadInput("NoiseSchedule", "constant stretch", lambda: NoiseSchedule(torch.tensor([0.9, 0.5, 0.5])),
             InputDataError, "alphas_cumprod"),
    BadInput("NoiseSchedule", "a level of 1 (sigma = 0)", lambda: NoiseSchedule(torch.tensor([1.0, 0.5])),
             InputDataError, "alphas_cumprod"),
    BadInput("NoiseSchedule", "NaN level", lambda: NoiseSchedule(torch.tensor([0.9, math.nan])),
             InputDataError, "alphas_cumprod"),
    BadInput("NoiseSchedule", "a single level", lambda: NoiseSchedule(torch.tensor([0.5])),
             InputDataError, "alphas_cumprod"),
    BadInput("NoiseSchedule", "2-D levels", lambda: NoiseSchedule(torch.rand(3, 3)),
             InputDataError, "alphas_cumprod"),
    BadInput("NoiseSchedule.from_betas", "beta of 1",
             lambda: NoiseSchedule.from_betas(torch.tensor([0.1, 1.0])),
             InputDataError, "betas"),
    BadInput("NoiseSchedule.from_betas", "negative beta",
             lambda: NoiseSchedule.from_betas(torch.tensor([0.1, -0.1])), InputDataError, "betas"),
    BadInput("NoiseSchedule.linear", "one timestep", lambda: NoiseSchedule.linear(1), InputDataError,
             "num_steps"),
    BadInput("NoiseSchedule.linear", "beta_end below beta_start", lambda: NoiseSchedule.linear(10, 0.1, 0.01),
             InputDataError, "beta_end"),
    BadInput("NoiseSchedule.sigma", "timestep past T - 1", lambda: SCHEDULE.sigma(20.0), InputDataError, "t"),
    BadInput("NoiseSchedule.timestep", "sigma = 0", lambda: SCHEDULE.timestep(0.0), InputDataError, "sigma"),
    BadInput("NoiseSchedule.add_noise", "float timesteps",
             lambda: SCHEDULE.add_noise(X, torch.zeros(3), torch.zeros(3, 2)), InputDataError, "t"),
    BadInput("NoiseSchedule.add_noise", "noise of another shape",
             lambda: SCHEDULE.add_noise(X, torch.zeros(3, dtype=torch.long), torch.zeros(3, 1)),
             InputDataError, "noise"),
    BadInput("ProbabilityFlowSampler", "zero steps", lambda: sampler(steps=0), InputDataError, "steps"),
    BadInput("ProbabilityFlowSampler", "fractional steps", lambda: sampler(steps=2.5), InputDataError,
             "steps"),
    BadInput("ProbabilityFlowSampler", "unknown solver", lambda: sampler(method="rk45"), UnknownNameError,
             "method"),
    BadInput("ProbabilityFlowSampler", "a plain function as eps_model",
             lambda: sampler(eps_model=lambda x, t: x), InputDataError, "eps_model"),
    BadInput("ProbabilityFlowSampler", "betas instead of a schedule",
             lambda: sampler(schedule=torch.linspace(1e-4, 0.02, 10)), InputDataError, "schedule"),
    BadInput("ProbabilityFlowSampler", "adjoint as a string", lambda: sampler(adjoint="yes"), InputDataError,
             "adjoint"),
    BadInput("ProbabilityFlowSampler.forward", "NaN noise", lambda: sampler()(torch.full((3, 2), math.nan)),
             InputDataError, "x_T"),
    BadInput("ProbabilityFlowSampler.forward", "integer noise",
             lambda: sampler()(torch.zeros(3, 2, dtype=torch.long)),
             InputDataError, "x_T"),
    BadInput("ProbabilityFlowSampler.forward", "model of the wrong output width",
             lambda: sampler(eps_model=Eps(out_dim=3))(X), InputDataError, "eps_model"),
    BadInput("ProbabilityFlowSampler.forward", "NaN conditioning",
             lambda: sampler()(X, torch.full((3, 1), math.nan)), InputDataError, "cond"),
    BadInput("denoising_loss", "betas instead of a schedule", lambda: denoising_loss(torch.ones(3)),
             InputDataError, "schedule"),
    BadInput("denoising_loss", "a dict batch", lambda: denoising_loss(SCHEDULE)(Eps(), {"x": X}),
             InputDataError, "batch"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_input(case):
    check_case(case)
