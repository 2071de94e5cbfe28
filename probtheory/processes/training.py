"""Meta-training of neural processes (CNP, NP, MPNP) on a task sampler, shared by all three.

Adam with a cosine-annealed learning rate over ``steps`` batches of fresh tasks, as in the
``juho-lee/bnp`` protocol that the MPNP paper follows.
"""

from __future__ import annotations

import warnings
from typing import Protocol

import torch
from tqdm.auto import tqdm

from probtheory._checks import check_int, check_real, make_generator
from probtheory.errors import InputDataError
from probtheory.processes.tasks import TaskBatch

__all__ = ["meta_train"]


class _TaskSampler(Protocol):
    def sample(self, batch_size: int, *, generator: torch.Generator | None = None) -> TaskBatch: ...  # noqa: D102


def meta_train(
    model: torch.nn.Module,
    task_sampler: _TaskSampler,
    steps: int,
    batch_size: int = 16,
    lr: float = 5e-4,
    seed: int | None = None,
    progress: bool = True,
) -> list[float]:
    """Minimise ``model.loss(batch, generator)`` over freshly sampled task batches.

    Args:
        model: A neural process with a ``loss(batch, generator)`` method (CNP, NP, MPNP).
        task_sampler: Draws task batches, e.g. :class:`~probtheory.processes.tasks.GPTaskSampler`.
        steps: Number of Adam steps (one batch each).
        batch_size: Tasks per batch.
        lr: Initial learning rate (cosine-annealed to 0).
        seed: Seed of the tasks and of the model's noise (the initialisation is the model's own).
        progress: Show a tqdm bar.

    Returns:
        The training loss after each step. A non-finite loss stops training with a
        ``RuntimeWarning`` before it reaches the weights.
    """
    steps = check_int("steps", steps, minimum=1)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    lr = check_real("lr", lr, positive=True)
    if not isinstance(model, torch.nn.Module) or not callable(getattr(model, "loss", None)):
        raise InputDataError(
            "model", "a neural process with a `loss(batch, generator)` method", type(model).__name__
        )
    if not callable(getattr(task_sampler, "sample", None)):
        expected = "a task sampler with a `sample(batch_size, generator=...)` method (GPTaskSampler)"
        raise InputDataError("task_sampler", expected, type(task_sampler).__name__)
    generator = make_generator(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=steps)
    model.train()
    history: list[float] = []
    bar = tqdm(range(steps), disable=not progress, desc=f"meta_train {type(model).__name__}")
    for step in bar:
        batch = task_sampler.sample(batch_size, generator=generator)
        optimiser.zero_grad()
        loss = model.loss(batch, generator=generator)
        if not torch.isfinite(loss):  # stop before a NaN gradient poisons every weight
            warnings.warn(
                f"meta_train stopped at step {step}: the loss is {loss.item()} (lower `lr`); "
                "the weights are those after the last finite step",
                RuntimeWarning,
                stacklevel=2,
            )
            break
        loss.backward()
        optimiser.step()
        schedule.step()
        history.append(loss.item())
        if len(history) % 50 == 0:
            bar.set_postfix(loss=f"{sum(history[-50:]) / 50:.3f}")
    model.eval()
    return history
