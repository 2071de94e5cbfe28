r"""Hard-sample minibatch selection: train only on the batches the model currently gets most wrong.

Sahayam, Zakkam & Jayaraman, "Can we learn better with hard samples?" (arXiv 2304.03486): at the
start of an epoch every minibatch is scored by its loss under the current model (no gradients),
and only the top :math:`\lceil \delta \cdot \#\text{batches} \rceil` batches by loss are trained
on (backward pass and optimizer step). Small :math:`\delta` spends the backward passes where the
loss is, which the paper reports converges in fewer epochs.

:class:`HardBatches` is a data policy: it wraps the minibatches given to
:func:`probtheory.plugins.fit` and yields, each epoch, the selected batches (hardest first). The
epoch's batches are drawn once, so the batches scored are exactly the batches trained on.
``rescore_every = r`` keeps one selection for r epochs (the scoring forward passes are then
paid once per r epochs; between rescorings the same batch contents are reused).

Example:
    >>> import torch
    >>> from torch import nn
    >>> from probtheory.plugins import fit
    >>> from probtheory.training.minibatches import Minibatches
    >>> from probtheory.training.loop import classification_loss
    >>> x, y = torch.randn(256, 4), torch.randint(0, 2, (256,))
    >>> net = nn.Linear(4, 2)
    >>> data = HardBatches(Minibatches(x, y, batch_size=32), net, classification_loss, delta=0.25)
    >>> _ = fit(net, data, epochs=3, progress=False)
    >>> data.backward_passes  # 2 of 8 batches per epoch
    6
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from typing import Any

import torch
from torch import nn

from probtheory._checks import check_int, check_real
from probtheory.errors import InputDataError
from probtheory.training.loop import LossFn
from probtheory.training.minibatches import check_batches

__all__ = ["HardBatches"]


class HardBatches:
    """Each epoch, the top-``delta`` share of ``data``'s minibatches by current loss.

    Args:
        data: A re-iterable collection of batches (``Minibatches``, a ``DataLoader``, a list).
        model: The model being trained (scored in eval mode, without gradients).
        loss: ``loss(model, batch) -> scalar tensor``, the training loss.
        delta: Fraction in (0, 1] of the batches trained on; 1 trains on every batch (hardest first).
        rescore_every: Re-draw and re-score the batches every this many epochs.

    Attributes:
        backward_passes: Batches yielded so far (each one backward pass and step in ``fit``).
        forward_passes: Batches scored so far.
        last_scores: The losses of the batches at the last scoring, in drawing order.
    """

    def __init__(
        self, data: Iterable[Any], model: nn.Module, loss: LossFn, *, delta: float, rescore_every: int = 1
    ) -> None:
        delta = check_real("delta", delta)
        if not 0.0 < delta <= 1.0:
            raise InputDataError("delta", "a fraction in (0, 1]", delta)
        if not isinstance(model, nn.Module):
            raise InputDataError("model", "an nn.Module", type(model).__name__)
        if not callable(loss):
            raise InputDataError("loss", "a callable loss(model, batch)", type(loss).__name__)
        check_batches("data", data, reiterated=True)  # drawn again at every rescoring
        self.data, self.model, self.loss, self.delta = data, model, loss, delta
        self.rescore_every = check_int("rescore_every", rescore_every, minimum=1)
        self.backward_passes = 0
        self.forward_passes = 0
        self.last_scores: list[float] = []
        self._epochs = 0
        self._selected: list[Any] = []

    def __iter__(self) -> Iterator[Any]:
        if self._epochs % self.rescore_every == 0:
            self._selected = self._select()
        self._epochs += 1
        for batch in self._selected:
            self.backward_passes += 1
            yield batch

    def _select(self) -> list[Any]:
        batches = list(self.data)
        if not batches:
            raise InputDataError("data", "at least one batch", "an empty collection")
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                scores = [float(self.loss(self.model, batch)) for batch in batches]
        finally:
            self.model.train(was_training)
        self.forward_passes += len(batches)
        if not all(math.isfinite(s) for s in scores):
            raise InputDataError("loss", "finite batch losses when scoring", scores)
        self.last_scores = scores
        keep = math.ceil(self.delta * len(batches))
        order = sorted(range(len(batches)), key=lambda i: -scores[i])[:keep]
        return [batches[i] for i in order]

    def __len__(self) -> int:
        """Batches per epoch after selection (needs ``data`` to have a length)."""
        return math.ceil(self.delta * len(self.data))  # type: ignore[arg-type]
