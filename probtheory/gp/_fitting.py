"""Type-II maximum likelihood by Adam, shared by the exact nonparametric regression models."""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor
from tqdm.auto import tqdm

from probtheory._checks import check_int, check_real


class _HasMarginalLikelihood(Protocol):
    train_y: Tensor

    def parameters(self): ...  # noqa: D102

    def marginal_log_likelihood(self) -> Tensor: ...  # noqa: D102


def maximise_marginal_likelihood(
    model: _HasMarginalLikelihood, steps: int, lr: float, progress: bool, desc: str
) -> list[float]:
    """Adam on -log p(y) / n over all of ``model``'s parameters; the loss after each step."""
    steps = check_int("steps", steps, minimum=1)
    optimiser = torch.optim.Adam(model.parameters(), lr=check_real("lr", lr, positive=True))
    history = []
    bar = tqdm(range(steps), disable=not progress, desc=desc)
    for _ in bar:
        optimiser.zero_grad()
        loss = -model.marginal_log_likelihood() / len(model.train_y)
        loss.backward()
        optimiser.step()
        history.append(loss.item())
        bar.set_postfix(nll=f"{history[-1]:.4f}")
    return history
