r"""Equilibrium propagation (EP): finite, symmetric and holomorphic nudges, asymmetry bias, homeostasis.

Laborieux & Zenke, *Improving equilibrium propagation without weight symmetry through Jacobian
homeostasis*, ICLR 2024 (arXiv 2309.02214), reference code Laborieux-Axel/generalized-holo-ep;
the derivations below are spelled out in docs/derivations.md, §7.

The state :math:`s = (h, o)` (hidden then output units) follows :math:`\dot s = F(\theta, s) -
\beta\,\partial_s C(s)` with the energy-form vector field and the squared-error cost

.. math::
    F(s) = -s + \rho'(s) \odot (W \rho(s) + U x + b), \qquad C(s) = \tfrac12 \lVert o - y\rVert^2.

With symmetric :math:`W`, :math:`F = -\nabla_s E` and the Jacobian :math:`J = \partial_s F(s^*)` at
the free fixed point is symmetric. By the implicit function theorem (docs/derivations.md, §7)

.. math::
    \frac{ds_\beta}{d\beta}\Big|_0 = J^{-1}\partial_s C \;(\text{EP}), \qquad
    \nabla_\theta C = -(\partial_\theta F)^\top J^{-\top} \partial_s C \;(\text{backprop}),

so EP's gradient :math:`-(\partial_\theta F)^\top\, ds_\beta/d\beta` is biased by
:math:`-(\partial_\theta F)^\top J^{-1}(J^\top - J)J^{-\top}\partial_s C` (:func:`asymmetry_bias`).
:math:`ds_\beta/d\beta` is estimated from nudged fixed points: one-sided
:math:`(s_\beta - s^*)/\beta` (error :math:`O(\beta)`), symmetric :math:`(s_\beta - s_{-\beta})/2\beta`
(:math:`O(\beta^2)`), or holomorphic, :math:`\frac1N\sum_k (s_{\beta_k} - s^*)/\beta_k` with
:math:`\beta_k = \beta e^{2\pi i k/N}`, the first Fourier coefficient of :math:`s_\beta` on a circle
(error :math:`O(\beta^N)`, Cauchy). Jacobian homeostasis penalises :math:`\lVert J - J^\top\rVert_F^2`,
estimated by Hutchinson's :math:`\lVert J^\top v\rVert^2 - v^\top J^\top J^\top v` (expectation
:math:`\tfrac12\lVert J - J^\top\rVert_F^2`).

Example::

    import torch
    from sklearn.datasets import load_digits
    from probtheory.energy.equilibrium_propagation import EquilibriumPropagation

    digits = load_digits()
    x = torch.tensor(digits.data[:160] / 16.0)  # 160 x 64, float64
    y = torch.nn.functional.one_hot(torch.tensor(digits.target[:160]), 10).double()
    model = EquilibriumPropagation(64, 32, 10, symmetric=False, seed=0)  # independent feedback weights
    history = model.fit(x, y, epochs=4, lr=0.2, seed=0, batch_size=16, homeostasis=0.01, progress=False)
    accuracy = (model.predict(x).argmax(-1) == y.argmax(-1)).double().mean().item()
    asymmetry = model.jacobian_asymmetry(x).item()  # ||J - J^T||_F^2, kept small by homeostasis
"""

from __future__ import annotations

import cmath
import math

import torch
from torch import Tensor
from tqdm.auto import tqdm

from probtheory._checks import check_finite, check_int, check_name, check_real, make_generator
from probtheory.energy.hopfield_network import HopfieldNetwork
from probtheory.errors import InputDataError

__all__ = ["NUDGES", "EquilibriumPropagation", "asymmetry_bias"]

#: ways of estimating ds_beta/dbeta from nudged fixed points
NUDGES = ("one_sided", "symmetric", "holomorphic")
_ESTIMATORS = (*NUDGES, "backprop")


