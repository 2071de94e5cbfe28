r"""Wide, then deep networks: dual activations, a stable deep NNGP/NTK recursion, limit classifiers.

Radhakrishnan, Belkin, Uhler, *Wide and deep neural networks achieve consistency for
classification* (PNAS 2023; arXiv 2204.14126); derivations in docs/derivations.md, §6. Inputs lie on the
unit sphere, networks have no biases, and an activation enters only through its normalised
dual :math:`\check\phi(\xi) = \mathbb E[\phi(u)\phi(v)]` (:math:`\mathrm{corr}(u,v) = \xi`,
:math:`\check\phi(1) = 1`). With :math:`\Sigma_0 = K_0 = \xi`:

.. math::
    \Sigma_{l+1} = \check\phi(\Sigma_l), \qquad K_{l+1} = \check\phi(\Sigma_l) + K_l\,\check\phi'(\Sigma_l).

As the depth grows, the interpolating kernel classifier becomes (docs/derivations.md, §6):
1-nearest neighbour if :math:`\check\phi'(0) = 0` (e.g. :math:`\xi^k`, :math:`k \ge 2`); majority
vote if :math:`\check\phi'(1) \le 1` (ReLU: :math:`K_L(\xi)/K_L(1) \to 1/4`); a singular kernel
:math:`\propto \varepsilon^{-\alpha}` near :math:`\xi = 1 - \varepsilon` if
:math:`0 < \check\phi'(0) < 1 < \check\phi'(1)`, with :math:`\alpha = \ln(1/\check\phi'(0))/\ln\check\phi'(1)`
for the NNGP and :math:`\alpha + 1` for the NTK.

Numerical traps (docs/derivations.md, §6), handled by :func:`deep_kernels`:

1. *Rescaling.* The NTK recursion is affine in :math:`K`, so dividing :math:`K` by its maximum
   inside the loop silently changes the kernel. Instead the exact diagonal
   :math:`D_{l+1} = 1 + D_l\check\phi'(1)` is tracked (through :math:`1/D_l`, which cannot
   overflow) and :math:`\tilde K = K/D` is iterated:
   :math:`\tilde K_{l+1} = \check\phi(\Sigma_l)/D_{l+1} + \tilde K_l\,\check\phi'(\Sigma_l)\,D_l/D_{l+1}`.
2. *Round-off near* :math:`\xi = 1`. Each layer multiplies :math:`\varepsilon = 1 - \Sigma` by
   about :math:`\check\phi'(1)`, so an absolute error of 1e-16 (e.g. a Gram diagonal from
   ``X @ X.T``) reaches O(1) after :math:`16/\log_{10}\check\phi'(1)` layers. Where
   :math:`\Sigma > 1/2` the recursion therefore runs on the complement,
   :math:`\varepsilon_{l+1} = 1 - \check\phi(1-\varepsilon_l)`, evaluated without cancellation
   (:meth:`DualActivation.complement`), and the diagonal stays exactly 1.

Example::

    import torch
    from probtheory.theory.wide_deep import deep_kernels, named_dual

    eps = torch.logspace(-6, -2, 9, dtype=torch.float64)
    k = deep_kernels(1 - eps, depth=60, dual=named_dual("3d_opt"), complement=eps)
    slope = torch.diff(k.nngp.log()) / torch.diff(eps.log())     # ~ -1.0 = -alpha
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from probtheory._checks import check_finite, check_int, check_interval, check_real
from probtheory.errors import InputDataError

__all__ = [
    "DeepKernels",
    "DualActivation",
    "deep_kernel_path",
    "deep_kernels",
    "gram_correlations",
    "interpolating_classifier",
    "majority_vote",
    "named_dual",
    "nearest_neighbour",
    "polynomial_dual",
    "singular_kernel_classifier",
    "singular_exponent",
    "unnormalised_relu_dual",
]

_DTYPE = torch.float64


@dataclass(frozen=True)
class DualActivation:
    r"""A normalised dual activation :math:`\check\phi` on :math:`[-1, 1]`.

    Attributes:
        name: Label.
        dual: :math:`\xi \mapsto \check\phi(\xi)`.
        derivative: :math:`\xi \mapsto \check\phi'(\xi)`.
        complement: :math:`\varepsilon \mapsto 1 - \check\phi(1 - \varepsilon)`, accurate to relative
            round-off for small :math:`\varepsilon` (for a normalised dual).
    """

    name: str
    dual: Callable[[Tensor], Tensor]
    derivative: Callable[[Tensor], Tensor]
    complement: Callable[[Tensor], Tensor]

    def slope_at(self, xi: float) -> float:
        r""":math:`\check\phi'(\xi)` at a scalar :math:`\xi \in [-1, 1]`."""
        xi = check_interval("xi", xi, -1.0, 1.0, meaning="a correlation")
        return float(self.derivative(torch.tensor(xi, dtype=_DTYPE)))

    @property
    def normalised(self) -> bool:
        r"""Whether :math:`\check\phi(1) = 1` (to 1e-12)."""
        return abs(float(self.dual(torch.tensor(1.0, dtype=_DTYPE))) - 1.0) <= 1e-12


def polynomial_dual(coefficients: Sequence[float], name: str = "") -> DualActivation:
    r"""The dual :math:`\check\phi(\xi) = \sum_k c_k \xi^k` of :math:`\phi = \sum_k \sqrt{c_k}\, h_k`.

    (:math:`h_k`: orthonormal Hermite polynomials.)

    Args:
        coefficients: :math:`c_0, c_1, \dots \ge 0` (squared Hermite coefficients).
        name: Label (default: the polynomial).

    Raises:
        InputDataError: for negative coefficients or an all-zero list.
    """
    if isinstance(coefficients, str | bytes) or not isinstance(coefficients, Sequence):
        raise InputDataError("coefficients", "a sequence of numbers >= 0 (c_0, c_1, ...)", repr(coefficients))
    if not isinstance(name, str):
        raise InputDataError("name", "a string label", type(name).__name__)
    coef = [check_real("coefficients", c, nonnegative=True) for c in coefficients]
    if not coef or sum(coef) == 0:
        raise InputDataError("coefficients", "non-negative numbers, not all zero", coefficients)
    powers = [(k, c) for k, c in enumerate(coef) if c > 0]

    def dual(xi: Tensor) -> Tensor:
        return sum(c * xi**k for k, c in powers)

    def derivative(xi: Tensor) -> Tensor:
        return sum(k * c * xi ** (k - 1) for k, c in powers if k > 0) + 0.0 * xi

    def complement(eps: Tensor) -> Tensor:
        # 1 - (1-eps)^k = -expm1(k log1p(-eps)): no cancellation for small eps; the constant
        # 1 - sum(c) is exact for normalised duals with dyadic coefficients and tiny otherwise.
        # For eps >= 1/2 there is no cancellation and the direct form is used (log1p needs eps < 1).
        total = 1.0 - sum(coef)
        small = eps < 0.5
        safe = torch.where(small, eps, 0.0)
        out = total + torch.zeros_like(eps)
        for k, c in powers:
            if k > 0:
                out = out + c * torch.where(
                    small, -torch.expm1(k * torch.log1p(-safe)), 1.0 - (1.0 - eps) ** k
                )
        return out

    label = name or " + ".join(f"{c:g} x^{k}" for k, c in powers)
    return DualActivation(label, dual, derivative, complement)


def _relu_dual(scale: float = 1.0) -> DualActivation:
    # (xi (pi - arccos xi) + sqrt(1 - xi^2)) / pi; scale != 1 is the un-normalised E[relu^2] = 1/2
    def dual(xi: Tensor) -> Tensor:
        xi = xi.clamp(-1.0, 1.0)
        return scale * (xi * (math.pi - torch.acos(xi)) + torch.sqrt((1 - xi) * (1 + xi))) / math.pi

    def derivative(xi: Tensor) -> Tensor:
        return scale * (math.pi - torch.acos(xi.clamp(-1.0, 1.0))) / math.pi

    def complement(eps: Tensor) -> Tensor:
        # arccos(1 - eps) = 2 arcsin(sqrt(eps/2)) and sqrt(1 - xi^2) = sqrt(eps (2 - eps)): exact
        # for small eps, where arccos(1 - eps) itself loses half the digits.
        eps = eps.clamp(0.0, 2.0)
        theta = 2.0 * torch.asin(torch.sqrt(0.5 * eps))
        inner = (eps * math.pi + (1.0 - eps) * theta - torch.sqrt(eps * (2.0 - eps))) / math.pi
        return 1.0 - scale * (1.0 - inner)

    return DualActivation("relu" if scale == 1.0 else f"relu (unnormalised x{scale:g})", dual, derivative,
                          complement)  # fmt: skip


def _erf_dual() -> DualActivation:
    norm = math.asin(2.0 / 3.0)

    def dual(xi: Tensor) -> Tensor:
        return torch.asin(2.0 * xi / 3.0) / norm

    def derivative(xi: Tensor) -> Tensor:
        return (2.0 / 3.0) / torch.sqrt(1.0 - (2.0 * xi / 3.0) ** 2) / norm

    def complement(eps: Tensor) -> Tensor:
        # asin(a) - asin(b) = asin(a sqrt(1-b^2) - b sqrt(1-a^2)) for a, b in [0, 1]
        a, b = 2.0 / 3.0, 2.0 * (1.0 - eps) / 3.0
        diff = a * torch.sqrt((1 - b) * (1 + b)) - b * math.sqrt(1 - a * a)
        return torch.where(b >= 0, torch.asin(diff.clamp(-1.0, 1.0)) / norm, 1.0 - dual(1.0 - eps))

    return DualActivation("erf", dual, derivative, complement)


def _sine_dual(a: float) -> DualActivation:
    # phi = sin(sqrt(a) z) normalised... dual sinh(a xi)/sinh(a) (the authors' "sine" family)
    s = math.sinh(a)

    def dual(xi: Tensor) -> Tensor:
        return torch.sinh(a * xi) / s

    def derivative(xi: Tensor) -> Tensor:
        return a * torch.cosh(a * xi) / s

    def complement(eps: Tensor) -> Tensor:
        # sinh(a) - sinh(a(1-eps)) = 2 cosh(a(1 - eps/2)) sinh(a eps/2)
        return 2.0 * torch.cosh(a * (1.0 - 0.5 * eps)) * torch.sinh(0.5 * a * eps) / s

    return DualActivation(f"sine:{a:g}", dual, derivative, complement)


_NAMED_POLYNOMIALS = {
    # the authors' designs (docs/derivations.md, §6): 'kd_opt' gives the Hilbert kernel for inputs in R^k
    "2d_opt": [0.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.5],
    "3d_opt": [0.0, 0.5, 0.0, 0.5],
    "5d_opt": [0.0, 0.25, 0.5, 0.25],
    "9d_opt": [0.0, 1 / 16, 7 / 8, 1 / 16],
}


#: ``sine:<a>``: a decimal number literal; ``hermite:<k>``: a decimal integer literal.
_SINE = re.compile(r"sine:((?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)")
_HERMITE = re.compile(r"hermite:(\d+)")
DUAL_GRAMMAR = (
    "one of 'relu', 'erf', 'sine:<a>' with a decimal a > 0 (e.g. 'sine:1.5'), 'hermite:<k>' with "
    f"an integer k >= 1 (e.g. 'hermite:3'), {', '.join(repr(k) for k in _NAMED_POLYNOMIALS)} "
    "(exact, lowercase, no spaces)"
)


def named_dual(name: str) -> DualActivation:
    r"""A dual activation by name.

    Names follow one grammar, matched exactly (lowercase, no spaces)::

        name := "relu" | "erf"
              | "sine:" a          (\sinh(a\xi)/\sinh a; a a decimal number literal > 0)
              | "hermite:" k       (\xi^k; k a decimal integer >= 1)
              | "2d_opt" | "3d_opt" | "5d_opt" | "9d_opt"   (the paper's singular-kernel designs)

    Raises:
        InputDataError: for any other string or a non-string (the message lists the forms).
    """
    if not isinstance(name, str):
        raise InputDataError("name", DUAL_GRAMMAR, f"{name!r} of type {type(name).__name__}")
    if name == "relu":
        return _relu_dual()
    if name == "erf":
        return _erf_dual()
    if name in _NAMED_POLYNOMIALS:
        return polynomial_dual(_NAMED_POLYNOMIALS[name], name=name)
    sine, hermite = _SINE.fullmatch(name), _HERMITE.fullmatch(name)
    if sine is not None and math.isfinite(a := float(sine.group(1))) and a > 0:
        return _sine_dual(a)
    if hermite is not None and int(hermite.group(1)) >= 1:
        k = int(hermite.group(1))
        return polynomial_dual([0.0] * k + [1.0], name=name)
    raise InputDataError("name", DUAL_GRAMMAR, repr(name))


def unnormalised_relu_dual() -> DualActivation:
    r"""The raw ReLU dual :math:`\mathbb E[\mathrm{relu}(u)\mathrm{relu}(v)]` (1/2 at 1): a trap, see I.4."""
    return _relu_dual(0.5)


@dataclass(frozen=True)
class DeepKernels:
    r"""Depth-L kernels as functions of the input correlation.

    Attributes:
        nngp: :math:`\Sigma_L(\xi)` (diagonal 1), same shape as the input.
        ntk: :math:`K_L(\xi)/K_L(1)`, the NTK normalised by its exact diagonal.
        ntk_diagonal: :math:`D_L = K_L(1)` (may be ``inf`` for very deep, expanding duals; the
            normalised values are unaffected).
    """

    nngp: Tensor
    ntk: Tensor
    ntk_diagonal: float


def deep_kernels(
    xi: Tensor, depth: int, dual: DualActivation, *, complement: Tensor | None = None
) -> DeepKernels:
    r"""Depth-`depth` NNGP and normalised NTK of a bias-free network on the sphere (stable recursion).

    Args:
        xi: A tensor (any shape) of input correlations in [-1, 1].
        depth: Number of layers :math:`L \ge 0`.
        dual: The normalised dual activation.
        complement: Optionally :math:`1 - \xi` given exactly (for :math:`\xi` within round-off of
            1, e.g. a logarithmic grid of :math:`\varepsilon` down to 1e-12).

    Returns:
        The kernels, same shape as `xi`.
    """
    steps = check_int("depth", depth, minimum=0)
    return deep_kernel_path(xi, [steps], dual, complement=complement)[steps]


def deep_kernel_path(
    xi: Tensor, depths: Sequence[int], dual: DualActivation, *, complement: Tensor | None = None
) -> dict[int, DeepKernels]:
    r"""The kernels of :func:`deep_kernels` at several depths, in one pass of the recursion.

    Args:
        xi: A tensor (any shape) of input correlations in [-1, 1].
        depths: Depths :math:`L \ge 0` to record.
        dual: The normalised dual activation.
        complement: Optionally :math:`1 - \xi` given exactly.

    Returns:
        A dict depth -> kernels.
    """
    if not isinstance(dual, DualActivation):
        raise InputDataError("dual", "a DualActivation (e.g. named_dual('relu'))", type(dual).__name__)
    check_finite("xi", xi)
    if (xi.abs() > 1.0 + 1e-12).any():
        raise InputDataError("xi", "correlations in [-1, 1]", f"values up to {float(xi.abs().max()):.6g}")
    wanted = sorted({check_int("depths", d, minimum=0) for d in depths})
    if not wanted:
        raise InputDataError("depths", "at least one depth", depths)
    if not dual.normalised:
        raise InputDataError("dual", "a normalised dual activation (dual(1) = 1)", dual.name)
    sigma = xi.to(_DTYPE).clamp(-1.0, 1.0)
    if complement is None:
        eps = 1.0 - sigma
    else:
        eps = check_finite("complement", complement).to(_DTYPE)
        if eps.shape != sigma.shape or (eps < 0).any() or (eps > 2).any():
            raise InputDataError(
                "complement", f"values 1 - xi in [0, 2] of shape {tuple(sigma.shape)}", tuple(eps.shape)
            )
        sigma = 1.0 - eps
    ntk = sigma.clone()
    inv_d = 1.0  # 1 / D_l
    slope_one = dual.slope_at(1.0)
    out: dict[int, DeepKernels] = {}
    for layer in range(wanted[-1] + 1):
        if layer in wanted:
            out[layer] = DeepKernels(sigma, ntk, math.inf if inv_d == 0 else 1.0 / inv_d)
        if layer == wanted[-1]:
            break
        upper = sigma > 0.5
        next_sigma = dual.dual(sigma)
        next_eps = torch.where(upper, dual.complement(torch.where(upper, eps, 0.0)), 1.0 - next_sigma)
        next_sigma = torch.where(upper, 1.0 - next_eps, next_sigma)
        # D_{l+1} = 1 + D_l phi'(1): 1/D_{l+1} = (1/D_l)/(1/D_l + phi'(1)), D_l/D_{l+1} = 1/(1/D_l + phi'(1))
        ratio = 1.0 / (inv_d + slope_one)
        inv_next = inv_d * ratio
        ntk = next_sigma * inv_next + ntk * dual.derivative(sigma) * ratio
        sigma, eps, inv_d = next_sigma, next_eps, inv_next
    return out


def singular_exponent(dual: DualActivation) -> float:
    r"""Predicted NNGP exponent :math:`\alpha = \ln(1/\check\phi'(0))/\ln\check\phi'(1)` (NTK: alpha + 1).

    Raises:
        InputDataError: unless :math:`0 < \check\phi'(0) < 1 < \check\phi'(1)` (the singular regime).
    """
    if not isinstance(dual, DualActivation):
        raise InputDataError("dual", "a DualActivation (e.g. named_dual('3d_opt'))", type(dual).__name__)
    p0, p1 = dual.slope_at(0.0), dual.slope_at(1.0)
    if not (0.0 < p0 < 1.0 < p1):
        raise InputDataError("dual", "0 < dual'(0) < 1 < dual'(1) (singular-kernel regime)",
                             f"dual'(0) = {p0:.4g}, dual'(1) = {p1:.4g}")  # fmt: skip
    return math.log(1.0 / p0) / math.log(p1)


def gram_correlations(x1: Tensor, x2: Tensor) -> tuple[Tensor, Tensor]:
    r"""Correlations :math:`\xi = x_1^\top x_2` of unit vectors and their exact complements :math:`1 - \xi`.

    The complement is computed as :math:`\|x_1 - x_2\|^2/2`, exact to relative round-off for
    nearby points (``1 - x1 @ x2.T`` is not), and identical points get exactly 0.

    Args:
        x1: An `n x d` tensor of unit vectors.
        x2: An `m x d` tensor of unit vectors.

    Returns:
        :math:`\xi` and :math:`1 - \xi`, two `n x m` tensors.
    """
    for name, x in (("x1", x1), ("x2", x2)):
        check_finite(name, x)
        if x.dim() != 2:
            raise InputDataError(name, "an `n x d` tensor", tuple(x.shape))
        if not torch.allclose(x.norm(dim=1), torch.ones(x.shape[0], dtype=x.dtype), atol=1e-10):
            raise InputDataError(name, "unit-norm rows (inputs on the sphere)", "rows of other norms")
    if x2.shape[1] != x1.shape[1]:
        raise InputDataError("x2", f"an `m x {x1.shape[1]}` tensor (the dimension of `x1`)", tuple(x2.shape))
    eps = 0.5 * torch.cdist(x1.to(_DTYPE), x2.to(_DTYPE)).square()
    return (1.0 - eps).clamp(-1.0, 1.0), eps.clamp(0.0, 2.0)


def interpolating_classifier(kernel_train: Tensor, kernel_test: Tensor, y: Tensor) -> Tensor:
    r"""Sign of the kernel interpolant :math:`f(x) = k_x^\top K^{-1} y` (least squares; 0 stays 0).

    Args:
        kernel_train: An `n x n` Gram matrix of the training inputs.
        kernel_test: An `m x n` matrix of test-train kernel values.
        y: An `n` tensor of labels in {-1, +1}.

    Returns:
        An `m` tensor of predicted signs (0 where the interpolant is exactly 0).
    """
    check_finite("kernel_train", kernel_train)
    check_finite("kernel_test", kernel_test)
    n = kernel_train.shape[0] if kernel_train.dim() == 2 else -1
    if kernel_train.dim() != 2 or kernel_train.shape[1] != n or n == 0:
        raise InputDataError(
            "kernel_train", "a square `n x n` Gram matrix (n >= 1)", tuple(kernel_train.shape)
        )
    if kernel_test.dim() != 2 or kernel_test.shape[1] != n:
        raise InputDataError("kernel_test", f"an `m x {n}` matrix", tuple(kernel_test.shape))
    _check_signs(y, n)
    kernel_test = kernel_test.to(kernel_train.dtype)
    coef = torch.linalg.lstsq(kernel_train, y.to(kernel_train.dtype)[:, None], driver="gelsd").solution
    return torch.sign(kernel_test @ coef)[:, 0]


def nearest_neighbour(eps_test: Tensor, y: Tensor) -> Tensor:
    r"""1-nearest-neighbour labels from `m x n` distances-like complements :math:`1 - \xi` (smallest wins)."""
    _check_complements(eps_test, y)
    return y[eps_test.argmin(dim=1)].to(_DTYPE)


def majority_vote(num_test: int, y: Tensor) -> Tensor:
    """The majority label of `y` for every one of `num_test` points (0 on a tie)."""
    num_test = check_int("num_test", num_test, minimum=0)
    _check_signs(y, None)
    return torch.sign(y.sum()).to(_DTYPE).expand(num_test)


def singular_kernel_classifier(eps_test: Tensor, y: Tensor, exponent: float) -> Tensor:
    r"""Sign of the singular-kernel vote :math:`\sum_i y_i \|x - x_i\|^{-\alpha}`.

    On the sphere :math:`\|x - x_i\|^2 = 2\varepsilon_i`; :math:`\alpha = d` (the data dimension)
    is Devroye's Hilbert kernel estimate. Evaluated in the log domain (the weights span
    hundreds of orders of magnitude).

    Args:
        eps_test: An `m x n` tensor of complements :math:`1 - \xi` (> 0).
        y: An `n` tensor of labels in {-1, +1}.
        exponent: :math:`\alpha > 0`.
    """
    alpha = check_real("exponent", exponent, positive=True)
    _check_complements(eps_test, y)
    logw = -0.5 * alpha * torch.log(2.0 * eps_test.clamp_min(1e-300))
    top = logw.max(dim=1, keepdim=True).values
    return torch.sign((torch.exp(logw - top) * y.to(_DTYPE)).sum(1))


def _check_signs(y: object, n: int | None) -> None:
    """Labels in {-1, +1}: an `n` tensor (any non-empty length when ``n`` is None)."""
    if not isinstance(y, Tensor) or y.dim() != 1 or (n is not None and y.shape[0] != n) or y.numel() == 0:
        got = f"shape {tuple(y.shape)}" if isinstance(y, Tensor) else type(y).__name__
        raise InputDataError(
            "y", f"a non-empty 1-d tensor of labels{'' if n is None else f' of length {n}'}", got
        )
    if not ((y == 1) | (y == -1)).all():
        raise InputDataError("y", "labels in {-1, +1}", f"values {torch.unique(y).tolist()[:6]}")


def _check_complements(eps_test: object, y: object) -> None:
    """An `m x n` tensor of complements 1 - xi in [0, 2] and `n` labels in {-1, +1}."""
    check_finite("eps_test", eps_test)
    if eps_test.dim() != 2 or eps_test.shape[1] == 0:
        raise InputDataError(
            "eps_test", "an `m x n` tensor of complements 1 - xi (n >= 1)", tuple(eps_test.shape)
        )
    if (eps_test < 0).any() or (eps_test > 2).any():
        raise InputDataError("eps_test", "complements 1 - xi in [0, 2]", "values outside")
    _check_signs(y, eps_test.shape[1])
