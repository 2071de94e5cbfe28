"""PDE problems and the data sets the scientific-ML reproductions train on.

Three kinds of objects, one section each: PDE problems on a box (:class:`PDEProblem`: the
residual by autograd, the boundary loss, the exact solution where known), sparse linear
systems (discretised operators), and offline data-set generators (operator-learning pairs,
trajectories of ODE families).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse
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
    "ODE_SYSTEMS",
    "ODEFamilyData",
    "ODESystem",
    "ode_family_dataset",
    "Helmholtz2D",
    "PDEProblem",
    "Poisson1D",
    "TwoPeaksPoisson2D",
    "darcy_dataset",
    "laplacian",
    "poisson2d_matrix",
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


def poisson2d_matrix(n: int, coefficient: Tensor | np.ndarray | None = None) -> scipy.sparse.csr_matrix:
    r"""The cell-centred finite-volume matrix of :math:`-\nabla\cdot(k\nabla u)` on the unit square.

    :math:`n \times n` cells of width :math:`h = 1/n`, zero Dirichlet values on the boundary (a
    ghost cell mirrored with the opposite sign, so a boundary face is half a cell from the cell
    centre). The flux through the face between cells :math:`i, j` is
    :math:`k_{ij}(u_i - u_j)/h^2` with the harmonic mean :math:`k_{ij} = 2k_ik_j/(k_i + k_j)`,
    the flux through a boundary face :math:`2k_iu_i/h^2`. The matrix is symmetric positive
    definite; with :math:`k = 1` it is the 5-point Laplacian (boundary rows with 5 instead of 4
    on the diagonal). Unknowns are ordered row-major: cell ``(i, j)`` is unknown ``i * n + j``.

    Args:
        n: Cells per side, at least 2.
        coefficient: An `n x n` tensor or array of positive cell values :math:`k`; ``None``: 1.

    Returns:
        The `n^2 x n^2` matrix, float64 compressed sparse rows.

    Raises:
        InputDataError: If ``n`` is not an integer >= 2, or ``coefficient`` is not an `n x n`
            array of finite positive numbers.
    """
    n = check_int("n", n, minimum=2)
    if coefficient is None:
        k = np.ones((n, n))
    else:
        k = np.asarray(
            coefficient.detach().cpu().double() if isinstance(coefficient, Tensor) else coefficient,
            dtype=np.float64,
        )
        if k.shape != (n, n) or not np.all(np.isfinite(k)) or not np.all(k > 0):
            received = f"shape {k.shape}" if k.shape != (n, n) else f"minimum {np.nanmin(k):.3g} (or NaN/inf)"
            expected = f"an {n} x {n} array of finite positive cell values"
            raise InputDataError("coefficient", expected, received)
    index = np.arange(n * n).reshape(n, n)
    diagonal = np.zeros((n, n))
    rows, cols, vals = [], [], []
    for axis in (0, 1):  # interior faces between neighbours along each axis
        lo = (slice(None, -1), slice(None)) if axis == 0 else (slice(None), slice(None, -1))
        hi = (slice(1, None), slice(None)) if axis == 0 else (slice(None), slice(1, None))
        face = 2.0 * k[lo] * k[hi] / (k[lo] + k[hi])
        diagonal[lo] += face
        diagonal[hi] += face
        rows += [index[lo].ravel(), index[hi].ravel()]
        cols += [index[hi].ravel(), index[lo].ravel()]
        vals += [-face.ravel(), -face.ravel()]
    for edge in ((0, slice(None)), (-1, slice(None)), (slice(None), 0), (slice(None), -1)):
        diagonal[edge] += 2.0 * k[edge]  # boundary face: half a cell to the zero Dirichlet value
    rows.append(index.ravel())
    cols.append(index.ravel())
    vals.append(diagonal.ravel())
    matrix = scipy.sparse.coo_matrix(
        (np.concatenate(vals) * n * n, (np.concatenate(rows), np.concatenate(cols))), shape=(n * n, n * n)
    )
    return matrix.tocsr()


# --- data-set generators ---------------------------------------------------------------------


def darcy_dataset(
    n_samples: int,
    grid_size: int = 32,
    *,
    alpha: float = 2.0,
    tau: float = 3.0,
    values: tuple[float, float] = (12.0, 3.0),
    forcing: float = 1.0,
    seed: int = 0,
) -> tuple[Tensor, Tensor]:
    r"""Pairs (coefficient, solution) of 2-D Darcy flow, the operator-learning benchmark of FNO and MgNO.

    :math:`-\nabla\cdot(a\nabla u) = f` on the unit square, :math:`u = 0` on the boundary,
    :math:`f` constant (Li et al., *Fourier Neural Operator*, ICLR 2021, Sec. 5.2; He, Liu and
    Xu, ICLR 2024, Sec. 5). The coefficient is a thresholded Gaussian random field:
    :math:`g \sim N(0, (-\Delta + \tau^2)^{-\alpha})` with Neumann boundary conditions, drawn as a
    cosine series at the cell centres (coefficient of mode :math:`k` proportional to
    :math:`(\pi^2|k|^2 + \tau^2)^{-\alpha/2}`, the constant mode left out), and
    :math:`a = 12` where :math:`g \ge 0`, else 3. The solution is the cell-centred
    finite-volume solve with :func:`poisson2d_matrix` (harmonic face means) by scipy's sparse
    direct solver.

    Args:
        n_samples: Number of pairs, at least 1.
        grid_size: Cells per side, at least 2.
        alpha: Smoothness exponent of the field, positive.
        tau: Inverse length scale of the field, positive.
        values: The coefficient where :math:`g \ge 0` and where :math:`g < 0`, both positive.
        forcing: The constant right-hand side :math:`f`.
        seed: Seed of the field's NumPy generator.

    Returns:
        ``(a, u)``: two `n_samples x 1 x grid_size x grid_size` float64 tensors (one channel, so
        that they feed convolutional operators directly).

    Raises:
        InputDataError: If a count is not a positive integer or a parameter is out of range.
    """
    import scipy.fft
    import scipy.sparse.linalg

    n_samples = check_int("n_samples", n_samples, minimum=1)
    n = check_int("grid_size", grid_size, minimum=2)
    alpha = check_real("alpha", alpha, positive=True)
    tau = check_real("tau", tau, positive=True)
    forcing = check_real("forcing", forcing)
    if not (isinstance(values, Sequence) and len(values) == 2):
        raise InputDataError("values", "a pair (value where g >= 0, value where g < 0)", repr(values))
    high, low = (check_real("values", v, positive=True) for v in values)
    rng = np.random.default_rng(check_int("seed", seed, minimum=0))
    k1, k2 = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    spectrum = (math.pi**2 * (k1**2 + k2**2) + tau**2) ** (-alpha / 2)
    spectrum[0, 0] = 0.0
    coefficients, solutions = np.empty((n_samples, n, n)), np.empty((n_samples, n, n))
    rhs = np.full(n * n, forcing)
    for i in range(n_samples):
        # DCT-III: sum_k c_k cos(pi k (2 j + 1) / (2 n)), the cosine series at the cell centres
        field = scipy.fft.idctn(spectrum * rng.standard_normal((n, n)), type=2)
        coefficients[i] = np.where(field >= 0, high, low)
        solutions[i] = scipy.sparse.linalg.spsolve(poisson2d_matrix(n, coefficients[i]).tocsc(), rhs).reshape(
            n, n
        )
    return torch.from_numpy(coefficients)[:, None], torch.from_numpy(solutions)[:, None]


@dataclass(frozen=True)
class ODESystem:
    """A family of autonomous ODE systems ``du/dt = F(u; c)`` with named coefficients.

    Attributes:
        name: Registry name.
        rhs: The right-hand sides as sympy expressions in ``x0, x1, ...`` and the coefficient
            symbols (kept symbolic, so the equations' form does not depend on their values).
        coefficients: The nominal value of each coefficient symbol.
        initial: ``(low, high)`` of the uniform draw of each initial state component.
    """

    name: str
    rhs: tuple[Any, ...]
    coefficients: dict[str, float]
    initial: tuple[float, float]

    @property
    def dim(self) -> int:
        """The state dimension d."""
        return len(self.rhs)

    def equations(self, values: dict[str, float]) -> list[Any]:
        """The right-hand sides with the coefficients set to ``values`` (sympy)."""
        import sympy

        return [e.subs({sympy.Symbol(k): v for k, v in values.items()}) for e in self.rhs]

    def vector_field(self) -> Callable[..., Any]:
        """``f(u, *coefficient_values) -> du/dt`` as NumPy code (coefficients in dict order)."""
        import sympy

        variables = sympy.symbols(f"x0:{self.dim}")
        compiled = sympy.lambdify(
            [variables, *sympy.symbols(list(self.coefficients))], list(self.rhs), "numpy"
        )
        return lambda u, *c: np.asarray(compiled(u, *c), dtype=float)


def _ode_systems() -> dict[str, ODESystem]:
    import sympy

    x0, x1 = sympy.symbols("x0 x1")
    a, b, c, d = sympy.symbols("a b c d")
    return {
        "lotka-volterra": ODESystem(
            "lotka-volterra",
            (a * x0 - b * x0 * x1, d * x0 * x1 - c * x1),
            {"a": 1.5, "b": 1.0, "c": 3.0, "d": 1.0},
            (0.5, 2.0),
        ),
        "damped-oscillator": ODESystem(
            "damped-oscillator", (x1, -a * x0 - b * x1), {"a": 4.0, "b": 0.3}, (-1.5, 1.5)
        ),
        "van-der-pol": ODESystem("van-der-pol", (x1, a * x1 - a * x0**2 * x1 - x0), {"a": 1.0}, (-2.0, 2.0)),
    }  # fmt: skip


#: The ODE families of :func:`ode_family_dataset` (2-D systems: predator-prey, a damped linear
#: oscillator, Van der Pol), each with its nominal coefficients.
ODE_SYSTEMS: dict[str, ODESystem] = _ode_systems()


@dataclass(frozen=True)
class ODEFamilyData:
    """Trajectories of ODE families with their true equations (:func:`ode_family_dataset`).

    Attributes:
        t_obs: The `n` observation times.
        t_query: The `m` prediction times.
        u_obs: `N x n x d` states at the observation times.
        u_query: `N x m x d` states at the prediction times.
        system: `N` indices into ``systems``.
        systems: The families, in index order.
        coefficients: For each trajectory, the values of its family's coefficients.
    """

    t_obs: Tensor
    t_query: Tensor
    u_obs: Tensor
    u_query: Tensor
    system: Tensor
    systems: tuple[ODESystem, ...]
    coefficients: list[dict[str, float]]

    def equations(self, i: int) -> list[Any]:
        """Trajectory ``i``'s right-hand sides with its own coefficients (sympy)."""
        return self.systems[int(self.system[i])].equations(self.coefficients[i])


def ode_family_dataset(
    n_trajectories: int,
    systems: Sequence[str] = ("lotka-volterra", "damped-oscillator", "van-der-pol"),
    *,
    observe: tuple[float, float] = (0.0, 2.0),
    predict: tuple[float, float] = (2.0, 4.0),
    points: int = 32,
    coefficient_spread: float = 0.2,
    seed: int = 0,
) -> ODEFamilyData:
    """Trajectories of several ODE families with random coefficients and initial states.

    The data of PROSE's multi-operator learning (Liu, Zhang and Schaeffer, 2024, Sec. 4): each
    trajectory picks a family uniformly, multiplies every nominal coefficient by a factor drawn
    uniformly from ``[1 - spread, 1 + spread]``, draws its initial state uniformly from the
    family's box, and is solved by scipy's ``solve_ivp`` (RK45, rtol 1e-8) on both time grids.

    Args:
        n_trajectories: Number of trajectories, at least 1.
        systems: Names from :data:`ODE_SYSTEMS` (all of the same dimension).
        observe: The observation window; ``points`` equispaced times in it.
        predict: The prediction window (after ``observe``); ``points`` equispaced times in it.
        points: Times per window, at least 2.
        coefficient_spread: Relative spread of the coefficients, in [0, 1).
        seed: Seed of the draws.

    Returns:
        An :class:`ODEFamilyData` with float32 states.
    """
    from scipy.integrate import solve_ivp

    n_trajectories = check_int("n_trajectories", n_trajectories, minimum=1)
    names = check_sequence("systems", systems, nonempty=True, meaning="a list of ODE family names")
    chosen = tuple(
        ODE_SYSTEMS[check_name("systems", name, ODE_SYSTEMS, meaning="an ODE family")] for name in names
    )
    if len({s.dim for s in chosen}) != 1:
        raise InputDataError("systems", "families of one dimension", [f"{s.name}: {s.dim}" for s in chosen])
    points = check_int("points", points, minimum=2)
    spread = check_real("coefficient_spread", coefficient_spread, nonnegative=True)
    if spread >= 1:
        raise InputDataError("coefficient_spread", "a relative spread in [0, 1)", spread)
    t0, t1 = (check_real("observe", v) for v in observe)
    t2, t3 = (check_real("predict", v) for v in predict)
    if not t0 < t1 <= t2 < t3:
        raise InputDataError("predict", f"a window after observe = ({t0:g}, {t1:g})", (t2, t3))
    rng = np.random.default_rng(check_int("seed", seed, minimum=0))
    t_obs, t_query = np.linspace(t0, t1, points), np.linspace(t2, t3, points)
    fields = [family.vector_field() for family in chosen]
    dim = chosen[0].dim
    u_obs = np.empty((n_trajectories, points, dim))
    u_query = np.empty((n_trajectories, points, dim))
    labels, coefficients = np.empty(n_trajectories, dtype=np.int64), []
    for i in range(n_trajectories):
        k = int(rng.integers(len(chosen)))
        family = chosen[k]
        values = {name: v * rng.uniform(1 - spread, 1 + spread) for name, v in family.coefficients.items()}
        start = rng.uniform(*family.initial, size=dim)
        constants = tuple(values.values())
        solution = solve_ivp(
            lambda _t, u, f=fields[k], c=constants: f(u, *c),
            (t0, t3),
            start,
            dense_output=True,
            rtol=1e-8,
            atol=1e-10,
        )
        u_obs[i], u_query[i] = solution.sol(t_obs).T, solution.sol(t_query).T
        labels[i] = k
        coefficients.append(values)
    return ODEFamilyData(
        t_obs=torch.as_tensor(t_obs, dtype=torch.float32),
        t_query=torch.as_tensor(t_query, dtype=torch.float32),
        u_obs=torch.as_tensor(u_obs, dtype=torch.float32),
        u_query=torch.as_tensor(u_query, dtype=torch.float32),
        system=torch.as_tensor(labels),
        systems=chosen,
        coefficients=coefficients,
    )