def asymmetry_bias(jacobian: Tensor, cost_gradient: Tensor) -> Tensor:
    r"""Closed-form bias of EP's error vector, :math:`J^{-1}(J^\top - J)J^{-\top}\partial_s C`.

    It equals :math:`J^{-1}\partial_s C - J^{-\top}\partial_s C` (EP's minus backprop's neuronal
    error vector) and vanishes when the Jacobian is symmetric (docs/derivations.md, §7).

    Args:
        jacobian: A `batch x n x n` tensor, :math:`J = \partial_s F` at the free fixed points.
        cost_gradient: A `batch x n` tensor, :math:`\partial_s C` at the free fixed points.

    Returns:
        A `batch x n` tensor; map it to parameters with
        :meth:`EquilibriumPropagation.error_vector_to_gradient`.
    """
    check_finite("jacobian", jacobian)
    check_finite("cost_gradient", cost_gradient)
    if jacobian.dim() != 3 or jacobian.shape[-1] != jacobian.shape[-2]:
        raise InputDataError("jacobian", "a `batch x n x n` tensor", tuple(jacobian.shape))
    if cost_gradient.shape != jacobian.shape[:-1]:
        raise InputDataError(
            "cost_gradient", f"shape {tuple(jacobian.shape[:-1])}", tuple(cost_gradient.shape)
        )
    backprop = torch.linalg.solve(jacobian.mT, cost_gradient)  # J^{-T} dC
    skew = (jacobian.mT - jacobian) @ backprop.unsqueeze(-1)
    return torch.linalg.solve(jacobian, skew.squeeze(-1))


