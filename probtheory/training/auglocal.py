"""AugLocal: local learning with auxiliary networks built from the network's own later layers.

Ma et al., "Scaling Supervised Local Learning with Augmented Auxiliary Networks" (ICLR 2024),
Sec. 3. A network of `L` layers and a classifier head is split into `K` gradient-isolated
modules: module `k < K - 1` is layer `k` alone (``j_k = k``, 0-based), the last module is the
remaining layers with the head. Module `k` learns from the cross-entropy of an *augmented
auxiliary network*: fresh copies (new weights) of `d_k` layers sampled uniformly from the layers
after it, then a fresh copy of the head. The sampled indices are (the official code's
``unifSamp`` configuration)::

    i-th sampled layer = round(j_k + (L - j_k - 1) * i / d_k),   i = 1..d_k
    (every later layer when d_k >= L - 1 - j_k)

so the last sampled layer is always the network's last layer. The depths shrink linearly with
the module index, the paper's *pyramidal depth* (Sec. 3.2), with ``c`` its decay coefficient::

    d_k = max(1, round(d * (1 - k c / (K - 2)) + k c / (K - 2))),   k = 0..K-2

(``d_0 = d``; with ``c = 1`` the last auxiliary network has depth 1; ``K = 2``: ``d_0 = d``).
``round`` is Python's (half to even), as in the official code (``networks/resnet.py``,
``networks/auxiliary_nets.py``); e.g. ``round(2.5) = 2``.

Differences from the official code, stated: the auxiliary head here is a fresh copy of the
network's own head (the code's is ``AdaptiveAvgPool + Flatten + Linear`` for a ResNet, the same
structure as its head), and the code's stride-2 insertion where conv widths double does not
arise (layers are copied as they are, so a copied layer must accept the module's output).
The code also puts a ``BatchNorm1d`` before the classifier of depth-1 auxiliaries of conv
nets; any BatchNorm in an auxiliary network (copied or given) refuses a batch of one sample.
At inference the auxiliary networks are dropped: they are not part of the model.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from probtheory._checks import check_int, check_logit_labels, check_real
from probtheory.errors import InputDataError
from probtheory.training.local import LocalUpdate

__all__ = [
    "AugmentedAuxiliary",
    "auglocal_update",
    "fresh_copy",
    "pyramid_depths",
    "sampled_layer_indices",
]


def pyramid_depths(depth: int, num_modules: int, coefficient: float = 1.0) -> list[int]:
    """The auxiliary depths ``d_0, ..., d_{K-2}`` of AugLocal's pyramid (Ma et al., Sec. 3.2).

    Args:
        depth: ``d``, the first module's auxiliary depth, at least 1.
        num_modules: ``K``, the number of gradient-isolated modules, at least 2 (the last one has
            no auxiliary network).
        coefficient: ``c`` >= 0, the decay: 0 keeps every depth at ``d``, 1 shrinks it linearly
            to 1 at the last auxiliary network.

    Returns:
        ``K - 1`` depths (see the module docstring for the formula).

    Raises:
        InputDataError: If an argument is out of range.
    """
    depth = check_int("depth", depth, minimum=1)
    num_modules = check_int("num_modules", num_modules, minimum=2)
    coefficient = check_real("coefficient", coefficient, nonnegative=True)
    if num_modules == 2:
        return [depth]
    depths = []
    for k in range(num_modules - 1):
        ratio = (k * coefficient) / (num_modules - 2)  # the official code's order of operations
        depths.append(max(1, round(depth * (1 - ratio) + ratio * 1)))
    return depths


def sampled_layer_indices(module_end: int, num_layers: int, depth: int) -> list[int]:
    """The layers (0-based) copied into the auxiliary network of the module ending at ``module_end``.

    Args:
        module_end: ``j_k``, the module's last layer, in ``[0, num_layers - 1)``.
        num_layers: ``L``, the number of layers of the network (the head not counted).
        depth: ``d_k``, the auxiliary depth, at least 1.

    Returns:
        ``round(j + (L - j - 1) * i / d)`` for ``i = 1..d``, or every layer after ``j`` when
        ``d >= L - 1 - j``.

    Raises:
        InputDataError: If an argument is out of range.
    """
    num_layers = check_int("num_layers", num_layers, minimum=2)
    module_end = check_int("module_end", module_end, minimum=0)
    if module_end >= num_layers - 1:
        raise InputDataError("module_end", f"a layer index in [0, {num_layers - 1})", module_end)
    depth = check_int("depth", depth, minimum=1)
    j, remaining = module_end, num_layers - module_end - 1
    if depth >= remaining:
        return list(range(j + 1, num_layers))
    return [round(j + remaining / depth * i) for i in range(1, depth + 1)]


def fresh_copy(module: nn.Module) -> nn.Module:
    """A deep copy of ``module`` with new weights: every submodule's ``reset_parameters()`` is called.

    The copy shares no storage with ``module``. Submodules without ``reset_parameters`` keep
    copies of their current values (still in storage of their own). Uses the global torch RNG
    (seed it, or let :func:`auglocal_update` do it).
    """
    if not isinstance(module, nn.Module):
        raise InputDataError("module", "an nn.Module", type(module).__name__)
    clone = copy.deepcopy(module)
    for submodule in clone.modules():
        reset = getattr(submodule, "reset_parameters", None)
        if callable(reset):
            reset()
    return clone


def _labels(batch: Any) -> Tensor:
    if isinstance(batch, (Tensor, str)) or not isinstance(batch, Sequence) or len(batch) != 2:
        raise InputDataError("batch", "a pair (x, y) of inputs and integer labels", type(batch).__name__)
    return batch[1]


class AugmentedAuxiliary(nn.Module):
    """A module's local objective: cross-entropy of an auxiliary network on its output.

    ``objective(h, (x, y)) = cross_entropy(auxiliary(h), y)``. Its parameters are the
    auxiliary network's, which :class:`LocalUpdate` trains alongside the module.

    Args:
        auxiliary: Maps the module's output `b x ...` to `b x C` logits.

    Raises:
        InputDataError: If ``auxiliary`` is not a module; when called, if the batch is not
            ``(x, y)``, the logits are not `b x C`, a label is outside ``[0, C)``, or the
            auxiliary network holds a BatchNorm in training mode and the batch has one sample.
    """

    def __init__(self, auxiliary: nn.Module) -> None:
        super().__init__()
        if not isinstance(auxiliary, nn.Module):
            raise InputDataError("auxiliary", "an nn.Module", type(auxiliary).__name__)
        self.auxiliary = auxiliary
        self._batch_norms = [m for m in auxiliary.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]

    def forward(self, h: Tensor, batch: Any) -> Tensor:
        """The cross-entropy of ``auxiliary(h)`` against the batch's labels."""
        y = _labels(batch)
        if h.shape[0] < 2 and any(m.training for m in self._batch_norms):
            raise InputDataError(
                "batch",
                "at least 2 samples (the auxiliary network has BatchNorm, which needs batch statistics)",
                f"{h.shape[0]} sample",
            )
        logits = self.auxiliary(h)
        if not isinstance(logits, Tensor) or logits.dim() != 2:
            raise InputDataError(
                "auxiliary", "`b x C` logits", getattr(logits, "shape", type(logits).__name__)
            )
        return F.cross_entropy(logits, check_logit_labels("y", y, logits))


