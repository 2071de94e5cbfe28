"""LC-PFN against MCMC and importance sampling, and predictive early stopping, in one run.

Run:  python benchmarks/lcpfn.py [--curves 1000] [--model PATH] [--out lcpfn-runs]
      (writes benchmarks/results/lcpfn.json and docs/images/lcpfn_*.png)

1. Extrapolation. On ``--curves`` fresh curves from the LC-PFN prior and on the 120 recorded
   real curves (``probtheory.lcpfn.real_curves``), observe epochs 1..T' for T' in 10/20/40
   and score the predictive of every later epoch: mean log-likelihood per held-out point
   (averaged per curve, then over curves, with its standard error), coverage of the central
   90% interval, and wall time per curve (batched). Methods: the LC-PFN; the ensemble MCMC
   over the same parametric model at the paper's largest configuration (its MCMC-PP
   baseline: 100 walkers, 4000 kept steps after 500 of burn-in); importance sampling from
   the prior with 100k draws (near exact only where its effective sample size is large).
   The LC-PFN and the MCMC are also compared curve by curve (paired differences).
2. Time. Both methods back to back on the same prior curves in the final run, at each T':
   batched over 20 curves, and one curve at a time as in the paper's per-curve runs (median
   over 3 curves). An LC-PFN call takes milliseconds, so each of its timings is the median of
   15 repeats; an MCMC run takes seconds to a minute and is timed once. The cells of part 1 may
   come from runs under other loads. ``--timing-only`` re-measures this part alone and rewrites
   it in an existing results file (e.g. on a quiet machine).
3. Early stopping. Random search over each real-curve set in 10 seeded orders, with and
   without the LC-PFN stopping rule (delta 0.95 as in the paper, and 0.99): total epochs and
   whether the same best configuration is found.

Per-curve scores are saved under ``--out`` (git-ignored) chunk by chunk as they finish, so an
interrupted run resumes (the MCMC chunks take about 3 s per curve); ``--fresh`` starts over.
The baselines' per-curve scores (MCMC and importance sampling: hours of CPU) are also written
to ``benchmarks/results/lcpfn_baselines.json`` with the settings, curves and code they come
from; a later run with the same settings, curves and baseline code fills its missing chunks
from it (the ``--out`` store's own chunks take precedence), so scoring another LC-PFN against
the same baselines, paired curve by curve, costs seconds. The file gains each chunk as it is
saved (so a run stopped midway keeps its work there too), and only when it is missing or
matches; ``--fresh`` replaces it. To use several cores, split the baselines over processes:
``--baselines-only --cells KEY ...`` with a separate ``--out`` each (they share the file under
a lock).
The LC-PFN's cells take seconds and are recomputed in every run. Two runs must not share
``--out`` at the same time (each would overwrite the other's chunks); ``--partial`` only reads
them, and prints the paired LC-PFN - MCMC difference on the chunks saved so far.
"""

from __future__ import annotations

import argparse
import fcntl
import functools
import hashlib
import json
import math
import os
import platform
import statistics
import time
from collections.abc import Callable
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
BASELINES = ROOT / "benchmarks" / "results" / "lcpfn_baselines.json"  # per-curve MCMC / IS scores
BASELINE_CODE = [ROOT / "probtheory" / "lcpfn" / f"{name}.py" for name in ("mcmc", "importance", "curves")]
CUTOFFS = (10, 20, 40)
# The largest MCMC configuration of the paper's grid (Adriaensen et al., NeurIPS 2023, Sec. 4.1 and
# its appendix on the MCMC baseline): 100 walkers, about 4000 samples after 500 burn-in steps; every
# 40th step kept.
MCMC = {"walkers": 100, "steps": 4500, "burn_in": 500, "thin": 40}
IMPORTANCE = {"num_samples": 100_000, "num_components": 2_000}
CHUNK = {"lcpfn": 250, "mcmc": 50, "importance": 50}
TIMING_CURVES = 20  # batched timing
SINGLE_CURVES = 3  # one-curve-at-a-time timing
TIMING_REPEATS = {"lcpfn": 15, "mcmc": 1}  # milliseconds per call against up to a minute
DELTAS = (0.95, 0.99)  # the paper's delta, and a more cautious one


