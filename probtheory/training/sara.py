r"""SaRA: fine-tune only a pretrained model's small-magnitude ("ineffective") parameters.

Hu et al., "SaRA: High-Efficient Diffusion Model Fine-tuning with Progressive Sparse Low-Rank
Adaptation" (ICLR 2025; code sjtuplayer/SaRA, ``optim/adamw.py``). The observation: in a
pretrained network the entries with the smallest magnitudes barely matter -- setting them to zero
hardly changes the output -- so they are spare capacity that can be re-purposed for a new task
while the large ("effective") entries, which carry the pretrained knowledge, stay frozen.

For every adapted tensor :math:`\theta_p` and one global threshold :math:`t`,

.. math::
    M_p = \mathbb{1}\bigl[\lvert\theta_p\rvert < t\bigr], \qquad
    \theta_p \leftarrow \theta_p - \eta\, \bigl(M_p \odot \widehat{\nabla}_{\theta_p}\bigr)
    \quad\text{(only masked entries move)},

trained on the task loss plus a nuclear-norm ("low-rank") penalty on each masked weight matrix,

.. math::
    \mathcal{L} = \mathcal{L}_{\text{task}} + \lambda \sum_{p:\ \theta_p \text{ 2-d}}
    \bigl\lVert \theta_p \odot M_p \bigr\rVert_*, \qquad
    \frac{\partial \lVert \theta \odot M\rVert_*}{\partial \theta} = M \odot U V^\top
    \quad (\theta \odot M = U \operatorname{diag}(s) V^\top),

which keeps the learned sparse matrix from taking a high rank and over-fitting (paper Sec. 3.2;
the reference code penalises one randomly drawn large matrix per step, ``matrices_per_step=1``
here). *Progressive* adaptation (Sec. 3.3): after ``progressive_step`` optimizer steps the mask is
re-selected on the *current* weights, :math:`M_p \leftarrow \mathbb{1}[\lvert\theta_p\rvert < t]`,
so entries that grew past the threshold (became effective) are frozen and the ones still below it
train on with a fresh optimizer state. Entries outside the first mask are unchanged and stay
:math:`\ge t`, so the new mask is a subset of the old one. Only the masked entries form the
adapter that is saved (:meth:`SaRA.state_delta`, :func:`load_state_delta`).

Differences from the reference code, on purpose:

* the code writes ``trainable.abs()`` into the masked slots, which flips every negative small
  weight to positive at initialisation (changing the pretrained function) and keeps the update
  sign-constrained; here the masked entries keep their sign and move freely;
* the code's memory trick (a custom autograd ``Sparse`` function returning only the masked part of
  the gradient) is not reproduced: gradients are dense and masked in ``on_after_backward``, which
  gives the same updates (it costs memory, not correctness). After every step the frozen entries
  are also written back from a snapshot, so the "only masked entries change" guarantee holds for
  any optimizer (weight decay, momentum), not only for Adam without decay.

Example:
    >>> import torch
    >>> from torch import nn
    >>> from probtheory.plugins import fit
    >>> from probtheory.training.sara import SaRA
    >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
    <torch._C.Generator object at ...>
    >>> net = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 3))
    >>> before = [p.detach().clone() for p in net.parameters()]
    >>> x, y = torch.randn(64, 8), torch.randint(0, 3, (64,))
    >>> sara = SaRA(net, fraction=0.1, nuclear_weight=1e-3, progressive_step=10)
    >>> _ = fit(net, [(x, y)] * 10, epochs=2, callbacks=[sara], progress=False)
    >>> sara.num_trainable() <= round(0.1 * sum(p.numel() for p in before))
    True
    >>> moved = sum(int((p.detach() != b).sum()) for p, b in zip(net.parameters(), before))
    >>> 0 < moved <= sara.selections[0][1]
    True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import torch
from torch import Tensor, nn

from probtheory._checks import check_int, check_name, check_real
from probtheory.errors import ConfigurationError, InputDataError, UnsupportedError
from probtheory.training.loop import TrainingCallback, TrainState

__all__ = ["SaRA", "ineffective_mask", "load_state_delta", "magnitude_threshold", "masked_nuclear_norm"]

_SELECTIONS = ("smallest", "random")


def ineffective_mask(weight: Tensor, threshold: float) -> Tensor:
    """The SaRA mask ``|weight| < threshold``: True where an entry is "ineffective" and will train.

    Args:
        weight: Any floating tensor (a pretrained parameter).
        threshold: The threshold t > 0.

    Returns:
        A bool tensor of ``weight``'s shape.
    """
    if not isinstance(weight, Tensor) or not weight.is_floating_point():
        raise InputDataError("weight", "a floating-point tensor", type(weight).__name__)
    threshold = check_real("threshold", threshold, positive=True)
    return weight.detach().abs() < threshold


def magnitude_threshold(tensors: Iterable[Tensor], fraction: float) -> float:
    """The global threshold t under which a share ``fraction`` of all entries' magnitudes lie.

    With all magnitudes sorted, ``a_(1) <= ... <= a_(N)``, and ``k = max(1, round(fraction N))``,
    t is the midpoint ``(a_(k) + a_(k+1)) / 2``: exactly k entries satisfy ``|theta| < t`` unless
    ``a_(k) = a_(k+1)`` (a tie at the cut), in which case fewer do.

    Args:
        tensors: The tensors the threshold is shared by (e.g. all parameters of a model).
        fraction: The share of entries to select, in (0, 1).

    Returns:
        The threshold t (a positive float).
    """
    fraction = check_real("fraction", fraction)
    if not 0.0 < fraction < 1.0:
        raise InputDataError("fraction", "a share in (0, 1)", fraction)
    tensors = list(tensors)
    if not tensors:
        raise InputDataError("tensors", "at least one tensor", "none")
    magnitudes = torch.cat([t.detach().abs().reshape(-1).to(torch.float64) for t in tensors])
    n = magnitudes.numel()
    if n < 2:
        raise InputDataError("tensors", "at least 2 entries in total", n)
    k = min(max(1, round(fraction * n)), n - 1)
    ordered = torch.sort(magnitudes).values
    threshold = float((ordered[k - 1] + ordered[k]) / 2)
    if threshold <= 0.0:
        raise InputDataError("tensors", f"more than {k} non-zero entries to cut between", "too many zeros")
    return threshold


def masked_nuclear_norm(weight: Tensor, mask: Tensor) -> Tensor:
    r"""The nuclear norm :math:`\lVert W \odot M\rVert_* = \sum_i s_i(W \odot M)`, differentiable in W.

    Its gradient in W is :math:`M \odot U V^\top` (thin SVD of :math:`W \odot M`); computed with
    ``torch.linalg.svdvals``, whose backward needs no distinct singular values.

    Args:
        weight: An `m x n` matrix.
        mask: An `m x n` bool tensor.
    """
    if weight.dim() != 2:
        raise UnsupportedError("weight", "a 2-d matrix", f"a {weight.dim()}-d tensor")
    if mask.shape != weight.shape or mask.dtype != torch.bool:
        raise InputDataError("mask", f"a bool tensor of shape {tuple(weight.shape)}", _describe(mask))
    return torch.linalg.svdvals(weight * mask).sum()


class SaRA(TrainingCallback):
    """The SaRA callback for :func:`probtheory.plugins.fit`: sparse fine-tuning of small weights.

    Give the optimizer all of the model's parameters (or the SaRA ones); the callback masks
    their gradients in ``on_after_backward``, adds the nuclear-norm penalty in ``on_loss``,
    writes the frozen entries back after every step and re-selects the mask at
    ``progressive_step``. Parameters not named in ``parameters`` are left to the optimizer.

    Args:
        model: The pretrained model to adapt; the same module must then be passed to ``fit``.
        threshold: The magnitude threshold t > 0 (paper: a fixed value per model).
        fraction: Instead of ``threshold``: the share of entries to train, in (0, 1); t is set
            by :func:`magnitude_threshold` over all adapted parameters (one global t, as in the
            paper). Exactly one of ``threshold`` and ``fraction`` must be given.
        nuclear_weight: lambda >= 0 of the nuclear-norm penalty on each masked 2-d weight.
        progressive_step: Re-select the mask on the current weights after this many optimizer
            steps (counted across ``fit`` calls); ``None`` for no re-selection.
        parameters: Names (as in ``model.named_parameters()``) of the tensors to adapt; default
            every parameter that requires a gradient.
        matrices_per_step: Penalise a random subset of this many 2-d weights per step (the
            reference code: 1, to save SVDs); ``None`` penalises all of them.
        selection: ``"smallest"`` (SaRA) or ``"random"``: a uniformly random mask of the same
            size, an ablation baseline; it needs ``fraction`` and has no progressive step.
        seed: Seed of the random mask and of the penalised-matrix draws.

    Attributes:
        threshold: The threshold t in use (``nan`` for a random mask).
        masks: Parameter name -> bool mask of its trainable entries.
        selections: ``(step, number of trainable entries)`` at every (re-)selection.
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        threshold: float | None = None,
        fraction: float | None = None,
        nuclear_weight: float = 0.0,
        progressive_step: int | None = None,
        parameters: Sequence[str] | None = None,
        matrices_per_step: int | None = None,
        selection: str = "smallest",
        seed: int | None = None,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise InputDataError("model", "an nn.Module", type(model).__name__)
        if (threshold is None) == (fraction is None):
            raise ConfigurationError(
                "SaRA: give exactly one of `threshold` and `fraction`, "
                f"received threshold={threshold!r}, fraction={fraction!r}."
            )
        check_name("selection", selection, _SELECTIONS, meaning="a selection rule")
        if selection == "random" and (fraction is None or progressive_step is not None):
            raise ConfigurationError(
                "SaRA: selection='random' needs `fraction` and no `progressive_step`, received "
                f"fraction={fraction!r}, progressive_step={progressive_step!r}."
            )
        self.model = model
        self.nuclear_weight = check_real("nuclear_weight", nuclear_weight, nonnegative=True)
        self.progressive_step = (
            None if progressive_step is None else check_int("progressive_step", progressive_step, minimum=1)
        )
        self.matrices_per_step = (
            None
            if matrices_per_step is None
            else check_int("matrices_per_step", matrices_per_step, minimum=1)
        )
        self.selection = selection
        self._generator = torch.Generator()
        if seed is None:
            self._generator.seed()
        else:
            self._generator.manual_seed(check_int("seed", seed, minimum=0))
        self._params = _named_parameters(model, parameters)
        tensors = list(self._params.values())
        if selection == "random":
            self.threshold = float("nan")
            self.masks = _random_masks(self._params, fraction, self._generator)
        else:
            if threshold is not None:
                self.threshold = check_real("threshold", threshold, positive=True)
            else:
                self.threshold = magnitude_threshold(tensors, fraction)
            self.masks = {name: ineffective_mask(p, self.threshold) for name, p in self._params.items()}
        if self.num_trainable() == 0:
            raise InputDataError(
                "threshold", "a value above the smallest |theta| (no entry would train)", self.threshold
            )
        self.steps = 0
        self.selections: list[tuple[int, int]] = [(0, self.num_trainable())]
        # every entry ever trainable: what the adapter must store (re-selection only shrinks the mask)
        self._adapter_masks = {name: mask.clone() for name, mask in self.masks.items()}
        self._snapshot()

    def num_trainable(self) -> int:
        """Number of entries the current masks let train."""
        return sum(int(m.sum()) for m in self.masks.values())

    def trainable_fraction(self) -> float:
        """Share of the adapted parameters' entries that train."""
        return self.num_trainable() / sum(p.numel() for p in self._params.values())

    def nuclear_penalty(self) -> Tensor:
        r"""The penalty ``lambda * sum_p ||theta_p (.) M_p||_*``, a differentiable scalar.

        Summed over the 2-d adapted weights (a random subset of ``matrices_per_step`` of them if
        set); 0 when there are none.
        """
        names = [name for name, p in self._params.items() if p.dim() == 2]
        if self.matrices_per_step is not None and len(names) > self.matrices_per_step:
            pick = torch.randperm(len(names), generator=self._generator)[: self.matrices_per_step]
            names = [names[i] for i in sorted(pick.tolist())]
        first = next(iter(self._params.values()))
        total = torch.zeros((), dtype=first.dtype, device=first.device)
        for name in names:
            total = total + masked_nuclear_norm(self._params[name], self.masks[name])
        return self.nuclear_weight * total

    def reselect(self, optimizer: torch.optim.Optimizer | None = None) -> int:
        """Progressive step: ``M_p <- |theta_p| < t`` on the current weights.

        Resets ``optimizer``'s state of the adapted tensors (if given) and returns the new number
        of trainable entries.
        """
        if self.selection == "random":
            raise UnsupportedError("selection", "'smallest' for a re-selection", "'random'")
        self.masks = {name: ineffective_mask(p, self.threshold) for name, p in self._params.items()}
        for name, mask in self.masks.items():
            self._adapter_masks[name] |= mask
        if optimizer is not None:
            for p in self._params.values():
                optimizer.state.pop(p, None)  # lazily re-initialised at the next step
        self._snapshot()
        self.selections.append((self.steps, self.num_trainable()))
        return self.num_trainable()

    def state_delta(self) -> dict[str, Tensor]:
        """The sparse adapter: ``{name + ".index": flat int64 indices, name + ".value": values}``.

        Only the entries that were ever trainable (the first mask; a progressive re-selection only
        freezes some of them), as the paper saves them; a flat dict of tensors, so it can be
        written with ``safetensors.torch.save_file`` and applied by :func:`load_state_delta`.
        """
        delta: dict[str, Tensor] = {}
        for name, p in self._params.items():
            index = torch.nonzero(self._adapter_masks[name].reshape(-1)).reshape(-1)
            delta[f"{name}.index"] = index
            delta[f"{name}.value"] = p.detach().reshape(-1)[index].clone()
        return delta

    # --- hooks ---------------------------------------------------------------------------

    def on_fit_start(self, state: TrainState) -> None:
        """Check that ``fit`` trains the model the masks were selected on; snapshot the frozen entries."""
        if state.model is not self.model:
            raise InputDataError("model", "the module given to SaRA(...)", type(state.model).__name__)
        self._snapshot()  # the frozen values are the ones training starts from

    def on_loss(self, state: TrainState, loss: Tensor) -> Tensor:
        """Add the nuclear-norm penalty (when ``nuclear_weight > 0``)."""
        if self.nuclear_weight == 0.0:
            return loss
        return loss + self.nuclear_penalty().to(loss.dtype)

    def on_after_backward(self, state: TrainState) -> None:
        """Zero the gradient of every frozen entry."""
        with torch.no_grad():
            for name, p in self._params.items():
                if p.grad is not None:
                    p.grad.mul_(self.masks[name])

    def on_step_end(self, state: TrainState) -> None:
        """Write the frozen entries back (exact under any optimizer); re-select at ``progressive_step``."""
        with torch.no_grad():
            for name, p in self._params.items():
                p.copy_(torch.where(self.masks[name], p, self._frozen[name]))
        self.steps += 1
        if self.progressive_step is not None and self.steps == self.progressive_step:
            self.reselect(state.optimizer)

    def _snapshot(self) -> None:
        self._frozen = {name: p.detach().clone() for name, p in self._params.items()}


