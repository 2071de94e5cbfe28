r"""Learning rate from the mini-batch Hessian's top eigenvalue, found by Lanczos on the fly.

Granziol, Zohren & Roberts, "Learning Rates as a Function of Batch Size: A Random Matrix Theory
Approach to Neural Network Training" (JMLR 2022, arXiv 2006.09092); the exact parts of the theory
are derived in docs/derivations.md, §5. The mini-batch Hessian is the full Hessian plus a
fluctuation matrix whose entries have variance :math:`\propto 1/B`,

.. math::
    H_B = H + \varepsilon(B), \qquad \lambda_{\max}(H_B) \approx \lambda_\infty + c/B ,

so its extreme eigenvalues exceed those of :math:`H` and shrink towards them as :math:`B` grows.
Gradient descent on the local quadratic model is stable only for :math:`\alpha < 2/\lambda_{\max}
(H_B)`, hence the largest stable SGD learning rate grows with :math:`B` (linearly while the noise
term dominates). The learner sets the step from the curvature it measures:

.. math::
    \text{every } n \text{ steps:}\quad \lambda_{\max}(H_B) \leftarrow \text{top Ritz value of }
    k \text{ Lanczos steps on } v \mapsto H_B v, \qquad \alpha \leftarrow c / \lambda_{\max}(H_B),

with :math:`H_B v = \nabla_\theta (\nabla_\theta L_B(\theta)^\top v)` (double backward; the
gradient graph is built once per batch and reused by all :math:`k` products) and a safety factor
:math:`c \in (0, 2)` (the stability edge is :math:`c = 2`). The paper's momentum rule is not
implemented. :func:`fit_batch_size_law` fits :math:`\lambda_\infty + c/B` to measured top
eigenvalues over batch sizes (least squares in :math:`1/B`) and predicts the learning rate per
batch size.

Lanczos itself is :func:`probtheory.theory.batch_hessian.lanczos_top_eigenvalue` (float64, full
reorthogonalisation); this module supplies the Hessian-vector products of an ``nn.Module``.

Example:
    >>> import torch
    >>> from torch import nn
    >>> from probtheory.training.loop import classification_loss, fit
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> net = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 3))
    >>> x, y = torch.randn(64, 4), torch.randint(0, 3, (64,))
    >>> top = hessian_top_eigenvalue(net, classification_loss, (x, y), k=20, seed=0)
    >>> lr_policy = LanczosLR(k=10, every=5, safety=1.0, seed=0)
    >>> sgd = torch.optim.SGD(net.parameters(), lr=0.0)  # the callback sets the learning rate
    >>> _ = fit(net, [(x, y)] * 10, epochs=1, optimizer=sgd, callbacks=[lr_policy], progress=False)
    >>> len(lr_policy.history)  # updates at steps 0 and 5
    2
    >>> law = fit_batch_size_law([8, 32, 128], [3.0 + 40.0 / 8, 3.0 + 40.0 / 32, 3.0 + 40.0 / 128])
    >>> round(law.lambda_inf, 6), round(law.coefficient, 6), round(law.learning_rate(64, safety=2.0), 4)
    (3.0, 40.0, 0.5517)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from probtheory._checks import check_finite, check_int, check_real
from probtheory.errors import InputDataError
from probtheory.theory.batch_hessian import lanczos_top_eigenvalue
from probtheory.training.loop import LossFn, TrainingCallback, TrainState, classification_loss

__all__ = [
    "BatchSizeLaw",
    "LanczosLR",
    "LanczosUpdate",
    "batch_top_eigenvalues",
    "fit_batch_size_law",
    "hessian_matvec",
    "hessian_top_eigenvalue",
    "hessian_vector_product",
]

_DTYPE = torch.float64


def _check_model(model: object) -> list[Tensor]:
    if not isinstance(model, nn.Module):
        raise InputDataError("model", "an nn.Module", type(model).__name__)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise InputDataError("model", "a module with trainable parameters", "none requiring grad")
    return params


def _check_loss(loss_fn: object) -> LossFn:
    if not callable(loss_fn):
        raise InputDataError(
            "loss_fn", "a callable loss(model, batch) -> scalar tensor", type(loss_fn).__name__
        )
    return loss_fn  # type: ignore[return-value]


def hessian_matvec(model: nn.Module, loss_fn: LossFn, batch: Any) -> Callable[[Tensor], Tensor]:
    r"""The operator :math:`v \mapsto H_B v` of the loss's Hessian in the model's trainable parameters.

    The gradient :math:`g = \nabla_\theta L_B` is computed once with ``create_graph=True``; each
    call then differentiates :math:`g^\top v` (double backward). The parameters are ordered as
    ``[p for p in model.parameters() if p.requires_grad]``, each flattened. The model's mode is
    used as is (a dropout mask is drawn once, in the single forward pass, so the operator is a
    fixed symmetric matrix).

    Args:
        model: The model; ``P`` is its number of trainable scalars.
        loss_fn: ``loss_fn(model, batch) -> scalar tensor`` (e.g.
            :func:`probtheory.training.loop.classification_loss`).
        batch: Whatever ``loss_fn`` takes, e.g. ``(x, y)``.

    Returns:
        A function mapping a `P` tensor (any floating dtype) to the `P` float64 tensor
        :math:`H_B v`. Parameters the gradient does not depend on contribute zero rows.
    """
    params = _check_model(model)
    loss_fn = _check_loss(loss_fn)
    loss = loss_fn(model, batch)
    if not isinstance(loss, Tensor) or loss.numel() != 1:
        raise InputDataError("loss_fn", "a function returning a scalar tensor", type(loss).__name__)
    if not torch.isfinite(loss):
        raise InputDataError("batch", "a batch with a finite loss", f"loss {loss.item()}")
    grads = torch.autograd.grad(loss.reshape(()), params, create_graph=True, allow_unused=True)
    flat = [
        (g if g is not None else torch.zeros_like(p)).reshape(-1) for g, p in zip(grads, params, strict=True)
    ]
    flat_grad = torch.cat(flat)
    sizes = [p.numel() for p in params]
    total = sum(sizes)

    def matvec(vector: Tensor) -> Tensor:
        check_finite("vector", vector)
        if vector.shape != (total,):
            raise InputDataError("vector", f"a tensor of shape ({total},)", f"shape {tuple(vector.shape)}")
        if not flat_grad.requires_grad:  # the loss is linear in every parameter: H = 0
            return torch.zeros(total, dtype=_DTYPE)
        pieces = torch.split(vector, sizes)
        v = torch.cat([piece.to(p.dtype) for piece, p in zip(pieces, params, strict=True)])
        hv = torch.autograd.grad(flat_grad, params, grad_outputs=v, retain_graph=True, allow_unused=True)
        return torch.cat(
            [
                (h if h is not None else torch.zeros_like(p)).reshape(-1).to(_DTYPE)
                for h, p in zip(hv, params, strict=True)
            ]
        )

    return matvec


def hessian_vector_product(model: nn.Module, loss_fn: LossFn, batch: Any, vector: Tensor) -> Tensor:
    r"""One Hessian-vector product :math:`H_B v` (see :func:`hessian_matvec`, which reuses the graph).

    Args:
        model: The model (`P` trainable scalars).
        loss_fn: ``loss_fn(model, batch) -> scalar tensor``.
        batch: The batch the loss is evaluated on.
        vector: A `P` tensor, laid out like the concatenated flattened trainable parameters.

    Returns:
        The `P` float64 tensor :math:`H_B v`.
    """
    return hessian_matvec(model, loss_fn, batch)(vector)


def _num_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in _check_model(model))


def hessian_top_eigenvalue(
    model: nn.Module,
    loss_fn: LossFn,
    batch: Any,
    k: int = 20,
    seed: int | None = None,
    *,
    generator: torch.Generator | None = None,
) -> float:
    r""":math:`\lambda_{\max}(H_B)` by ``k`` Lanczos steps with double-backward Hessian-vector products.

    The top Ritz value never exceeds :math:`\lambda_{\max}` (Cauchy interlacing) and is exact
    once ``k`` reaches the number of parameters `P` (the Krylov space is then everything).

    Args:
        model: The model (`P` trainable scalars).
        loss_fn: ``loss_fn(model, batch) -> scalar tensor``.
        batch: The batch defining :math:`H_B`.
        k: Lanczos iterations (Krylov dimension, capped at `P`); the paper uses about 20.
        seed: Seed of the random start vector.
        generator: Random generator (overrides ``seed``).

    Returns:
        The top Ritz value (float).
    """
    k = check_int("k", k, minimum=1)
    dim = _num_parameters(model)
    return lanczos_top_eigenvalue(
        hessian_matvec(model, loss_fn, batch), dim, iterations=k, seed=seed, generator=generator
    )


@dataclass(frozen=True)
class LanczosUpdate:
    r"""One learning-rate update of :class:`LanczosLR`.

    Attributes:
        step: Optimizer steps taken before the update (the step it applies to).
        top_eigenvalue: :math:`\lambda_{\max}(H_B)` measured on that step's batch.
        lr: The learning rate set (unchanged from before if the curvature was not positive).
    """

    step: int
    top_eigenvalue: float
    lr: float


class LanczosLR(TrainingCallback):
    r"""Set the optimizer's learning rate to ``safety`` / :math:`\lambda_{\max}(H_B)` every ``every`` steps.

    At every ``every``-th optimizer step (0, n, 2n, ...), before the step's forward pass,
    :func:`hessian_top_eigenvalue` runs ``k`` Lanczos iterations on the current batch and every
    parameter group's ``lr`` is set to ``min(safety / lambda, max_lr)``. A non-positive measured
    :math:`\lambda_{\max}` (no positive curvature: no stability limit) leaves the rate unchanged.
    The rule is the paper's for plain SGD; for adaptive optimizers (Adam) the rate it sets has no
    stability meaning.

    Args:
        k: Lanczos iterations per update (paper: about 20).
        every: Update period in optimizer steps.
        safety: :math:`c` in :math:`\alpha = c/\lambda_{\max}`; in (0, 2) is inside the quadratic
            model's stability region, 2 is its edge.
        loss: ``loss(model, batch) -> scalar tensor``; must be the loss :func:`fit` trains.
        max_lr: Optional cap on the learning rate (for nearly flat batches).
        seed: Seed of the Lanczos start vectors (one generator for the whole run).

    Attributes:
        history: The :class:`LanczosUpdate` records, in order.
    """

    def __init__(
        self,
        k: int = 20,
        every: int = 50,
        safety: float = 1.0,
        *,
        loss: LossFn | None = None,
        max_lr: float | None = None,
        seed: int | None = 0,
    ) -> None:
        self.k = check_int("k", k, minimum=1)
        self.every = check_int("every", every, minimum=1)
        self.safety = check_real("safety", safety, positive=True)
        self.loss = classification_loss if loss is None else _check_loss(loss)
        self.max_lr = None if max_lr is None else check_real("max_lr", max_lr, positive=True)
        self.seed = None if seed is None else check_int("seed", seed, minimum=0)
        self.history: list[LanczosUpdate] = []
        self._generator = torch.Generator()

    def on_fit_start(self, state: TrainState) -> None:
        """Reset the history and the start-vector generator."""
        self.history = []
        if self.seed is None:
            self._generator.seed()
        else:
            self._generator.manual_seed(self.seed)

    def on_batch_start(self, state: TrainState, batch: Any) -> Any:
        """On every ``every``-th step, measure the batch's curvature and set the learning rate."""
        if state.step % self.every == 0:
            top = hessian_top_eigenvalue(state.model, self.loss, batch, k=self.k, generator=self._generator)
            groups = state.optimizer.param_groups
            lr = float(groups[0]["lr"])
            if top > 0:
                lr = self.safety / top
                if self.max_lr is not None:
                    lr = min(lr, self.max_lr)
                for group in groups:
                    group["lr"] = lr
            self.history.append(LanczosUpdate(step=state.step, top_eigenvalue=top, lr=lr))
        return batch