def _prior_curves(n: int) -> torch.Tensor:
    return CurvePrior().sample(n, 100, torch.Generator().manual_seed(20231127)).y


def _real_curves() -> torch.Tensor:
    return torch.cat([s.curves for s in load_real_curves()]).to(torch.float64)


def _score(model, curves: torch.Tensor, cutoff: int) -> dict:
    """Every curve's mean tail log-likelihood and share of tail points inside the central 90%
    interval, the seconds the batch took, and (importance sampling) every curve's ESS."""
    epochs = torch.arange(1, curves.shape[1] + 1, dtype=torch.float64)
    b = curves.shape[0]
    xs = epochs[:cutoff].expand(b, cutoff).unsqueeze(-1)
    xq = epochs[cutoff:].expand(b, curves.shape[1] - cutoff).unsqueeze(-1)
    tick = time.perf_counter()
    dist = model.predict_normalized(xs, curves[:, :cutoff], xq)
    seconds = time.perf_counter() - tick
    target = curves[:, cutoff:]
    pit = dist.cdf(target)  # in the central 90% interval <=> PIT in [0.05, 0.95]
    out = {
        "log_likelihood": [round(v, 6) for v in dist.log_prob(target).mean(-1).tolist()],
        "coverage_90": [round(v, 6) for v in ((pit >= 0.05) & (pit <= 0.95)).double().mean(-1).tolist()],
        "seconds": seconds,
    }
    if getattr(model, "last_ess", None) is not None:
        out["ess"] = [round(v, 2) for v in model.last_ess.tolist()]
    return out


def _cell(
    chunks: dict, model: Callable[[], object], curves: torch.Tensor, cutoff: int, chunk: int, save
) -> dict:
    """The scores of all ``curves``, computed chunk by chunk into ``chunks`` (saved after each)."""
    for start in tqdm(range(0, curves.shape[0], chunk), desc=f"T'={cutoff}", leave=False):
        if str(start) not in chunks:
            chunks[str(start)] = _score(model(), curves[start : start + chunk], cutoff)
            save()
    parts = [chunks[str(start)] for start in range(0, curves.shape[0], chunk)]
    merged = {key: [v for part in parts for v in part[key]] for key in ("log_likelihood", "coverage_90")}
    merged["seconds_per_curve"] = sum(part["seconds"] for part in parts) / curves.shape[0]
    if "ess" in parts[0]:
        merged["median_ess"] = statistics.median(v for part in parts for v in part["ess"])
    return merged