class EquilibriumPropagation(HopfieldNetwork):
    r"""A Hopfield-like or layered energy-based network trained by equilibrium propagation.

    The network, its dynamics (:meth:`relax`, :meth:`vector_field`, :meth:`state_jacobian`) and
    its constructor arguments are those of :class:`~probtheory.energy.hopfield_network.HopfieldNetwork`;
    this class adds EP's error vectors and gradients from one-sided, symmetric and holomorphic
    nudges, the exact (recurrent backprop) gradient and the closed-form bias between them,
    Jacobian homeostasis, and training.
    """

    # ----------------------------------------------------------------------------- gradients
    def _nudge_plan(self, beta: float, nudge: str, num_points: int) -> tuple[list[complex], list[complex]]:
        """Nudges beta_k and weights w_k with ds/dbeta ~ sum_k w_k (s_{beta_k} - s*)."""
        if nudge == "one_sided":
            return [beta], [1.0 / beta]
        if nudge == "symmetric":
            return [beta, -beta], [0.5 / beta, -0.5 / beta]
        betas = [beta * cmath.exp(2j * math.pi * k / num_points) for k in range(num_points)]
        return betas, [1.0 / (num_points * b) for b in betas]

    def ep_error_vector(
        self, x: Tensor, y: Tensor, beta: float = 0.05, nudge: str = "symmetric", num_points: int = 4
    ) -> tuple[Tensor, Tensor]:
        r"""EP's estimate of :math:`ds_\beta/d\beta|_0 = J^{-1}\partial_s C` from nudged fixed points.

        Args:
            x: A `batch x d` tensor of inputs.
            y: A `batch x o` tensor of targets.
            beta: Nudge strength (nonzero); the radius of the circle for ``"holomorphic"``.
            nudge: ``"one_sided"``, ``"symmetric"`` or ``"holomorphic"``.
            num_points: Points ``N >= 1`` on the circle (``"holomorphic"`` only).

        Returns:
            The `batch x n` free fixed points and the `batch x n` error-vector estimate.
        """
        x, y = self._inputs(x, y)
        beta = check_real("beta", beta)
        if beta == 0.0:
            raise InputDataError("beta", "a nonzero nudge strength", beta)
        check_name("nudge", nudge, NUDGES, meaning="a nudge estimator")
        num_points = check_int("num_points", num_points, minimum=1)
        free = self.relax(x)
        betas, weights = self._nudge_plan(beta, nudge, num_points)
        # the dynamics are real, so s_conj(beta) = conj(s_beta): relax one nudge of each conjugate pair
        # (source[i] = (row of the relaxed nudge, conjugate it?))
        solved: list[complex] = []
        source: list[tuple[int, bool]] = []
        for v in betas:
            match = [j for j, u in enumerate(solved) if abs(u - v.conjugate()) <= 1e-12 * abs(beta)]
            if match:
                source.append((match[0], abs(solved[match[0]] - v) > 1e-12 * abs(beta)))
            else:
                source.append((len(solved), False))
                solved.append(v)
        k, b = len(solved), x.shape[0]
        # the nudged phases relax together, one row per (nudge, example), from the free state
        ctype = free.dtype if all(isinstance(v, float) for v in solved) else free.dtype.to_complex()
        rows = torch.tensor(solved, dtype=ctype).repeat_interleave(b).unsqueeze(-1)
        states = self.relax(x.repeat(k, 1), y.repeat(k, 1), rows, initial=free.repeat(k, 1)).reshape(k, b, -1)
        delta = torch.zeros_like(states[0])
        for (row, conjugate), w in zip(source, weights, strict=True):
            delta = delta + w * ((states[row].conj() if conjugate else states[row]) - free)
        return free, (delta.real if delta.is_complex() else delta).to(free.dtype)

    def error_vector_to_gradient(self, state: Tensor, x: Tensor, delta: Tensor) -> dict[str, Tensor]:
        r"""Parameter gradient :math:`-\frac1B\sum_i (\partial_\theta F(s_i))^\top \delta_i` (a VJP).

        Args:
            state: A `batch x n` tensor of free fixed points.
            x: A `batch x d` tensor of inputs.
            delta: A `batch x n` tensor of error vectors.

        Returns:
            ``{parameter name: gradient}`` for every parameter.
        """
        x, _ = self._inputs(x)
        n = self.hidden_dim + self.output_dim
        for name, value in (("state", state), ("delta", delta)):
            if not isinstance(value, Tensor) or value.shape != (x.shape[0], n):
                got = f"shape {tuple(value.shape)}" if isinstance(value, Tensor) else type(value).__name__
                raise InputDataError(name, f"a `{x.shape[0]} x {n}` tensor (one row per input)", got)
            check_finite(name, value.real if value.is_complex() else value)
        params = dict(self.named_parameters())
        with torch.enable_grad():
            f = self.vector_field(state.detach(), x)
            grads = torch.autograd.grad(f, list(params.values()), grad_outputs=delta.to(f.dtype))
        return {name: -g / x.shape[0] for name, g in zip(params, grads, strict=True)}

    def ep_gradient(
        self, x: Tensor, y: Tensor, beta: float = 0.05, nudge: str = "symmetric", num_points: int = 4
    ) -> dict[str, Tensor]:
        r"""EP estimate of the gradient of :meth:`loss`: :math:`-(\partial_\theta F)^\top \hat\delta`.

        :math:`\hat\delta` is :meth:`ep_error_vector`'s estimate of :math:`ds_\beta/d\beta`.

        Args: as :meth:`ep_error_vector`.

        Returns:
            ``{parameter name: gradient estimate}``.
        """
        free, delta = self.ep_error_vector(x, y, beta, nudge, num_points)
        return self.error_vector_to_gradient(free, x, delta)

    def backprop_gradient(self, x: Tensor, y: Tensor) -> dict[str, Tensor]:
        r"""Exact gradient of :meth:`loss` by implicit differentiation (recurrent backprop).

        :math:`\nabla_\theta C = -(\partial_\theta F)^\top J^{-\top}\partial_s C`, with
        :math:`J = \partial_s F(s^*)` from :meth:`state_jacobian` and the VJP from autograd.

        Args:
            x: A `batch x d` tensor of inputs.
            y: A `batch x o` tensor of targets.

        Returns:
            ``{parameter name: gradient}``.
        """
        x, y = self._inputs(x, y)
        free = self.relax(x)
        delta = torch.linalg.solve(self.state_jacobian(free, x).mT, self.cost_gradient(free, y))
        return self.error_vector_to_gradient(free, x, delta)

    def gradient_bias(self, x: Tensor, y: Tensor) -> dict[str, Tensor]:
        r"""Closed-form bias of EP (``beta -> 0``) against backprop, ``{parameter name: bias}``.

        :func:`asymmetry_bias` mapped to the parameters by :meth:`error_vector_to_gradient`.
        """
        x, y = self._inputs(x, y)
        free = self.relax(x)
        bias = asymmetry_bias(self.state_jacobian(free, x), self.cost_gradient(free, y))
        return self.error_vector_to_gradient(free, x, bias)

    # ----------------------------------------------------------------------------- homeostasis
    def jacobian_asymmetry(self, x: Tensor) -> Tensor:
        r"""Exact :math:`\frac1B\sum_i \lVert J_i - J_i^\top\rVert_F^2` at the free fixed points."""
        x, _ = self._inputs(x)
        jac = self.state_jacobian(self.relax(x), x)
        return (jac - jac.mT).square().sum((-2, -1)).mean()

    def homeostasis_penalty(
        self,
        x: Tensor,
        num_probes: int = 1,
        seed: int | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        r"""Unbiased Hutchinson estimate of :meth:`jacobian_asymmetry`, differentiable in the parameters.

        :math:`2(\lVert J^\top v\rVert^2 - v^\top J^\top J^\top v)`, :math:`v \sim N(0, I)`, averaged over
        probes and examples; the fixed points are held constant (no gradient through them).

        Args:
            x: A `batch x d` tensor of inputs.
            num_probes: Gaussian probes per example.
            seed: Seed of the probes (or pass ``generator``).
            generator: Generator of the probes.

        Returns:
            A scalar tensor.
        """
        x, _ = self._inputs(x)
        num_probes = check_int("num_probes", num_probes, minimum=1)
        generator = make_generator(seed, generator)
        state = self.relax(x).detach().requires_grad_(True)
        probes = torch.randn(num_probes, *state.shape, generator=generator, dtype=state.dtype)
        with torch.enable_grad():
            f = self.vector_field(state, x)
            total = 0.0
            for v in probes:
                u = torch.autograd.grad(f, state, v, create_graph=True)[0]  # J^T v
                w = torch.autograd.grad(f, state, u, create_graph=True)[0]  # J^T J^T v
                total = total + 2.0 * (u.square().sum(-1) - (v * w).sum(-1)).mean()
        return total / num_probes

    # ----------------------------------------------------------------------------- training
    def fit(
        self,
        x: Tensor,
        y: Tensor,
        epochs: int = 10,
        lr: float = 0.1,
        seed: int | None = None,
        progress: bool = True,
        *,
        batch_size: int = 32,
        estimator: str = "holomorphic",
        beta: float = 0.1,
        num_points: int = 4,
        homeostasis: float = 0.0,
    ) -> list[float]:
        """Train by stochastic gradient descent on EP (or backprop) gradients of the squared error.

        Parameters are updated in place, so an interrupted run keeps what it learnt.

        Args:
            x: A `n x d` tensor of training inputs.
            y: A `n x o` tensor of targets (e.g. one-hot labels).
            epochs: Passes over the data.
            lr: Learning rate.
            seed: Seed of the mini-batch order and of the homeostasis probes.
            progress: Show a tqdm bar.
            batch_size: Mini-batch size.
            estimator: ``"holomorphic"``, ``"symmetric"``, ``"one_sided"`` or ``"backprop"``.
            beta: Nudge strength (circle radius for ``"holomorphic"``).
            num_points: Points on the circle for ``"holomorphic"``.
            homeostasis: Weight of the Jacobian homeostasis penalty (0: off).

        Returns:
            The training loss before training and after each epoch (also in ``history_``).
        """
        x, y = self._inputs(x, y)
        epochs = check_int("epochs", epochs, minimum=1)
        lr = check_real("lr", lr, positive=True)
        batch_size = check_int("batch_size", batch_size, minimum=1)
        homeostasis = check_real("homeostasis", homeostasis, nonnegative=True)
        check_name("estimator", estimator, _ESTIMATORS, meaning="a gradient estimator")
        beta = check_real("beta", beta)
        if beta == 0.0 and estimator != "backprop":
            raise InputDataError("beta", "a nonzero nudge strength", beta)
        num_points = check_int("num_points", num_points, minimum=1)
        generator = make_generator(seed)
        self.history_ = [self.loss(x, y).item()]
        bar = tqdm(range(epochs), disable=not progress, desc="EquilibriumPropagation.fit", unit="epoch")
        for _ in bar:
            for idx in torch.randperm(x.shape[0], generator=generator).split(batch_size):
                xb, yb = x[idx], y[idx]
                if estimator == "backprop":
                    grads = self.backprop_gradient(xb, yb)
                else:
                    grads = self.ep_gradient(xb, yb, beta, estimator, num_points)
                if homeostasis > 0.0:
                    penalty = self.homeostasis_penalty(xb, generator=generator)
                    extra = torch.autograd.grad(penalty, list(self.parameters()), allow_unused=True)
                    for name, g in zip(grads, extra, strict=True):
                        if g is not None:
                            grads[name] = grads[name] + homeostasis * g
                with torch.no_grad():
                    for name, p in self.named_parameters():
                        p -= lr * grads[name]
            self.history_.append(self.loss(x, y).item())
            bar.set_postfix(loss=f"{self.history_[-1]:.4g}")
        return list(self.history_)
