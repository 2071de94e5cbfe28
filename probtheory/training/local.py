"""Local learning: each block of a network learns from an objective of its own.

:class:`LocalUpdate` is the :class:`~probtheory.training.loop.UpdateStrategy` shared by the
backprop-free learning rules (forward-forward, tpSGD, AugLocal, ForwardGNN, PhyLL). For one
batch it walks the blocks in order::

    h_0 = inputs(batch)
    for k, block in enumerate(blocks):
        h_k = block(h_{k-1}.detach())            # the block's own graph starts here
        objective_k(h_k, batch).backward()       # at once: the graph is freed before block k+1

so a block's gradient depends only on its input and its own objective: no gradient ever
crosses a block boundary, and at most one block's activations are held for backward at a
time. :func:`probtheory.training.loop.fit` then takes one optimizer step on all of them.

An *objective* is any callable ``objective(h, batch) -> scalar tensor``; one that is an
``nn.Module`` (a local classifier head, an auxiliary network) has its parameters trained too:
they are in :meth:`LocalUpdate.parameters`, which ``fit``'s default optimizer uses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from probtheory._checks import check_class_labels, check_int, check_name, check_real, make_generator
from probtheory.errors import InputDataError
from probtheory.training.loop import TrainState

__all__ = [
    "FFGoodness",
    "LabelOverlay",
    "LengthNormalization",
    "LocalObjective",
    "LocalUpdate",
    "TargetProjection",
    "batch_inputs",
    "batch_labels",
    "predict_by_goodness",
]

#: ``objective(h, batch) -> scalar tensor``: a block's local loss on its output ``h``.
LocalObjective = Callable[[Tensor, Any], Tensor]


def batch_inputs(batch: Any) -> Tensor:
    """The network input of a batch: ``batch.x`` if it has one (a graph), else ``batch[0]``."""
    x = getattr(batch, "x", None)
    if isinstance(x, Tensor):
        return x
    if isinstance(batch, Tensor):
        return batch
    if isinstance(batch, Sequence) and not isinstance(batch, str) and batch and isinstance(batch[0], Tensor):
        return batch[0]
    raise InputDataError(
        "batch", "a pair (x, y), a tensor, or an object with a tensor attribute `x`", type(batch).__name__
    )


class LocalUpdate:
    """Train a stack of blocks, each by its own objective on a detached input.

    Args:
        blocks: The network's blocks in order, e.g. ``list(model)`` of an ``nn.Sequential`` or
            an ``nn.Sequential`` itself. Block k maps block k-1's output to its own.
        objectives: One objective per block, ``objective(h_k, batch) -> scalar``; an entry may be
            ``None`` only for a block that does not learn (see ``train``).
        inner_steps: Updates per block on each batch (several, as in physical local learning):
            the first ``inner_steps - 1`` are taken here, on that block's parameters alone, the
            last one by ``fit``'s optimizer step together with the other blocks.
        train: Indices of the blocks that learn; the others only run forward (without
            autograd). ``None``: every block. Blocks after the last learning one are not run.
            Greedy layer-wise training is one ``fit`` per block with ``train=[k]``.
        inputs: ``inputs(batch) -> h_0``, the first block's input; default
            :func:`batch_inputs` (``batch[0]``, or ``batch.x`` for a graph).

    Raises:
        InputDataError: If ``blocks`` is empty or holds a non-module, ``objectives`` does not
            have one callable per block (``None`` allowed only for blocks outside ``train``),
            ``inner_steps`` is not a positive integer, or ``train`` names no block or a block
            index out of range.
    """

    def __init__(
        self,
        blocks: Iterable[nn.Module],
        objectives: Sequence[LocalObjective | None],
        *,
        inner_steps: int = 1,
        train: Iterable[int] | None = None,
        inputs: Callable[[Any], Tensor] = batch_inputs,
    ) -> None:
        if isinstance(blocks, nn.Module) and not isinstance(blocks, (nn.Sequential, nn.ModuleList)):
            raise InputDataError(
                "blocks",
                "the blocks in order (a list, nn.Sequential or nn.ModuleList)",
                type(blocks).__name__,
            )
        self.blocks = list(blocks)
        if not self.blocks:
            raise InputDataError("blocks", "at least one block", "none")
        for k, block in enumerate(self.blocks):
            if not isinstance(block, nn.Module):
                raise InputDataError(f"blocks[{k}]", "an nn.Module", type(block).__name__)
        if isinstance(objectives, (str, Tensor)) or not isinstance(objectives, Sequence):
            raise InputDataError(
                "objectives", "a sequence of objectives, one per block", type(objectives).__name__
            )
        if len(objectives) != len(self.blocks):
            raise InputDataError(
                "objectives",
                f"one objective per block ({len(self.blocks)})",
                f"{len(objectives)} objectives",
            )
        self.inner_steps = check_int("inner_steps", inner_steps, minimum=1)
        self.train = self._check_train(train)
        for k, objective in enumerate(objectives):
            if objective is None and k in self.train:
                raise InputDataError(f"objectives[{k}]", f"an objective for learning block {k}", "None")
            if objective is not None and not callable(objective):
                raise InputDataError(
                    f"objectives[{k}]", "a callable objective(h, batch) -> scalar", type(objective).__name__
                )
        self.objectives = list(objectives)
        if not callable(inputs):
            raise InputDataError("inputs", "a callable inputs(batch) -> tensor", type(inputs).__name__)
        self.inputs = inputs

    def _check_train(self, train: Iterable[int] | None) -> frozenset[int]:
        if train is None:
            return frozenset(range(len(self.blocks)))
        if isinstance(train, (str, Tensor)) or not isinstance(train, Iterable):
            raise InputDataError("train", "block indices, e.g. [0] or range(2)", type(train).__name__)
        indices = frozenset(check_int("train", k, minimum=0) for k in train)
        if not indices:
            raise InputDataError("train", "at least one block index", "none")
        if max(indices) >= len(self.blocks):
            raise InputDataError(
                "train", f"block indices in [0, {len(self.blocks)})", f"index {max(indices)}"
            )
        return indices

    def parameters(self) -> Iterator[nn.Parameter]:
        """The learning blocks' parameters and their objectives' (local heads), each once."""
        seen: set[int] = set()
        for k in sorted(self.train):
            modules = [self.blocks[k]]
            if isinstance(self.objectives[k], nn.Module):
                modules.append(self.objectives[k])
            for module in modules:
                for parameter in module.parameters():
                    if id(parameter) not in seen:
                        seen.add(id(parameter))
                        yield parameter

    def __call__(self, state: TrainState, batch: Any) -> Tensor:
        """Backward through every learning block's objective in turn; return their summed loss."""
        h = self.inputs(batch)
        total = torch.zeros((), dtype=torch.float64)
        last = max(self.train)
        for k, block in enumerate(self.blocks[: last + 1]):
            if k not in self.train:
                with torch.no_grad():
                    h = block(h.detach())
                continue
            for _ in range(self.inner_steps - 1):
                self._inner_step(state, block, self.objectives[k], h, batch)
            h = block(h.detach())
            loss = self.objectives[k](h, batch)
            _check_scalar(k, loss)
            loss.backward()
            total += loss.detach().double()
        return total

    @staticmethod
    def _inner_step(
        state: TrainState, block: nn.Module, objective: LocalObjective, h: Tensor, batch: Any
    ) -> None:
        """One optimizer step on this block (and its head) alone, the other gradients set aside."""
        own = {id(p) for p in block.parameters()}
        if isinstance(objective, nn.Module):
            own |= {id(p) for p in objective.parameters()}
        params = [p for group in state.optimizer.param_groups for p in group["params"]]
        stashed = {id(p): p.grad for p in params if id(p) not in own}
        for p in params:
            p.grad = None
        loss = objective(block(h.detach()), batch)
        loss.backward()
        state.optimizer.step()
        for p in params:
            p.grad = stashed.get(id(p))