def _write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file: a run killed midway leaves the old file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _merge_baselines(cells: dict, settings: dict, command: str, replace: bool) -> None:
    """Add the baseline chunks of ``cells`` to the baselines file (under a lock: processes that
    split the cells write it concurrently); ``replace`` drops what the file held."""
    with open(BASELINES.with_name(BASELINES.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        baselines = {key: dict(chunks) for key, chunks in cells.items() if not key.startswith("lcpfn/")}
        now = json.loads(BASELINES.read_text()) if BASELINES.exists() and not replace else {}
        if now.get("settings") == settings:  # another process's chunks (other --cells)
            for key, chunks in now["cells"].items():
                for start, part in chunks.items():
                    baselines.setdefault(key, {}).setdefault(start, part)
            if not replace and baselines == now["cells"]:
                return  # nothing new: the file stays as it is
        meta = {
            "command": command,
            "machine": f"{platform.machine()}, {torch.get_num_threads()} thread",
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        text = json.dumps({"settings": settings, "meta": meta, "cells": baselines}, sort_keys=True) + "\n"
        _write_atomically(BASELINES, text)


def _sha256(*blobs: bytes) -> str:
    digest = hashlib.sha256()
    for blob in blobs:
        digest.update(blob)
    return digest.hexdigest()


def _baseline_provenance(data: dict[str, torch.Tensor]) -> dict:
    """What the baselines' scores depend on besides the settings: the curves and the code."""
    return {
        "curves_sha256": {name: _sha256(curves.numpy().tobytes()) for name, curves in data.items()},
        "code_sha256": _sha256(*(path.read_bytes() for path in BASELINE_CODE)),
    }


def _weights_sha256(model: LCPFN) -> str:
    """sha256 of the model's tensors in state-dict order: which weights were scored."""
    digest = hashlib.sha256()
    for name, tensor in model.pfn.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _partial_comparison(model: LCPFN, cells: dict, data: dict[str, torch.Tensor]) -> None:
    """Print the paired LC-PFN - MCMC log-likelihood on the curves of every saved MCMC chunk."""
    for key, chunks in cells.items():
        name, dataset, cutoff = key.split("/")
        if name != "mcmc" or not chunks:
            continue
        diffs = []
        for start, part in chunks.items():
            curves = data[dataset][int(start) : int(start) + len(part["log_likelihood"])]
            ours = _score(model, curves, int(cutoff))["log_likelihood"]
            diffs += [a - b for a, b in zip(ours, part["log_likelihood"], strict=True)]
        if len(diffs) > 1:
            mean, se = _mean_se(diffs)
            print(f"{dataset} T'={cutoff}: {len(diffs)} curves, LC-PFN - MCMC = {mean:+.4f} ± {se:.4f}")


def _mean_se(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) / math.sqrt(len(values))


def _summary(cell: dict) -> dict:
    mean, se = _mean_se(cell["log_likelihood"])
    out = {
        "log_likelihood": mean,
        "log_likelihood_se": se,
        "coverage_90": statistics.fmean(cell["coverage_90"]),
        "seconds_per_curve": cell["seconds_per_curve"],
        "curves": len(cell["log_likelihood"]),
    }
    if "median_ess" in cell:
        out["median_ess"] = cell["median_ess"]
    return out


def _single_curve_latency(model: LCPFN, curve: torch.Tensor, repeats: int = 20) -> float:
    epochs = torch.arange(1, 101, dtype=torch.float64)
    times = []
    for _ in range(repeats):
        tick = time.perf_counter()
        model.predict_quantiles(epochs[:20], curve[:20].clamp(0, 1), epochs[20:], [0.05, 0.5, 0.95])
        times.append(time.perf_counter() - tick)
    return statistics.median(times)


def _median_seconds(method, curves: torch.Tensor, cutoff: int, repeats: int) -> float:
    return statistics.median(_score(method, curves, cutoff)["seconds"] for _ in range(repeats))


def _side_by_side_timing(model: LCPFN, curves: torch.Tensor) -> dict:
    """Seconds per curve of the LC-PFN and the MCMC back to back in this process, at every T':
    batched over ``TIMING_CURVES`` curves, and one curve at a time (median over
    ``SINGLE_CURVES`` curves)."""
    methods = {"lcpfn": model, "mcmc": MCMCExtrapolator(**MCMC)}
    out = {}
    for cutoff in CUTOFFS:
        row = {}
        for name, method in methods.items():
            repeats = TIMING_REPEATS[name]
            batched = _median_seconds(method, curves[:TIMING_CURVES], cutoff, repeats)
            row[f"{name}_batched"] = batched / TIMING_CURVES
            row[f"{name}_single"] = statistics.median(
                _median_seconds(method, curves[i : i + 1], cutoff, repeats) for i in range(SINGLE_CURVES)
            )
        out[str(cutoff)] = row
    return out


def _timing_table(timing: dict) -> list[dict]:
    return [
        {
            "T'": cutoff,
            "mode": mode,
            "LC-PFN s / curve": f"{t[f'lcpfn_{key}']:.2e}",
            "MCMC s / curve": f"{t[f'mcmc_{key}']:.2e}",
            "MCMC / LC-PFN": f"{t[f'mcmc_{key}'] / t[f'lcpfn_{key}']:.0f}x",
        }
        for cutoff, t in timing.items()
        for mode, key in (
            (f"batched over {TIMING_CURVES} curves", "batched"),
            ("one curve at a time", "single"),
        )
    ]


def _retime(model: LCPFN, curves: torch.Tensor) -> None:
    """Re-measure part 2 and rewrite it in the results file (the other parts are kept)."""
    results = json.loads(RESULTS.read_text())
    if results["model"]["weights_sha256"] != _weights_sha256(model):
        raise SystemExit(f"{RESULTS} scored other weights; run the whole benchmark for this model")
    results["timing"] = _side_by_side_timing(model, curves)
    results["timing_table"] = _timing_table(results["timing"])
    results["meta"]["timing"] = {
        "command": "python benchmarks/lcpfn.py --timing-only",
        "machine": f"{platform.machine()}, {torch.get_num_threads()} thread",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    RESULTS.write_text(json.dumps(results, indent=1))
    print(json.dumps(results["timing_table"], indent=1))


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


def _batched_time_ratio(model: LCPFN, earlier: LCPFN, curves: torch.Tensor, cutoff: int, repeats=15) -> float:
    """Median over interleaved repeats of the earlier model's batched time over the model's."""
    ratios = []
    for _ in range(repeats):
        ours, theirs = (_score(m, curves, cutoff)["seconds"] for m in (model, earlier))
        ratios.append(theirs / ours)
    return statistics.median(ratios)


def _earlier_comparison(model: LCPFN, earlier: LCPFN, cells: dict, data: dict, seeds: int) -> dict:
    """``earlier`` scored on the same curves as ``model``: the paired difference of the per-curve
    mean log-likelihood (model - earlier), both coverages, their batched time ratio and the
    earlier model's early stopping."""
    out: dict = {
        **{k: earlier.metadata.get(k) for k in ("training_command", "training_seconds", "machine")},
        "weights_sha256": _weights_sha256(earlier),
        "cells": {},
    }
    for dataset, curves in data.items():
        for cutoff in CUTOFFS:
            ours = cells[f"lcpfn/{dataset}/{cutoff}"]
            theirs = _cell({}, lambda: earlier, curves, cutoff, CHUNK["lcpfn"], lambda: None)
            pairs = zip(ours["log_likelihood"], theirs["log_likelihood"], strict=True)
            diff, se = _mean_se([a - b for a, b in pairs])
            out["cells"][f"{dataset}/{cutoff}"] = {
                "minus_earlier": diff,
                "minus_earlier_se": se,
                "coverage_90": statistics.fmean(ours["coverage_90"]),
                "earlier_coverage_90": statistics.fmean(theirs["coverage_90"]),
                "earlier_time_over_time": _batched_time_ratio(model, earlier, curves[:TIMING_CURVES], cutoff)
                if dataset == "prior"
                else None,
            }
    out["early_stopping"] = {str(delta): _early_stopping(earlier, seeds, delta) for delta in DELTAS}
    return out


def _earlier_tables(earlier: dict, early_stopping: dict) -> tuple[list[dict], list[dict]]:
    """The LC-PFN against ``--earlier-model``: per cell, and in the early-stopping searches."""
    cells = [
        {
            "curves": key.split("/")[0],
            "T'": key.split("/")[1],
            "LC-PFN - earlier (paired ± se)": f"{c['minus_earlier']:+.3f} ± {c['minus_earlier_se']:.3f}",
            "90% coverage LC-PFN / earlier": f"{c['coverage_90']:.3f} / {c['earlier_coverage_90']:.3f}",
            "earlier / LC-PFN time (batched)": f"{c['earlier_time_over_time']:.2f}x"
            if c["earlier_time_over_time"] is not None
            else "",
        }
        for key, c in earlier["cells"].items()
    ]
    searches = []
    for delta in DELTAS:
        for dataset, ours in early_stopping[str(delta)].items():
            theirs = earlier["early_stopping"][str(delta)][dataset]
            searches.append(
                {
                    "delta": delta,
                    "curves": dataset,
                    **{
                        f"{label} LC-PFN / earlier": f"{fmt.format(ours[key])} / {fmt.format(theirs[key])}"
                        for label, key, fmt in (
                            ("median speed-up", "median_speedup", "{:.2f}x"),
                            ("same best config", "same_best_fraction", "{:.0%}"),
                            ("max regret", "max_regret", "{:.4f}"),
                        )
                    },
                }
            )
    return cells, searches


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
    parser.add_argument("--out", type=Path, default=ROOT / "lcpfn-runs", help="folder of the per-curve cells")
    parser.add_argument("--fresh", action="store_true", help="ignore cells of an earlier run")
    parser.add_argument("--baselines-only", action="store_true", help="only the MCMC / IS cells")
    parser.add_argument(
        "--cells",
        nargs="+",
        metavar="KEY",
        help="with --baselines-only: only these cells (e.g. mcmc/prior/10), to split the baselines "
        "over processes with separate --out folders",
    )
    parser.add_argument(
        "--partial",
        action="store_true",
        help="only print LC-PFN - MCMC on the MCMC chunks saved so far (or in the baselines file)",
    )
    parser.add_argument(
        "--timing-only", action="store_true", help="only re-measure the side-by-side times (part 2)"
    )
    parser.add_argument(
        "--earlier-model",
        metavar="PATH",
        help="another LC-PFN checkpoint (e.g. the one shipped before), scored paired on the same "
        "curves, timed against the scored model and run through the same early-stopping searches",
    )
    args = parser.parse_args()
    if args.cells and not args.baselines_only:
        parser.error("--cells needs --baselines-only (the results need every cell)")
    if args.earlier_model and (args.baselines_only or args.timing_only or args.partial):
        parser.error("--earlier-model needs the whole run (no --baselines-only, --timing-only, --partial)")
    torch.set_num_threads(1)
    if args.timing_only:
        _retime(LCPFN.load(args.model) if args.model else LCPFN.from_pretrained(), _prior_curves(args.curves))
        return
    data = {"prior": _prior_curves(args.curves), "real": _real_curves()}
    settings = {
        "curves": args.curves,
        "mcmc": MCMC,
        "importance": IMPORTANCE,
        "cutoffs": list(CUTOFFS),
        "chunk": CHUNK,  # a chunk's MCMC draws depend on which curves share it
        **_baseline_provenance(data),
    }
    cells_path = args.out / "cells.json"
    store = json.loads(cells_path.read_text()) if cells_path.exists() and not args.fresh else {}
    if store.get("settings") != settings:
        store = {"settings": settings, "cells": {}}
    committed = json.loads(BASELINES.read_text()) if BASELINES.exists() else {}
    matches = committed.get("settings") == settings
    if matches and not args.fresh:
        for key, chunks in committed["cells"].items():
            own = store["cells"].setdefault(key, {})
            for start, part in chunks.items():
                own.setdefault(start, part)  # this run's own chunks first
    load_model = functools.partial(LCPFN.load, args.model) if args.model else LCPFN.from_pretrained
    if args.partial:
        _partial_comparison(load_model(), store["cells"], data)
        return

    # the baselines file gains every chunk as it is saved (a run stopped midway keeps its work);
    # under --fresh the first write replaces it
    share = matches or args.fresh or not BASELINES.exists()
    replace_file = args.fresh  # the first write under --fresh replaces the file, later ones add to it
    baseline_command = "python benchmarks/lcpfn.py" + (" --baselines-only" if args.baselines_only else "")

    def save() -> None:
        nonlocal replace_file
        args.out.mkdir(parents=True, exist_ok=True)
        _write_atomically(cells_path, json.dumps(store))
        if share:
            _merge_baselines(store["cells"], settings, baseline_command, replace=replace_file)
            replace_file = False

    methods: dict[str, Callable[[], object]] = {
        "mcmc": functools.cache(lambda: MCMCExtrapolator(**MCMC)),
        "importance": functools.cache(lambda: ImportanceSamplingExtrapolator(**IMPORTANCE)),
    }
    if not args.baselines_only:
        model = load_model()
        weights_sha256 = _weights_sha256(model)
        # the LC-PFN's cells take seconds: always recomputed, so they are this code's and weights'
        store["cells"] = {k: v for k, v in store["cells"].items() if not k.startswith("lcpfn/")}
        methods = {"lcpfn": lambda: model, **methods}
    cells = {}
    for name, make in methods.items():
        for dataset, curves in data.items():
            if name == "importance" and dataset == "real":
                continue  # the prior-sample oracle is only meaningful on prior curves
            for cutoff in CUTOFFS:
                key = f"{name}/{dataset}/{cutoff}"
                if args.cells and key not in args.cells:
                    continue
                chunks = store["cells"].setdefault(key, {})
                cells[key] = _cell(chunks, make, curves, cutoff, CHUNK[name], save)
                print(key, json.dumps(_summary(cells[key])))
    if share:  # chunks of an earlier run's --out that the file lacks
        _merge_baselines(store["cells"], settings, baseline_command, replace=replace_file)
    if args.baselines_only:
        return

    results: dict = {"settings": settings}
    results["model"] = {
        **{k: model.metadata.get(k) for k in ("training_command", "training_seconds", "machine")},
        "weights_sha256": weights_sha256,
    }
    results["model_table"] = [
        {
            "training command": model.metadata.get("training_command", ""),
            "training time": f"{model.metadata.get('training_seconds', math.nan) / 60:.0f} min",
            "machine": model.metadata.get("machine", ""),
        }
    ]
    results["cells"] = {key: _summary(cell) for key, cell in cells.items()}
    results["lcpfn_single_curve_seconds"] = _single_curve_latency(model, data["prior"][0])
    results["timing"] = _side_by_side_timing(model, data["prior"])
    results["early_stopping"] = {str(delta): _early_stopping(model, args.seeds, delta) for delta in DELTAS}
    results["summary"] = {}
    for dataset in data:
        for cutoff in CUTOFFS:
            lcpfn, mcmc = (
                cells[f"{name}/{dataset}/{cutoff}"]["log_likelihood"] for name in ("lcpfn", "mcmc")
            )
            diff, se = _mean_se([a - b for a, b in zip(lcpfn, mcmc, strict=True)])
            results["summary"][f"{dataset}/{cutoff}"] = {
                "lcpfn_minus_mcmc_log_likelihood": diff,
                "lcpfn_minus_mcmc_se": se,
                "lcpfn_better_on_share_of_curves": statistics.fmean(
                    float(a >= b) for a, b in zip(lcpfn, mcmc, strict=True)
                ),
            }
    summaries = results["cells"]
    results["table"] = [
        {
            "curves": dataset,
            "T'": cutoff,
            "method": name,
            "log-lik (± se)": f"{c['log_likelihood']:.3f} ± {c['log_likelihood_se']:.3f}",
            "90% coverage": f"{c['coverage_90']:.3f}",
            "s / curve (batched)": f"{c['seconds_per_curve']:.2e}",
            "median ESS": f"{c['median_ess']:.0f}" if "median_ess" in c else "",
        }
        for dataset in data
        for cutoff in CUTOFFS
        for name in ("lcpfn", "mcmc", "importance")
        if (c := summaries.get(f"{name}/{dataset}/{cutoff}"))
    ]
    results["comparison_table"] = [
        {
            "curves": key.split("/")[0],
            "T'": key.split("/")[1],
            "LC-PFN - MCMC (paired ± se)": f"{s['lcpfn_minus_mcmc_log_likelihood']:+.3f}"
            f" ± {s['lcpfn_minus_mcmc_se']:.3f}",
            "LC-PFN at least as good on": f"{s['lcpfn_better_on_share_of_curves']:.0%} of curves",
        }
        for key, s in results["summary"].items()
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
    results["timing_table"] = _timing_table(results["timing"])
    if args.earlier_model:
        earlier = LCPFN.load(args.earlier_model)
        results["earlier_model"] = _earlier_comparison(model, earlier, cells, data, args.seeds)
        results["earlier_table"], results["earlier_early_stopping_table"] = _earlier_tables(
            results["earlier_model"], results["early_stopping"]
        )
    machine = f"{platform.machine()}, {torch.get_num_threads()} thread"
    date = datetime.now(timezone.utc).isoformat(timespec="seconds")
    results["meta"] = {
        "command": f"python benchmarks/lcpfn.py --curves {args.curves} --seeds {args.seeds}"
        + (f" --model {args.model}" if args.model else "")
        + (f" --earlier-model {args.earlier_model}" if args.earlier_model else ""),
        "machine": machine,
        "date": date,
    }
    RESULTS.write_text(json.dumps(results, indent=1))
    _plots(model, data["prior"], data["real"])
    print(json.dumps(results["comparison_table"], indent=1))
    print(json.dumps(results["timing_table"], indent=1))
    print(json.dumps(results["early_stopping_table"], indent=1))


if __name__ == "__main__":
    main()
