"""How well each BO surrogate fits its objective, apart from the optimisation loop.

Run:  OMP_NUM_THREADS=1 python benchmarks/bo_model_fit.py [--problems branin,hartmann6,ackley10]
          [--surrogates gp,ibnn,...] [--points 30] [--seeds 3] [--proposals] [--out PATH]
      (writes benchmarks/results/bo_model_fit.json, the table of all surrogates, unless --out)

Every surrogate is fitted on ``--points`` scrambled-Sobol points of a problem (unit cube, as in
``bo.run``) and scored on 500 uniform test points: RMSE of the posterior mean and Gaussian NLL
of the posterior mean and variance, both in units of the training outputs' standard deviation
(so they are comparable across problems; a constant predictor has RMSE about 1), and the
correlation of mean and truth. The regret of a BO run mixes model quality with exploration;
this separates the first. A surrogate name may carry options, ``name:key=value;key=value``
(e.g. ``hmc:max_tree_depth=6``; ``true`` and ``false``, in any case, are bools), to compare
settings of one surrogate; the default list has HMC at tree depth 6, DKL with fewer training
steps and SVI with smaller variances besides the defaults.

With ``--proposals`` each fitted surrogate also proposes one qLogEI point
(``bo.loop.propose``, seeded like the design) and the cell records whether it lies within
``BOUNDARY_DISTANCE`` of the cube's boundary in some coordinate: network surrogates extrapolate
at the boundary and their BO proposals crowd there. The table gives the fraction over seeds.
Same seeds, same designs for every surrogate, so two specs' cells are paired.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from torch.quasirandom import SobolEngine

from bo.loop import make_surrogate, propose
from bo.problems import get_problem

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SURROGATES = (
    "gp,ibnn,tp,ensemble,laplace,dkl,dkl:train_steps=100,svi,svi:prior_var=1.0;noise_var=0.01,"
    "hmc,hmc:max_tree_depth=6"
)
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "bo_model_fit.json"
#: A proposal this close to 0 or 1 in any coordinate counts as "at the boundary".
BOUNDARY_DISTANCE = 0.01


def _parse(spec: str) -> tuple[str, dict[str, Any]]:
    name, _, options = spec.partition(":")
    parsed: dict[str, Any] = {}
    for item in filter(None, options.split(";")):
        key, value = item.split("=")
        parsed[key] = _option_value(value)
    return name, parsed


def _option_value(text: str) -> Any:
    """``true``/``false`` (any case) as bools, numbers as int or float, anything else as the string."""
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def score(problem: str, spec: str, points: int, seed: int, proposals: bool = False) -> dict:
    """Fit one surrogate on one design and score it on fresh uniform points (and its proposal)."""
    prob = get_problem(problem)
    X = SobolEngine(prob.dim, scramble=True, seed=seed).draw(points).to(torch.float64)
    X_test = torch.rand(
        500, prob.dim, generator=torch.Generator().manual_seed(1000 + seed), dtype=torch.float64
    )
    Y, Y_test = prob.evaluate_unit(X), prob.evaluate_unit(X_test)
    scale = Y.std()
    name, options = _parse(spec)
    start = time.perf_counter()
    model = make_surrogate(name, X, Y, seed=seed, options=options)
    with torch.no_grad():
        posterior = model.posterior(X_test)
        mean, var = posterior.mean, posterior.variance.clamp_min(1e-12)
    seconds = time.perf_counter() - start
    nll = (0.5 * (Y_test - mean).square() / var + 0.5 * var.log() + 0.5 * math.log(2 * math.pi)).mean()
    cell = {
        "rmse": float((Y_test - mean).square().mean().sqrt() / scale),
        "nll": float(nll - scale.log()),
        "correlation": float(torch.corrcoef(torch.stack([mean.flatten(), Y_test.flatten()]))[0, 1]),
        "fit_seconds": seconds,
    }
    if proposals:
        candidate = propose(model, "qlogei", X, Y, 1, seed=seed)[0]
        distance = float(torch.minimum(candidate, 1.0 - candidate).min())
        cell["proposal_boundary_distance"] = distance
        cell["proposal_at_boundary"] = float(distance < BOUNDARY_DISTANCE)
    return cell


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", default="branin,hartmann6,ackley10")
    parser.add_argument("--surrogates", default=DEFAULT_SURROGATES)
    parser.add_argument("--points", type=int, default=30)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--proposals", action="store_true", help="also record where each surrogate's qLogEI proposal lies"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the results JSON (overwritten)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cells: dict[str, dict[str, list[dict]]] = {}
    for problem in args.problems.split(","):
        for spec in args.surrogates.split(","):
            for seed in range(args.seeds):
                cell = score(problem, spec, args.points, seed, proposals=args.proposals)
                cells.setdefault(problem, {}).setdefault(spec, []).append(cell)
                print(problem, spec, seed, json.dumps(cell), flush=True)
    table = []
    for problem, by_spec in cells.items():
        for spec, runs in by_spec.items():
            med = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
            row = {
                "problem": problem,
                "surrogate": spec,
                "RMSE / sd (median)": f"{med['rmse']:.3f}",
                "NLL (median)": f"{med['nll']:.3f}",
                "correlation (median)": f"{med['correlation']:.3f}",
                "fit s (median)": f"{med['fit_seconds']:.1f}",
            }
            if args.proposals:
                at_boundary = statistics.mean(r["proposal_at_boundary"] for r in runs)
                row[f"proposals within {BOUNDARY_DISTANCE} of the boundary"] = f"{at_boundary:.2f}"
            table.append(row)
    command = (
        f"OMP_NUM_THREADS=1 python benchmarks/bo_model_fit.py --problems {args.problems} "
        f"--surrogates '{args.surrogates}' --points {args.points} --seeds {args.seeds}"
        + (" --proposals" if args.proposals else "")
        + (f" --out {_shown(args.out)}" if args.out.resolve() != DEFAULT_OUT else "")
    )
    data = {
        "table": table,
        "cells": cells,
        "meta": {
            "command": command,
            "machine": f"{platform.machine()}, 1 torch thread (shared host)",
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        },
    }
    args.out.write_text(json.dumps(data, indent=1) + "\n")
    print(json.dumps(table, indent=1))


def _shown(path: Path) -> str:
    """``path`` relative to the repository when it is inside it."""
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


if __name__ == "__main__":
    main()
