"""ReLU-SNNK in place of ``Linear(64, 256) + ReLU`` in a digits MLP ``64 - 256 - 10``.

The paper's claim (Sehanobish et al., ICLR 2024, Sec. 4): replacing a feed-forward layer by an SNNK
layer keeps accuracy close to the original network with fewer trainable parameters, improving with
the number of random features m. Our CPU-sized set-up: the MLP ``64 - 256 - 10`` against the same
network with its first layer and ReLU replaced by :class:`~probtheory.layers.snnk.SNNKLinear`
(``kind="relu"``, orthogonal features) for m in {16, 32, 64, 128}; the headline compares m = 64
(``out x m = 16384`` parameters in the layer, vs ``65 x 256 = 16640``) with the MLP. Also measured: the
kernel-approximation error ``E|Phi(x).Phi(w) - k_1(x, w)|`` on digits inputs and initial weights, whose
log-log slope in m should be -1/2.

Note what the swap does to this network: the SNNK layer's output is *linear* in the fixed features
Phi(x) (there is no activation after it), so ``Linear(256, 10)`` composed with it is one linear map of
m random ReLU features -- the whole network becomes a random-features model with m features, which
bounds what any training can reach at small m.
"""

from __future__ import annotations

import math
import statistics
import time
from functools import partial
from pathlib import Path

import torch
from torch import nn

from probtheory.layers.snnk import SNNKLinear
from probtheory.plugins.data import digits_split
from probtheory.plugins.entry import ReproductionResult
from probtheory.plugins.evaluation import count_parameters
from probtheory.plugins.reproductions.classification import (
    Budget,
    compare_on_digits,
    digits_result,
    seeded_variant,
)

__all__ = ["reproduce"]

_HIDDEN = 256
_FEATURES = (16, 32, 64, 128)
_HEADLINE = 64


def _mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(64, _HIDDEN), nn.ReLU(), nn.Linear(_HIDDEN, 10))


def _snnk(m: int) -> nn.Module:
    # the seed of the random features comes from the global RNG, which build_seeded seeds per run
    seed = int(torch.randint(0, 2**31 - 1, ()).item())
    return nn.Sequential(
        SNNKLinear(64, _HIDDEN, num_features=m, kind="relu", seed=seed), nn.Linear(_HIDDEN, 10)
    )


def _kernel_error_slope(seed: int, repeats: int) -> dict[str, float]:
    """Mean |Phi(x).Phi(w) - k_1(x, w)| over digits inputs, weights and seeds per m, and its log-log slope."""
    x = digits_split(seed).x_train[:64].double()
    widths = (16, 64, 256, 1024)
    errors = []
    for m in widths:
        per_seed = []
        for r in range(repeats):
            layer = SNNKLinear(64, 32, m, seed=seed * 1000 + r, dtype=torch.float64)
            generator = torch.Generator().manual_seed(seed * 1000 + r + 10**6)
            w = (torch.rand(32, 64, generator=generator, dtype=torch.float64) * 2 - 1) / 8
            b = (torch.rand(32, generator=generator, dtype=torch.float64) * 2 - 1) / 8
            estimate = layer.input_features(x) @ layer.weight_features(w, b).T
            per_seed.append((estimate - layer.target(x, w, b)).abs().mean().item())
        errors.append(statistics.fmean(per_seed))
    logs_m, logs_e = [math.log(m) for m in widths], [math.log(e) for e in errors]
    slope = statistics.linear_regression(logs_m, logs_e).slope
    out = {f"kernel error m={m}": e for m, e in zip(widths, errors, strict=True)}
    out["kernel error log-log slope"] = slope
    return out


def reproduce(quick: bool = False, seed: int = 0, out_dir: Path | None = None) -> ReproductionResult:
    """ReLU-SNNK (m = 64) vs the MLP's ``Linear + ReLU``: test accuracy on digits, with parameter counts.

    Args:
        quick: Two seeds and 20 epochs (else four seeds and 40 epochs).
        seed: First seed; runs use ``seed, seed + 1, ...``.
        out_dir: Where to write ``snnk.png``; ``None`` for no figure.
    """
    start = time.perf_counter()
    budget = Budget(epochs=20 if quick else 40)
    seeds = [seed + i for i in range(2 if quick else 4)]
    builds = {"MLP": _mlp, **{f"SNNK m={m}": partial(_snnk, m) for m in _FEATURES}}
    scores = compare_on_digits({name: seeded_variant(build, budget) for name, build in builds.items()}, seeds)
    params = {f"{name} parameters": float(count_parameters(build())) for name, build in builds.items()}
    layer_params = {
        "MLP first-layer parameters": float(64 * _HIDDEN + _HIDDEN),
        **{f"SNNK m={m} layer parameters": float(_HIDDEN * m) for m in _FEATURES},
    }
    kernel = _kernel_error_slope(seed, repeats=2 if quick else 5)
    mean = {name: statistics.fmean(s.accuracy for s in runs) for name, runs in scores.items()}
    headline = f"SNNK m={_HEADLINE}"
    gap = 100 * (mean[headline] - mean["MLP"])
    monotone = all(
        mean[f"SNNK m={a}"] <= mean[f"SNNK m={b}"] + 0.005
        for a, b in zip(_FEATURES[:-1], _FEATURES[1:], strict=True)
    )
    n_test = sum(sc.n_test for sc in scores[headline])
    p, q = mean[headline], mean["MLP"]
    significant = -gap / 100 > 2 * math.sqrt((p * (1 - p) + q * (1 - q)) / n_test)
    if gap < -2.0:
        shows = f"does NOT show up ({gap:+.1f} pts)"
    elif significant:
        shows = "shows up as stated (gap within 2 pts), but SNNK is measurably below the MLP"
    else:
        shows = "shows up (no measurable gap)"
    claim = (
        f"paper's claim (within 1-2 pts of the MLP at m={_HEADLINE} with fewer parameters) {shows}"
        + f"; accuracy {'improves' if monotone else 'does not improve monotonically'} with m "
        + "(" + ", ".join(f"m={m} {100 * mean[f'SNNK m={m}']:.1f}%" for m in _FEATURES) + ")"
        + f"; parameters {int(params[headline + ' parameters'])} vs {int(params['MLP parameters'])}"
        + f"; kernel error slope in m {kernel['kernel error log-log slope']:+.2f} (theory -0.50)"
    )  # fmt: skip
    return digits_result(
        name="snnk",
        scores=scores,
        method=headline,
        baseline="MLP",
        seconds=time.perf_counter() - start,
        quick=quick,
        seed=seed,
        out_dir=out_dir,
        title=f"MLP 64-{_HIDDEN}-10: Linear+ReLU vs ReLU-SNNK, {budget.epochs} epochs",
        note=claim,
        extra={**params, **layer_params, **kernel},
    )
