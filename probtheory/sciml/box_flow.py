r"""A normalising flow whose support is a box: rational-quadratic spline couplings on the unit cube.

The flow is written in the *normalising* direction, :math:`z = T(x)` from the box to the unit
cube :math:`[0, 1]^d` with a uniform base density, so that

.. math:: \log p(x) = \sum_\ell \log\left|\det \frac{\partial T_\ell}{\partial x}\right|
          - \sum_k \log(b_k - a_k)

is a closed-form, twice-differentiable function of :math:`x` and of the parameters, and the
density integrates to exactly one over the box: no mass leaks outside it, as it would with a
Gaussian base. Sampling inverts each layer in closed form (a quadratic per coordinate).

Each layer is a monotone rational-quadratic spline with ``bins`` bins on :math:`[0, 1]`
(Durkan, Bekasov, Murray, Papamakarios, "Neural Spline Flows", NeurIPS 2019, Sec. 3.1, with
the interval itself as the spline's domain, so no linear tails are needed), applied to half of
the coordinates with parameters computed from the other half (a coupling layer, Dinh, Sohl-
Dickstein, Bengio, ICLR 2017); the halves alternate from layer to layer. In one dimension the
spline's parameters are free parameters. The conditioners' last layers start at zero, so a
new flow is the identity map: the uniform density on the box. The KRnet flows of the DAS and
AAS papers also end in a map onto the bounded domain; splines on the cube are our choice of a
flow with exact support.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from probtheory._checks import check_inputs, check_int, check_real, check_sequence
from probtheory.errors import InputDataError

__all__ = ["BoxFlow"]

_MIN_BIN = 1e-3  # smallest bin width / height, as a fraction of the unit interval
_MIN_SLOPE = 1e-3  # smallest derivative at a knot


def _spline_parameters(raw: Tensor, bins: int) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Knots and knot derivatives of the splines from raw conditioner outputs (`... x (3K + 1)`)."""
    raw_w, raw_h, raw_d = raw[..., :bins], raw[..., bins : 2 * bins], raw[..., 2 * bins :]
    widths = _MIN_BIN + (1 - _MIN_BIN * bins) * torch.softmax(raw_w, dim=-1)
    heights = _MIN_BIN + (1 - _MIN_BIN * bins) * torch.softmax(raw_h, dim=-1)
    # raw zero -> derivative one: the identity spline
    derivatives = _MIN_SLOPE + (1 - _MIN_SLOPE) * F.softplus(raw_d) / math.log(2.0)
    x_knots = F.pad(torch.cumsum(widths, dim=-1), (1, 0))
    y_knots = F.pad(torch.cumsum(heights, dim=-1), (1, 0))
    x_knots = x_knots / x_knots[..., -1:]  # exactly 1 at the right end despite rounding
    y_knots = y_knots / y_knots[..., -1:]
    return x_knots, y_knots, x_knots.diff(dim=-1), y_knots.diff(dim=-1), derivatives


def _bin_index(knots: Tensor, u: Tensor, bins: int) -> Tensor:
    inner = knots[..., 1:-1].contiguous()
    return torch.searchsorted(inner, u.unsqueeze(-1).contiguous()).squeeze(-1).clamp(0, bins - 1)


def _gather(values: Tensor, index: Tensor) -> Tensor:
    return values.gather(-1, index.unsqueeze(-1)).squeeze(-1)


def rational_quadratic_spline(u: Tensor, raw: Tensor, bins: int) -> tuple[Tensor, Tensor]:
    r"""The monotone spline :math:`[0, 1] \to [0, 1]` and its log-derivative at ``u`` (both `n x m`).

    Args:
        u: Points in [0, 1], an `n x m` tensor.
        raw: Raw parameters, an `n x m x (3 bins + 1)` tensor (or broadcastable to it).
        bins: Number of bins ``K``.
    """
    x_knots, y_knots, widths, heights, slopes = _spline_parameters(raw, bins)
    u = u.clamp(0.0, 1.0)
    index = (torch.searchsorted(x_knots[..., 1:-1].contiguous(), u.unsqueeze(-1)).squeeze(-1)).clamp(
        0, bins - 1
    )
    x_k, y_k = _gather(x_knots, index), _gather(y_knots, index)
    w_k, h_k = _gather(widths, index), _gather(heights, index)
    d_k, d_k1 = _gather(slopes, index), _gather(slopes, index + 1)
    s_k = h_k / w_k
    xi = ((u - x_k) / w_k).clamp(0.0, 1.0)
    mix = xi * (1 - xi)
    denominator = s_k + (d_k1 + d_k - 2 * s_k) * mix
    y = y_k + h_k * (s_k * xi**2 + d_k * mix) / denominator
    derivative = s_k**2 * (d_k1 * xi**2 + 2 * s_k * mix + d_k * (1 - xi) ** 2) / denominator**2
    return y, torch.log(derivative)


def inverse_rational_quadratic_spline(y: Tensor, raw: Tensor, bins: int) -> Tensor:
    """The inverse of :func:`rational_quadratic_spline` (Durkan et al., 2019, Sec. 3.1, eq. 6-8)."""
    x_knots, y_knots, widths, heights, slopes = _spline_parameters(raw, bins)
    y = y.clamp(0.0, 1.0)
    index = (torch.searchsorted(y_knots[..., 1:-1].contiguous(), y.unsqueeze(-1)).squeeze(-1)).clamp(
        0, bins - 1
    )
    x_k, y_k = _gather(x_knots, index), _gather(y_knots, index)
    w_k, h_k = _gather(widths, index), _gather(heights, index)
    d_k, d_k1 = _gather(slopes, index), _gather(slopes, index + 1)
    s_k = h_k / w_k
    dy = y - y_k
    a = h_k * (s_k - d_k) + dy * (d_k1 + d_k - 2 * s_k)
    b = h_k * d_k - dy * (d_k1 + d_k - 2 * s_k)
    c = -s_k * dy
    discriminant = (b**2 - 4 * a * c).clamp_min(0.0)
    xi = (2 * c) / (-b - torch.sqrt(discriminant))  # the numerically stable root
    return (x_k + xi.clamp(0.0, 1.0) * w_k).clamp(0.0, 1.0)