def _output_cross_entropy(logits: Tensor, batch: Any) -> Tensor:
    """The last module's objective: the network's own loss on its logits."""
    return F.cross_entropy(logits, check_logit_labels("y", _labels(batch), logits))


def auglocal_update(
    model: nn.Sequential,
    *,
    num_modules: int,
    depth: int,
    coefficient: float = 1.0,
    seed: int = 0,
    copy_layer: Callable[[nn.Module], nn.Module] = fresh_copy,
) -> LocalUpdate:
    """The :class:`LocalUpdate` that trains ``model`` by AugLocal (Ma et al., ICLR 2024).

    Args:
        model: ``nn.Sequential(layer_0, ..., layer_{L-1}, head)``: `L` layers then the
            classifier head (whose output is `b x C` logits).
        num_modules: ``K``, from 2 to ``L``: modules ``0..K-2`` are layers ``0..K-2``, each
            trained through its own auxiliary network; module ``K - 1`` is the remaining layers
            with the head, trained by the network's own loss.
        depth: ``d``, the first auxiliary network's number of copied layers.
        coefficient: ``c``, the pyramid's decay (see :func:`pyramid_depths`).
        seed: Seeds the auxiliary networks' fresh weights.
        copy_layer: Makes an auxiliary network's copy of a layer or of the head; default
            :func:`fresh_copy` (same type and shape, new weights).

    Returns:
        A :class:`LocalUpdate` over the `K` modules; ``update.objectives[k].auxiliary`` is
        module `k`'s auxiliary network (for ``k < K - 1``). The model holds no auxiliary
        network: it is evaluated as it is.

    Raises:
        InputDataError: If ``model`` is not an ``nn.Sequential`` of at least two layers and a
            head, ``num_modules`` is below 2 or more than the layers (naming ``num_modules``),
            or another argument is out of range.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> layers = [nn.Sequential(nn.Linear(8, 8), nn.ReLU()) for _ in range(4)]
        >>> net = nn.Sequential(*layers, nn.Linear(8, 3))
        >>> update = auglocal_update(net, num_modules=4, depth=2)
        >>> [len(update.objectives[k].auxiliary) - 1 for k in range(3)]  # copied layers
        [2, 2, 1]
    """
    if not isinstance(model, nn.Sequential):
        raise InputDataError(
            "model", "an nn.Sequential(layer_0, ..., layer_{L-1}, head)", type(model).__name__
        )
    num_layers = len(model) - 1
    if num_layers < 2:
        raise InputDataError("model", "at least two layers and a head", f"{len(model)} modules")
    num_modules = check_int("num_modules", num_modules, minimum=2)
    if num_modules > num_layers:
        raise InputDataError(
            "num_modules", f"at most one module per layer (L = {num_layers} layers)", f"{num_modules} modules"
        )
    depths = pyramid_depths(depth, num_modules, coefficient)
    seed = check_int("seed", seed, minimum=0)
    if not callable(copy_layer):
        raise InputDataError(
            "copy_layer", "a callable copy_layer(module) -> module", type(copy_layer).__name__
        )
    head = model[num_layers]
    objectives: list[Callable[[Tensor, Any], Tensor]] = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for k, d_k in enumerate(depths):
            layers = [copy_layer(model[i]) for i in sampled_layer_indices(k, num_layers, d_k)]
            objectives.append(AugmentedAuxiliary(nn.Sequential(*layers, copy_layer(head))))
    objectives.append(_output_cross_entropy)
    blocks = [model[k] for k in range(num_modules - 1)] + [model[num_modules - 1 :]]
    return LocalUpdate(blocks, objectives)
