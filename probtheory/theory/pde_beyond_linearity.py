r"""Preconditioned gradient descent on a nonlinear variational PDE, and the Barron norm it tracks.

Marwah, Lipton, Lu & Risteski, *Neural Network Approximations of PDEs Beyond Linearity: A
Representational Perspective* (ICML 2023). The solution of a nonlinear elliptic variational PDE
minimises :math:`\mathcal E(u) = \int_\Omega L(\nabla u) - f u\,dx`. The paper's proof *simulates*
preconditioned gradient descent in function space,

.. math::
    u_{t+1} = u_t - \eta\,(-\Delta)^{-1} D\mathcal E(u_t), \qquad
    D\mathcal E(u) = -\operatorname{div}\big(\nabla_p L(\nabla u)\big) - f,

which converges exponentially fast (a number of steps linear in :math:`\log 1/\varepsilon`,
independent of the resolution), and bounds the Barron norm each step can add: if composing a
function of Barron norm :math:`b` with :math:`\partial L` gives Barron norm at most
:math:`B_L b^p`, then :math:`T` steps stay Barron and a network of matching size approximates
:math:`u^*`.

Here, on the 2-D torus :math:`[0, 2\pi)^2` with a spectral (FFT) discretisation on an ``N x N``
grid, :math:`L(p) = \tfrac12|p|^2 + \tfrac\gamma4|p|^4`, so
:math:`\nabla_p L(p) = p + \gamma|p|^2 p` (degree :math:`p = 3`). The forcing must have zero mean
(otherwise the periodic problem has no solution) and the iterates keep zero mean.

Barron norm (the choice we make, stated): for a function on the torus with Fourier series
:math:`u(x) = \sum_{k \in \mathbb Z^d} \hat u(k) e^{i k\cdot x}`,
:math:`\lVert u\rVert_{\mathcal B} = \sum_k (1 + \lVert k\rVert_2)\,|\hat u(k)|`, the spectral
Barron norm with weight :math:`1 + \lVert\omega\rVert_2` that Marwah et al. (2021, 2023) use; the
paper's own definition could not be checked against its text here, so this is our reading. For a
trigonometric polynomial sampled on a grid finer than its bandwidth it is exact.

One step's growth, for this :math:`L` (our derivation, in the paper's form :math:`B_L b^p`): with
:math:`b_t = \lVert u_t\rVert_{\mathcal B}` and the Wiener-algebra bound
:math:`\lVert gh\rVert_A \le \lVert g\rVert_A\lVert h\rVert_A`,

.. math::
    b_{t+1} \le |1 - \eta|\,b_t + 2\eta\gamma d^2\,b_t^3 + \eta\,\lVert(-\Delta)^{-1} f\rVert_{\mathcal B}

(:func:`barron_step_bound`): the preconditioner cancels the derivatives the flux adds, which is
what an unpreconditioned step cannot do (its Barron norm grows by :math:`\eta|k|^2`).

Example::

    import math
    import torch
    from probtheory.theory.pde_beyond_linearity import unrolled_preconditioned_gd

    n = 64
    x = torch.arange(n, dtype=torch.float64) * 2 * math.pi / n
    X, Y = torch.meshgrid(x, x, indexing="ij")
    f = torch.sin(X) * torch.cos(2 * Y) + 0.5 * torch.cos(X + Y)
    result = unrolled_preconditioned_gd(f, gamma=0.1, steps=60, tol=1e-10)
    print(result.iterations, result.residual_norms[-1].item())   # ~15 steps to 1e-10
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from probtheory._checks import check_bool, check_finite, check_int, check_real
from probtheory.errors import InputDataError

__all__ = [
    "PreconditionedGDResult",
    "barron_norm",
    "barron_step_bound",
    "unrolled_preconditioned_gd",
    "variational_energy",
]


@dataclass(frozen=True)
class PreconditionedGDResult:
    """The unrolled iteration's output.

    Attributes:
        solution: The last iterate, an `N x N` tensor (differentiable in a tensor ``step_size``).
        residual_norms: ``||(-Δ)^{-1} DE(u_t)|| / ||(-Δ)^{-1} f||`` (L2) for t = 0..iterations, a
            `(iterations + 1)`-dim tensor (detached).
        barron_norms: ``||u_t||_B`` for t = 0..iterations (detached), when recorded; else empty.
        iterations: Steps taken (fewer than ``steps`` when ``tol`` was reached).
        converged: Whether the last residual is at most ``tol`` (``False`` when no ``tol`` was given).
    """

    solution: Tensor
    residual_norms: Tensor
    barron_norms: Tensor
    iterations: int
    converged: bool


def _wavenumbers(n: int, dtype: torch.dtype, *, derivative: bool) -> Tensor:
    k = torch.fft.fftfreq(n, d=1.0 / n).to(dtype)
    if derivative and n % 2 == 0:
        k[n // 2] = 0.0  # the Nyquist mode has no odd derivative on the grid
    return k


def _check_grid(name: str, u: object, *, dims: int | None = 2) -> Tensor:
    if not isinstance(u, Tensor) or (dims is not None and u.dim() != dims) or u.dim() < 1:
        shape = getattr(u, "shape", type(u).__name__)
        expected = "an `N x N` tensor of grid values" if dims == 2 else "a grid tensor"
        raise InputDataError(name, expected, shape)
    check_finite(name, u)
    if len(set(u.shape)) != 1 or u.shape[0] < 4 or u.shape[0] % 2:
        raise InputDataError(name, "a square grid with an even side N >= 4", tuple(u.shape))
    return u


def barron_norm(u: Tensor) -> Tensor:
    r"""Spectral Barron norm :math:`\sum_k (1 + \lVert k\rVert_2)|\hat u(k)|` of grid values on the torus.

    Args:
        u: A `N x ... x N` tensor (one axis per dimension, side N even) of the values of a function
            on :math:`[0, 2\pi)^d` at the grid points :math:`2\pi j / N`.

    Returns:
        A scalar tensor. :math:`\hat u(k)` are the discrete Fourier coefficients (``fftn(u) / N^d``)
        with wavenumbers in :math:`[-N/2, N/2)`; for a trigonometric polynomial of bandwidth below
        N/2 they are its Fourier coefficients, and the value is exact.

    Raises:
        InputDataError: For non-finite values or a grid that is not a cube with an even side.
    """
    _check_grid("u", u, dims=None)
    n, d = u.shape[0], u.dim()
    coefficients = torch.fft.fftn(u) / n**d
    k = _wavenumbers(n, u.dtype, derivative=False)
    grids = torch.meshgrid(*([k] * d), indexing="ij")
    weight = 1.0 + torch.sqrt(sum(g**2 for g in grids))
    return (weight * coefficients.abs()).sum()


def barron_step_bound(
    barron: float, forcing_barron: float, *, gamma: float, step_size: float, d: int = 2
) -> float:
    r"""Bound on :math:`\lVert u_{t+1}\rVert_{\mathcal B}` after one preconditioned step.

    :math:`|1 - \eta| b + 2\eta\gamma d^2 b^3 + \eta\,\lVert(-\Delta)^{-1}f\rVert_{\mathcal B}`: the
    paper's per-step recursion :math:`B_L b^p` with :math:`p = 3`, :math:`B_L = 2\gamma d^2`, derived
    for :math:`L(p) = \tfrac12|p|^2 + \tfrac\gamma4|p|^4` (module docstring).

    Args:
        barron: :math:`b = \lVert u_t\rVert_{\mathcal B}` (>= 0).
        forcing_barron: :math:`\lVert(-\Delta)^{-1}f\rVert_{\mathcal B}` (>= 0).
        gamma: The quartic coefficient (>= 0).
        step_size: :math:`\eta` (> 0).
        d: The dimension (>= 1).

    Returns:
        The bound, a float.

    Raises:
        InputDataError: For a negative norm or coefficient, or ``step_size <= 0``.
    """
    b = check_real("barron", barron, nonnegative=True)
    bf = check_real("forcing_barron", forcing_barron, nonnegative=True)
    gamma = check_real("gamma", gamma, nonnegative=True)
    eta = check_real("step_size", step_size, positive=True)
    d = check_int("d", d, minimum=1)
    return abs(1 - eta) * b + 2 * eta * gamma * d * d * b**3 + eta * bf


class _Torus:
    """Spectral operators on the N x N torus (rfft layout)."""

    def __init__(self, n: int, dtype: torch.dtype) -> None:
        kx = _wavenumbers(n, dtype, derivative=False)
        ky = torch.fft.rfftfreq(n, d=1.0 / n).to(dtype)
        self.n = n
        self.k2 = kx[:, None] ** 2 + ky[None, :] ** 2
        self.inv_k2 = torch.where(self.k2 > 0, 1.0 / self.k2.clamp_min(1.0), torch.zeros_like(self.k2))
        self.dx = 1j * _wavenumbers(n, dtype, derivative=True)[:, None].expand_as(self.k2)
        dy = ky.clone()
        dy[-1] = 0.0  # Nyquist column
        self.dy = 1j * dy[None, :].expand_as(self.k2)
        # Parseval weights of the half spectrum: columns 0 and N/2 appear once, the others twice
        self.weight = torch.full_like(self.k2, 2.0)
        self.weight[:, 0] = 1.0
        self.weight[:, -1] = 1.0

    def norm(self, coefficients: Tensor) -> Tensor:
        return torch.sqrt((self.weight * coefficients.abs() ** 2).sum())

    def gradient(self, u_hat: Tensor) -> tuple[Tensor, Tensor]:
        s = (self.n, self.n)
        return torch.fft.irfft2(self.dx * u_hat, s=s), torch.fft.irfft2(self.dy * u_hat, s=s)

    def energy_gradient(self, u_hat: Tensor, f_hat: Tensor, gamma: float) -> Tensor:
        # Fourier coefficients of DE(u) = -Δu - div(γ|∇u|²∇u) - f
        out = self.k2 * u_hat - f_hat
        if gamma:
            ux, uy = self.gradient(u_hat)
            g = gamma * (ux**2 + uy**2)
            out = out - self.dx * torch.fft.rfft2(g * ux) - self.dy * torch.fft.rfft2(g * uy)
        return out


def _check_forcing(forcing: object) -> Tensor:
    f = _check_grid("forcing", forcing)
    if not f.is_floating_point():
        raise InputDataError("forcing", "a floating-point tensor", f.dtype)
    scale = f.abs().max().item()
    if abs(f.mean().item()) > 1e-10 * max(scale, 1e-300):
        raise InputDataError(
            "forcing", "zero mean on the torus (a periodic problem has no solution otherwise)",
            f"mean {f.mean().item():.3g}",
        )  # fmt: skip
    return f


def variational_energy(u: Tensor, forcing: Tensor, *, gamma: float) -> Tensor:
    r"""The energy :math:`(2\pi)^{-2}\int \tfrac12|\nabla u|^2 + \tfrac\gamma4|\nabla u|^4 - fu\,dx`.

    Args:
        u: An `N x N` tensor of grid values.
        forcing: An `N x N` tensor of the forcing's grid values (zero mean).
        gamma: The quartic coefficient (>= 0).

    Returns:
        A scalar tensor (spectral derivatives, grid quadrature: the average over the grid).

    Raises:
        InputDataError: For mismatched or non-finite grids, a forcing with nonzero mean, ``gamma < 0``.
    """
    f = _check_forcing(forcing)
    u = _check_grid("u", u)
    if u.shape != f.shape:
        raise InputDataError("u", f"the forcing's shape {tuple(f.shape)}", tuple(u.shape))
    gamma = check_real("gamma", gamma, nonnegative=True)
    ux, uy = _Torus(f.shape[0], f.dtype).gradient(torch.fft.rfft2(u))
    p2 = ux**2 + uy**2
    return (0.5 * p2 + 0.25 * gamma * p2**2 - f * u).mean()


def unrolled_preconditioned_gd(
    forcing: Tensor,
    *,
    gamma: float = 0.0,
    steps: int = 50,
    step_size: float | Tensor = 1.0,
    initial: Tensor | None = None,
    preconditioned: bool = True,
    tol: float | None = None,
    record_barron: bool = False,
) -> PreconditionedGDResult:
    r"""Unrolled (preconditioned) gradient descent on :math:`\mathcal E` on the 2-D torus.

    Marwah et al. (ICML 2023), §4: :math:`u_{t+1} = u_t - \eta_t (-\Delta)^{-1} D\mathcal E(u_t)` with
    :math:`L(p) = \tfrac12|p|^2 + \tfrac\gamma4|p|^4`, i.e. the PDE
    :math:`-\operatorname{div}((1 + \gamma|\nabla u|^2)\nabla u) = f`. With ``preconditioned=False``
    it is plain (L2) gradient descent :math:`u_{t+1} = u_t - \eta_t D\mathcal E(u_t)`, whose stable
    step shrinks like :math:`1/N^2`. Every operation is a torch op, so a tensor of per-step sizes
    can be learned through the unrolled iteration.

    Args:
        forcing: An `N x N` tensor of :math:`f` at the grid points :math:`2\pi(i, j)/N` (N even, zero mean).
        gamma: The quartic coefficient :math:`\gamma` (>= 0; 0 is the Poisson equation).
        steps: Maximum number of steps (>= 1).
        step_size: :math:`\eta` (> 0), or a `steps`-dim tensor of per-step sizes.
        initial: An `N x N` starting iterate (its mean is removed); zero by default.
        preconditioned: Apply :math:`(-\Delta)^{-1}` (the paper's iteration) or not (the baseline).
        tol: Stop once the relative preconditioned residual is at most ``tol`` (> 0); ``None`` runs
            all ``steps``.
        record_barron: Also record :math:`\lVert u_t\rVert_{\mathcal B}` at every step.

    Returns:
        A :class:`PreconditionedGDResult`.

    Raises:
        InputDataError: For a forcing that is not an even square grid, is non-finite or has nonzero
            mean, ``gamma < 0``, ``steps < 1``, a non-positive step size, a mismatched ``initial``
            or ``tol <= 0``.
    """
    f = _check_forcing(forcing)
    gamma = check_real("gamma", gamma, nonnegative=True)
    steps = check_int("steps", steps, minimum=1)
    preconditioned = check_bool("preconditioned", preconditioned)
    record_barron = check_bool("record_barron", record_barron)
    if isinstance(step_size, Tensor) and step_size.numel() > 1:
        if step_size.shape != (steps,):
            raise InputDataError("step_size", f"a number or a `{steps}`-dim tensor", tuple(step_size.shape))
        check_finite("step_size", step_size)
        if (step_size <= 0).any():
            raise InputDataError("step_size", "step sizes > 0", f"min {step_size.min().item():g}")
        etas = list(step_size)
    else:
        eta = step_size
        value = check_real("step_size", step_size, positive=True)  # a 1-element tensor is checked too
        eta = eta if isinstance(eta, Tensor) else value
        etas = [eta] * steps
    if tol is not None:
        tol = check_real("tol", tol, positive=True)
    n = f.shape[0]
    torus = _Torus(n, f.dtype)
    f_hat = torch.fft.rfft2(f)
    if initial is None:
        u_hat = torch.zeros_like(f_hat)
    else:
        initial = _check_grid("initial", initial)
        if initial.shape != f.shape:
            raise InputDataError("initial", f"the forcing's shape {tuple(f.shape)}", tuple(initial.shape))
        u_hat = torch.fft.rfft2(initial.to(f.dtype))
    u_hat = u_hat * (torus.k2 > 0)  # zero mean: the torus problem fixes u up to a constant
    reference = torus.norm(torus.inv_k2 * f_hat).item()
    reference = reference if reference > 0 else 1.0

    def residual(gradient_hat: Tensor) -> float:
        return torus.norm(torus.inv_k2 * gradient_hat.detach()).item() / reference

    def barron(current: Tensor) -> float:
        return barron_norm(torch.fft.irfft2(current.detach(), s=(n, n))).item()

    gradient_hat = torus.energy_gradient(u_hat, f_hat, gamma)
    residuals, barrons = [residual(gradient_hat)], [barron(u_hat)] if record_barron else []
    taken = 0
    for eta in etas:
        if tol is not None and residuals[-1] <= tol:
            break
        direction = torus.inv_k2 * gradient_hat if preconditioned else gradient_hat * (torus.k2 > 0)
        u_hat = u_hat - eta * direction
        taken += 1
        gradient_hat = torus.energy_gradient(u_hat, f_hat, gamma)
        residuals.append(residual(gradient_hat))
        if record_barron:
            barrons.append(barron(u_hat))
        if not math.isfinite(residuals[-1]):
            break
    return PreconditionedGDResult(
        solution=torch.fft.irfft2(u_hat, s=(n, n)),
        residual_norms=torch.tensor(residuals, dtype=f.dtype),
        barron_norms=torch.tensor(barrons, dtype=f.dtype),
        iterations=taken,
        converged=tol is not None and residuals[-1] <= tol,
    )
