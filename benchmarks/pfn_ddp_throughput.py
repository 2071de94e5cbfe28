"""PFN training throughput on a multi-core machine: one process with many threads, or DDP processes.

Run:  python benchmarks/pfn_ddp_throughput.py [--repeats 3] [--steps 10 40] [--batch-size 64]
      [--all-queries]
      (writes benchmarks/results/pfn_ddp_throughput.json, or pfn_ddp_throughput_all_queries.json)

The ``gp-hyper-1d`` recipe (prior and architecture) at the same global batch in three layouts,
each a fresh subprocess:

* ``1 process x 1 thread`` (the reference: what one core does),
* ``1 process x 2 threads`` (``torch.set_num_threads(2)``, batch 64),
* ``2 processes x 1 thread`` (``torchrun --standalone --nproc_per_node 2``, batch 32 per rank;
  DDP over gloo averages the gradients, so the optimiser sees the same global batch).

Each run trains twice in the same process, for ``--steps`` short and long (say 10 and 40): the
time per step is the difference of the two runs' step-loop times divided by the difference of
their step counts, so process start-up, the bucket borders, DDP's set-up and the first steps'
warm-up cancel. Both runs train on the same per-step datasets (drawn from ``(seed, step,
rank)``), so every layout does the same work per step. ``--all-queries`` trains with every
point after the context a query (``queries=None``, the earlier recipe) instead of the recipe's
10 queries per dataset: a costlier step, against the same communication.
The layouts run interleaved, in a shuffled order per repeat; reported are the median over
repeats of datasets per second and each layout's ratio to one process x one thread in the same
repeat.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYOUTS = {  # name -> (processes, threads per process)
    "1 process x 1 thread": (1, 1),
    "1 process x 2 threads": (1, 2),
    "2 processes x 1 thread": (2, 1),
}


def _worker(args: argparse.Namespace) -> None:
    """Train twice (short, long) in this process; rank 0 prints the seconds of each step loop."""
    import torch

    from probtheory.pfn.recipes import GP_HYPER_1D
    from probtheory.pfn.training import train_pfn

    torch.set_num_threads(args.threads)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    seconds = []
    for steps in args.steps:
        config = replace(
            GP_HYPER_1D.config, steps=steps, batch_size=args.batch_size // world, border_samples=10_000
        )
        if args.all_queries:
            config = replace(config, queries=None)
        seconds.append(train_pfn(GP_HYPER_1D.prior, config, progress=False).seconds)
    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps({"seconds": seconds}))


def _launch(layout: str, args: argparse.Namespace) -> float:
    """Seconds per training step of ``layout`` (difference of the long and short runs)."""
    processes, threads = LAYOUTS[layout]
    worker = [
        str(Path(__file__).resolve()),
        "--worker",
        "--threads",
        str(threads),
        "--batch-size",
        str(args.batch_size),
        "--steps",
        *map(str, args.steps),
        *(["--all-queries"] if args.all_queries else []),
    ]
    if processes == 1:
        command = [sys.executable, *worker]
    else:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node"]
        command += [str(processes), *worker]
    pythonpath = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": pythonpath}
    done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    line = [row for row in done.stdout.splitlines() if row.startswith("{")][-1]
    short, long = json.loads(line)["seconds"]
    return (long - short) / (args.steps[1] - args.steps[0])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, nargs=2, default=[10, 40], metavar=("SHORT", "LONG"))
    parser.add_argument("--batch-size", type=int, default=64, help="global batch (divided among ranks)")
    parser.add_argument(
        "--all-queries", action="store_true", help="every point after the context a query (earlier recipe)"
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    from probtheory.pfn.recipes import GP_HYPER_1D

    if args.worker:
        _worker(args)
        return
    if not 0 < args.steps[0] < args.steps[1]:
        parser.error("--steps SHORT LONG needs 0 < SHORT < LONG")
    order = random.Random(0)
    seconds: dict[str, list[float]] = {name: [] for name in LAYOUTS}
    for repeat in range(args.repeats):
        names = list(LAYOUTS)
        order.shuffle(names)
        for name in names:
            seconds[name].append(_launch(name, args))
            print(f"repeat {repeat}: {name}: {seconds[name][-1]:.3f} s / step", flush=True)
    reference = seconds["1 process x 1 thread"]
    table = [
        {
            "layout": name,
            "seconds per step (median)": round(statistics.median(times), 4),
            "datasets per second (median)": round(args.batch_size / statistics.median(times), 1),
            "speed-up vs 1 x 1 (median of paired ratios)": round(
                statistics.median(r / t for r, t in zip(reference, times, strict=True)), 2
            ),
        }
        for name, times in seconds.items()
    ]
    results = {
        "settings": {
            "recipe": "gp-hyper-1d",
            "queries": "all" if args.all_queries else GP_HYPER_1D.config.queries,
            "global_batch": args.batch_size,
            "steps": args.steps,
            "repeats": args.repeats,
        },
        "seconds_per_step": seconds,
        "table": table,
        "meta": {
            "command": "python benchmarks/pfn_ddp_throughput.py "
            f"--repeats {args.repeats} --steps {args.steps[0]} {args.steps[1]} "
            f"--batch-size {args.batch_size}" + (" --all-queries" if args.all_queries else ""),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores",
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        },
    }
    name = "pfn_ddp_throughput_all_queries" if args.all_queries else "pfn_ddp_throughput"
    path = ROOT / "benchmarks" / "results" / f"{name}.json"
    path.write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(table, indent=1))


if __name__ == "__main__":
    main()
