"""PDE problems and the data sets the scientific-ML reproductions train on.

Three kinds of objects, one section each: PDE problems on a box (:class:`PDEProblem`: the
residual by autograd, the boundary loss, the exact solution where known), sparse linear
systems (discretised operators), and offline data-set generators (operator-learning pairs,
trajectories of ODE families).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from probtheory._checks import (
    check_inputs,
    check_int,
    check_interval,
    check_name,
    check_nonempty,
    check_real,
    check_sequence,
)
from probtheory.errors import InputDataError, UnsupportedError

__all__: list[str] = [
    "Helmholtz2D",
    "PDEProblem",
    "Poisson1D",
    "TwoPeaksPoisson2D",
    "laplacian",
]

# --- PDE problems on a box -------------------------------------------------------------------


class PDEProblem:
    r"""A boundary-value problem :math:`\mathcal{N}[u] = f` on a box, with Dirichlet data :math:`u = g`.

    Subclasses define the operator (:meth:`_residual`), the source and, where known, the exact
    solution; the box, sampling and checking live here. The residual is computed by autograd in
    the points, so any model -- an ``nn.Module`` or a plain function of a tensor -- can be checked
    against the equation, including the exact solution itself (its residual vanishes up to
    rounding).

    Args:
        lower: The box's lower corner, one number per dimension.
        upper: Its upper corner, each entry larger than ``lower``'s.

    Attributes:
        dim: Number of space dimensions ``d``.
        lower: The lower corner, a float64 tensor of shape `d`.
        upper: The upper corner, a float64 tensor of shape `d`.
    """

    def __init__(self, lower: Sequence[float], upper: Sequence[float]) -> None:
        lower = check_sequence("lower", lower, nonempty=True, meaning="a non-empty list of numbers")
        upper = check_sequence("upper", upper, length=len(lower), meaning=f"a list of {len(lower)} numbers")
        low = [check_real(f"lower[{i}]", v) for i, v in enumerate(lower)]
        high = [check_real(f"upper[{i}]", v) for i, v in enumerate(upper)]
        for i, (a, b) in enumerate(zip(low, high, strict=True)):
            if not b > a:
                raise InputDataError(f"upper[{i}]", f"a number > lower[{i}] = {a:g}", b)
        self.dim = len(low)
        self.lower = torch.tensor(low, dtype=torch.float64)
        self.upper = torch.tensor(high, dtype=torch.float64)

    @property
    def volume(self) -> float:
        """The box's volume (length in 1-D, area in 2-D)."""
        return float(torch.prod(self.upper - self.lower))

    # -- what a subclass defines ------------------------------------------------------------

    def source(self, x: Tensor) -> Tensor:
        """The right-hand side ``f`` at `n x d` points; returns `n` values."""
        raise NotImplementedError

    def exact(self, x: Tensor) -> Tensor:
        """The exact solution at `n x d` points (`n` values).

        Raises:
            UnsupportedError: If the problem has no known exact solution.
        """
        raise UnsupportedError("exact", "a problem with a known exact solution", type(self).__name__)

    def boundary_values(self, x: Tensor) -> Tensor:
        """The Dirichlet data ``g`` at `n x d` boundary points; by default the exact solution."""
        return self.exact(x)

    def _residual(self, u: Tensor, x: Tensor) -> Tensor:
        """``N[u](x) - f(x)``, given values ``u`` (`n`) with an autograd graph to ``x`` (`n x d`)."""
        raise NotImplementedError

    # -- the public interface ---------------------------------------------------------------

    def contains(self, x: Tensor) -> Tensor:
        """Whether each of the `n x d` points lies in the closed box: a boolean tensor of shape `n`."""
        x = check_inputs("x", x, feature_dim=self.dim)
        lower, upper = self.lower.to(x), self.upper.to(x)
        return ((x >= lower) & (x <= upper)).all(dim=-1)

    def check_points(self, name: str, x: object) -> Tensor:
        """Return ``x`` if it is a finite `n x d` floating tensor of points in the closed box.

        Args:
            name: The argument's name, for the error.
            x: The points.

        Raises:
            InputDataError: If ``x`` is not a finite floating `n x d` tensor with ``n >= 1``, or
                a point lies outside the box (naming ``name`` and the first such point).
        """
        x = check_inputs(name, x, feature_dim=self.dim)
        if x.dim() != 2:
            raise InputDataError(name, f"an `n x {self.dim}` tensor of points", f"shape {tuple(x.shape)}")
        check_nonempty(name, x, what="point")
        inside = self.contains(x)
        if not inside.all():
            first = x[~inside][0].tolist()
            box = ", ".join(f"[{a:g}, {b:g}]" for a, b in zip(self.lower, self.upper, strict=True))
            received = f"{int((~inside).sum())} outside, e.g. {first}"
            raise InputDataError(name, f"points in the box {box}", received)
        return x

    def residual(self, model: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
        """The PDE residual ``N[u](x) - f(x)`` of ``u = model`` at interior points, by autograd.

        The graph is kept (``create_graph``), so the residual can be differentiated again with
        respect to the model's parameters, as a PINN loss needs.

        Args:
            model: Maps an `n x d` tensor to `n` or `n x 1` values (a network, or a function
                such as :meth:`exact`).
            x: An `n x d` tensor of points in the box.

        Returns:
            The residual, a tensor of shape `n`.

        Raises:
            InputDataError: If ``x`` is not an `n x d` tensor of finite points in the box, or
                ``model`` does not return one value per point.
        """
        x = self.check_points("x", x).detach().requires_grad_(True)
        return self._residual(_model_values(model, x), x)

    def boundary_loss(self, model: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
        """Mean squared mismatch ``mean (u(x) - g(x))^2`` of the Dirichlet data at boundary points.

        Args:
            model: Maps an `n x d` tensor to `n` or `n x 1` values.
            x: An `n x d` tensor of points on the boundary (e.g. from :meth:`sample_boundary`).

        Returns:
            A scalar tensor.

        Raises:
            InputDataError: If ``x`` is not an `n x d` tensor of finite points in the box, or
                ``model`` does not return one value per point.
        """
        x = self.check_points("x", x)
        u = _model_values(model, x)
        return (u - self.boundary_values(x).to(u)).pow(2).mean()

    def sample_interior(
        self, n: int, *, generator: torch.Generator | None = None, dtype: torch.dtype = torch.float32
    ) -> Tensor:
        """``n`` points drawn uniformly from the box: an `n x d` tensor."""
        n = check_int("n", n, minimum=1)
        u = torch.rand(n, self.dim, generator=generator, dtype=torch.float64)
        return (self.lower + (self.upper - self.lower) * u).to(dtype)

    def sample_boundary(
        self, n: int, *, generator: torch.Generator | None = None, dtype: torch.dtype = torch.float32
    ) -> Tensor:
        """``n`` points drawn uniformly from the box's boundary (by surface measure): `n x d`.

        In 1-D the boundary is the two end points, each drawn with probability 1/2.
        """
        n = check_int("n", n, minimum=1)
        x = torch.rand(n, self.dim, generator=generator, dtype=torch.float64)
        side = self.upper - self.lower
        # a face orthogonal to axis k has measure prod(side) / side[k]; pick faces by that measure
        face_measure = torch.prod(side) / side
        axis = torch.multinomial(face_measure, n, replacement=True, generator=generator)
        upper = torch.rand(n, generator=generator, dtype=torch.float64) < 0.5
        x = self.lower + side * x
        rows = torch.arange(n)
        x[rows, axis] = torch.where(upper, self.upper[axis], self.lower[axis])
        return x.to(dtype)


def _model_values(model: Callable[[Tensor], Tensor], x: Tensor) -> Tensor:
    if not callable(model):
        raise InputDataError("model", "a callable mapping `n x d` points to `n` values", type(model).__name__)
    u = model(x)
    if not isinstance(u, Tensor) or u.shape not in ((x.shape[0],), (x.shape[0], 1)):
        shape = tuple(u.shape) if isinstance(u, Tensor) else type(u).__name__
        raise InputDataError("model", f"`{x.shape[0]}` or `{x.shape[0]} x 1` values from model(x)", shape)
    return u.reshape(-1)


def _shape(value: object) -> str:
    if isinstance(value, Tensor):
        return f"shape {tuple(value.shape)}, requires_grad={value.requires_grad}"
    return type(value).__name__


def laplacian(u: Tensor, x: Tensor) -> Tensor:
    """The Laplacian of values ``u`` (`n`, with an autograd graph to ``x``) in the points ``x`` (`n x d`).

    Each point's value depends on that point only (a pointwise model), so one backward pass per
    dimension gives every point's second derivative; ``create_graph`` keeps the result
    differentiable.

    Args:
        u: The values, a tensor of shape `n` computed from ``x``.
        x: The points, an `n x d` tensor that requires grad.

    Returns:
        The Laplacian at each point, a tensor of shape `n`.

    Raises:
        InputDataError: If ``x`` is not an `n x d` tensor that requires grad, or ``u`` is not one
            value per point.
    """
    if not isinstance(x, Tensor) or x.dim() != 2 or not x.requires_grad:
        raise InputDataError("x", "an `n x d` tensor that requires grad (u computed from it)", _shape(x))
    if not isinstance(u, Tensor) or u.shape != (x.shape[0],):
        raise InputDataError("u", f"`{x.shape[0]}` values computed from x", _shape(u))
    gradient = _gradient(u, x)
    total = torch.zeros_like(u)
    for k in range(x.shape[-1]):
        total = total + _gradient(gradient[:, k], x)[:, k]
    return total


def _gradient(y: Tensor, x: Tensor) -> Tensor:
    """d(sum y)/dx with the graph kept; zero where ``y`` does not depend on ``x`` (constant, linear)."""
    if not y.requires_grad:
        return torch.zeros_like(x)
    (grad,) = torch.autograd.grad(y.sum(), x, create_graph=True, allow_unused=True)
    return torch.zeros_like(x) if grad is None else grad


class Poisson1D(PDEProblem):
    r"""The 1-D Poisson problem :math:`-u'' = f` on an interval, with a manufactured solution.

    Two solutions: ``"sine"``, :math:`u = \sin(\omega\pi x)` (:math:`f = (\omega\pi)^2 u`;
    with :math:`\omega = 8` the 1-D test of the PIG paper, Kang et al., ICLR 2025), and
    ``"peak"``, a sharp bump :math:`u = \exp(-s (x - c)^2)` (:math:`f = (2s - 4s^2 (x - c)^2) u`),
    the 1-D analogue of the two-peak problem on which adaptive sampling pays off. Dirichlet
    data from the exact solution.

    Args:
        solution: ``"sine"`` or ``"peak"``.
        frequency: :math:`\omega` of the sine (> 0).
        sharpness: :math:`s` of the peak (> 0); its width is about :math:`1/\sqrt{s}`.
        center: :math:`c`, the peak's position, inside the interval.
        domain: The interval ``(a, b)``.
    """

    def __init__(
        self,
        solution: str = "sine",
        *,
        frequency: float = 8.0,
        sharpness: float = 1000.0,
        center: float = 0.0,
        domain: tuple[float, float] = (-1.0, 1.0),
    ) -> None:
        self.solution = check_name("solution", solution, ("sine", "peak"), meaning="a manufactured solution")
        interval = check_sequence("domain", domain, length=2, meaning="an interval (a, b)")
        super().__init__([interval[0]], [interval[1]])
        self.frequency = check_real("frequency", frequency, positive=True)
        self.sharpness = check_real("sharpness", sharpness, positive=True)
        self.center = check_interval("center", center, float(self.lower[0]), float(self.upper[0]))

    def exact(self, x: Tensor) -> Tensor:
        """:math:`u(x)` at `n x 1` points: `n` values."""
        t = x[:, 0]
        if self.solution == "sine":
            return torch.sin(self.frequency * math.pi * t)
        return torch.exp(-self.sharpness * (t - self.center) ** 2)

    def source(self, x: Tensor) -> Tensor:
        """:math:`f = -u''` at `n x 1` points: `n` values."""
        t = x[:, 0]
        if self.solution == "sine":
            return (self.frequency * math.pi) ** 2 * torch.sin(self.frequency * math.pi * t)
        s, r2 = self.sharpness, (t - self.center) ** 2
        return (2 * s - 4 * s**2 * r2) * torch.exp(-s * r2)

    def _residual(self, u: Tensor, x: Tensor) -> Tensor:
        return -laplacian(u, x) - self.source(x)


class Helmholtz2D(PDEProblem):
    r"""The 2-D Helmholtz problem :math:`-\Delta u - k^2 u = q` on :math:`[-1, 1]^2`, u = 0 on the boundary.

    The manufactured solution of the PIXEL and PIG papers (Kang et al., ICLR 2025, Sec. 4):
    :math:`u = \sin(a_1\pi x)\sin(a_2\pi y)`, so :math:`q = ((a_1^2 + a_2^2)\pi^2 - k^2)\,u`.
    (The papers write :math:`\Delta u + k^2 u = q`, the same equation with the opposite sign of
    :math:`q`.) With integer :math:`a_1, a_2` the solution vanishes on the boundary.

    Args:
        a1: Frequency in x (> 0; the papers use (1, 4) and (10, 10)).
        a2: Frequency in y (> 0).
        k: The wave number (>= 0; the papers use 1).
    """

    def __init__(self, a1: float = 1.0, a2: float = 4.0, *, k: float = 1.0) -> None:
        super().__init__([-1.0, -1.0], [1.0, 1.0])
        self.a1 = check_real("a1", a1, positive=True)
        self.a2 = check_real("a2", a2, positive=True)
        self.k = check_real("k", k, nonnegative=True)

    def exact(self, x: Tensor) -> Tensor:
        """:math:`u` at `n x 2` points: `n` values."""
        return torch.sin(self.a1 * math.pi * x[:, 0]) * torch.sin(self.a2 * math.pi * x[:, 1])

    def source(self, x: Tensor) -> Tensor:
        """:math:`q` at `n x 2` points: `n` values."""
        return ((self.a1**2 + self.a2**2) * math.pi**2 - self.k**2) * self.exact(x)

    def _residual(self, u: Tensor, x: Tensor) -> Tensor:
        return -laplacian(u, x) - self.k**2 * u - self.source(x)


class TwoPeaksPoisson2D(PDEProblem):
    r"""The two-peak Poisson problem :math:`-\Delta u = f` on :math:`[-1, 1]^2` of the DAS and AAS papers.

    :math:`u = e^{-s[(x - 1/2)^2 + (y - 1/2)^2]} + e^{-s[(x + 1/2)^2 + (y + 1/2)^2]}` with
    :math:`s = 1000` (Tang, Wan, Yang, JCP 2023, Sec. 5; Tang, Zhai, Wan, Yang, ICLR 2024,
    Sec. 5): two peaks of width about 0.03 that uniform collocation points rarely hit. For a
    Gaussian :math:`g = e^{-s|x - c|^2}` in 2-D, :math:`-\Delta g = (4s - 4s^2|x - c|^2)\,g`.
    Dirichlet data from the exact solution.

    Args:
        sharpness: :math:`s` (> 0).
    """

    centers = ((0.5, 0.5), (-0.5, -0.5))

    def __init__(self, sharpness: float = 1000.0) -> None:
        super().__init__([-1.0, -1.0], [1.0, 1.0])
        self.sharpness = check_real("sharpness", sharpness, positive=True)

    def _peaks(self, x: Tensor) -> list[tuple[Tensor, Tensor]]:
        out = []
        for cx, cy in self.centers:
            r2 = (x[:, 0] - cx) ** 2 + (x[:, 1] - cy) ** 2
            out.append((r2, torch.exp(-self.sharpness * r2)))
        return out

    def exact(self, x: Tensor) -> Tensor:
        """:math:`u` at `n x 2` points: `n` values."""
        return sum(g for _, g in self._peaks(x))

    def source(self, x: Tensor) -> Tensor:
        r""":math:`f = -\Delta u` at `n x 2` points: `n` values."""
        s = self.sharpness
        return sum((4 * s - 4 * s**2 * r2) * g for r2, g in self._peaks(x))

    def _residual(self, u: Tensor, x: Tensor) -> Tensor:
        return -laplacian(u, x) - self.source(x)


# --- linear systems --------------------------------------------------------------------------

# --- data-set generators ---------------------------------------------------------------------