class _SplineCoupling(nn.Module):
    """Splines on the coordinates ``transformed`` with parameters from the coordinates ``given``."""

    def __init__(self, dim: int, transformed: list[int], hidden: int, bins: int) -> None:
        super().__init__()
        self.transformed = transformed
        self.given = [k for k in range(dim) if k not in transformed]
        self.bins = bins
        size = len(transformed) * (3 * bins + 1)
        if self.given:
            last = nn.Linear(hidden, size)
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
            self.conditioner: nn.Module = nn.Sequential(
                nn.Linear(len(self.given), hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(), last
            )
        else:
            self.free = nn.Parameter(torch.zeros(size))

    def _raw(self, u: Tensor) -> Tensor:
        shape = (u.shape[0], len(self.transformed), 3 * self.bins + 1)
        if self.given:
            return self.conditioner(2 * u[:, self.given] - 1).reshape(shape)
        return self.free.to(u).expand(u.shape[0], -1).reshape(shape)

    def forward(self, u: Tensor) -> tuple[Tensor, Tensor]:
        raw = self._raw(u)
        y, log_derivative = rational_quadratic_spline(u[:, self.transformed], raw, self.bins)
        out = u.clone()
        out[:, self.transformed] = y
        return out, log_derivative.sum(-1)

    def inverse(self, y: Tensor) -> Tensor:
        raw = self._raw(y)  # the given coordinates are unchanged by the layer
        out = y.clone()
        out[:, self.transformed] = inverse_rational_quadratic_spline(y[:, self.transformed], raw, self.bins)
        return out


class BoxFlow(nn.Module):
    r"""A normalising flow with density :math:`p(x)` supported on the box :math:`\prod_k [a_k, b_k]`.

    Starts as the uniform density; :meth:`log_prob` is differentiable in the points and the
    parameters (to any order), :meth:`sample` draws exactly inside the box.

    Args:
        lower: The box's lower corner ``a``, one number per dimension.
        upper: Its upper corner ``b``.
        layers: Number of coupling layers (>= 1; in 1-D, spline layers).
        hidden: Width of the conditioner networks.
        bins: Spline bins per coordinate (>= 2).
    """

    def __init__(
        self,
        lower: Sequence[float] | Tensor,
        upper: Sequence[float] | Tensor,
        *,
        layers: int = 4,
        hidden: int = 32,
        bins: int = 8,
    ) -> None:
        super().__init__()
        lower = [float(v) for v in check_sequence("lower", list(lower), nonempty=True)]
        upper = [float(v) for v in check_sequence("upper", list(upper), length=len(lower))]
        for k, (a, b) in enumerate(zip(lower, upper, strict=True)):
            check_real(f"lower[{k}]", a)
            if not b > a:
                raise InputDataError(f"upper[{k}]", f"a number > lower[{k}] = {a:g}", b)
        self.dim = len(lower)
        self.register_buffer("lower", torch.tensor(lower, dtype=torch.float64))
        self.register_buffer("upper", torch.tensor(upper, dtype=torch.float64))
        layers = check_int("layers", layers, minimum=1)
        hidden = check_int("hidden", hidden, minimum=1)
        self.bins = check_int("bins", bins, minimum=2)
        halves = [list(range(0, self.dim, 2)), list(range(1, self.dim, 2))]
        self.layers = nn.ModuleList(
            _SplineCoupling(self.dim, halves[i % 2] if self.dim > 1 else [0], hidden, self.bins)
            for i in range(layers)
        )

    def _to_cube(self, x: Tensor) -> Tensor:
        return (x - self.lower.to(x)) / (self.upper - self.lower).to(x)

    def log_prob(self, x: Tensor) -> Tensor:
        """Log-density at `n x d` points of the box: `n` values (``-inf`` never occurs inside).

        Raises:
            InputDataError: If ``x`` is not a finite `n x d` tensor.
        """
        x = check_inputs("x", x, feature_dim=self.dim)
        u = self._to_cube(x)
        total = torch.zeros(u.shape[0], dtype=u.dtype, device=u.device)
        for layer in self.layers:
            u, log_derivative = layer(u)
            total = total + log_derivative
        return total - torch.log(self.upper - self.lower).sum().to(total)

    @torch.no_grad()
    def sample(
        self, n: int, *, generator: torch.Generator | None = None, dtype: torch.dtype = torch.float32
    ) -> Tensor:
        """``n`` points drawn from the flow: an `n x d` tensor inside the closed box (no gradient)."""
        n = check_int("n", n, minimum=1)
        dtype_params = next(self.parameters()).dtype
        y = torch.rand(n, self.dim, generator=generator, dtype=torch.float64).to(dtype_params)
        for layer in reversed(self.layers):
            y = layer.inverse(y)
        x = self.lower.to(y) + (self.upper - self.lower).to(y) * y
        return torch.minimum(torch.maximum(x, self.lower.to(y)), self.upper.to(y)).to(dtype)