@dataclass(frozen=True)
class BatchSizeLaw:
    r"""The fitted law :math:`\lambda_{\max}(H_B) = \lambda_\infty + c/B`.

    Attributes:
        lambda_inf: :math:`\lambda_\infty`, the large-batch limit.
        coefficient: :math:`c`, the strength of the batch noise (positive when the claim holds).
        r_squared: Coefficient of determination of the fit to the (mean) eigenvalues.
        batch_sizes: The batch sizes fitted.
        top_eigenvalues: The (mean) top eigenvalue per batch size that was fitted.
    """

    lambda_inf: float
    coefficient: float
    r_squared: float
    batch_sizes: tuple[int, ...]
    top_eigenvalues: tuple[float, ...]

    def top_eigenvalue(self, batch_size: float) -> float:
        r"""Predicted :math:`\lambda_{\max}(H_B)` at ``batch_size``."""
        b = check_real("batch_size", batch_size, positive=True)
        return self.lambda_inf + self.coefficient / b

    def learning_rate(self, batch_size: float, safety: float = 1.0) -> float:
        r"""Predicted SGD learning rate ``safety`` / :math:`\lambda_{\max}(H_B)` (2: the stability edge).

        Raises:
            InputDataError: If the predicted top eigenvalue is not positive at ``batch_size``.
        """
        safety = check_real("safety", safety, positive=True)
        top = self.top_eigenvalue(batch_size)
        if top <= 0:
            raise InputDataError("batch_size", "a batch size with positive predicted curvature", batch_size)
        return safety / top


