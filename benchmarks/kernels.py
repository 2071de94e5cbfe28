"""NNGP + NTK Gram matrices vs BoTorch's InfiniteWidthBNNKernel (NNGP only), side by side.

Run:  python benchmarks/kernels.py            (writes benchmarks/results/kernels.json)
      python benchmarks/kernels.py --quick    (small sizes, for a smoke test)

Both kernels are timed in the same process, interleaved, on the same inputs (ReLU, float64,
weight variance 2, bias variance 0.1); medians of the per-repeat times and of the per-repeat
ratios are reported, since the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from botorch.models.kernels import InfiniteWidthBNNKernel

from probtheory.kernels import nngp_and_ntk

RESULTS = Path(__file__).resolve().parent / "results"


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def side_by_side(n: int, depth: int, repeats: int, grad: bool) -> dict:
    g = torch.Generator().manual_seed(n + depth)
    x = torch.rand(n, 6, generator=g, dtype=torch.float64)
    theirs = InfiniteWidthBNNKernel(depth=depth).double()
    theirs.weight_var, theirs.bias_var = 2.0, 0.1
    ours = []
    botorch = []
    with torch.set_grad_enabled(grad):
        if grad:
            x.requires_grad_(True)
        # warm-up and agreement check of the NNGP
        nngp, _ = nngp_and_ntk(x, depth=depth, weight_variance=2.0, bias_variance=0.1)
        max_diff = float((nngp - theirs.forward(x, x)).abs().max().detach())
        for _ in range(repeats):
            ours.append(_timed(lambda: nngp_and_ntk(x, depth=depth, weight_variance=2.0, bias_variance=0.1)))
            botorch.append(_timed(lambda: theirs.forward(x, x)))
    ratios = [a / b for a, b in zip(ours, botorch, strict=True)]
    return {
        "n": n,
        "depth": depth,
        "autograd": grad,
        "ours_nngp_and_ntk_s": statistics.median(ours),
        "botorch_nngp_s": statistics.median(botorch),
        "ratio": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "max_abs_nngp_difference": max_diff,
    }


def scaling(values: list[int], key: str, fixed: dict, repeats: int) -> dict:
    times = []
    for v in values:
        params = {**fixed, key: v}
        x = torch.rand(params["n"], 6, generator=torch.Generator().manual_seed(v), dtype=torch.float64)
        with torch.no_grad():
            nngp_and_ntk(x, depth=params["depth"], weight_variance=2.0, bias_variance=0.1)
            run = lambda: nngp_and_ntk(x, depth=params["depth"], weight_variance=2.0, bias_variance=0.1)  # noqa: B023, E731
            ts = [_timed(run) for _ in range(repeats)]
        times.append(statistics.median(ts))
    slope = float(np.polyfit(np.log(values), np.log(times), 1)[0])
    # linear fit t = a + b v: the depth cost is a fixed part (first layer, diagonals) plus b per layer
    b, a = np.polyfit(values, times, 1)
    predicted = a + b * np.asarray(values)
    r2 = 1 - float(
        ((np.asarray(times) - predicted) ** 2).sum() / ((np.asarray(times) - np.mean(times)) ** 2).sum()
    )
    return {
        key: values,
        "fixed": fixed,
        "median_s": times,
        "loglog_slope": slope,
        "linear_fit": {"intercept_s": float(a), "slope_s": float(b), "r2": r2},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    parser.add_argument("--out", type=Path, default=RESULTS / "kernels.json")
    args = parser.parse_args()
    torch.manual_seed(0)
    if args.quick:
        n, depth, repeats = 300, 4, 3
        depths, sizes = [2, 4, 8], [100, 200, 400]
    else:
        n, depth, repeats = 2000, 10, 9
        depths, sizes = [2, 5, 10, 20, 40], [250, 500, 1000, 2000, 4000]
    headline = side_by_side(n, depth, repeats, grad=False)
    with_grad = side_by_side(n if args.quick else 1000, depth, max(3, repeats // 3), grad=True)
    depth_scaling = scaling(depths, "depth", {"n": 1000 if not args.quick else 200, "depth": None}, repeats)
    n_scaling = scaling(sizes, "n", {"n": None, "depth": depth}, max(3, repeats // 2))
    table = [
        {
            "case": f"n={r['n']}, depth={r['depth']}, {'autograd' if r['autograd'] else 'no_grad'}",
            "ours NNGP+NTK (s)": f"{r['ours_nngp_and_ntk_s']:.3f}",
            "BoTorch NNGP (s)": f"{r['botorch_nngp_s']:.3f}",
            "ratio (median [min, max])": f"{r['ratio']:.2f} [{r['ratio_min']:.2f}, {r['ratio_max']:.2f}]",
        }
        for r in (headline, with_grad)
    ]
    table.append({
        "case": f"depth scaling, n={depth_scaling['fixed']['n']}: depths {depths}",
        "ours NNGP+NTK (s)": ", ".join(f"{t:.3f}" for t in depth_scaling["median_s"]),
        "BoTorch NNGP (s)": "-",
        "ratio (median [min, max])": (
            f"linear fit R^2 = {depth_scaling['linear_fit']['r2']:.4f}, "
            f"{1e3 * depth_scaling['linear_fit']['slope_s']:.1f} ms per layer"
        ),
    })  # fmt: skip
    table.append({
        "case": f"n scaling, depth={depth}: n {sizes}",
        "ours NNGP+NTK (s)": ", ".join(f"{t:.3f}" for t in n_scaling["median_s"]),
        "BoTorch NNGP (s)": "-",
        "ratio (median [min, max])": f"log-log slope {n_scaling['loglog_slope']:.2f} (quadratic: 2)",
    })  # fmt: skip
    result = {
        "meta": {
            "command": "python benchmarks/kernels.py" + (" --quick" if args.quick else ""),
            "machine": (
                f"{platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}"
            ),
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
            "goal": "ratio <= 0.6 at n=2000, depth=10 (no_grad)",
        },
        "headline": headline,
        "autograd": with_grad,
        "depth_scaling": depth_scaling,
        "n_scaling": n_scaling,
        "table": table,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(table, indent=2))


if __name__ == "__main__":
    main()
