"""PFN prediction path: ``torch.no_grad`` (shipped) against ``torch.inference_mode`` and ``torch.compile``.

Run:  OMP_NUM_THREADS=1 python benchmarks/pfn_inference.py [--repeats 15]
      (writes benchmarks/results/pfn_inference.json)

For the shipped ``gp-hyper-1d`` PFN (64 datasets, 20 context points, 100 queries) and the shipped
LC-PFN (32 curves, 10 observed epochs, 40 queried epochs), one prediction = forward pass, bar
distribution, predictive mean. Three variants run interleaved in a shuffled order per repeat,
in the same process on the same inputs:

* ``no_grad`` -- ``PFN.predict`` as shipped (``@torch.no_grad``);
* ``inference_mode`` -- the same call inside ``torch.inference_mode()``;
* ``compile`` -- the same call with the transformer replaced by ``torch.compile(transformer)``
  (inductor, CPU); its one-off compilation time is reported separately, not in the ratio.

Reported: the median over repeats of each variant's time divided by ``no_grad``'s time in the
same repeat, and the largest change of the predictive means relative to their largest magnitude
(a variant must not change predictions). The library adopts a variant only if it is more than
10% faster.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from probtheory.lcpfn import LCPFN
from probtheory.pfn import PFN

ROOT = Path(__file__).resolve().parent.parent


def _cases() -> dict:
    generator = torch.Generator().manual_seed(0)
    pfn = PFN.from_pretrained("gp-hyper-1d")
    x_train = torch.rand(64, 20, 1, generator=generator)
    y_train = torch.randn(64, 20, generator=generator)
    x_test = torch.rand(64, 100, 1, generator=generator)
    lcpfn = LCPFN.from_pretrained()
    epochs = torch.arange(1, 51, dtype=torch.float64)
    curves = (
        0.5 + 0.3 * (1 - torch.exp(-epochs / 15)) + 0.01 * torch.randn(32, 50, generator=generator).double()
    )
    return {
        "gp-hyper-1d": (pfn, lambda: pfn.predict(x_train, y_train, x_test).mean),
        "lcpfn": (
            lcpfn.pfn,
            lambda: lcpfn.predict_mean(
                epochs[:10].expand(32, 10).unsqueeze(-1),
                curves[:, :10].unsqueeze(-1),
                epochs[10:].expand(32, 40).unsqueeze(-1),
            ),
        ),
    }


def _measure(name: str, model: PFN, predict, repeats: int) -> dict:
    plain = model.transformer
    start = time.perf_counter()
    compiled = torch.compile(plain)
    model.transformer = compiled
    reference_compiled = predict()  # the first call compiles
    compile_seconds = time.perf_counter() - start
    model.transformer = plain
    reference = predict()

    def run(variant: str) -> float:
        model.transformer = compiled if variant == "compile" else plain
        start = time.perf_counter()
        if variant == "inference_mode":
            with torch.inference_mode():
                predict()
        else:
            predict()
        seconds = time.perf_counter() - start
        model.transformer = plain
        return seconds

    order = random.Random(0)
    ratios: dict[str, list[float]] = {"inference_mode": [], "compile": []}
    for _ in range(repeats):
        seconds = {v: run(v) for v in order.sample(["no_grad", "inference_mode", "compile"], 3)}
        for variant in ratios:
            ratios[variant].append(seconds[variant] / seconds["no_grad"])
    with torch.inference_mode():
        inference = predict()
    scale = reference.abs().max()  # relative to the means' scale (a mean may be near 0)
    result = {
        "median time / no_grad": {v: statistics.median(r) for v, r in ratios.items()},
        "compile seconds (one-off)": compile_seconds,
        "max change of the mean / max |mean|": {
            "inference_mode": ((inference - reference).abs() / scale).max().item(),
            "compile": ((reference_compiled - reference).abs() / scale).max().item(),
        },
    }
    print(name, json.dumps(result, indent=1))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    torch.set_num_threads(1)
    results = {
        name: _measure(name, model, predict, args.repeats) for name, (model, predict) in _cases().items()
    }
    keep = {
        name: [v for v, ratio in r["median time / no_grad"].items() if ratio < 0.9]
        for name, r in results.items()
    }
    data = {
        "results": results,
        "adopted (more than 10% faster)": keep,
        "meta": {
            "command": f"OMP_NUM_THREADS=1 python benchmarks/pfn_inference.py --repeats {args.repeats}",
            "machine": f"{platform.machine()}, 1 torch thread, torch {torch.__version__}",
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        },
    }
    (ROOT / "benchmarks" / "results" / "pfn_inference.json").write_text(json.dumps(data, indent=1))


if __name__ == "__main__":
    main()