def fit_batch_size_law(batch_sizes: Sequence[int], top_eigenvalues: Sequence[float] | Tensor) -> BatchSizeLaw:
    r"""Least-squares fit of :math:`\lambda_{\max}(H_B) = \lambda_\infty + c/B` (linear in :math:`1/B`).

    Args:
        batch_sizes: `m >= 2` batch sizes, at least two distinct, each >= 1.
        top_eigenvalues: An `m` sequence or tensor of top eigenvalues, or an `m x K` tensor of
            K measurements per batch size (their means are fitted).

    Returns:
        The :class:`BatchSizeLaw`; ``r_squared`` is 1 for data exactly on the law (and NaN if
        the eigenvalues do not vary at all).
    """
    sizes = [check_int("batch_sizes", b, minimum=1) for b in batch_sizes]
    values = torch.as_tensor(top_eigenvalues, dtype=_DTYPE)
    check_finite("top_eigenvalues", values)
    if values.dim() == 2:
        values = values.mean(-1)
    if values.dim() != 1 or values.shape[0] != len(sizes):
        raise InputDataError(
            "top_eigenvalues",
            f"{len(sizes)} values (one per batch size) or a `m x K` tensor",
            tuple(values.shape),
        )
    if len(set(sizes)) < 2:
        raise InputDataError("batch_sizes", "at least two distinct batch sizes", sizes)
    inverse = 1.0 / torch.tensor(sizes, dtype=_DTYPE)
    design = torch.stack([torch.ones_like(inverse), inverse], dim=1)
    solution = torch.linalg.lstsq(design, values[:, None]).solution[:, 0]
    residual = values - design @ solution
    total = float(((values - values.mean()) ** 2).sum())
    r_squared = 1.0 - float((residual**2).sum()) / total if total > 0 else math.nan
    return BatchSizeLaw(
        lambda_inf=float(solution[0]),
        coefficient=float(solution[1]),
        r_squared=r_squared,
        batch_sizes=tuple(sizes),
        top_eigenvalues=tuple(float(v) for v in values),
    )


