"""PFN prediction path: ``torch.no_grad`` (shipped) against inference mode, ``torch.compile``, bfloat16.

Run:  OMP_NUM_THREADS=1 python benchmarks/pfn_inference.py [--repeats 15]
      (writes benchmarks/results/pfn_inference.json)

For the shipped ``gp-hyper-1d`` PFN (64 datasets, 20 context points, 100 queries) and the shipped
LC-PFN (32 curves, 10 observed epochs, 40 queried epochs), one prediction = forward pass, bar
distribution, predictive mean. Three variants run interleaved in a shuffled order per repeat,
in the same process on the same inputs:

* ``no_grad`` -- ``PFN.predict`` as shipped (``@torch.no_grad``);
* ``inference_mode`` -- the same call inside ``torch.inference_mode()``;
* ``compile`` -- the same call with the transformer replaced by ``torch.compile(transformer)``
  (inductor, CPU); its one-off compilation time is reported separately, not in the ratio;
* ``autocast_bf16`` -- the same call inside ``torch.autocast("cpu", dtype=torch.bfloat16)``
  (the matmuls in bfloat16, which CPUs with AVX512-BF16 or AMX run natively).

Also reported: a profile of the shipped path (the share of the time in matrix products and their
GFLOP/s, against the GFLOP/s of one large matrix product on the same thread; the largest
operators) -- what is left to win without changing the arithmetic.

Reported: the median over repeats of each variant's time divided by ``no_grad``'s time in the
same repeat, and the largest change of the predictive means relative to their largest magnitude.
The library adopts a variant only if it is more than 10% faster and changes no predictive mean
by more than 1e-6 of that magnitude.
"""

from __future__ import annotations

import argparse
import contextlib
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


def _peak_gflops(repeats: int = 10) -> float:
    """Float32 GFLOP/s of a large matrix product on this thread: the machine's practical peak."""
    a, b = torch.randn(2048, 1024), torch.randn(1024, 1024)
    for _ in range(3):
        a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * 2048 * 1024 * 1024 * repeats / (time.perf_counter() - start) / 1e9


def _profile(predict, calls: int = 10) -> dict:
    """Where one prediction's time goes (torch.profiler, self time per operator)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], with_flops=True) as prof:
        for _ in range(calls):
            predict()
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    matmuls = [e for e in events if e.key in ("aten::addmm", "aten::mm", "aten::bmm")]
    matmul_time = sum(e.self_cpu_time_total for e in matmuls)
    top = sorted(events, key=lambda e: e.self_cpu_time_total, reverse=True)[:6]
    return {
        "matmul share of the time": matmul_time / total,
        "matmul GFLOP/s": sum(e.flops for e in matmuls) / (matmul_time * 1e-6) / 1e9,
        "largest operators (share of the time)": {e.key: e.self_cpu_time_total / total for e in top},
    }


def _measure(name: str, model: PFN, predict, repeats: int) -> dict:
    plain = model.transformer
    start = time.perf_counter()
    compiled = torch.compile(plain)
    model.transformer = compiled
    predict()  # the first call compiles
    compile_seconds = time.perf_counter() - start
    model.transformer = plain
    reference = predict()

    contexts = {
        "no_grad": contextlib.nullcontext,
        "inference_mode": torch.inference_mode,
        "compile": contextlib.nullcontext,
        "autocast_bf16": lambda: torch.autocast("cpu", dtype=torch.bfloat16),
    }

    def run(variant: str) -> tuple[float, torch.Tensor]:
        model.transformer = compiled if variant == "compile" else plain
        start = time.perf_counter()
        with contexts[variant]():
            mean = predict()
        seconds = time.perf_counter() - start
        model.transformer = plain
        return seconds, mean

    order = random.Random(0)
    variants = [v for v in contexts if v != "no_grad"]
    ratios: dict[str, list[float]] = {v: [] for v in variants}
    means: dict[str, torch.Tensor] = {}
    for _ in range(repeats):
        seconds = {}
        for variant in order.sample(list(contexts), len(contexts)):
            seconds[variant], means[variant] = run(variant)
        for variant in variants:
            ratios[variant].append(seconds[variant] / seconds["no_grad"])
    scale = reference.abs().max()  # relative to the means' scale (a mean may be near 0)
    result = {
        "median time / no_grad": {v: statistics.median(r) for v, r in ratios.items()},
        "compile seconds (one-off)": compile_seconds,
        "profile (no_grad)": _profile(predict),
        "max change of the mean / max |mean|": {
            v: ((means[v] - reference).abs() / scale).max().item() for v in variants
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
        name: [
            v
            for v, ratio in r["median time / no_grad"].items()
            if ratio < 0.9 and r["max change of the mean / max |mean|"][v] <= 1e-6
        ]
        for name, r in results.items()
    }
    data = {
        "results": results,
        "peak matmul GFLOP/s (float32, 2048 x 1024 x 1024)": _peak_gflops(),
        "adopted (more than 10% faster, means within 1e-6)": keep,
        "meta": {
            "command": f"OMP_NUM_THREADS=1 python benchmarks/pfn_inference.py --repeats {args.repeats}",
            "machine": f"{platform.machine()}, 1 torch thread, torch {torch.__version__}",
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        },
    }
    (ROOT / "benchmarks" / "results" / "pfn_inference.json").write_text(json.dumps(data, indent=1))


if __name__ == "__main__":
    main()
