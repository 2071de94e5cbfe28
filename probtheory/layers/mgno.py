r"""Multigrid neural operators: a V-cycle whose every operator is a convolution.

He, Liu and Xu, *MgNO: Efficient Parameterization of Linear Operators via Multigrid* (ICLR
2024). A neural-operator layer is :math:`\mathcal O(u) = \sigma(\mathcal W u + \mathcal B)`,
with the linear operator :math:`\mathcal W` parameterised by one multi-channel V-cycle
(:class:`VCycleConv`) and the bias :math:`\mathcal B` a function (a 1x1 convolution with bias).
:class:`MgNO` stacks such layers and projects to the output channels with a 1x1 convolution.

The V-cycle of :class:`VCycleConv` on levels :math:`\ell = 0, \dots, J - 1` (level 0 the input
grid, each further level half as fine):

.. code-block:: text

    level 0:  u = S f                                      (first sweep from a zero guess)
    each pre-sweep:   u <- u + S_ell (f_ell - A_ell u)
    down ell -> ell+1:  f_{ell+1} = R_ell f_ell            (restrict="f", the authors' default)
                      or R_ell (f_ell - A'_ell u_ell)      (restrict="residual", classical)
                        u_{ell+1} = Pi_ell u_ell           (coarse_guess="conv", stride-2 conv)
                      or 0                                 (coarse_guess="zero", classical)
    coarsest level:   pre + post sweeps
    up ell+1 -> ell:  u_ell <- u_ell + P_ell u_{ell+1}, then the post-sweeps

``A``, ``S`` are 3x3 convolutions (stride 1), ``R`` and ``Pi`` 3x3 convolutions of stride 2
centred on the even fine points, ``P`` a 3x3 transposed convolution of stride 2 (its adjoint
pattern, which can hold linear interpolation; the authors' code uses a 4x4 kernel). Every sweep
has its own ``A`` and ``S``, as in the authors' code. The restriction flag and the stride-2
convolution of ``u`` as coarse initial guess follow the authors' public code (repository
``MgNO``), where restricting ``f`` is the default.

Boundary conditions are the padding: ``"zeros"`` (Dirichlet-like) or ``"circular"``
(periodic). A transposed convolution pads only with zeros, so the prolongation pads the coarse
grid itself (circularly under ``"circular"``) before it and crops afterwards: without that
the fine points next to the wrap-around seam miss their coarse neighbour across it.

With classical weights (:meth:`VCycleConv.set_classical_weights`: 5-point stencil, damped
Jacobi, full weighting, linear interpolation) the layer *is* one geometric multigrid V-cycle
for :math:`-\Delta u + m u = f`; tests/probtheory/layers/test_mgno.py checks it against a NumPy
V-cycle and its contraction per cycle.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from probtheory._checks import check_int, check_name, check_real, match_parameter_dtype
from probtheory.errors import ConfigurationError, InputDataError

__all__ = ["MgNO", "VCycleConv"]

PADDING_MODES = ("zeros", "circular")
RESTRICT_MODES = ("f", "residual")
COARSE_GUESSES = ("conv", "zero")

# float64, so that float64 layers get the classical weights exactly (h^-2 rounded to float32
# would put a relative 1e-8 error into every stencil)
_LAPLACE_5POINT = torch.tensor([[0.0, -1.0, 0.0], [-1.0, 4.0, -1.0], [0.0, -1.0, 0.0]], dtype=torch.float64)
_FULL_WEIGHTING = torch.tensor([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=torch.float64) / 16.0
_LINEAR_INTERPOLATION = torch.tensor(
    [[0.25, 0.5, 0.25], [0.5, 1.0, 0.5], [0.25, 0.5, 0.25]], dtype=torch.float64
)


class _Conv3x3(nn.Module):
    """A bias-free 3x3 convolution that pads by one cell itself (zeros or circular)."""

    def __init__(self, in_channels: int, out_channels: int, padding_mode: str, stride: int = 1) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, 3, 3))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))  # nn.Conv2d's default
        self.padding_mode = padding_mode
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        mode = "circular" if self.padding_mode == "circular" else "constant"
        return F.conv2d(F.pad(x, (1, 1, 1, 1), mode=mode), self.weight, stride=self.stride)


class _Prolongation(nn.Module):
    """Stride-2 3x3 transposed convolution: coarse point ``i`` sits on fine point ``2 i``.

    The coarse grid is padded by one cell (circularly for periodic problems, since the
    transposed convolution itself pads only with zeros), transposed-convolved without padding,
    and the fine grid cut out of the result.
    """

    def __init__(self, channels: int, padding_mode: str) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(channels, channels, 3, 3))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        self.padding_mode = padding_mode

    def forward(self, coarse: Tensor) -> Tensor:
        mode = "circular" if self.padding_mode == "circular" else "constant"
        height, width = 2 * coarse.shape[-2], 2 * coarse.shape[-1]
        # padded coarse index j is coarse index j - 1, i.e. fine point 2 j - 2; the kernel centre
        # (offset 1) lands it at output 2 j + 1, so fine point m is output m + 3
        out = F.conv_transpose2d(F.pad(coarse, (1, 1, 1, 1), mode=mode), self.weight, stride=2)
        return out[..., 3 : 3 + height, 3 : 3 + width]


def _check_smoothing(smoothing: object, levels: int) -> tuple[tuple[int, int], ...]:
    """Per-level ``(pre, post)`` sweep counts from one pair or a sequence of ``levels`` pairs."""
    expected = f"a (pre, post) pair of sweep counts, or {levels} such pairs (one per level)"
    if isinstance(smoothing, Sequence) and len(smoothing) == 2 and all(isinstance(s, int) for s in smoothing):
        pairs = [smoothing] * levels
    elif isinstance(smoothing, Sequence) and len(smoothing) == levels:
        pairs = list(smoothing)
    else:
        raise InputDataError("smoothing", expected, repr(smoothing))
    result = []
    for pair in pairs:
        if not (isinstance(pair, Sequence) and len(pair) == 2):
            raise InputDataError("smoothing", expected, repr(smoothing))
        pre = check_int("smoothing (pre-sweeps)", pair[0], minimum=1)
        post = check_int("smoothing (post-sweeps)", pair[1], minimum=0)
        result.append((pre, post))
    return tuple(result)


class VCycleConv(nn.Module):
    r"""One multi-channel multigrid V-cycle, all of whose operators are learned convolutions.

    A linear map from ``in_channels`` fields :math:`f` to ``out_channels`` fields :math:`u`
    on the same grid (He, Liu and Xu, ICLR 2024, Sec. 3, Fig. 1): smoothing sweeps
    :math:`u \leftarrow u + S(f - A u)` on each level, stride-2 convolutions down, transposed
    convolutions up. See the module docstring for the cycle.

    Args:
        in_channels: Channels of ``f``.
        out_channels: Channels of ``u``.
        levels: Number of grid levels ``J >= 1`` (the input's side must be divisible by
            ``2 ** (levels - 1)``).
        smoothing: ``(pre, post)`` sweeps per level, one pair for all levels or one per level;
            ``pre >= 1``. The coarsest level smooths ``pre + post`` times.
        padding_mode: ``"zeros"`` or ``"circular"`` (periodic problems).
        restrict: ``"f"`` (restrict the right-hand side, the authors' default) or
            ``"residual"`` (restrict ``f - A u``, classical multigrid).
        coarse_guess: ``"conv"`` (a stride-2 convolution of ``u``, the authors' choice) or
            ``"zero"`` (classical multigrid).

    Raises:
        InputDataError: If a count is not a positive integer or a mode is unknown.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        levels: int,
        smoothing: tuple[int, int] | Sequence[tuple[int, int]] = (1, 1),
        *,
        padding_mode: str = "zeros",
        restrict: str = "f",
        coarse_guess: str = "conv",
    ) -> None:
        super().__init__()
        self.in_channels = check_int("in_channels", in_channels, minimum=1)
        self.out_channels = check_int("out_channels", out_channels, minimum=1)
        self.levels = check_int("levels", levels, minimum=1)
        self.smoothing = _check_smoothing(smoothing, self.levels)
        self.padding_mode = check_name("padding_mode", padding_mode, PADDING_MODES)
        self.restrict = check_name("restrict", restrict, RESTRICT_MODES)
        self.coarse_guess = check_name("coarse_guess", coarse_guess, COARSE_GUESSES)

        cf, cu, pad = self.in_channels, self.out_channels, self.padding_mode
        self.pre_operators = nn.ModuleList()  # A of each pre-sweep (None-free: see _needs_operator)
        self.pre_smoothers = nn.ModuleList()
        self.post_operators = nn.ModuleList()
        self.post_smoothers = nn.ModuleList()
        for level, (pre, post) in enumerate(self.smoothing):
            sweeps = pre + post if level == self.levels - 1 else pre
            self.pre_smoothers.append(nn.ModuleList(_Conv3x3(cf, cu, pad) for _ in range(sweeps)))
            first = 1 if self._starts_from_zero(level) else 0
            self.pre_operators.append(nn.ModuleList(_Conv3x3(cu, cf, pad) for _ in range(first, sweeps)))
            count = 0 if level == self.levels - 1 else post
            self.post_smoothers.append(nn.ModuleList(_Conv3x3(cf, cu, pad) for _ in range(count)))
            self.post_operators.append(nn.ModuleList(_Conv3x3(cu, cf, pad) for _ in range(count)))
        coarse = range(self.levels - 1)
        self.restrictions = nn.ModuleList(_Conv3x3(cf, cf, pad, stride=2) for _ in coarse)
        self.prolongations = nn.ModuleList(_Prolongation(cu, pad) for _ in coarse)
        self.residual_operators = nn.ModuleList(
            _Conv3x3(cu, cf, pad) for _ in (coarse if self.restrict == "residual" else ())
        )
        self.coarse_guesses = nn.ModuleList(
            _Conv3x3(cu, cu, pad, stride=2) for _ in (coarse if self.coarse_guess == "conv" else ())
        )

    def _starts_from_zero(self, level: int) -> bool:
        """Whether the level's first sweep starts from ``u = 0`` (then it needs no ``A``)."""
        return level == 0 or self.coarse_guess == "zero"

    def _pre_smooth(self, level: int, u: Tensor | None, f: Tensor) -> Tensor:
        operators = iter(self.pre_operators[level])
        for smoother in self.pre_smoothers[level]:
            u = smoother(f) if u is None else u + smoother(f - next(operators)(u))
        return u

    def forward(self, f: Tensor) -> Tensor:
        """Apply the V-cycle.

        Args:
            f: A `batch x in_channels x H x W` tensor; ``H`` and ``W`` divisible by
                ``2 ** (levels - 1)``.

        Returns:
            A `batch x out_channels x H x W` tensor in ``f``'s dtype (computed in the weights').

        Raises:
            InputDataError: If ``f`` is not floating point, has the wrong rank or channels, or a
                side is not divisible by ``2 ** (levels - 1)``.
        """
        self._check_input(f)
        dtype = f.dtype
        f = match_parameter_dtype("f", f, self.pre_smoothers[0][0].weight.dtype)
        solutions: list[Tensor] = []
        right_hand_sides: list[Tensor] = []
        u: Tensor | None = None
        for level in range(self.levels):
            if level > 0:
                below_u, below_f = solutions[-1], right_hand_sides[-1]
                if self.restrict == "residual":
                    below_f = below_f - self.residual_operators[level - 1](below_u)
                f = self.restrictions[level - 1](below_f)
                u = self.coarse_guesses[level - 1](below_u) if self.coarse_guess == "conv" else None
            u = self._pre_smooth(level, u, f)
            solutions.append(u)
            right_hand_sides.append(f)
        u = solutions[-1]
        for level in range(self.levels - 2, -1, -1):
            u = solutions[level] + self.prolongations[level](u)
            f = right_hand_sides[level]
            sweeps = zip(self.post_operators[level], self.post_smoothers[level], strict=True)
            for operator, smoother in sweeps:
                u = u + smoother(f - operator(u))
        return u.to(dtype)

    def _check_input(self, f: object, name: str = "f") -> None:
        if not isinstance(f, Tensor) or f.dim() != 4:
            shape = tuple(f.shape) if isinstance(f, Tensor) else type(f).__name__
            raise InputDataError(name, "a batch x channels x H x W tensor", shape)
        if f.shape[1] != self.in_channels:
            raise InputDataError(name, f"{self.in_channels} channels (dimension 1)", f"{f.shape[1]} channels")
        factor = 2 ** (self.levels - 1)
        if f.shape[-2] % factor or f.shape[-1] % factor:
            raise InputDataError(
                name,
                f"a grid divisible by 2^(levels - 1) = {factor} in both directions (levels = {self.levels})",
                f"a {f.shape[-2]} x {f.shape[-1]} grid",
            )

    @torch.no_grad()
    def set_classical_weights(
        self, grid_size: int, *, mass: float = 1.0, length: float = 1.0, omega: float = 0.8
    ) -> VCycleConv:
        r"""Load the weights of geometric multigrid for :math:`-\Delta u + m u = f`, channel by channel.

        On level :math:`\ell` with spacing :math:`h_\ell = L / (N / 2^\ell)`: every ``A`` is the
        5-point stencil :math:`h_\ell^{-2}[0,-1,0; -1,4,-1; 0,-1,0] + m` (rediscretisation),
        every ``S`` damped Jacobi :math:`\omega / (4 h_\ell^{-2} + m)`, ``R`` full weighting,
        ``P`` linear interpolation. On a periodic 1x1 coarsest grid, where the stencil
        collapses to the scalar :math:`m`, ``S`` is the exact solve :math:`1/m` (Jacobi would
        barely touch the constant mode). Needs ``restrict="residual"``,
        ``coarse_guess="zero"`` and ``in_channels == out_channels``.

        Args:
            grid_size: Side ``N`` of the finest grid the layer will be applied to.
            mass: The coefficient ``m >= 0`` of ``u``.
            length: Side ``L > 0`` of the square domain.
            omega: Jacobi damping in ``(0, 1]``.

        Returns:
            ``self``, for chaining.

        Raises:
            ConfigurationError: If the layer is not set up as classical multigrid.
            InputDataError: If an argument is out of range or ``grid_size`` does not halve
                ``levels - 1`` times.
        """
        if self.restrict != "residual" or self.coarse_guess != "zero":
            raise ConfigurationError(
                "classical multigrid weights need restrict='residual' and coarse_guess='zero' "
                f"(this layer: restrict={self.restrict!r}, coarse_guess={self.coarse_guess!r})"
            )
        if self.in_channels != self.out_channels:
            raise ConfigurationError(
                f"classical multigrid weights act channel by channel: in_channels ({self.in_channels}) "
                f"must equal out_channels ({self.out_channels})"
            )
        grid_size = check_int("grid_size", grid_size, minimum=1)
        if grid_size % 2 ** (self.levels - 1):
            raise InputDataError(
                "grid_size", f"divisible by 2^(levels - 1) = {2 ** (self.levels - 1)}", grid_size
            )
        mass = check_real("mass", mass, nonnegative=True)
        length = check_real("length", length, positive=True)
        omega = check_real("omega", omega, positive=True)
        if omega > 1:
            raise InputDataError("omega", "a Jacobi damping in (0, 1]", omega)
        eye = torch.eye(self.in_channels, dtype=torch.float64)

        def per_channel(kernel: Tensor) -> Tensor:
            return eye[:, :, None, None] * kernel

        for level in range(self.levels):
            points = grid_size // 2**level
            inverse_h2 = (points / length) ** 2
            stencil = inverse_h2 * _LAPLACE_5POINT
            stencil[1, 1] += mass
            jacobi = torch.zeros(3, 3, dtype=torch.float64)
            jacobi[1, 1] = omega / (4 * inverse_h2 + mass)
            if level == self.levels - 1 and points == 1 and self.padding_mode == "circular" and mass > 0:
                jacobi[1, 1] = 1.0 / mass  # exact solve on one periodic cell
            for conv in (*self.pre_operators[level], *self.post_operators[level]):
                conv.weight.copy_(per_channel(stencil))
            for conv in (*self.pre_smoothers[level], *self.post_smoothers[level]):
                conv.weight.copy_(per_channel(jacobi))
            if level < self.levels - 1:
                self.residual_operators[level].weight.copy_(per_channel(stencil))
                self.restrictions[level].weight.copy_(per_channel(_FULL_WEIGHTING))
                self.prolongations[level].weight.copy_(per_channel(_LINEAR_INTERPOLATION))
        return self


class MgNO(nn.Module):
    r"""Multigrid neural operator: layers :math:`u \mapsto \sigma(\mathcal W u + \mathcal B u)`, projected.

    He, Liu and Xu (ICLR 2024), Eq. (3.1) and Sec. 4: :math:`\mathcal W` is a
    :class:`VCycleConv`, :math:`\mathcal B` a 1x1 convolution with bias (the bias *function*),
    :math:`\sigma` GELU; no lifting layer (the first V-cycle reads the input channels
    directly), and a bias-free 1x1 convolution projects to the output channels.

    Args:
        in_channels: Channels of the input field (e.g. 1 for a Darcy coefficient).
        width: Channels of every hidden layer.
        levels: Grid levels of each V-cycle.
        layers: Number of nonlinear operator layers.
        out_channels: Channels of the output field.
        smoothing: ``(pre, post)`` sweeps per level (see :class:`VCycleConv`).
        padding_mode: ``"zeros"`` or ``"circular"``.
        restrict: ``"f"`` or ``"residual"`` (see :class:`VCycleConv`).
        coarse_guess: ``"conv"`` or ``"zero"`` (see :class:`VCycleConv`).
        activation: Factory of the nonlinearity.

    Raises:
        InputDataError: If a count is not a positive integer or a mode is unknown.
    """

    def __init__(
        self,
        in_channels: int,
        width: int,
        levels: int,
        *,
        layers: int = 4,
        out_channels: int = 1,
        smoothing: tuple[int, int] | Sequence[tuple[int, int]] = (1, 1),
        padding_mode: str = "zeros",
        restrict: str = "f",
        coarse_guess: str = "conv",
        activation: Callable[[], nn.Module] = nn.GELU,
    ) -> None:
        super().__init__()
        check_int("layers", layers, minimum=1)
        check_int("width", width, minimum=1)
        check_int("out_channels", out_channels, minimum=1)
        check_int("in_channels", in_channels, minimum=1)
        channels = [in_channels] + [width] * layers
        options = {"padding_mode": padding_mode, "restrict": restrict, "coarse_guess": coarse_guess}
        self.cycles = nn.ModuleList(
            VCycleConv(channels[i], width, levels, smoothing, **options) for i in range(layers)
        )
        self.biases = nn.ModuleList(nn.Conv2d(channels[i], width, kernel_size=1) for i in range(layers))
        self.activation = activation()
        self.projection = nn.Conv2d(width, out_channels, kernel_size=1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        """Map input fields to output fields.

        Args:
            x: A `batch x in_channels x H x W` tensor, ``H``, ``W`` divisible by ``2 ** (levels - 1)``.

        Returns:
            A `batch x out_channels x H x W` tensor.

        Raises:
            InputDataError: If ``x`` has the wrong rank or channels, or a side is not divisible
                by ``2 ** (levels - 1)``.
        """
        self.cycles[0]._check_input(x, "x")
        dtype = x.dtype
        x = match_parameter_dtype("x", x, self.projection.weight.dtype)
        for cycle, bias in zip(self.cycles, self.biases, strict=True):
            x = self.activation(cycle(x) + bias(x))
        return self.projection(x).to(dtype)