def _check_scalar(k: int, loss: object) -> None:
    if not isinstance(loss, Tensor) or loss.numel() != 1:
        shape = f"a tensor of shape {tuple(loss.shape)}" if isinstance(loss, Tensor) else type(loss).__name__
        raise InputDataError(f"objectives[{k}]", "a scalar loss", shape)
    if not loss.requires_grad:
        raise InputDataError(
            f"objectives[{k}]",
            "a loss that depends on the block's output (requires grad)",
            "a loss without a gradient path",
        )


# ----------------------------------------------------------------------------------------------
# Objectives of the local rules: forward-forward (Hinton 2022) and tpSGD (Lomnitz et al. 2023).


def batch_labels(batch: Any) -> Tensor:
    """The class labels of a batch: ``batch.y`` if it has one (a graph), else ``batch[1]``."""
    y = getattr(batch, "y", None)
    if isinstance(y, Tensor):
        return y
    if isinstance(batch, Sequence) and not isinstance(batch, str) and len(batch) >= 2:
        if isinstance(batch[1], Tensor):
            return batch[1]
    raise InputDataError(
        "batch", "a pair (x, y) or an object with a tensor attribute `y`", type(batch).__name__
    )


class LabelOverlay:
    """Label-embedded inputs for goodness-based rules: positives with the true label, negatives without.

    Forward-forward (Hinton 2022, Sec. 3) and PhyLL (Momeni et al., Science 2023) feed the label
    *into* the network: the positive input carries the true label, the negative one a wrong
    label. As :class:`LocalUpdate`'s ``inputs`` this returns, for a batch ``(x, y)`` of `b` rows,
    the `2b` rows ``[overlay(x, y); overlay(x, y')]``: positives first, then negatives, where
    ``y'`` is drawn uniformly from the *other* classes (``y' = (y + r) mod C``, `r` uniform in
    `{1, ..., C - 1}`), so a negative never carries its true label.

    Args:
        classes: Number of classes `C` (at least 2).
        mode: ``"append"``: concatenate the scaled one-hot label to the input (`d + C`
            features); ``"replace"``: overwrite the first `C` features with it (Hinton's MNIST
            overlay, PhyLL's; `d` features, `d >= C`).
        scale: Value of the label's hot entry; ``None``: 1 when appending, each row's maximum
            (PhyLL's choice) when replacing.
        seed: Seeds the negative labels (reproducible runs).

    Raises:
        InputDataError: If ``classes`` < 2, ``mode`` is unknown, ``scale`` is not a positive
            number, or labels are not integers in [0, classes) (naming ``labels``, or ``y`` for
            a batch's labels).
    """

    def __init__(
        self, classes: int, *, mode: str = "append", scale: float | None = None, seed: int = 0
    ) -> None:
        self.classes = check_int("classes", classes, minimum=2)
        self.mode = check_name("mode", mode, ("append", "replace"), meaning="an overlay mode")
        self.scale = None if scale is None else check_real("scale", scale, positive=True)
        self.generator = make_generator(seed)

    def features(self, input_features: int) -> int:
        """The overlaid input's width for an input of ``input_features`` features."""
        return input_features + self.classes if self.mode == "append" else input_features

    def overlay(self, x: Tensor, labels: Tensor) -> Tensor:
        """``x`` (`b x d`) with the one-hot ``labels`` (`b`) embedded, as described above."""
        if not isinstance(x, Tensor) or x.dim() != 2:
            raise InputDataError("x", "a `b x d` tensor of inputs", getattr(x, "shape", type(x).__name__))
        if self.mode == "replace" and x.shape[1] < self.classes:
            raise InputDataError("x", f"at least classes={self.classes} features to overwrite", x.shape[1])
        labels = check_class_labels("labels", labels, x.shape[0], self.classes).to(x.device)
        if self.scale is not None:
            value = torch.full((x.shape[0], 1), self.scale, dtype=x.dtype, device=x.device)
        elif self.mode == "append":
            value = torch.ones((x.shape[0], 1), dtype=x.dtype, device=x.device)
        else:
            value = x.amax(dim=1, keepdim=True)
        hot = F.one_hot(labels, self.classes).to(x.dtype) * value
        if self.mode == "append":
            return torch.cat([x, hot], dim=1)
        return torch.cat([hot, x[:, self.classes :]], dim=1)

    def negative_labels(self, labels: Tensor) -> Tensor:
        """A wrong label per row, uniform over the other classes (never the true one)."""
        n = labels.shape[0] if isinstance(labels, Tensor) and labels.dim() == 1 else -1
        labels = check_class_labels("labels", labels, n, self.classes)
        shift = torch.randint(1, self.classes, labels.shape, generator=self.generator)
        return (labels + shift.to(labels.device)) % self.classes

    def __call__(self, batch: Any) -> Tensor:
        """``[overlay(x, y); overlay(x, y')]`` for a batch ``(x, y)``: `b` positives, then `b` negatives."""
        x, y = batch_inputs(batch), batch_labels(batch)
        if not isinstance(x, Tensor) or x.dim() != 2:
            raise InputDataError("x", "a `b x d` tensor of inputs", getattr(x, "shape", type(x).__name__))
        y = check_class_labels("y", y, x.shape[0], self.classes)
        return torch.cat([self.overlay(x, y), self.overlay(x, self.negative_labels(y))])


