"""A/B of PFN training levers at equal wall time: soft targets and many queries per dataset.

Run:  python benchmarks/pfn_training_levers.py [--budget-minutes 15] [--arms baseline soft ...]
      (writes benchmarks/results/pfn_training_levers.json; runs resume from pfn-runs/levers/)
      python benchmarks/pfn_training_levers.py --steps 1500 --arms baseline soft
      (equal step counts instead of equal CPU time: pfn_training_levers_steps1500.json)
      python benchmarks/pfn_training_levers.py --arms baseline batch-32 ... --results NAME
      (another set of arms in its own file: benchmarks/results/NAME.json; processes with other
      --arms may share the file, e.g. one per core: each keeps the arms the others finished)

Every arm trains the ``gp-hyper-1d`` recipe's architecture (unless the arm changes it) on the same
prior, from the same seed, for the same compute budget: its step count is the budget divided by
its own CPU time per step (one torch thread; process CPU time, so that other jobs on a shared
host do not skew the comparison), measured in this process just before training, so the cosine
schedule completes in every arm. Arms:

* ``baseline``: the recipe's loss on sampled targets, 60 points per dataset (10-60 queries);
* ``soft``: the same with ``targets="gaussian"``, the loss's exact expectation over the
  observation noise given the sampled GP function (:mod:`probtheory.pfn.soft_targets`);
* ``many-queries``: 250 points per dataset (200-250 queries), sampled targets;
* ``soft-many``: both;
* ``batch-32``, ``batch-128``: 32 or 128 datasets per step instead of 64 (twice or half the
  steps in the same CPU time);
* ``lr-1e-3``, ``lr-2e-3``, ``lr-4e-3``: peak learning rate 1e-3, 2e-3 or 4e-3 instead of the
  recipe's 5e-4;
* ``queries-10``, ``lr-2e-3-queries-10``: 10 queries per dataset, the points right after its
  context (``TrainConfig(queries=10)``, as the PFNs library's ``fixed_num_test_instances``), so a
  step with a small context is cheaper and every context size gets the same number of loss terms;
* ``lr-2e-3-queries-10-buckets-1000``: the same with 1000 buckets instead of 500 (finer
  resolution of the predicted density; the GP example of the PFNs library, Müller et al. 2022,
  uses 1000 or 10000);
* ``lr-2e-3-queries-10-width-64``, ``lr-2e-3-queries-10-width-256``: the same with half or twice
  the recipe's width (embedding 64 or 256, feed-forward 128 or 512; 4 heads, 4 layers): more
  steps of a smaller network or fewer of a larger one in the same CPU time;
* ``lr-2e-3-queries-10-cube-root-borders``: the same with bucket borders that follow the prior density
  of y to the power 1/3 instead of quantile borders (``bucket_borders(power=1/3)``): the same
  number of buckets, wider in the bulk and finer in the tails, for a lower floor of the gap;
* ``lr-2e-3-queries-10-cube-root-borders-context-power-2``: the same (today's GP recipes) with
  context sizes drawn as ``floor(51 u^2)`` (``TrainConfig(context_power=2)``): contexts of at
  most 5 points, where the gap is largest, in 34% of the steps instead of 12%, and cheaper steps
  on average (mean context about 16.5 points instead of 25);
* ``lr-2e-3-queries-10-cube-root-borders-posterior``: today's GP recipes with the loss's exact
  expectation over the queries given the context and the dataset's hyperparameters
  (``targets="posterior"``: the GP posterior predictive under the drawn hyperparameters, the
  function values integrated out), so only the hyperparameters' posterior spread is left in the
  targets' noise.
* ``lr-4e-3-queries-10-cube-root-borders-posterior``: the same at twice the peak learning rate
  (does the less noisy gradient of the posterior targets take a larger step?).

Each trained model is scored by its NLL gap to the Bayes predictive (importance sampling from the
hyper-prior, 4096 draws) on the same 128 fresh datasets x 10 queries at context sizes 5, 20, 50,
with the datasets as the units of the standard errors; the arms are compared pairwise on the same
datasets: each with the baseline, each with every arm whose settings are a part of its own
(``lr-2e-3-queries-10 - lr-2e-3``: what 10 queries add at the higher learning rate), and each
with the arm listed before it that differs in one value only (``lr-4e-3-... - lr-2e-3-...``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from probtheory.pfn import GPHyperPrior
from probtheory.pfn.evaluation import hyperprior_gp_predictive
from probtheory.pfn.recipes import get_recipe
from probtheory.pfn.training import TrainConfig, train_pfn

ARMS = {
    "baseline": {},
    "soft": {"targets": "gaussian"},
    "many-queries": {"seq_len": 250},
    "soft-many": {"targets": "gaussian", "seq_len": 250},
    "batch-32": {"batch_size": 32},
    "batch-128": {"batch_size": 128},
    "lr-1e-3": {"lr": 1e-3},
    "lr-2e-3": {"lr": 2e-3},
    "lr-4e-3": {"lr": 4e-3},
    "queries-10": {"queries": 10},
    "lr-2e-3-queries-10": {"lr": 2e-3, "queries": 10},
    "lr-2e-3-queries-10-buckets-1000": {"lr": 2e-3, "queries": 10, "num_buckets": 1000},
    "lr-2e-3-queries-10-width-64": {"lr": 2e-3, "queries": 10, "emsize": 64, "nhid": 128},
    "lr-2e-3-queries-10-width-256": {"lr": 2e-3, "queries": 10, "emsize": 256, "nhid": 512},
    "lr-2e-3-queries-10-cube-root-borders": {"lr": 2e-3, "queries": 10, "border_power": 1 / 3},
    "lr-2e-3-queries-10-cube-root-borders-context-power-2": {
        "lr": 2e-3,
        "queries": 10,
        "border_power": 1 / 3,
        "context_power": 2.0,
    },
    "lr-2e-3-queries-10-cube-root-borders-posterior": {
        "lr": 2e-3,
        "queries": 10,
        "border_power": 1 / 3,
        "targets": "posterior",
    },
    "lr-4e-3-queries-10-cube-root-borders-posterior": {
        "lr": 4e-3,
        "queries": 10,
        "border_power": 1 / 3,
        "targets": "posterior",
    },
}
ARCHITECTURE = ("num_buckets", "emsize", "nhid", "nlayers")  # settings of the transformer
CONTEXTS = (5, 20, 50)
MAX_CONTEXT = 50
RESULTS = Path(__file__).parent / "results" / "pfn_training_levers.json"


def base_config() -> TrainConfig:
    """The arms' common base: the ``gp-hyper-1d`` recipe as the levers were measured against
    (peak learning rate 5e-4, every point after the context a query, quantile borders, the loss
    on sampled targets).

    Pinned here, not read from the recipe as it is now, so that a recipe built from the levers
    does not change what the stored arms (which record only their differences) mean."""
    return dataclasses.replace(
        get_recipe("gp-hyper-1d").config, lr=5e-4, queries=None, border_power=1.0, targets="sampled"
    )


def arm_config(name: str, steps: int) -> TrainConfig:
    base = base_config()
    settings = dict(ARMS[name])
    architecture = {key: settings.pop(key) for key in ARCHITECTURE if key in settings}
    if architecture:
        settings["transformer"] = dataclasses.replace(base.transformer, **architecture)
    return dataclasses.replace(base, steps=steps, checkpoint_every=max(1, steps // 10), **settings)


def seconds_per_step(prior: GPHyperPrior, name: str, timed: int = 8) -> float:
    """CPU time of a training step of arm ``name``: (time of 2 + timed steps - time of 2) / timed.

    The difference cancels the set-up (bucket borders from prior draws, model construction); a
    first, discarded run pays the process's one-off costs (lazy initialisation, allocator
    warm-up), which would otherwise be charged to whichever arm is timed first.
    """

    def run(steps: int) -> float:
        tick = time.process_time()
        train_pfn(prior, arm_config(name, steps), progress=False)
        return time.process_time() - tick

    run(2)  # warm-up, discarded
    return (run(2 + timed) - run(2)) / timed


class BayesReference:
    """Fresh datasets and the Bayes predictive's log-density of their queries, computed once.

    The importance-sampled reference (4096 hyper-prior draws per dataset) costs far more than a
    PFN forward pass and does not depend on the arm, so every arm is scored against this one.
    """

    def __init__(self, prior: GPHyperPrior, datasets: int, seed: int, queries: int = 10) -> None:
        self.batch = prior.sample(datasets, MAX_CONTEXT + queries, torch.Generator().manual_seed(seed))
        xq, self.yq = self.batch.x[:, MAX_CONTEXT:], self.batch.y[:, MAX_CONTEXT:].double()
        self.log_prob = []
        for c in CONTEXTS:
            x, y = self.batch.x[:, :c], self.batch.y[:, :c]
            reference = hyperprior_gp_predictive(
                x, y, xq, prior, 4096, torch.Generator().manual_seed(seed + c)
            )
            self.log_prob.append(reference.log_prob(self.yq))

    def gaps(self, model) -> torch.Tensor:
        """Per-dataset mean NLL gap PFN - Bayes over the queries: a `len(CONTEXTS) x datasets` tensor."""
        xq = self.batch.x[:, MAX_CONTEXT:]
        out = []
        for c, reference in zip(CONTEXTS, self.log_prob, strict=True):
            with torch.no_grad():
                pfn = -model.predict(self.batch.x[:, :c], self.batch.y[:, :c], xq).log_prob(self.yq).double()
            out.append((pfn + reference).mean(-1))
        return torch.stack(out)


def _mean_se(values: torch.Tensor) -> list[float]:
    return [float(values.mean()), float(values.std() / math.sqrt(values.numel()))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--budget-minutes", type=float, default=15.0, help="CPU minutes per arm")
    parser.add_argument(
        "--steps", type=int, help="the same step count for every arm instead of equal CPU time"
    )
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=list(ARMS))
    parser.add_argument("--datasets", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="pfn-runs/levers")
    parser.add_argument("--results", help="name of the results file (default pfn_training_levers[_stepsN])")
    parser.add_argument(
        "--summary-only", action="store_true", help="rewrite the results' table from the arms finished so far"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    prior = GPHyperPrior()
    results = RESULTS if args.steps is None else RESULTS.with_name(f"{RESULTS.stem}_steps{args.steps}.json")
    if args.results:
        results = RESULTS.with_name(f"{args.results}.json")
    arms = _finished_arms(results, args.budget_minutes)
    reference = None
    for name in [] if args.summary_only else args.arms:
        budget = f"{args.budget_minutes:g}min" if args.steps is None else f"{args.steps}steps"
        out = Path(args.out) / f"{name}-{budget}" / (args.results or "")
        if name in arms and arms[name].get("complete"):
            continue
        per_step = arms.get(name, {}).get("seconds_per_step") or seconds_per_step(prior, name)
        steps = args.steps or max(10, int(args.budget_minutes * 60 / per_step))
        arms[name] = {"seconds_per_step": per_step, "steps": steps, "settings": ARMS[name], "complete": False}
        print(f"{name}: {per_step:.3f} s/step -> {steps} steps", flush=True)
        result = train_pfn(prior, arm_config(name, steps), out_dir=out, progress=False)
        reference = reference or BayesReference(prior, args.datasets, seed=20261206)
        gaps = reference.gaps(result.model)
        arms[name].update(
            complete=True,
            training_seconds=result.seconds,
            final_losses=result.losses[-5:],
            gap_by_context={str(c): _mean_se(g) for c, g in zip(CONTEXTS, gaps, strict=True)},
            gap_overall=_mean_se(gaps.mean(0)),
            per_dataset_gap=gaps.mean(0).tolist(),
        )
        print(f"{name}: gap to Bayes {arms[name]['gap_overall']}", flush=True)
        # arms another process (other --arms, same results file) finished meanwhile are kept
        arms = _finished_arms(results, args.budget_minutes) | {
            key: arm for key, arm in arms.items() if arm.get("complete")
        }
        results.parent.mkdir(exist_ok=True)
        results.write_text(json.dumps(_summary(args, arms), indent=2) + "\n")
    if args.summary_only:
        results.write_text(json.dumps(_summary(args, arms), indent=2) + "\n")


def _finished_arms(results: Path, budget_minutes: float) -> dict:
    """The arms recorded in ``results`` for this budget (none if it records another budget)."""
    previous = json.loads(results.read_text()) if results.exists() else {}
    return previous.get("arms", {}) if previous.get("budget_minutes") == budget_minutes else {}


def _compared(name: str, other: str) -> bool:
    """Whether the paired difference ``name - other`` is reported: ``other``'s settings are a part
    of ``name``'s (the baseline's are empty), or the two arms set the same settings and differ in
    one value (``other`` the arm listed first): one lever, changed alone."""
    mine, theirs = ARMS[name], ARMS[other]
    if theirs.items() < mine.items():
        return True
    changed = [key for key in mine if mine[key] != theirs.get(key)]
    earlier = list(ARMS).index(other) < list(ARMS).index(name)
    return mine.keys() == theirs.keys() and len(changed) == 1 and earlier


def _summary(args, arms: dict) -> dict:
    paired = {}
    done = {name: arm for name, arm in arms.items() if arm.get("complete")}
    for name, arm in done.items():
        for other, base in done.items():
            if _compared(name, other):
                gaps = torch.tensor(arm["per_dataset_gap"]) - torch.tensor(base["per_dataset_gap"])
                paired[f"{name} - {other}"] = _mean_se(gaps)
    table = []
    for name, arm in arms.items():
        if not arm.get("complete"):
            continue
        gap = arm["gap_by_context"]
        config = arm_config(name, arm["steps"])
        row = {
            "arm": name,
            "targets": config.targets,
            "points per dataset": config.seq_len if config.queries is None else f"context + {config.queries}",
            "batch": config.batch_size,
            "peak lr": f"{config.lr:g}",
            "CPU s / step": f"{arm['seconds_per_step']:.2f}",
            "steps": arm["steps"],
        }
        row |= {f"gap to Bayes, c = {c}": f"{gap[str(c)][0]:+.3f} ± {gap[str(c)][1]:.3f}" for c in CONTEXTS}
        row["gap, all"] = f"{arm['gap_overall'][0]:+.3f} ± {arm['gap_overall'][1]:.3f}"
        diff = paired.get(f"{name} - baseline")
        row["paired vs baseline"] = "" if diff is None else f"{diff[0]:+.3f} ± {diff[1]:.3f}"
        table.append(row)
    meta = {
        "command": "python benchmarks/pfn_training_levers.py "
        + (f"--budget-minutes {args.budget_minutes:g}" if args.steps is None else f"--steps {args.steps}")
        + (f" --arms {' '.join(arms)} --results {args.results}" if args.results else ""),
        "machine": f"{platform.machine()}, {args.threads} torch thread(s), torch {torch.__version__}",
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
    }
    return {
        "table": table,
        "meta": meta,
        "date": datetime.now(timezone.utc).isoformat(timespec="minutes"),
        "command": meta["command"],
        "machine": meta["machine"],
        "budget_minutes": args.budget_minutes,
        "datasets": args.datasets,
        "contexts": list(CONTEXTS),
        "arms": arms,
        "paired_gap_difference": paired,
    }


if __name__ == "__main__":
    main()