def batch_top_eigenvalues(
    model: nn.Module,
    loss_fn: LossFn,
    inputs: Tensor,
    targets: Tensor,
    batch_sizes: Sequence[int],
    num_batches: int,
    *,
    k: int = 20,
    seed: int | None = None,
    progress: bool = True,
) -> Tensor:
    r""":math:`\lambda_{\max}(H_B)` of ``num_batches`` batches per batch size, drawn without replacement.

    Args:
        model: The model, at the point where the curvature is measured.
        loss_fn: ``loss_fn(model, (x_batch, y_batch)) -> scalar tensor``.
        inputs: An `n x ...` tensor of inputs.
        targets: An `n x ...` tensor of targets.
        batch_sizes: `m` batch sizes in [1, n]; `n` gives the full-data Hessian.
        num_batches: Batches per size (uniform random subsets).
        k: Lanczos iterations per eigenvalue.
        seed: Seed of the batch draws and the Lanczos start vectors.
        progress: Show a tqdm bar over batch sizes.

    Returns:
        An `m x num_batches` float64 tensor (feed it to :func:`fit_batch_size_law`).
    """
    if not isinstance(inputs, Tensor) or not isinstance(targets, Tensor) or inputs.dim() == 0:
        raise InputDataError(
            "inputs", "tensors `inputs` and `targets` with a sample dimension", type(inputs).__name__
        )
    n = int(inputs.shape[0])
    if targets.dim() == 0 or targets.shape[0] != n:
        raise InputDataError("targets", f"{n} targets (one per input)", f"shape {tuple(targets.shape)}")
    sizes = [check_int("batch_sizes", b, minimum=1) for b in batch_sizes]
    if not sizes or max(sizes) > n:
        raise InputDataError("batch_sizes", f"a non-empty list of sizes in [1, {n}]", list(batch_sizes))
    num_batches = check_int("num_batches", num_batches, minimum=1)
    k = check_int("k", k, minimum=1)
    g = torch.Generator()
    if seed is None:
        g.seed()
    else:
        g.manual_seed(check_int("seed", seed, minimum=0))
    out = torch.empty(len(sizes), num_batches, dtype=_DTYPE)
    for i, b in enumerate(tqdm(sizes, desc="batch sizes", disable=not progress, leave=False)):
        for j in range(num_batches):
            index = torch.randperm(n, generator=g)[:b]
            out[i, j] = hessian_top_eigenvalue(
                model, loss_fn, (inputs[index], targets[index]), k=k, generator=g
            )
    return out