class LengthNormalization(nn.Module):
    """Divide each row by its Euclidean length, so only the direction reaches the next layer.

    Hinton (2022, Sec. 2): a forward-forward layer normalises its input's length, so the next
    layer cannot read the previous layer's goodness (the squared length) and must use the
    relative activities. Any positive scaling of the input leaves the output unchanged. A zero
    row stays zero (its length is clamped to ``eps``).

    Args:
        eps: Smallest length divided by.
    """

    def __init__(self, eps: float = 1e-12) -> None:
        super().__init__()
        self.eps = check_real("eps", eps, positive=True)

    def forward(self, x: Tensor) -> Tensor:
        """``x / max(||x||, eps)`` over all but the first (batch) dimension."""
        length = x.flatten(1).norm(dim=1).clamp_min(self.eps)
        return x / length.view(-1, *([1] * (x.dim() - 1)))


def _positive_negative(name: str, h: Tensor) -> tuple[Tensor, Tensor]:
    if not isinstance(h, Tensor) or h.dim() < 2 or h.shape[0] % 2:
        raise InputDataError(
            name,
            "a block output of 2b rows: b positives, then b negatives (LocalUpdate with inputs=LabelOverlay)",
            getattr(h, "shape", type(h).__name__),
        )
    half = h.shape[0] // 2
    return h[:half], h[half:]


