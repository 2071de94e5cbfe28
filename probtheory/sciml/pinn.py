"""Physics-informed neural networks: the PINN loss and the collocation samplers that feed it.

A PINN (Raissi, Perdikaris, Karniadakis, J. Comput. Phys. 2019) trains a network ``u`` to make
the PDE residual small at collocation points and to match the boundary data:
``loss = mean r(x_i)^2 + w * mean (u(y_j) - g(y_j))^2``. Here the loss is
:func:`pinn_loss` and the points come from a :class:`CollocationSampler`, a data policy that
:func:`probtheory.training.fit` iterates like any other data::

    sampler = UniformSampler(problem, points=1000)
    fit(model, sampler, loss=pinn_loss(problem), epochs=10, steps_per_epoch=100)

A sampler is a one-batch collection whose batch is redrawn every ``resample_every`` draws, so
``fit`` with ``steps_per_epoch`` trains on fresh points. The samplers differ only in where the
interior points go: :class:`UniformSampler` (uniform in the box), :class:`ResidualSampler`
(RAD, residual-based adaptive distribution, Wu, Zhu, Tan, Kartha, Lu, CMAME 2023) and
:class:`probtheory.sciml.aas.AdversarialSampler` (AAS, a normalising flow trained by ascent).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import NamedTuple

import torch
from torch import Tensor, nn

from probtheory._checks import check_instance, check_int, check_real, make_generator
from probtheory.errors import InputDataError
from probtheory.sciml.problems import PDEProblem

__all__ = ["CollocationBatch", "CollocationSampler", "ResidualSampler", "UniformSampler", "pinn_loss"]


class CollocationBatch(NamedTuple):
    """One batch of a PINN: interior points for the residual and boundary points for the data.

    Attributes:
        interior: An `n x d` tensor of points in the box.
        boundary: An `m x d` tensor of points on its boundary.
    """

    interior: Tensor
    boundary: Tensor


def pinn_loss(problem: PDEProblem, *, boundary_weight: float = 1.0) -> Callable[[nn.Module, object], Tensor]:
    r"""The PINN loss of ``problem`` as a ``loss(model, batch)`` for :func:`probtheory.training.fit`.

    .. math:: L(u) = \frac{1}{n}\sum_i r(x_i; u)^2 + w\,\frac{1}{m}\sum_j (u(y_j) - g(y_j))^2,

    with interior points :math:`x_i` and boundary points :math:`y_j` from a
    :class:`CollocationBatch`. The interior mean is unweighted: with points drawn from an
    adaptive density :math:`p` it estimates :math:`\int r^2 p\,dx`, the objective adaptive
    samplers (RAD, AAS) minimise on purpose.

    Args:
        problem: The :class:`probtheory.sciml.problems.PDEProblem`.
        boundary_weight: :math:`w`, the boundary term's weight (>= 0).

    Returns:
        ``loss(model, batch) -> scalar tensor``; ``batch`` a :class:`CollocationBatch` (or a
        pair ``(interior, boundary)``).

    Raises:
        InputDataError: If ``problem`` is not a PDEProblem or ``boundary_weight`` is negative;
            when called, if the batch is not a pair of point tensors in the box.
    """
    check_instance("problem", problem, PDEProblem, "a PDEProblem")
    weight = check_real("boundary_weight", boundary_weight, nonnegative=True)

    def loss(model: nn.Module, batch: object) -> Tensor:
        if not isinstance(batch, tuple) or len(batch) != 2:
            raise InputDataError(
                "batch", "a CollocationBatch (interior, boundary) from a sampler", type(batch).__name__
            )
        interior, boundary = batch
        residual = problem.residual(model, interior)
        return residual.pow(2).mean() + weight * problem.boundary_loss(model, boundary)

    return loss


class CollocationSampler:
    """A data policy that yields :class:`CollocationBatch` es with fresh points.

    Iterating over a sampler yields one batch (its length is 1), so :func:`probtheory.training.fit`
    with ``steps_per_epoch=S`` draws ``S`` batches per epoch, and without it one batch per epoch.
    The points are redrawn every ``resample_every`` batches (1: every optimiser step); boundary
    points are uniform on the boundary. Subclasses say where interior points go
    (:meth:`sample_interior`).

    Args:
        problem: The :class:`probtheory.sciml.problems.PDEProblem` whose box is sampled.
        points: Interior points per batch, the fixed budget (>= 1).
        boundary_points: Boundary points per batch (>= 1).
        resample_every: Draw new points every this many batches (>= 1).
        dtype: dtype of the points (the model's).
        seed: Seed of the sampler's own random generator (``None``: from the OS).
    """

    def __init__(
        self,
        problem: PDEProblem,
        points: int,
        *,
        boundary_points: int = 100,
        resample_every: int = 1,
        dtype: torch.dtype = torch.float32,
        seed: int | None = None,
    ) -> None:
        self.problem = check_instance("problem", problem, PDEProblem, "a PDEProblem")
        self.points = check_int("points", points, minimum=1)
        self.boundary_points = check_int("boundary_points", boundary_points, minimum=1)
        self.resample_every = check_int("resample_every", resample_every, minimum=1)
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise InputDataError("dtype", "a floating torch.dtype", repr(dtype))
        self.dtype = dtype
        self.generator = make_generator(seed)
        self.batches_drawn = 0
        self._batch: CollocationBatch | None = None

    def sample_interior(self, n: int) -> Tensor:
        """``n`` interior points by this sampler's policy: an `n x d` tensor in the box."""
        raise NotImplementedError

    def draw(self) -> CollocationBatch:
        """A fresh batch: :attr:`points` interior and :attr:`boundary_points` boundary points."""
        interior = self.sample_interior(self.points).detach().to(self.dtype)
        boundary = self.problem.sample_boundary(
            self.boundary_points, generator=self.generator, dtype=self.dtype
        )
        return CollocationBatch(interior, boundary)

    def __len__(self) -> int:
        return 1

    def __iter__(self) -> Iterator[CollocationBatch]:
        if self._batch is None or self.batches_drawn % self.resample_every == 0:
            self._batch = self.draw()
        self.batches_drawn += 1
        yield self._batch


class UniformSampler(CollocationSampler):
    """Interior points drawn uniformly from the box, redrawn every ``resample_every`` batches.

    With ``resample_every`` larger than the run's steps, it is the classic fixed training set.
    Takes the arguments of :class:`CollocationSampler`.
    """

    def sample_interior(self, n: int) -> Tensor:
        """``n`` uniform points in the box: an `n x d` tensor."""
        return self.problem.sample_interior(n, generator=self.generator, dtype=self.dtype)


class ResidualSampler(CollocationSampler):
    r"""RAD: interior points resampled from the residual-based density (Wu et al., CMAME 2023, Sec. 2.3).

    .. math:: p(x) \propto \frac{|r(x)|^k}{\mathbb{E}|r|^k} + c,

    evaluated on ``candidates`` uniform points and sampled from them without replacement; the
    paper's default is :math:`k = 1, c = 1`, and :math:`c \to \infty` recovers uniform
    sampling. The residual is the current model's, so the sampler holds the model.

    Args:
        problem: The PDE problem.
        model: The network being trained (its residual sets the density).
        points: Interior points per batch (<= ``candidates``).
        candidates: Uniform candidate points the density is evaluated on.
        k: The residual's exponent (> 0).
        c: The uniform floor (>= 0).
        boundary_points: Boundary points per batch.
        resample_every: Resample every this many batches (RAD's resampling period).
        dtype: dtype of the points.
        seed: Seed of the sampler's random generator.
    """

    def __init__(
        self,
        problem: PDEProblem,
        model: nn.Module,
        points: int,
        *,
        candidates: int = 10_000,
        k: float = 1.0,
        c: float = 1.0,
        boundary_points: int = 100,
        resample_every: int = 1,
        dtype: torch.dtype = torch.float32,
        seed: int | None = None,
    ) -> None:
        super().__init__(
            problem,
            points,
            boundary_points=boundary_points,
            resample_every=resample_every,
            dtype=dtype,
            seed=seed,
        )
        self.model = check_instance("model", model, nn.Module, "a torch.nn.Module")
        self.candidates = check_int("candidates", candidates, minimum=self.points)
        self.k = check_real("k", k, positive=True)
        self.c = check_real("c", c, nonnegative=True)

    def density_weights(self, x: Tensor) -> Tensor:
        r"""The unnormalised RAD weights :math:`|r|^k / \mathrm{mean}|r|^k + c` at `n x d` points: `n`."""
        with torch.enable_grad():
            residual = self.problem.residual(self.model, x).detach().abs()
        power = residual**self.k
        mean = power.mean()
        if not torch.isfinite(mean):
            raise InputDataError("model", "a finite residual at the candidate points", "NaN or infinity")
        scaled = power / mean if mean > 0 else torch.zeros_like(power)
        weights = scaled + self.c
        if not (weights > 0).any():  # k-th powers all zero and c = 0: fall back to uniform
            weights = torch.ones_like(weights)
        return weights

    def sample_interior(self, n: int) -> Tensor:
        """``n`` of the candidate points, drawn without replacement by the RAD weights: `n x d`."""
        x = self.problem.sample_interior(self.candidates, generator=self.generator, dtype=self.dtype)
        weights = self.density_weights(x).double()
        index = torch.multinomial(weights, n, replacement=False, generator=self.generator)
        return x[index]
