"""PhyLL: physical local learning by cosine goodness (Momeni et al., Science 2023).

Momeni, Rahmani, Mallejac, del Hougne and Fleury, *Backpropagation-free training of deep
physical neural networks* (Science 2023). A deep physical network alternates physical
systems, which are only run (:class:`probtheory.layers.physical.BlackBoxLayer`), with small
trainable digital adapters. Each block ``[physical system, adapter]`` learns by a
forward-forward-like contrastive objective on its own output: the input carries the label
(:class:`~probtheory.training.local.LabelOverlay`, ``mode="replace"``), the goodness of an output
`h` is its cosine similarity with a fixed random probe vector `p`,

    G(h) = cos(|h|, p),

and the loss pushes the positive's goodness above the negative's::

    loss = mean log(1 + exp(-theta (G(h_pos) - G(h_neg))))

Training runs through :class:`~probtheory.training.local.LocalUpdate` (several inner steps per
batch, as in the paper's code); no gradient ever enters a physical system, so no digital model
of it is needed. Prediction is the label whose overlay gives the largest goodness summed over
blocks, :func:`~probtheory.training.local.predict_by_goodness` with ``CosineGoodness.goodness``.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from probtheory._checks import check_int, check_real, make_generator
from probtheory.errors import InputDataError

__all__ = ["CosineGoodness"]


class CosineGoodness(nn.Module):
    """PhyLL's layer objective: the positive's cosine goodness above the negative's.

    Args:
        width: The block output's width (the probe's length).
        theta: Sharpness of the logistic loss on the goodness gap, > 0 (the paper uses 4 to 5).
        seed: Seeds the probe vector `p` (a fixed random unit vector: a buffer, never trained).

    Raises:
        InputDataError: If ``width`` is not a positive integer or ``theta`` is not positive;
            when called, if the block output is not `2b x width` (naming ``h``).
    """

    def __init__(self, width: int, *, theta: float = 4.0, seed: int = 0) -> None:
        super().__init__()
        self.width = check_int("width", width, minimum=1)
        self.theta = check_real("theta", theta, positive=True)
        probe = torch.randn(self.width, generator=make_generator(seed))
        self.register_buffer("probe", probe / probe.norm())

    def goodness(self, h: Tensor) -> Tensor:
        """Per-row cosine similarity of ``|h|`` with the probe (`n x width` -> `n`)."""
        if not isinstance(h, Tensor) or h.dim() != 2 or h.shape[1] != self.width:
            raise InputDataError("h", f"an `n x {self.width}` block output", getattr(h, "shape", None))
        return F.cosine_similarity(h.abs(), self.probe.to(h.dtype).expand_as(h), dim=1)

    def forward(self, h: Tensor, batch: Any = None) -> Tensor:
        """``mean softplus(-theta (G(h_pos) - G(h_neg)))`` over the `b` pairs of rows."""
        if not isinstance(h, Tensor) or h.dim() != 2 or h.shape[0] % 2:
            raise InputDataError(
                "h",
                "2b rows: b positives, then b negatives (LocalUpdate with inputs=LabelOverlay)",
                getattr(h, "shape", type(h).__name__),
            )
        g = self.goodness(h)
        half = h.shape[0] // 2
        return F.softplus(-self.theta * (g[:half] - g[half:])).mean()