def load_state_delta(model: nn.Module, delta: Mapping[str, Tensor]) -> nn.Module:
    """Write a sparse adapter from :meth:`SaRA.state_delta` into ``model`` (in place) and return it.

    Args:
        model: A model with the same architecture as the adapted one (e.g. the pretrained model).
        delta: ``{name + ".index": indices, name + ".value": values}``.
    """
    params = dict(model.named_parameters())
    names = sorted({key.rsplit(".", 1)[0] for key in delta})
    for name in names:
        if name not in params:
            raise InputDataError("delta", "keys naming parameters of `model`", repr(name))
        index, value = delta.get(f"{name}.index"), delta.get(f"{name}.value")
        if index is None or value is None or index.shape != value.shape:
            raise InputDataError(f"delta[{name!r}]", "matching '.index' and '.value' tensors", "a mismatch")
        p = params[name]
        if index.numel() and (int(index.min()) < 0 or int(index.max()) >= p.numel()):
            raise InputDataError(f"delta[{name!r}.index]", f"indices in [0, {p.numel()})", "out of range")
        with torch.no_grad():
            p.view(-1)[index] = value.to(p.dtype)
    return model


def _named_parameters(model: nn.Module, names: Sequence[str] | None) -> dict[str, nn.Parameter]:
    available = dict(model.named_parameters())
    if names is None:
        chosen = {name: p for name, p in available.items() if p.requires_grad}
    else:
        if isinstance(names, str):
            raise InputDataError("parameters", "a sequence of parameter names", repr(names))
        chosen = {}
        for name in names:
            check_name("parameters", name, available, meaning="names of the model's parameters")
            chosen[name] = available[name]
    if not chosen:
        raise InputDataError("parameters", "at least one trainable parameter", "none")
    for name, p in chosen.items():
        if not p.is_floating_point():
            raise InputDataError(f"parameters[{name!r}]", "a floating-point tensor", f"dtype {p.dtype}")
    return chosen


def _random_masks(
    params: Mapping[str, Tensor], fraction: float, generator: torch.Generator
) -> dict[str, Tensor]:
    fraction = check_real("fraction", fraction)
    if not 0.0 < fraction < 1.0:
        raise InputDataError("fraction", "a share in (0, 1)", fraction)
    sizes = [p.numel() for p in params.values()]
    n = sum(sizes)
    k = min(max(1, round(fraction * n)), n - 1)
    flat = torch.zeros(n, dtype=torch.bool)
    flat[torch.randperm(n, generator=generator)[:k]] = True
    masks, start = {}, 0
    for (name, p), size in zip(params.items(), sizes, strict=True):
        masks[name] = flat[start : start + size].reshape(p.shape).to(p.device)
        start += size
    return masks


def _describe(value: object) -> str:
    if isinstance(value, Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    return type(value).__name__