class FFGoodness:
    """Forward-forward's layer objective: high goodness for positives, low for negatives.

    Hinton, *The Forward-Forward Algorithm* (2022), Sec. 2: the goodness of a layer's output is
    the sum of its squared activities, G(h) = Σ_j h_j², and the probability that an input is
    positive is σ(G − θ). The objective is the logistic loss on
    both halves of the block output (positives first, then negatives, as :class:`LabelOverlay`
    arranges them)::

        loss = mean softplus(theta - G(h_pos)) + mean softplus(G(h_neg) - theta)

    Args:
        theta: The goodness threshold, > 0.

    Raises:
        InputDataError: If ``theta`` is not a positive number, or (when called) the block
            output does not have an even number of rows (naming ``h``).
    """

    def __init__(self, theta: float = 2.0) -> None:
        self.theta = check_real("theta", theta, positive=True)

    @staticmethod
    def goodness(h: Tensor) -> Tensor:
        """Per-row sum of squares of ``h`` (`n x ...` -> `n`)."""
        return h.flatten(1).pow(2).sum(dim=1)

    def __call__(self, h: Tensor, batch: Any = None) -> Tensor:
        """The logistic loss of the positives' and negatives' goodness around ``theta``."""
        positive, negative = _positive_negative("h", h)
        return (
            F.softplus(self.theta - self.goodness(positive)).mean()
            + F.softplus(self.goodness(negative) - self.theta).mean()
        )


