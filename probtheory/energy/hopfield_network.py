r"""The network that equilibrium propagation trains: vector field, Jacobian, relaxation to fixed points.

Laborieux & Zenke, *Improving equilibrium propagation without weight symmetry through Jacobian
homeostasis*, ICLR 2024 (arXiv 2309.02214), reference code Laborieux-Axel/generalized-holo-ep;
see docs/derivations.md, §7.

The state :math:`s = (h, o)` (hidden then output units) follows :math:`\dot s = F(\theta, s) -
\beta\,\partial_s C(s)` with the energy-form vector field and the squared-error cost

.. math::
    F(s) = -s + \rho'(s) \odot (W \rho(s) + U x + b), \qquad C(s) = \tfrac12 \lVert o - y\rVert^2.

With symmetric :math:`W`, :math:`F = -\nabla_s E` and the Jacobian

.. math::
    J = \partial_s F = -I + \mathrm{diag}(\rho''(s) \odot a) + \mathrm{diag}(\rho'(s))\, W
    \mathrm{diag}(\rho'(s)), \qquad a = W\rho(s) + Ux + b,

is symmetric. :meth:`HopfieldNetwork.relax` finds the fixed points of the (nudged) dynamics by
Euler steps of the dynamics, then damped Newton steps; it works for complex nudges
:math:`\beta`, as holomorphic EP needs. The EP gradient estimates, the asymmetry bias and
Jacobian homeostasis built on it are in :mod:`probtheory.energy.equilibrium_propagation`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
from torch import Tensor, nn

from probtheory._checks import check_finite, check_int, check_name, check_real, make_generator
from probtheory.errors import InputDataError, UnsupportedError

__all__ = ["HopfieldNetwork"]

# Newton takes over from the dynamics below this residual: started further out it can stall at a
# local minimum of the residual or land on an unstable fixed point, which the dynamics never reach
_NEWTON_RADIUS = 1e-3


def _batch_jacobian(field: Callable[[Tensor], Tensor], s: Tensor) -> Tensor:
    """`batch x n x n` Jacobian of a row-wise map, by forward mode (valid for complex states).

    ``jacfwd`` refuses complex inputs, but ``jvp`` of a holomorphic map is exact in complex
    arithmetic, so the columns are pushed forward one basis vector at a time (vmapped).
    """
    basis = torch.eye(s.shape[-1], dtype=s.dtype, device=s.device)
    columns = torch.func.vmap(lambda v: torch.func.jvp(field, (s,), (v.expand_as(s),))[1])(basis)
    return columns.permute(1, 2, 0)


class HopfieldNetwork(nn.Module):
    r"""A Hopfield-like or layered network and its relaxation to fixed points (the network EP trains).

    Units: ``hidden_dim`` hidden then ``output_dim`` output units, ``n = hidden_dim + output_dim``.
    ``layered=True`` connects input -> hidden <-> output only (feedforward and feedback blocks);
    ``layered=False`` connects every pair of units and every unit to the input (no self-loops).
    ``symmetric=True`` uses :math:`W = (A + A^\top)/2`, an energy-based network whose fixed-point
    Jacobian is symmetric; ``symmetric=False`` uses independent forward and feedback weights.

    Args:
        input_dim: Input features ``d``.
        hidden_dim: Hidden units.
        output_dim: Output units ``o``.
        symmetric: Tie the recurrent weights (see above).
        layered: Layered instead of all-to-all connectivity.
        activation: ``"tanh"`` or ``"sigmoid"`` (holomorphic, as complex nudges require).
        weight_scale: Initial weights are ``N(0, weight_scale^2 / fan_in)``.
        tol: Relaxation stops when ``max |F - beta dC| <= tol`` (default 1e-12 in float64,
            1e-5 in float32).
        max_iter: Relaxation iterations before a ``RuntimeWarning``.
        method: ``"euler"``: the dynamics ``s <- s + step_size * (F - beta dC)``; ``"newton"``:
            the same until the residual is below 1e-3, then damped Newton steps (quadratic
            convergence to the fixed point the dynamics approach).
        step_size: Euler step.
        dtype: Parameter dtype (float64 where exactness matters).
        seed: Seed of the weight initialisation (or pass ``generator``).
        generator: Generator of the weight initialisation.
    """

    def __init__(
        self,
        input_dim: int,
        hidden_dim: int,
        output_dim: int,
        *,
        symmetric: bool = True,
        layered: bool = True,
        activation: str = "tanh",
        weight_scale: float = 1.0,
        tol: float | None = None,
        max_iter: int = 1000,
        method: str = "newton",
        step_size: float = 0.2,
        dtype: torch.dtype = torch.float64,
        seed: int | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        d = check_int("input_dim", input_dim, minimum=1)
        h = check_int("hidden_dim", hidden_dim, minimum=1)
        o = check_int("output_dim", output_dim, minimum=1)
        if activation not in ("tanh", "sigmoid"):
            raise UnsupportedError("activation", "'tanh' or 'sigmoid' (holomorphic)", repr(activation))
        check_name("method", method, ("newton", "euler"), meaning="a relaxation method")
        if dtype not in (torch.float32, torch.float64):
            raise UnsupportedError("dtype", "torch.float32 or torch.float64", dtype)
        scale = check_real("weight_scale", weight_scale, positive=True)
        self.input_dim, self.hidden_dim, self.output_dim, n = d, h, o, h + o
        self.symmetric, self.layered, self.activation, self.method = symmetric, layered, activation, method
        self.tol = 1e-12 if dtype == torch.float64 else 1e-5
        self.tol = check_real("tol", tol, positive=True) if tol is not None else self.tol
        self.max_iter = check_int("max_iter", max_iter, minimum=1)
        self.step_size = check_real("step_size", step_size, positive=True)

        if layered:
            recurrent_mask = torch.zeros(n, n, dtype=dtype)
            recurrent_mask[h:, :h] = recurrent_mask[:h, h:] = 1.0
            input_mask = torch.zeros(n, d, dtype=dtype)
            input_mask[:h] = 1.0
        else:
            recurrent_mask = 1.0 - torch.eye(n, dtype=dtype)
            input_mask = torch.ones(n, d, dtype=dtype)
        output_mask = torch.zeros(n, dtype=dtype)
        output_mask[h:] = 1.0
        self.register_buffer("recurrent_mask", recurrent_mask)
        self.register_buffer("input_mask", input_mask)
        self.register_buffer("output_mask", output_mask)

        generator = make_generator(seed, generator)
        fan_in = recurrent_mask.sum(1, keepdim=True).clamp(min=1.0) + input_mask.sum(1, keepdim=True)
        std = scale / fan_in.sqrt()
        self.recurrent_weight = nn.Parameter(std * torch.randn(n, n, generator=generator, dtype=dtype))
        self.input_weight = nn.Parameter(std * torch.randn(n, d, generator=generator, dtype=dtype))
        self.bias = nn.Parameter(torch.zeros(n, dtype=dtype))
        self.history_: list[float] = []

    # ----------------------------------------------------------------------------- dynamics
    def effective_weights(self) -> tuple[Tensor, Tensor]:
        """The masked recurrent (`n x n`, symmetrised if ``symmetric``) and input (`n x d`) weights."""
        w = self.recurrent_weight * self.recurrent_mask
        if self.symmetric:
            w = 0.5 * (w + w.T)
        return w, self.input_weight * self.input_mask

    def _rho(self, s: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        # closed-form derivatives keep every operation holomorphic for complex nudged states
        r = torch.tanh(s) if self.activation == "tanh" else torch.sigmoid(s)
        if self.activation == "tanh":
            dr = 1.0 - r * r
            return r, dr, -2.0 * r * dr
        dr = r * (1.0 - r)
        return r, dr, dr * (1.0 - 2.0 * r)

    def _drive(self, rho: Tensor, x: Tensor) -> Tensor:
        w, u = self.effective_weights()
        return rho @ w.T.to(rho.dtype) + (x @ u.T + self.bias).to(rho.dtype)

    def vector_field(self, s: Tensor, x: Tensor) -> Tensor:
        r"""The free dynamics :math:`F(s) = -s + \rho'(s) \odot (W\rho(s) + Ux + b)`.

        Args:
            s: A `batch x n` (real or complex) tensor of states.
            x: A `batch x d` tensor of inputs.

        Returns:
            A `batch x n` tensor.
        """
        rho, drho, _ = self._rho(s)
        return -s + drho * self._drive(rho, x)

    def cost_gradient(self, s: Tensor, y: Tensor) -> Tensor:
        r""":math:`\partial_s C = P(s - y)`, nonzero on output units only (`batch x n`)."""
        out = torch.zeros_like(s)
        out[..., self.hidden_dim :] = s[..., self.hidden_dim :] - y.to(s.dtype)
        return out

    def state_jacobian(self, s: Tensor, x: Tensor) -> Tensor:
        r""":math:`J = \partial_s F` at states ``s`` (`batch x n`): a `batch x n x n` tensor.

        Closed form :math:`-I + \mathrm{diag}(\rho''(s) \odot a) + \mathrm{diag}(\rho'(s))\, W
        \mathrm{diag}(\rho'(s))` with :math:`a = W\rho(s) + Ux + b`; forward-mode autodiff when a
        subclass overrides :meth:`vector_field`.
        """
        with torch.no_grad():
            if type(self).vector_field is not HopfieldNetwork.vector_field:
                return _batch_jacobian(lambda z: self.vector_field(z, x), s)
            rho, drho, ddrho = self._rho(s)
            w = self.effective_weights()[0].to(s.dtype)
            coupling = drho.unsqueeze(-1) * w * drho.unsqueeze(-2)
            return coupling + torch.diag_embed(ddrho * self._drive(rho, x) - 1.0)

    def relax(
        self,
        x: Tensor,
        y: Tensor | None = None,
        beta: float | complex | Tensor = 0.0,
        initial: Tensor | None = None,
    ) -> Tensor:
        r"""Fixed point of :math:`\dot s = F(s) - \beta\,\partial_s C(s)` (``beta = 0``: free phase).

        Warns (``RuntimeWarning``, with the residual) when ``max_iter`` iterations do not reach ``tol``.

        Args:
            x: A `batch x d` tensor of inputs.
            y: A `batch x o` tensor of targets (needed when ``beta != 0``).
            beta: Nudge, a real or complex number or a `batch x 1` tensor (one nudge per row).
            initial: A `batch x n` starting state (default: zeros). Newton refines a given
                starting state at once (a warm start next to the fixed point, as for nudged
                phases started from the free one); from zeros the dynamics run first.

        Returns:
            A `batch x n` tensor of states (complex if ``beta`` is).
        """
        x, y = self._inputs(x, y)
        real = self.recurrent_weight.dtype
        if not isinstance(beta, Tensor):  # python numbers: no detour through float32 / complex64
            if isinstance(beta, bool) or not isinstance(beta, int | float | complex):
                raise InputDataError("beta", "a real or complex number, or a `batch x 1` tensor", repr(beta))
            beta = torch.tensor(beta, dtype=real if isinstance(beta, (int, float)) else real.to_complex())
        if not (beta.is_floating_point() or beta.is_complex()) or not torch.isfinite(beta).all():
            raise InputDataError(
                "beta",
                "finite real or complex nudges",
                beta.tolist() if beta.numel() < 8 else "non-finite entries",
            )
        dtype = torch.promote_types(real, beta.dtype)
        if y is None and bool((beta != 0).any()):
            raise InputDataError("y", "targets when beta != 0", None)
        n = self.hidden_dim + self.output_dim
        if beta.dim() > 0 and beta.shape != (x.shape[0], 1):
            raise InputDataError("beta", f"a number or a `{x.shape[0]} x 1` tensor", tuple(beta.shape))
        if initial is None:
            s = torch.zeros(x.shape[0], n, dtype=dtype)
        elif not isinstance(initial, Tensor) or initial.shape != (x.shape[0], n):
            raise InputDataError(
                "initial", f"a `{x.shape[0]} x {n}` tensor", getattr(initial, "shape", initial)
            )
        else:
            if not (initial.is_floating_point() or initial.is_complex()) or not torch.isfinite(initial).all():
                raise InputDataError(
                    "initial", "a finite floating (or complex) starting state", "NaN, inf or an integer dtype"
                )
            s = initial
        s, beta = s.to(dtype), beta.to(dtype)
        nudged = bool((beta != 0).any())
        with torch.no_grad():

            def field(z: Tensor) -> Tensor:
                f = self.vector_field(z, x)
                return f - beta * self.cost_gradient(z, y) if nudged else f

            def jacobian(z: Tensor) -> Tensor:
                j = self.state_jacobian(z, x)
                return j - beta.unsqueeze(-1) * torch.diag(self.output_mask).to(j.dtype) if nudged else j

            g = field(s)
            residual = g.abs().amax(-1)
            for _ in range(self.max_iter):
                if residual.max() <= self.tol or not torch.isfinite(residual).all():
                    break
                if self.method == "euler" or (initial is None and residual.max() > _NEWTON_RADIUS):
                    s = s + self.step_size * g
                else:
                    s = self._newton_step(field, jacobian, s, g, residual)
                g = field(s)
                residual = g.abs().amax(-1)
            if not residual.max() <= self.tol:  # also catches a diverged (non-finite) state
                warnings.warn(
                    f"relaxation did not converge: residual max|F - beta dC| = {residual.max().item():.3g} "
                    f"> tol = {self.tol:.3g} within max_iter = {self.max_iter} {self.method} iterations "
                    f"(step_size = {self.step_size:g})",
                    RuntimeWarning,
                    stacklevel=2,
                )
        return s

    def _newton_step(
        self,
        field: Callable[[Tensor], Tensor],
        jacobian: Callable[[Tensor], Tensor],
        s: Tensor,
        g: Tensor,
        residual: Tensor,
    ) -> Tensor:
        """Newton step with backtracking (1, 1/2, ..., 1/1024) per row; an Euler step where none helps.

        Steps are accepted on the Euclidean residual, for which the Newton direction is a descent
        direction (d/dt |G(s + t d)|^2 = -2 |G|^2 at t = 0).
        """
        direction = torch.linalg.solve(jacobian(s), -g)
        norm = g.abs().square().sum(-1)
        out, done = s + self.step_size * g, torch.zeros_like(residual, dtype=torch.bool)
        for t in (2.0**-i for i in range(11)):
            trial = s + t * direction
            better = (field(trial).abs().square().sum(-1) < norm) & ~done
            out = torch.where(better.unsqueeze(-1), trial, out)
            done |= better
            if done.all():
                break
        return out

    # ----------------------------------------------------------------------------- input checks
    def _inputs(self, x: Tensor, y: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        check_finite("x", x)
        dtype = self.recurrent_weight.dtype
        if x.dim() != 2 or x.shape[-1] != self.input_dim or x.shape[0] == 0:
            raise InputDataError(
                "x", f"a `batch x {self.input_dim}` tensor with batch >= 1", f"shape {tuple(x.shape)}"
            )
        if y is None:
            return x.to(dtype), None
        check_finite("y", y)
        if y.shape != (x.shape[0], self.output_dim):
            raise InputDataError(
                "y", f"a `{x.shape[0]} x {self.output_dim}` tensor", f"shape {tuple(y.shape)}"
            )
        return x.to(dtype), y.to(dtype)

    # ----------------------------------------------------------------------------- predictions
    def predict(self, x: Tensor) -> Tensor:
        """Output units at the free fixed point: a `batch x o` tensor for a `batch x d` input.

        dtype policy (the package's, for every module with weights): relaxed in the parameters'
        dtype, to which ``x`` is converted; the prediction is returned in the dtype of ``x``.
        """
        out = self.relax(*self._inputs(x))[:, self.hidden_dim :]
        return out.to(x.dtype)

    def loss(self, x: Tensor, y: Tensor) -> Tensor:
        r"""Mean cost :math:`\frac1B\sum_i C(s_i^*)` at the free fixed points (a scalar, in ``x``'s dtype)."""
        xs, ys = self._inputs(x, y)
        return (0.5 * (self.relax(xs)[:, self.hidden_dim :] - ys).square().sum(-1).mean()).to(x.dtype)
