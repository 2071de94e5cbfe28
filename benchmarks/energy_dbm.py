"""Monotone DBM mean-field solver: iterations and time to tolerance, with and without Anderson.

Run:  python benchmarks/energy_dbm.py            (writes benchmarks/results/energy_dbm.json)
      python benchmarks/energy_dbm.py --quick    (small sizes, for a smoke test; writes to /tmp)

For n binary variables (one-hot dimension D = 2n) a random monotone DBM is drawn
(``probtheory.energy.monotone_dbm.MonotoneDBM``, dense couplings among all variables) and its
unconditioned mean-field fixed point is solved to the residual ``max |q - softmax(Wq + b)| <= 1e-6``
by damped forward-backward splitting with the default step ``2 / (λ_min + λ_max)`` of ``I - W``,
once plainly (Anderson memory 0) and once with Anderson acceleration (memory 5), side by side in
the same process on the same instance (the order alternates between repeats). Two regimes:

* ``random``: factor ``A`` of rank D, m = 0.1, bias ~ N(0, 1);
* ``ill-conditioned``: factor of rank D/4, m = 0.02, zero bias (no saturation of the softmax, so
  the contraction is close to its worst case ``(λ_max - λ_min) / (λ_max + λ_min)``).

Reported per size: medians over repeats of iterations, solve seconds, the per-repeat time and
iteration ratios (plain / Anderson), the step-size setup time (one ``eigvalsh``; excluded from the
solve times), and the largest distance between the two fixed points.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from probtheory.energy.categorical_mean_field import default_step, solve_mean_field
from probtheory.energy.monotone_dbm import MonotoneDBM

ROOT = Path(__file__).resolve().parent.parent
TOL = 1e-6
REGIMES = {
    "random": {"rank_ratio": 1.0, "m": 0.1, "bias_std": 1.0},
    "ill-conditioned": {"rank_ratio": 0.25, "m": 0.02, "bias_std": 0.0},
}


def _instance(n: int, regime: dict, seed: int) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    sizes = [2] * n
    model = MonotoneDBM(sizes, m=regime["m"], rank=max(1, round(regime["rank_ratio"] * 2 * n)), seed=seed)
    g = torch.Generator().manual_seed(10_000 + seed)
    with torch.no_grad():
        model.bias.copy_(regime["bias_std"] * torch.randn(2 * n, generator=g, dtype=torch.float64))
        return model.coupling(), model.bias.detach().clone(), sizes


def _one_size(n: int, regime: dict, repeats: int) -> dict:
    rows = []
    for rep in range(repeats):
        coupling, bias, sizes = _instance(n, regime, seed=rep)
        start = time.perf_counter()
        alpha = default_step(coupling)
        setup = time.perf_counter() - start
        runs = {}
        for memory in (0, 5) if rep % 2 == 0 else (5, 0):
            start = time.perf_counter()
            sol = solve_mean_field(
                coupling, bias, sizes, alpha=alpha, tol=TOL, max_iter=100_000, anderson_memory=memory
            )
            runs[memory] = (sol, time.perf_counter() - start)
        (plain, t_plain), (fast, t_fast) = runs[0], runs[5]
        rows.append(
            {
                "alpha": alpha,
                "setup_s": setup,
                "plain_iterations": plain.iterations,
                "anderson_iterations": fast.iterations,
                "plain_s": t_plain,
                "anderson_s": t_fast,
                "converged": plain.converged and fast.converged,
                "residual_max": max(float(plain.residual.max()), float(fast.residual.max())),
                "fixed_point_distance": float((plain.marginals - fast.marginals).abs().max()),
            }
        )

    def med(key):
        return statistics.median(r[key] for r in rows)

    return {
        "variables": n,
        "one_hot_dim": 2 * n,
        "repeats": repeats,
        "alpha": med("alpha"),
        "setup_s": med("setup_s"),
        "plain_iterations": med("plain_iterations"),
        "anderson_iterations": med("anderson_iterations"),
        "plain_s": med("plain_s"),
        "anderson_s": med("anderson_s"),
        "iteration_ratio": statistics.median(r["plain_iterations"] / r["anderson_iterations"] for r in rows),
        "time_ratio": statistics.median(r["plain_s"] / r["anderson_s"] for r in rows),
        "all_converged": all(r["converged"] for r in rows),
        "residual_max": max(r["residual_max"] for r in rows),
        "fixed_point_distance_max": max(r["fixed_point_distance"] for r in rows),
    }


def run(quick: bool = False) -> dict:
    """Iterations and time to tolerance 1e-6 with and without Anderson, as n grows.

    Args:
        quick: Small sizes and repeats (a smoke test of a few seconds).

    Returns:
        A JSON-able dict: settings, and per regime a list of per-size medians.
    """
    sizes = [16, 64] if quick else [16, 64, 256, 1024]
    repeats = 2 if quick else 5
    results = {name: [_one_size(n, regime, repeats) for n in sizes] for name, regime in REGIMES.items()}
    return {
        "benchmark": "energy_dbm",
        "quick": quick,
        "tolerance": TOL,
        "anderson_memory": 5,
        "regimes": REGIMES,
        "results": results,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.platform(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    result = run(quick=args.quick)
    out = (
        Path("/tmp/energy_dbm_quick.json")
        if args.quick
        else ROOT / "benchmarks" / "results" / "energy_dbm.json"
    )
    out.write_text(json.dumps(result, indent=2) + "\n")
    for name, rows in result["results"].items():
        for r in rows:
            print(
                f"{name:16s} n={r['variables']:5d}  iters plain {r['plain_iterations']:6.0f}  "
                f"anderson {r['anderson_iterations']:5.0f}  time plain {r['plain_s']:.3f}s  "
                f"anderson {r['anderson_s']:.3f}s  (x{r['time_ratio']:.2f})"
            )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