def predict_by_goodness(
    blocks: Iterable[nn.Module],
    goodness: Sequence[Callable[[Tensor], Tensor] | None],
    x: Tensor,
    overlay: LabelOverlay,
) -> Tensor:
    """The label whose overlay makes the network's summed goodness largest.

    For every class `c`, ``x`` is overlaid with `c` and run through the blocks; the scores of the
    blocks with a goodness function are summed; the prediction is the arg-max over `c`
    (Hinton 2022, Sec. 3.3; PhyLL, Momeni et al. 2023). Forward-forward usually skips the first
    layer (``goodness[0] = None``). Runs without autograd; ties go to the smaller label.

    Args:
        blocks: The network's blocks in order.
        goodness: One entry per block: ``goodness(h) -> n scores`` (e.g. ``FFGoodness.goodness``),
            or ``None`` for a block not counted (it still runs).
        x: An `n x d` tensor of inputs, without labels.
        overlay: How labels are embedded (the one used in training).

    Returns:
        An `n` int64 tensor of predicted labels.

    Raises:
        InputDataError: If ``goodness`` does not have one entry per block, counts no block, or
            ``x`` is not `n x d`.
    """
    blocks = list(blocks)
    if (
        isinstance(goodness, (str, Tensor))
        or not isinstance(goodness, Sequence)
        or len(goodness) != len(blocks)
    ):
        received = f"{len(goodness)} entries" if isinstance(goodness, Sequence) else type(goodness).__name__
        raise InputDataError("goodness", f"one entry per block ({len(blocks)})", received)
    if all(g is None for g in goodness):
        raise InputDataError("goodness", "at least one block's goodness function", "all None")
    if not isinstance(overlay, LabelOverlay):
        raise InputDataError("overlay", "a LabelOverlay", type(overlay).__name__)
    if not isinstance(x, Tensor) or x.dim() != 2:
        raise InputDataError("x", "an `n x d` tensor of inputs", getattr(x, "shape", type(x).__name__))
    last = max(k for k, g in enumerate(goodness) if g is not None)
    scores = []
    with torch.no_grad():
        for c in range(overlay.classes):
            h = overlay.overlay(x, torch.full((x.shape[0],), c, dtype=torch.long))
            total = torch.zeros(x.shape[0], dtype=torch.float64, device=x.device)
            for block, g in zip(blocks[: last + 1], goodness, strict=False):
                h = block(h)
                if g is not None:
                    total += g(h).double()
            scores.append(total)
    return torch.stack(scores, dim=1).argmax(dim=1)


class _SquaredOrAbsoluteError(torch.autograd.Function):
    """``mean_b sum_j loss(t_bj - y_bj)`` with ``t = P^T[labels]``, rebuilt from the labels in backward.

    Only the block output ``y`` (already held by the activation's own backward: the same
    storage), the labels and the fixed projection are saved, so the local loss adds no
    activation-sized tensor to what the layer holds for backward.
    """

    @staticmethod
    def forward(ctx: Any, y: Tensor, labels: Tensor, projection: Tensor, kind: str) -> Tensor:
        residual = projection.t()[labels] - y
        ctx.save_for_backward(y, labels, projection)
        ctx.kind = kind
        per_row = residual.pow(2) if kind == "l2" else residual.abs()
        return per_row.flatten(1).sum(dim=1).mean()

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None, None]:
        y, labels, projection = ctx.saved_tensors
        residual = projection.t()[labels] - y
        slope = 2 * residual if ctx.kind == "l2" else torch.sign(residual)
        return -slope * (grad / y.shape[0]), None, None, None


