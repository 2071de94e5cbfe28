"""PhyLL on a simulated deep physical network: digital adapters trained around black-box layers.

Momeni, Rahmani, Mallejac, del Hougne and Fleury, *Backpropagation-free training of deep physical
neural networks* (Science 2023): physical layers are only run, never differentiated; small
digital adapters between them are trained by a local contrastive (cosine-goodness) objective,
so no digital twin of the physics is needed. The paper demonstrates this on acoustic, microwave
and optical hardware (qualitatively: close to in-silico backpropagation, well above a
reservoir of the untrained physics).

Here: digits through two simulated physical layers, each a fixed random complex transmission
matrix followed by intensity detection, ``x -> |T x|²``
(:class:`~probtheory.layers.physical.IntensityTransmission` wrapped in
:class:`~probtheory.layers.physical.BlackBoxLayer`), with a trainable digital adapter after each
(``LayerNorm`` and a linear map). The first medium has 10 extra input channels for the label:
PhyLL lights the label's channel at intensity 4 (about the largest pixel of a standardised
digit), the baselines leave them dark. (The paper overwrites the first 10 pixels with the label at
the row's maximum, harmless on 28 x 28 MNIST; on 8 x 8 digits it would erase informative
pixels, which cost PhyLL about 4 points in our runs.) PhyLL trains the adapters by
:class:`~probtheory.training.phyll.CosineGoodness` (several inner steps per batch) and predicts
by the label of largest summed goodness. Baselines, on the same physical layers: a *reservoir*
(the untrained network's physical features, both layers, or the first alone, standardised with
the training set's statistics and read out by logistic regression fitted to convergence) and
*twin backprop* (the same network plus a linear readout, trained end to end through an exact
digital twin of the physics: the upper bound, which real hardware does not allow). Same Adam
optimizer, learning rate, batch size and epochs for PhyLL and twin backprop.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import torch
from torch import Tensor, nn

from probtheory._checks import require_module
from probtheory.layers.physical import BlackBoxLayer, IntensityTransmission
from probtheory.plugins.data import ClassificationSplit
from probtheory.plugins.entry import ReproductionResult
from probtheory.plugins.reproductions.classification import (
    Budget,
    Score,
    build_seeded,
    compare_on_digits,
    digits_result,
    train_and_score,
)
from probtheory.training.local import LabelOverlay, LocalUpdate, predict_by_goodness
from probtheory.training.loop import fit
from probtheory.training.minibatches import Minibatches
from probtheory.training.phyll import CosineGoodness

__all__ = ["reproduce"]

_MEASURED = 128  # outputs of each physical layer
_ADAPTER = 64  # width of each digital adapter's output (the next physical layer's input)
_CLASSES = 10
_THETA = 4.0
_INNER_STEPS = 5
_LABEL_INTENSITY = 4.0  # about the largest pixel of a standardised digit


def _network(seed: int, *, twin: bool) -> nn.Sequential:
    """Two blocks ``[physical layer, LayerNorm, Linear]``; the physics drawn from ``seed`` alone."""

    def physical(k: int, width: int) -> nn.Module:
        medium = IntensityTransmission(width, _MEASURED, seed=1000 * seed + k)  # the same for every method
        return medium if twin else BlackBoxLayer(medium, name=f"physical layer {k + 1}")

    def build() -> nn.Sequential:
        return nn.Sequential(*[
            nn.Sequential(physical(k, 64 + _CLASSES if k == 0 else _ADAPTER), nn.LayerNorm(_MEASURED),
                          nn.Linear(_MEASURED, _ADAPTER))
            for k in range(2)
        ])  # fmt: skip

    return build_seeded(build, seed)


def _dark_label_channels(x: Tensor) -> Tensor:
    """The input as the baselines feed it to the first physical layer: the label channels dark (0)."""
    return torch.nn.functional.pad(x, (0, _CLASSES))


class _DarkLabelChannels(nn.Module):
    """:func:`_dark_label_channels` as a layer (the twin network's first)."""

    def forward(self, x: Tensor) -> Tensor:
        return _dark_label_channels(x)


class _Reservoir:
    """The untrained network's measured physical features, read out by logistic regression.

    The adapters between the physical layers stay at their random initialisation; the features
    are standardised with the training set's statistics and the readout (scikit-learn's
    ``LogisticRegression``, its default l2 strength) is fitted to convergence: a linear readout
    is a convex problem, so the baseline is not handicapped by a training budget.
    """

    def __init__(self, frozen: nn.Sequential, layers: tuple[int, ...]) -> None:
        self.frozen, self.layers = frozen, layers

    def features(self, x: Tensor) -> Tensor:
        """The chosen physical layers' outputs, concatenated."""
        with torch.no_grad():
            first = self.frozen[0][0](_dark_label_channels(x))
            second = self.frozen[1][0](self.frozen[0][2](self.frozen[0][1](first)))
        return torch.cat([(first, second)[k] for k in self.layers], dim=1).double()

    def score(self, split: ClassificationSplit) -> Score:
        """Fit the readout on the training set; test accuracy and training log-loss."""
        # imported here: the registry does not need scikit-learn
        require_module("sklearn", extra="datasets", purpose="the PhyLL readout")
        from sklearn.linear_model import LogisticRegression

        train = self.features(split.x_train)
        mean, scale = train.mean(dim=0), train.std(dim=0).clamp_min(1e-12)
        readout = LogisticRegression(max_iter=5000).fit(
            ((train - mean) / scale).numpy(), split.y_train.numpy()
        )
        test = ((self.features(split.x_test) - mean) / scale).numpy()
        probabilities = readout.predict_proba(((train - mean) / scale).numpy())
        train_loss = float(
            -torch.as_tensor(probabilities)[torch.arange(len(train)), split.y_train].log().mean()
        )
        hits = float((torch.as_tensor(readout.predict(test)) == split.y_test).double().mean())
        return Score(hits, train_loss, False, int(split.y_test.numel()))


def reproduce(quick: bool = False, seed: int = 0, out_dir: Path | None = None) -> ReproductionResult:
    """PhyLL vs a reservoir and twin backprop: test accuracy on digits through simulated physics.

    Args:
        quick: Three seeds and 6 epochs (else five seeds and 20 epochs).
        seed: First seed; runs use ``seed, seed + 1, ...``.
        out_dir: Where to write ``phyll.png``; ``None`` for no figure.
    """
    start = time.perf_counter()
    budget = Budget(epochs=6 if quick else 20)
    seeds = [seed + i for i in range(3 if quick else 5)]

    def phyll(split: ClassificationSplit, run_seed: int) -> Score:
        model = _network(run_seed, twin=False)
        overlay = LabelOverlay(_CLASSES, scale=_LABEL_INTENSITY, seed=run_seed)
        objectives = [CosineGoodness(_ADAPTER, theta=_THETA, seed=1000 * run_seed + 10 + k) for k in range(2)]
        state = fit(
            model,
            Minibatches(split.x_train, split.y_train, batch_size=budget.batch_size, seed=run_seed),
            epochs=budget.epochs,
            update=LocalUpdate(model, objectives, inputs=overlay, inner_steps=_INNER_STEPS),
            optimizer=torch.optim.Adam(model.parameters(), lr=budget.lr),
            seed=run_seed,
            stop_on_nonfinite=True,
            progress=False,
        )
        predicted = predict_by_goodness(model, [o.goodness for o in objectives], split.x_test, overlay)
        hits = float((predicted == split.y_test).float().mean())
        return Score(hits, state.epoch_losses[-1], state.diverged, int(split.y_test.numel()))

    def reservoir(split: ClassificationSplit, run_seed: int) -> Score:
        return _Reservoir(_network(run_seed, twin=True), (0, 1)).score(split)

    def reservoir_first(split: ClassificationSplit, run_seed: int) -> Score:
        return _Reservoir(_network(run_seed, twin=True), (0,)).score(split)

    def twin_backprop(split: ClassificationSplit, run_seed: int) -> Score:
        model = build_seeded(
            lambda: nn.Sequential(
                _DarkLabelChannels(), *_network(run_seed, twin=True), nn.Linear(_ADAPTER, 10)
            ),
            run_seed,
        )
        return train_and_score(model, split, budget, seed=run_seed)

    variants = {
        "PhyLL": phyll,
        "reservoir": reservoir,
        "reservoir (layer 1)": reservoir_first,
        "twin backprop": twin_backprop,
    }
    scores = compare_on_digits(variants, seeds)
    mean = {name: statistics.fmean(s.accuracy for s in runs) for name, runs in scores.items()}
    best_reservoir = max(mean["reservoir"], mean["reservoir (layer 1)"])
    above = 100 * (mean["PhyLL"] - best_reservoir)
    below = 100 * (mean["twin backprop"] - mean["PhyLL"])
    note = (
        f"PhyLL is {above:+.1f} points vs the better reservoir readout (bar: >= +3, "
        f"{'met' if above >= 3 else 'not met'}) and {-below:+.1f} vs twin backprop (bar: within 5 below it, "
        f"{'met' if below <= 5 else 'not met'})"
    )
    if above < 3:
        note += (
            "; on digits one random intensity layer |Tx|² already gives features a linear readout "
            f"separates to {100 * mean['reservoir (layer 1)']:.1f}%, so the reservoir is a strong "
            "baseline at this scale and the adapters' local training adds little on top of it"
        )
    note += (
        "; the paper's hardware results are qualitative (near in-silico training, above untrained physics)"
    )
    return digits_result(
        name="phyll",
        scores=scores,
        method="PhyLL",
        baseline="reservoir",
        seconds=time.perf_counter() - start,
        quick=quick,
        seed=seed,
        out_dir=out_dir,
        title=f"two simulated |Tx|² layers + digital adapters, {budget.epochs} epochs",
        note=note,
        extra={
            "twin backprop accuracy gap (points)": below,
            "gain over the better reservoir (points)": above,
            "inner steps per batch": float(_INNER_STEPS),
        },
    )
