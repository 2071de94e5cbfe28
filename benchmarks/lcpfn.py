"""LC-PFN against MCMC and importance sampling, and predictive early stopping, in one run.

Run:  python benchmarks/lcpfn.py [--curves 1000] [--model PATH]
      (writes benchmarks/results/lcpfn.json and docs/images/lcpfn_*.png)

1. Extrapolation. On ``--curves`` fresh curves from the LC-PFN prior and on the 120 recorded
   real curves (``probtheory.lcpfn.real_curves``), observe epochs 1..T' for T' in 10/20/40
   and score the predictive of every later epoch: mean log-likelihood per held-out point
   (averaged per curve, then over curves, with its standard error), coverage of the central
   90% interval, and wall time per curve. Methods: the LC-PFN; the ensemble MCMC over the same
   parametric model (the paper's MCMC-PP baseline); importance sampling from the prior with
   100k draws (near exact only where its effective sample size is large).
   The time ratio is measured separately, both methods back to back on the same 100 prior
   curves in the final run (``timing``), since cells may come from runs under other loads.
2. Early stopping. Random search over each real-curve set in 10 seeded orders, with and
   without the LC-PFN stopping rule (delta 0.95 as in the paper, and 0.99): total epochs and
   whether the same best configuration is found.

Cells are written to the results file as they finish, so an interrupted run resumes (the
MCMC cells are the slow ones); ``--fresh`` starts over.
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

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from bo.early_stopping import PredictiveEarlyStopping  # noqa: E402
from bo.hpo import random_search, replay  # noqa: E402
from probtheory.lcpfn import (  # noqa: E402
    LCPFN,
    CurvePrior,
    ImportanceSamplingExtrapolator,
    MCMCExtrapolator,
)
from probtheory.lcpfn.plotting import plot_quantile_fan  # noqa: E402
from probtheory.lcpfn.real_curves import load_real_curves  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "lcpfn.json"
CUTOFFS = (10, 20, 40)
MCMC = {"walkers": 64, "steps": 600, "burn_in": 300, "thin": 6}
# The paper's largest MCMC configuration (shared/research/bayes.md 2(d): about 4000 samples x 100
# walkers after 500 burn-in steps), for the time ratio only (``--paper-mcmc-timing``).
PAPER_MCMC = {"walkers": 100, "steps": 4500, "burn_in": 500, "thin": 40}
CHUNK = {"lcpfn": 250, "mcmc": 100, "importance": 50}
TIMING_CURVES = 100
DELTAS = (0.95, 0.99)  # the paper's delta, and a more cautious one


def _prior_curves(n: int) -> torch.Tensor:
    return CurvePrior().sample(n, 100, torch.Generator().manual_seed(20231127)).y


def _real_curves() -> torch.Tensor:
    return torch.cat([s.curves for s in load_real_curves()]).to(torch.float64)


def _score(model, curves: torch.Tensor, cutoff: int, chunk: int, *, keep_per_curve: bool = False) -> dict:
    """Mean tail log-likelihood, 90% coverage and seconds per curve of ``model`` (and, with
    ``keep_per_curve``, every curve's tail log-likelihood under ``"per_curve"``)."""
    epochs = torch.arange(1, curves.shape[1] + 1, dtype=torch.float64)
    per_curve, covered, seconds, ess = [], [], 0.0, []
    for start in tqdm(
        range(0, curves.shape[0], chunk), desc=f"{type(model).__name__} T'={cutoff}", leave=False
    ):
        y = curves[start : start + chunk]
        b = y.shape[0]
        xs = epochs[:cutoff].expand(b, cutoff).unsqueeze(-1)
        xq = epochs[cutoff:].expand(b, curves.shape[1] - cutoff).unsqueeze(-1)
        tick = time.perf_counter()
        dist = model.predict_normalized(xs, y[:, :cutoff], xq)
        seconds += time.perf_counter() - tick
        target = y[:, cutoff:]
        per_curve += dist.log_prob(target).mean(-1).tolist()
        pit = dist.cdf(target)  # in the central 90% interval <=> PIT in [0.05, 0.95]
        covered.append(((pit >= 0.05) & (pit <= 0.95)).double().flatten())
        if getattr(model, "last_ess", None) is not None:
            ess += model.last_ess.tolist()
    n = len(per_curve)
    out = {
        "log_likelihood": statistics.fmean(per_curve),
        "log_likelihood_se": statistics.stdev(per_curve) / math.sqrt(n) if n > 1 else math.nan,
        "coverage_90": torch.cat(covered).mean().item(),
        "seconds_per_curve": seconds / n,
        "curves": n,
    }
    if ess:
        out["median_ess"] = statistics.median(ess)
    if keep_per_curve:
        out["per_curve"] = per_curve
    return out


def _single_curve_latency(model: LCPFN, curve: torch.Tensor, repeats: int = 20) -> float:
    epochs = torch.arange(1, 101, dtype=torch.float64)
    times = []
    for _ in range(repeats):
        tick = time.perf_counter()
        model.predict_quantiles(epochs[:20], curve[:20].clamp(0, 1), epochs[20:], [0.05, 0.5, 0.95])
        times.append(time.perf_counter() - tick)
    return statistics.median(times)


def _side_by_side_timing(model: LCPFN, curves: torch.Tensor) -> dict:
    """Seconds per curve of the LC-PFN and the MCMC on the same curves, back to back in this
    process (the cells above may come from runs on a differently loaded machine)."""
    out = {}
    mcmc = MCMCExtrapolator(**MCMC)
    for cutoff in CUTOFFS:
        times = {}
        for name, method in (("lcpfn", model), ("mcmc", mcmc)):
            times[name] = _score(method, curves, cutoff, len(curves))["seconds_per_curve"]
        out[str(cutoff)] = {**times, "mcmc_over_lcpfn": times["mcmc"] / times["lcpfn"]}
    return out


def _paper_mcmc_timing(model: LCPFN, curves: torch.Tensor, single: int) -> dict:
    """Seconds per curve of the LC-PFN and of the MCMC at the paper's configuration, back to back:
    the MCMC batched over all ``curves`` (our vectorised sampler) and one curve at a time (as the
    paper's per-curve emcee runs) on the first ``single`` curves; cutoff T' = 20."""
    mcmc = MCMCExtrapolator(**PAPER_MCMC)
    lcpfn = _score(model, curves, 20, CHUNK["lcpfn"])["seconds_per_curve"]
    batched = _score(mcmc, curves, 20, len(curves))["seconds_per_curve"]
    one_at_a_time = statistics.median(
        _score(mcmc, curves[i : i + 1], 20, 1)["seconds_per_curve"] for i in range(single)
    )
    return {
        "mcmc_settings": PAPER_MCMC,
        "curves": len(curves),
        "lcpfn_seconds_per_curve": lcpfn,
        "mcmc_batched_seconds_per_curve": batched,
        "mcmc_one_curve_seconds_per_curve": one_at_a_time,
        "batched_mcmc_over_lcpfn": batched / lcpfn,
        "one_curve_mcmc_over_lcpfn": one_at_a_time / lcpfn,
    }


def _paper_mcmc_accuracy(model: LCPFN, curves: torch.Tensor) -> list[dict]:
    """Tail log-likelihood of the LC-PFN and of the MCMC at the paper's configuration on the
    same prior curves (batched), per cutoff, with the paired difference and its standard error."""
    rows = []
    for cutoff in CUTOFFS:
        lcpfn = _score(model, curves, cutoff, CHUNK["lcpfn"], keep_per_curve=True)["per_curve"]
        mcmc = _score(MCMCExtrapolator(**PAPER_MCMC), curves, cutoff, len(curves), keep_per_curve=True)
        mcmc = mcmc["per_curve"]
        diff = [a - b for a, b in zip(lcpfn, mcmc, strict=True)]
        se = statistics.stdev(diff) / math.sqrt(len(diff))
        rows.append(
            {
                "T'": cutoff,
                "curves": len(diff),
                "LC-PFN log-lik": f"{statistics.fmean(lcpfn):.3f}",
                "MCMC (paper's config) log-lik": f"{statistics.fmean(mcmc):.3f}",
                "LC-PFN - MCMC (paired)": f"{statistics.fmean(diff):+.3f} ± {se:.3f}",
            }
        )
    return rows


def _early_stopping(model: LCPFN, seeds: int, delta: float) -> dict:
    out = {}
    for curve_set in load_real_curves():
        curves = curve_set.curves.tolist()
        configs = list(range(len(curves)))
        rule = PredictiveEarlyStopping(model, final_epoch=100, delta=delta)
        rows = []
        for seed in range(seeds):
            full = random_search(replay(curves), configs, 100, seed=seed, progress=False)
            tick = time.perf_counter()
            stopped = random_search(replay(curves), configs, 100, rule, seed=seed, progress=False)
            rows.append(
                {
                    "seed": seed,
                    "epochs_full": full.total_epochs,
                    "epochs_early_stopping": stopped.total_epochs,
                    "speedup": full.total_epochs / stopped.total_epochs,
                    "same_best": stopped.best.config == full.best.config,
                    "regret": full.best.values[-1] - stopped.best.values[-1],
                    "overhead_seconds": time.perf_counter() - tick,
                }
            )
        out[curve_set.dataset] = {
            "runs": rows,
            "median_speedup": statistics.median(r["speedup"] for r in rows),
            "min_speedup": min(r["speedup"] for r in rows),
            "same_best_fraction": statistics.fmean(float(r["same_best"]) for r in rows),
            "max_regret": max(r["regret"] for r in rows),
        }
    return out


def _plots(model: LCPFN, prior_curves: torch.Tensor, real: torch.Tensor) -> None:
    epochs = torch.arange(1, 101, dtype=torch.float64)
    qs = [0.05, 0.25, 0.5, 0.75, 0.95]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for ax, (title, curve) in zip(
        axes,
        [("prior curve", prior_curves[0]), ("real: digits", real[0]), ("real: breast cancer", real[-1])],
        strict=True,
    ):
        q = model.predict_quantiles(epochs[:20], curve[:20].clamp(0, 1), epochs[20:], qs)
        plot_quantile_fan(epochs[:20], curve[:20], epochs[20:], q, qs, truth=curve[20:], ax=ax)
        ax.set_title(f"{title}, T' = 20")
    fig.tight_layout()
    fig.savefig(ROOT / "docs" / "images" / "lcpfn_fan.png", dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--curves", type=int, default=1000)
    parser.add_argument("--model", help="LC-PFN checkpoint (default: the shipped model)")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--fresh", action="store_true", help="ignore cells of an earlier run")
    parser.add_argument("--baselines-only", action="store_true", help="only the MCMC / IS cells")
    parser.add_argument(
        "--paper-mcmc-accuracy", type=int, metavar="N", default=0,
        help="only compare the LC-PFN with the paper's MCMC configuration on N prior curves",
    )  # fmt: skip
    parser.add_argument(
        "--paper-mcmc-timing", type=int, metavar="N", default=0,
        help="only time the paper's MCMC configuration against the LC-PFN on N prior curves",
    )  # fmt: skip
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.paper_mcmc_accuracy:
        results = json.loads(RESULTS.read_text())
        model = LCPFN.load(args.model) if args.model else LCPFN.from_pretrained()
        curves = _prior_curves(args.curves)[: args.paper_mcmc_accuracy]
        results["paper_mcmc_accuracy_table"] = _paper_mcmc_accuracy(model, curves)
        RESULTS.write_text(json.dumps(results, indent=1))
        print(json.dumps(results["paper_mcmc_accuracy_table"], indent=1))
        return
    if args.paper_mcmc_timing:
        results = json.loads(RESULTS.read_text())
        model = LCPFN.load(args.model) if args.model else LCPFN.from_pretrained()
        curves = _prior_curves(args.curves)[: args.paper_mcmc_timing]
        timing = _paper_mcmc_timing(model, curves, single=min(3, len(curves)))
        results["timing_paper_mcmc"] = timing
        results["timing_paper_mcmc_table"] = [
            {
                "MCMC (paper's configuration)": mode,
                "MCMC s / curve": f"{timing[f'mcmc_{key}_seconds_per_curve']:.3g}",
                "LC-PFN s / curve": f"{timing['lcpfn_seconds_per_curve']:.3g}",
                "MCMC / LC-PFN": f"{timing[f'{key}_mcmc_over_lcpfn']:.0f}x",
            }
            for mode, key in (
                (f"batched over {len(curves)} curves", "batched"),
                ("one curve at a time", "one_curve"),
            )
        ]
        RESULTS.write_text(json.dumps(results, indent=1))
        print(json.dumps(results["timing_paper_mcmc"], indent=1))
        return
    settings = {"curves": args.curves, "mcmc": MCMC, "cutoffs": list(CUTOFFS)}
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() and not args.fresh else {}
    if results.get("settings") != settings:
        results = {"settings": settings, "cells": {}}
    data = {"prior": _prior_curves(args.curves), "real": _real_curves()}

    def save() -> None:
        results["machine"] = f"{platform.machine()}, {torch.get_num_threads()} thread"
        results["date"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        RESULTS.write_text(json.dumps(results, indent=1))

    methods = {
        "mcmc": lambda: MCMCExtrapolator(**MCMC),
        "importance": lambda: ImportanceSamplingExtrapolator(num_samples=100_000, num_components=2_000),
    }
    if not args.baselines_only:
        model = LCPFN.load(args.model) if args.model else LCPFN.from_pretrained()
        methods = {"lcpfn": lambda: model, **methods}
        results["model"] = {
            k: model.metadata.get(k) for k in ("training_command", "training_seconds", "machine")
        }
    for name, make in methods.items():
        built = None
        for dataset, curves in data.items():
            if name == "importance" and dataset == "real":
                continue  # the prior-sample oracle is only meaningful on prior curves
            for cutoff in CUTOFFS:
                key = f"{name}/{dataset}/{cutoff}"
                if key in results["cells"]:
                    continue
                built = built or make()
                results["cells"][key] = _score(built, curves, cutoff, CHUNK[name])
                save()
                print(key, json.dumps(results["cells"][key]))
    if args.baselines_only:
        return
    results["lcpfn_single_curve_seconds"] = _single_curve_latency(model, data["prior"][0])
    results["timing"] = _side_by_side_timing(model, data["prior"][:TIMING_CURVES])
    save()
    stopping = results.setdefault("early_stopping", {})
    for delta in DELTAS:
        done = stopping.get(str(delta))
        if not done or any(len(v["runs"]) != args.seeds for v in done.values()):
            stopping[str(delta)] = _early_stopping(model, args.seeds, delta)
            save()
    cells = results["cells"]
    results["summary"] = {
        f"{dataset}/{cutoff}": {
            "lcpfn_minus_mcmc_log_likelihood": cells[f"lcpfn/{dataset}/{cutoff}"]["log_likelihood"]
            - cells[f"mcmc/{dataset}/{cutoff}"]["log_likelihood"],
        }
        for dataset in data
        for cutoff in CUTOFFS
    }
    results["table"] = [
        {
            "curves": dataset,
            "T'": cutoff,
            "method": name,
            "log-lik (± se)": f"{c['log_likelihood']:.3f} ± {c['log_likelihood_se']:.3f}",
            "90% coverage": f"{c['coverage_90']:.3f}",
            "s / curve": f"{c['seconds_per_curve']:.2e}",
            "median ESS": f"{c['median_ess']:.0f}" if "median_ess" in c else "",
        }
        for dataset in data
        for cutoff in CUTOFFS
        for name in ("lcpfn", "mcmc", "importance")
        if (c := cells.get(f"{name}/{dataset}/{cutoff}"))
    ]
    results["early_stopping_table"] = [
        {
            "delta": delta,
            "curves": dataset,
            "median speed-up": f"{r['median_speedup']:.2f}x",
            "min speed-up": f"{r['min_speedup']:.2f}x",
            "same best config": f"{r['same_best_fraction']:.0%}",
            "max regret": f"{r['max_regret']:.4f}",
        }
        for delta in DELTAS
        for dataset, r in results["early_stopping"][str(delta)].items()
    ]
    results["timing_table"] = [
        {
            "T'": cutoff,
            "LC-PFN s / curve": f"{t['lcpfn']:.2e}",
            "MCMC s / curve": f"{t['mcmc']:.2e}",
            "MCMC / LC-PFN": f"{t['mcmc_over_lcpfn']:.0f}x",
        }
        for cutoff, t in results["timing"].items()
    ]
    results["meta"] = {
        "command": f"python benchmarks/lcpfn.py --curves {args.curves} --seeds {args.seeds}",
        "machine": results["machine"],
        "date": results["date"],
    }
    save()
    _plots(model, data["prior"], data["real"])
    print(json.dumps(results["summary"], indent=1))
    print(json.dumps(results["early_stopping_table"], indent=1))


if __name__ == "__main__":
    main()