class TargetProjection(nn.Module):
    """tpSGD's layer objective: match a fixed random projection of the one-hot label.

    Lomnitz, Daniels, Zhang and Piacentino, *Learning with Local Gradients at the Edge*
    (AAAI 2023, arXiv 2208.08503), Sec. 3: hidden layer `i` gets the local target
    t_i = P_i y*, a fixed random projection of the one-hot label, and is trained by SGD on
    J_i = ‖t_i − y_i‖ between the target and the layer's *output after the activation*,
    y_i = σ_i(z_i): the target is not passed through the activation, and a layer's loss is the
    sum over its units (no division by the width), averaged over the batch. For a linear layer
    z = W h + b the gradient is the delta rule −2 (t − y) ⊙ σ'(z) hᵀ (l2) or
    −sign(t − y) ⊙ σ'(z) hᵀ (l1). The output layer is
    trained on the task loss itself (e.g. cross-entropy), not by this objective.

    The projection is a buffer: in no optimizer, never changed by training, and redrawn
    identically from ``seed``.

    Args:
        width: The layer's output width `d_i`.
        classes: Number of classes `C`.
        loss: ``"l2"`` (squared error) or ``"l1"`` (absolute error).
        scale: Standard deviation of the Gaussian projection entries.
        seed: Seeds the projection.
        projection: A given `d_i x C` projection instead of a random one.
        labels: ``labels(batch) -> b class indices``; default :func:`batch_labels`.

    Raises:
        InputDataError: If ``width`` or ``classes`` is not a positive integer, ``loss`` is
            unknown, ``projection`` is not `width x classes`, or (when called) the block output
            is not `b x width` (naming ``h``) or the labels are not `b` integers in
            [0, classes) (naming ``y``).
    """

    def __init__(
        self,
        width: int,
        classes: int,
        *,
        loss: str = "l2",
        scale: float = 1.0,
        seed: int = 0,
        projection: Tensor | None = None,
        labels: Callable[[Any], Tensor] = batch_labels,
    ) -> None:
        super().__init__()
        self.width = check_int("width", width, minimum=1)
        self.classes = check_int("classes", classes, minimum=2)
        self.loss = check_name("loss", loss, ("l2", "l1"), meaning="a local loss")
        if projection is None:
            scale = check_real("scale", scale, positive=True)
            generator = make_generator(seed)
            projection = scale * torch.randn(self.width, self.classes, generator=generator)
        elif not isinstance(projection, Tensor) or tuple(projection.shape) != (self.width, self.classes):
            raise InputDataError(
                "projection",
                f"a width x classes = {self.width} x {self.classes} tensor",
                getattr(projection, "shape", type(projection).__name__),
            )
        if not callable(labels):
            raise InputDataError("labels", "a callable labels(batch) -> tensor", type(labels).__name__)
        self.labels = labels
        self.register_buffer("projection", projection.detach().clone().float())

    def target(self, labels: Tensor) -> Tensor:
        """The local targets :math:`t = P y^*` of ``labels`` (`b` -> `b x width`)."""
        return self.projection.t()[labels]

    def forward(self, h: Tensor, batch: Any) -> Tensor:
        """The batch mean of the summed l2 / l1 error between ``h`` and the projected targets."""
        if not isinstance(h, Tensor) or h.dim() != 2 or h.shape[1] != self.width:
            raise InputDataError(
                "h", f"a `b x {self.width}` block output (the projection's width)", getattr(h, "shape", None)
            )
        y = check_class_labels("y", self.labels(batch), h.shape[0], self.classes)
        projection = self.projection.to(h.dtype)
        return _SquaredOrAbsoluteError.apply(h, y.to(h.device), projection, self.loss)
