r"""Gaussian expectations of activations: the layer maps of the NNGP and NTK recursions.

For a bivariate normal :math:`(u, v) \sim \mathcal N(0, \Lambda)` with
:math:`\Lambda = [[q_1, \Sigma_{12}], [\Sigma_{12}, q_2]]`, each activation provides

.. math::
    T(\Lambda) = \mathbb E[\phi(u)\phi(v)], \qquad \dot T(\Lambda) = \mathbb E[\phi'(u)\phi'(v)],

the two maps that the infinite-width recursions (Jacot et al. 2018, Lee et al. 2018) apply
once per hidden layer. Closed forms:

* ReLU and the two-slope family :math:`a\min(z,0)+b\max(z,0)` (leaky ReLU, abs): the
  arc-cosine kernels of Cho & Saul (2009), in the form of neural-tangents' ``ABRelu``.
* erf: Williams (1997),
  :math:`T = \tfrac{2}{\pi}\arcsin\frac{2\Sigma_{12}}{\sqrt{(1+2q_1)(1+2q_2)}}`,
  :math:`\dot T = \tfrac{4}{\pi}\big((1+2q_1)(1+2q_2)-4\Sigma_{12}^2\big)^{-1/2}`.

Any other elementwise torch function falls back to Gauss-Hermite quadrature
(:class:`QuadratureActivation`); its derivative is taken by forward-mode autodiff.

Numerical traps handled here: the correlation :math:`\rho` is snapped to :math:`\pm 1` within
a few ulps (identical inputs give :math:`\rho = 1` exactly, so diagonal identities hold to
round-off), and :math:`\arccos` / :math:`\sqrt{1-\rho^2}` have gradients masked at
:math:`|\rho| = 1`, where their infinite parts cancel analytically.
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from probtheory._checks import check_elementwise, check_int, check_real
from probtheory.errors import InputDataError

__all__ = [
    "Activation",
    "SlopeReLUActivation",
    "ErfActivation",
    "QuadratureActivation",
    "resolve_activation",
]

_TWO_PI = 2.0 * math.pi


class _SafeArccos(torch.autograd.Function):
    """``arccos`` on [-1, 1] whose gradient is 0 (not -inf) at |rho| = 1."""

    @staticmethod
    def forward(ctx, rho: Tensor) -> Tensor:  # noqa: D102
        ctx.save_for_backward(rho)
        return torch.acos(rho)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # noqa: D102
        (rho,) = ctx.saved_tensors
        one_minus = (1.0 - rho) * (1.0 + rho)
        inside = one_minus > 0
        return torch.where(inside, -grad / torch.sqrt(torch.where(inside, one_minus, 1.0)), 0.0)


class _SafeSine(torch.autograd.Function):
    """``sqrt(1 - rho^2)`` (the sine of arccos rho) whose gradient is 0 at |rho| = 1."""

    @staticmethod
    def forward(ctx, rho: Tensor) -> Tensor:  # noqa: D102
        out = torch.sqrt((1.0 - rho) * (1.0 + rho))
        ctx.save_for_backward(rho, out)
        return out

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # noqa: D102
        rho, out = ctx.saved_tensors
        inside = out > 0
        return torch.where(inside, -grad * rho / torch.where(inside, out, 1.0), 0.0)


def correlation(sigma12: Tensor, q1: Tensor, q2: Tensor) -> Tensor:
    r"""Correlation :math:`\Sigma_{12}/\sqrt{q_1 q_2}`, clamped to [-1, 1] and snapped to ±1.

    Values within 4 ulps of ±1 are indistinguishable from ±1 given the round-off of the
    inputs; they are snapped to ±1 (by a relative stretch of 4 ulps before clamping, which
    moves every other value by less than its own round-off), so identical inputs are
    exactly parallel and diagonal identities hold to round-off.
    """
    stretch = 1.0 + 4.0 * torch.finfo(sigma12.dtype).eps
    rho = sigma12 * (stretch * _inverse_std(q1)) * _inverse_std(q2)
    return rho.clamp(-1.0, 1.0)


def _inverse_std(q: Tensor) -> Tensor:
    # A zero variance (the input 0 in a bias-free network) has covariance 0 with everything:
    # its correlation is set to 0, with a zero (not 0 * inf = NaN) gradient. The inner `where`
    # keeps the untaken branch finite, which autograd needs.
    positive = q > 0
    return torch.where(positive, torch.rsqrt(torch.where(positive, q, 1.0)), 0.0)


def _std(q: Tensor) -> Tensor:
    # sqrt(q) with a zero gradient at q = 0 (see _inverse_std)
    positive = q > 0
    return torch.where(positive, torch.sqrt(torch.where(positive, q, 1.0)), 0.0)


class Activation(ABC):
    """An elementwise activation, seen through its Gaussian expectations."""

    name: str
    #: relative cost of one pair evaluation (used to size the blocks of a Gram matrix)
    cost: int = 1

    @abstractmethod
    def pair(self, sigma12: Tensor, q1: Tensor, q2: Tensor) -> tuple[Tensor, Tensor]:
        r"""Return :math:`(\mathbb E[\phi(u)\phi(v)], \mathbb E[\phi'(u)\phi'(v)])`.

        Args:
            sigma12: A `... x n x m` tensor of covariances :math:`\Sigma_{12}`.
            q1: A `... x n x 1` tensor of variances of `u`.
            q2: A `... x 1 x m` tensor of variances of `v`.
        """

    @abstractmethod
    def diag(self, q: Tensor) -> tuple[Tensor, Tensor]:
        r"""Return :math:`(\mathbb E[\phi(u)^2], \mathbb E[\phi'(u)^2])`, :math:`u \sim N(0, q)`."""

    @abstractmethod
    def __call__(self, z: Tensor) -> Tensor:
        """Evaluate the activation itself (used by finite networks)."""

    def layer_(
        self,
        sigma: Tensor,
        theta: Tensor | None,
        q1: Tensor,
        q2: Tensor,
        weight_variance: Tensor,
        bias_variance: Tensor,
    ) -> None:
        r"""One layer of the recursion, in place and without autograd (the prediction path).

        Sets :math:`\Sigma \leftarrow \sigma_w^2 T + \sigma_b^2` and
        :math:`\Theta \leftarrow \Sigma + \sigma_w^2 \dot T \Theta`. Subclasses may fuse the
        steps to touch each element fewer times; the result must equal :meth:`pair`'s.

        Args:
            sigma: A `... x n x m` block of :math:`\Sigma^l`, overwritten by :math:`\Sigma^{l+1}`.
            theta: The matching block of :math:`\Theta^l` (overwritten), or None for NNGP only.
            q1: A `... x n x 1` tensor of variances of the rows.
            q2: A `... x 1 x m` tensor of variances of the columns.
            weight_variance: :math:`\sigma_w^2`, broadcastable to the block.
            bias_variance: :math:`\sigma_b^2`, broadcastable to the block.
        """
        mean, mean_d = self.pair(sigma, q1, q2)
        torch.addcmul(bias_variance, weight_variance, mean, out=sigma)
        if theta is not None:
            theta.mul_(weight_variance * mean_d).add_(sigma)

    def nngp_layer(
        self, sigma: Tensor, q1: Tensor, q2: Tensor, weight_variance: Tensor, bias_variance: Tensor
    ) -> Tensor:
        r"""One NNGP layer :math:`\sigma_w^2 T + \sigma_b^2` with autograd (the fitting path).

        Subclasses may replace the elementwise graph by one node with an analytic backward;
        the result must equal :meth:`pair`'s. Shapes as in :meth:`layer_`.
        """
        mean, _ = self.pair(sigma, q1, q2)
        return torch.addcmul(bias_variance, weight_variance, mean)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class SlopeReLUActivation(Activation):
    r"""The two-slope family :math:`\phi(z) = a\min(z, 0) + b\max(z, 0)` in closed form.

    ``a=0, b=1`` is ReLU, ``0<a<1, b=1`` leaky ReLU, ``a=-1, b=1`` the absolute value.
    With :math:`\theta = \arccos\rho` (Cho & Saul 2009; neural-tangents ``ABRelu``):
    :math:`\dot T = \tfrac12(a^2+b^2) - \tfrac{(a-b)^2\theta}{2\pi}` and
    :math:`T = \sqrt{q_1q_2}\,\big[\tfrac{(a-b)^2}{2\pi}\sin\theta + \dot T\rho\big]`.
    """

    def __init__(self, negative_slope: float = 0.0, positive_slope: float = 1.0, name: str = ""):
        self.a = check_real("negative_slope", negative_slope)
        self.b = check_real("positive_slope", positive_slope)
        self.name = name or f"slope_relu({self.a:g},{self.b:g})"

    def pair(self, sigma12: Tensor, q1: Tensor, q2: Tensor) -> tuple[Tensor, Tensor]:  # noqa: D102
        # T = gap * sqrt(q1 q2) sin(theta) + dot * sigma12, with dot * rho * sqrt(q1 q2) written
        # as dot * sigma12: fewer passes over the block (this is the hot loop of every Gram).
        theta = _SafeArccos.apply(correlation(sigma12, q1, q2))
        gap = (self.a - self.b) ** 2 / _TWO_PI
        dot = theta.mul(-gap).add_(0.5 * (self.a**2 + self.b**2))
        scaled_sine = torch.sin(theta) * (gap * _std(q1))
        return torch.addcmul(dot * sigma12, scaled_sine, _std(q2)), dot

    def layer_(  # noqa: D102 - fused form of `pair`, see the base class
        self,
        sigma: Tensor,
        theta: Tensor | None,
        q1: Tensor,
        q2: Tensor,
        weight_variance: Tensor,
        bias_variance: Tensor,
    ) -> None:
        stretch = 1.0 + 4.0 * torch.finfo(sigma.dtype).eps
        angle = sigma * (stretch * _inverse_std(q1))
        angle.mul_(_inverse_std(q2)).clamp_(-1.0, 1.0)
        # sine = sqrt(1 - rho^2), from rho before it is overwritten by its arccos
        sine = torch.addcmul(torch.ones((), dtype=sigma.dtype), angle, angle, value=-1.0)
        sine.sqrt_().mul_(weight_variance * (self.a - self.b) ** 2 / _TWO_PI * _std(q1))
        sine.mul_(_std(q2))
        torch.acos(angle, out=angle)
        # angle <- sigma_w^2 * dot = sigma_w^2 * (half_sum - gap * theta)
        gap = (self.a - self.b) ** 2 / _TWO_PI
        angle.mul_(-gap).add_(0.5 * (self.a**2 + self.b**2)).mul_(weight_variance)
        sigma.mul_(angle).add_(sine).add_(bias_variance)
        if theta is not None:
            theta.mul_(angle).add_(sigma)

    def nngp_layer(  # noqa: D102 - one autograd node, see the base class and _SlopeReLUNNGPLayer
        self, sigma: Tensor, q1: Tensor, q2: Tensor, weight_variance: Tensor, bias_variance: Tensor
    ) -> Tensor:
        if not ((q1 > 0).all() and (q2 > 0).all()):  # zero variances: the masked generic graph
            return super().nngp_layer(sigma, q1, q2, weight_variance, bias_variance)
        return _SlopeReLUNNGPLayer.apply(sigma, q1, q2, weight_variance, bias_variance, self.a, self.b)

    def diag(self, q: Tensor) -> tuple[Tensor, Tensor]:  # noqa: D102
        half_sum = 0.5 * (self.a**2 + self.b**2)
        return half_sum * q, torch.full_like(q, half_sum)

    def __call__(self, z: Tensor) -> Tensor:
        """Evaluate the activation itself."""
        return self.a * torch.clamp(z, max=0.0) + self.b * torch.clamp(z, min=0.0)


class _SlopeReLUNNGPLayer(torch.autograd.Function):
    r""":math:`\sigma_w^2 T + \sigma_b^2` for the two-slope family as one node with an analytic backward.

    With :math:`T = \sqrt{q_1q_2}\,J(\rho)`, :math:`J(\rho) = g\sin\theta + \dot T\rho`,
    :math:`g = (a-b)^2/2\pi` and :math:`J'(\rho) = \dot T`, the chain rule through
    :math:`\rho = \Sigma_{12}/\sqrt{q_1q_2}` collapses to

    .. math::
        \partial T/\partial\Sigma_{12} = \dot T, \qquad
        \partial T/\partial q_i = \sqrt{q_1q_2}\,(J - \rho J')/(2q_i)
            = g\sqrt{q_1q_2}\sin\theta/(2q_i),

    finite everywhere (also at :math:`|\rho| = 1`, where the generic graph must mask the
    infinite derivatives of arccos and the sine). Fitting an NNGP kernel's variances spends
    most of its time in many small elementwise autograd nodes; one node per layer halves it.
    Requires positive variances q.
    """

    @staticmethod
    def forward(ctx, sigma, q1, q2, weight_variance, bias_variance, a, b):  # noqa: D102
        gap = (a - b) ** 2 / _TWO_PI
        std_product = torch.sqrt(q1) * torch.sqrt(q2)  # `... x n x m`
        stretch = 1.0 + 4.0 * torch.finfo(sigma.dtype).eps
        rho = (sigma * stretch / std_product).clamp(-1.0, 1.0)
        dot = torch.acos(rho).mul_(-gap).add_(0.5 * (a * a + b * b))
        sine_term = (
            torch.sqrt((1.0 - rho) * (1.0 + rho)).mul_(std_product).mul_(gap)
        )  # g sin(theta) sqrt(q1 q2)
        mean = torch.addcmul(sine_term, dot, sigma)
        ctx.save_for_backward(q1, q2, weight_variance, bias_variance, dot, sine_term, mean)
        return torch.addcmul(bias_variance, weight_variance, mean)

    @staticmethod
    def backward(ctx, grad):  # noqa: D102
        q1, q2, weight_variance, bias_variance, dot, sine_term, mean = ctx.saved_tensors
        weighted = grad * weight_variance
        grad_sigma = weighted * dot
        half = weighted * sine_term * 0.5
        grad_q1 = (half / q1).sum_to_size(q1.shape)
        grad_q2 = (half / q2).sum_to_size(q2.shape)
        grad_w = (grad * mean).sum_to_size(weight_variance.shape)
        grad_b = grad.sum_to_size(bias_variance.shape)
        return grad_sigma, grad_q1, grad_q2, grad_w, grad_b, None, None


class ErfActivation(Activation):
    """The error function, in the closed form of Williams (1997)."""

    name = "erf"

    def pair(self, sigma12: Tensor, q1: Tensor, q2: Tensor) -> tuple[Tensor, Tensor]:  # noqa: D102
        a1 = 1.0 + 2.0 * q1
        a2 = 1.0 + 2.0 * q2
        nngp = (2.0 / math.pi) * torch.asin(2.0 * sigma12 * torch.rsqrt(a1) * torch.rsqrt(a2))
        # (1+2q1)(1+2q2) - 4 s12^2 = 1 + 2q1 + 2q2 + 4 q1 q2 (1 - rho^2) >= 1: no cancellation.
        rho = correlation(sigma12, q1, q2)
        det = a1 + 2.0 * q2 + 4.0 * q1 * q2 * ((1.0 - rho) * (1.0 + rho))
        return nngp, (4.0 / math.pi) * torch.rsqrt(det)

    def diag(self, q: Tensor) -> tuple[Tensor, Tensor]:  # noqa: D102
        return (2.0 / math.pi) * torch.asin(2.0 * q / (1.0 + 2.0 * q)), (4.0 / math.pi) * torch.rsqrt(
            1.0 + 4.0 * q
        )

    def __call__(self, z: Tensor) -> Tensor:
        """Evaluate the activation itself."""
        return torch.erf(z)


class QuadratureActivation(Activation):
    r"""Any elementwise torch function, by Gauss-Hermite quadrature.

    With probabilists' Hermite nodes :math:`z_a` and weights :math:`w_a` (summing to 1),
    :math:`u = \sqrt{q_1} z_a` and :math:`v = \sqrt{q_2}(\rho z_a + \sqrt{1-\rho^2} z_b)`,
    :math:`\mathbb E[\phi(u)\phi(v)] \approx \sum_{a,b} w_a w_b \phi(u_a)\phi(v_{ab})`. Exact for
    polynomials of degree < 2·degree; analytic activations converge exponentially in the
    degree, at a rate set by how close the activation's complex singularities come to the
    real axis in units of the pre-activation's standard deviation. For tanh at the default
    degree 64 the NTK map is accurate to ~1e-9 at variance 1 but only ~1e-5 at variance 4:
    raise ``degree`` (at most 250) for large variances. The cost is degree² activation
    evaluations per pair and layer. Quadrature
    assumes the activation varies on the scale of the pre-activation's standard deviation: a
    derivative that is a bump much narrower than it (erf' at variance >> 1) is under-resolved,
    which is why closed forms are used wherever they exist.
    :math:`\phi'` is evaluated by forward-mode autodiff, so the activation must be built from
    differentiable torch operations.
    """

    def __init__(self, fn: Callable[[Tensor], Tensor], degree: int = 64, name: str = ""):
        self.fn = check_elementwise("activation", fn)
        self.degree = check_int("degree", degree, minimum=2)
        if self.degree > 250:  # numpy's Hermite weights overflow beyond ~250 nodes
            raise InputDataError("degree", "an integer <= 250", degree)
        self.name = name or getattr(fn, "__name__", type(fn).__name__)
        self.cost = self.degree**2
        nodes, weights = np.polynomial.hermite_e.hermegauss(self.degree)
        self._nodes = torch.as_tensor(nodes)
        self._weights = torch.as_tensor(weights / weights.sum())

    def _derivative(self, z: Tensor) -> Tensor:
        return torch.func.jvp(self.fn, (z,), (torch.ones_like(z),))[1]

    def _rule(self, like: Tensor) -> tuple[Tensor, Tensor]:
        return self._nodes.to(like), self._weights.to(like)

    def pair(self, sigma12: Tensor, q1: Tensor, q2: Tensor) -> tuple[Tensor, Tensor]:  # noqa: D102
        z, w = self._rule(sigma12)
        rho = correlation(sigma12, q1, q2)[..., None, None]
        sine = _SafeSine.apply(rho)
        u = _std(q1)[..., None, None] * z[:, None]  # ... x n x 1 x Q x 1
        v = _std(q2)[..., None, None] * (rho * z[:, None] + sine * z)  # ... x n x m x Q x Q
        ww = w[:, None] * w
        nngp = (ww * self.fn(u) * self.fn(v)).sum((-2, -1))
        ntk = (ww * self._derivative(u) * self._derivative(v)).sum((-2, -1))
        return nngp, ntk

    def diag(self, q: Tensor) -> tuple[Tensor, Tensor]:  # noqa: D102
        z, w = self._rule(q)
        u = _std(q)[..., None] * z
        return (w * self.fn(u) ** 2).sum(-1), (w * self._derivative(u) ** 2).sum(-1)

    def __call__(self, z: Tensor) -> Tensor:
        """Evaluate the activation itself."""
        return self.fn(z)


_NAMED: dict[str, Callable[[], Activation]] = {
    "relu": lambda: SlopeReLUActivation(0.0, 1.0, name="relu"),
    "abs": lambda: SlopeReLUActivation(-1.0, 1.0, name="abs"),
    "erf": ErfActivation,
    "tanh": lambda: QuadratureActivation(torch.tanh, name="tanh"),
    "gelu": lambda: QuadratureActivation(F.gelu, name="gelu"),
    "sigmoid": lambda: QuadratureActivation(torch.sigmoid, name="sigmoid"),
}
# torch callables that have a closed form here are mapped to it instead of quadrature.
_CLOSED_FORM_CALLABLES: dict[object, str] = {
    torch.relu: "relu",
    F.relu: "relu",
    torch.erf: "erf",
    torch.special.erf: "erf",
    torch.abs: "abs",
}


#: ``leaky_relu:<slope>``: the slope is a decimal number literal (no ``nan``/``inf``, no spaces).
_LEAKY_RELU = re.compile(r"leaky_relu:([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)")
ACTIVATION_GRAMMAR = (
    "one of 'relu', 'abs', 'erf', 'tanh', 'gelu', 'sigmoid' or 'leaky_relu:<slope>' with a finite "
    "decimal slope such as 'leaky_relu:0.2' (exact, lowercase, no spaces), an Activation, or an "
    "elementwise torch callable"
)


def resolve_activation(activation: str | Activation | Callable[[Tensor], Tensor]) -> Activation:
    """Turn a name, an :class:`Activation` or an elementwise callable into an :class:`Activation`.

    Strings follow one grammar, matched exactly (lowercase, no surrounding or inner spaces)::

        activation := "relu" | "abs" | "erf"              (closed forms)
                    | "leaky_relu:" slope                 (closed form, any finite slope)
                    | "tanh" | "gelu" | "sigmoid"         (Gauss-Hermite quadrature)
        slope      := a decimal number literal: [+-] digits [. digits] [e [+-] digits]

    e.g. ``"leaky_relu:0.2"`` or ``"leaky_relu:1e-2"``; the slope is required (``"leaky_relu"``
    alone, ``"leaky_relu=0.2"``, ``"Leaky_ReLU:0.2"``, ``"leaky_relu:nan"`` are refused).
    ``torch.nn.ReLU()``, ``torch.relu``, ``torch.erf``, ``torch.abs`` and ``torch.nn.LeakyReLU(s)``
    map to the closed forms; any other elementwise callable uses quadrature.

    Raises:
        InputDataError: for a string outside the grammar (the message lists the accepted forms)
            or an object that is neither a string, an :class:`Activation` nor a callable.
        UnsupportedError: for a callable that is not elementwise.
    """
    if isinstance(activation, Activation):
        return activation
    if isinstance(activation, str):
        if activation in _NAMED:
            return _NAMED[activation]()
        leaky = _LEAKY_RELU.fullmatch(activation)
        if leaky is None:
            raise InputDataError("activation", ACTIVATION_GRAMMAR, repr(activation))
        slope = float(leaky.group(1))
        if not math.isfinite(slope):  # an overflowing literal such as 1e999
            raise InputDataError("activation", ACTIVATION_GRAMMAR, repr(activation))
        return SlopeReLUActivation(slope, 1.0, name=f"leaky_relu:{slope:g}")
    if isinstance(activation, torch.nn.ReLU):
        return _NAMED["relu"]()
    if isinstance(activation, torch.nn.LeakyReLU):
        slope = activation.negative_slope
        if isinstance(slope, bool) or not isinstance(slope, int | float) or not math.isfinite(slope):
            raise InputDataError("activation", "a torch.nn.LeakyReLU with a finite negative_slope", slope)
        return SlopeReLUActivation(slope, 1.0, name=f"leaky_relu:{slope:g}")
    if isinstance(activation, bytes) or not callable(activation):
        received = f"{activation!r} of type {type(activation).__name__}"
        raise InputDataError("activation", ACTIVATION_GRAMMAR, received)
    named = _CLOSED_FORM_CALLABLES.get(activation) if _hashable(activation) else None
    if named is not None:
        return _NAMED[named]()
    return QuadratureActivation(activation)


def _hashable(obj: object) -> bool:
    try:
        hash(obj)
    except TypeError:
        return False
    return True
