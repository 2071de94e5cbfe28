"""The floor of the gp-hyper-1d gap by bucket layout: what the borders alone cost.

Run:  python benchmarks/pfn_borders.py [--plot-only]
      (writes benchmarks/results/pfn_borders.json and docs/images/pfn_borders.png; --plot-only
      redraws the figure from the JSON)

A PFN predicts a bar distribution on fixed borders, so its NLL gap to the Bayes predictive
cannot go below the gap of the predictive's own bucket masses (``bar_projection``): the
discretisation floor. This script estimates that floor (``discretisation_floor``: the KL
divergence by Monte Carlo, 32 draws of y per query from the Bayes predictive) for bucket layouts
that ``probtheory pfn train gp-hyper-1d`` would build with ``--buckets K --border-power p``:
quantile borders (p = 1, ``TrainConfig``'s default) and borders that follow the prior density of y to the
power 1/2, 1/3 or 0 (``bucket_borders``), on the datasets of ``benchmarks/pfn_gp.py``'s gap
(128 prior datasets x 10 queries, context sizes 5-50, importance-sampled Bayes predictive with
4096 hyper-prior draws). Every layout sees the same draws of y, so the layouts' differences are
paired; standard errors take the datasets as units. Also, for ``gp-rbf-1d``, the floor of quantile
borders and of cube-root ones against the exact GP posterior on ``pfn_gp.py``'s
gp-rbf-1d datasets (``--rbf-only`` recomputes just that section).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import platform
from datetime import datetime, timezone
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from probtheory.pfn import GPHyperPrior  # noqa: E402
from probtheory.pfn.evaluation import (  # noqa: E402
    discretisation_floor,
    exact_gp_predictive,
    hyperprior_gp_predictive,
)
from probtheory.pfn.recipes import get_recipe  # noqa: E402
from probtheory.pfn.training import initial_borders  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CONTEXTS = (5, 10, 20, 30, 40, 50)  # the gap bar's range, as in benchmarks/pfn_gp.py
MAX_CONTEXT, QUERIES, SEED = 50, 10, 2028  # benchmarks/pfn_gp.py's gap datasets
LAYOUTS = [
    (500, 1.0),
    (1000, 1.0),
    (2000, 1.0),
    (500, 0.5),
    (250, 1 / 3),
    (500, 1 / 3),
    (1000, 1 / 3),
    (500, 0.0),
]


def layout_borders(buckets: int, power: float, recipe: str = "gp-hyper-1d") -> torch.Tensor:
    """The borders a training run of ``recipe`` with these settings starts from."""
    config = get_recipe(recipe).config
    transformer = dataclasses.replace(config.transformer, num_buckets=buckets)
    return initial_borders(
        get_recipe(recipe).prior, dataclasses.replace(config, border_power=power, transformer=transformer)
    )


def rbf_floors(draws: int, datasets: int = 2000, seed: int = 2026) -> list[dict]:
    """gp-rbf-1d: the floor of quantile borders and of cube-root ones against the exact GP.

    On ``benchmarks/pfn_gp.py``'s gp-rbf-1d datasets (2000, context size 1 + i % 50 for dataset
    i, one query each), where the shipped model's gap to the exact GP is measured.
    """
    prior = get_recipe("gp-rbf-1d").prior
    batch = prior.sample(datasets, MAX_CONTEXT + 1, torch.Generator().manual_seed(seed))
    contexts = torch.arange(datasets) % MAX_CONTEXT + 1
    layouts = {}
    for buckets, power in ((500, 1.0), (500, 1 / 3)):
        borders = layout_borders(buckets, power, "gp-rbf-1d")
        floors = []
        for c in range(1, MAX_CONTEXT + 1):
            x, y = batch.x[contexts == c], batch.y[contexts == c]
            exact = exact_gp_predictive(
                x[:, :c], y[:, :c], x[:, c : c + 1], prior.lengthscale, prior.outputscale, prior.noise
            )
            floors.append(
                discretisation_floor(exact, borders, draws, torch.Generator().manual_seed(seed + c))
            )
        layouts[f"{buckets} buckets, power {power:.3g}"] = torch.cat(floors).flatten()
    quantile = layouts["500 buckets, power 1"]
    return [
        {"layout": name, "floor": _mean_se(floors), "minus_quantile_layout": _mean_se(floors - quantile)}
        for name, floors in layouts.items()
    ]


def _rbf_section(draws: int) -> tuple[list[dict], list[dict]]:
    floors = rbf_floors(draws)
    table = [
        {
            "gp-rbf-1d layout": row["layout"],
            "floor (nats), contexts 1-50, vs the exact GP": "{:.4f} ± {:.4f}".format(*row["floor"]),
            "minus quantile borders (paired)": (
                "" if row is floors[0] else "{:+.4f} ± {:.4f}".format(*row["minus_quantile_layout"])
            ),
        }
        for row in floors
    ]
    return floors, table


def _mean_se(values: torch.Tensor) -> list[float]:
    return [float(values.mean()), float(values.std() / math.sqrt(values.numel()))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--datasets", type=int, default=128)
    parser.add_argument("--draws", type=int, default=32)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "pfn_borders.json")
    parser.add_argument("--plot-only", action="store_true", help="redraw the figure from the results")
    parser.add_argument("--rbf-only", action="store_true", help="recompute only the gp-rbf-1d section")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.plot_only:
        plot(json.loads(args.out.read_text()))
        return
    if args.rbf_only:
        result = json.loads(args.out.read_text())
        result["gp-rbf-1d"], result["rbf_table"] = _rbf_section(args.draws)
        args.out.write_text(json.dumps(result, indent=1) + "\n")
        return
    prior = GPHyperPrior()
    batch = prior.sample(args.datasets, MAX_CONTEXT + QUERIES, torch.Generator().manual_seed(SEED))
    xq = batch.x[:, MAX_CONTEXT:]
    references = [
        hyperprior_gp_predictive(
            batch.x[:, :c], batch.y[:, :c], xq, prior, 4096, torch.Generator().manual_seed(SEED + c)
        )
        for c in CONTEXTS
    ]
    layouts, per_dataset = [], {}
    for buckets, power in LAYOUTS:
        borders = layout_borders(buckets, power)
        floors = torch.stack(
            [
                # the same draws for every layout: paired differences
                discretisation_floor(reference, borders, args.draws, torch.Generator().manual_seed(SEED + c))
                for c, reference in zip(CONTEXTS, references, strict=True)
            ]
        ).mean(-1)  # contexts x datasets (mean over the queries)
        name = f"{buckets} buckets, power {power:.3g}"
        per_dataset[name] = floors.mean(0)
        widths = borders[1:] - borders[:-1]
        layouts.append(
            {
                "layout": name,
                "buckets": buckets,
                "power": power,
                "floor_5_to_50": _mean_se(floors.mean(0)),
                "floor_by_context": {c: float(f.mean()) for c, f in zip(CONTEXTS, floors, strict=True)},
                "narrowest_bucket": float(widths.min()),
                "widest_inner_bucket": float(widths[1:-1].max()),
            }
        )
        print(f"{name}: floor {layouts[-1]['floor_5_to_50'][0]:.5f} ± {layouts[-1]['floor_5_to_50'][1]:.5f}")
    quantile = "500 buckets, power 1"
    for row in layouts:
        row["minus_quantile_layout"] = _mean_se(per_dataset[row["layout"]] - per_dataset[quantile])
    table = [
        {
            "layout": row["layout"],
            "floor (nats), contexts 5-50": f"{row['floor_5_to_50'][0]:.4f} ± {row['floor_5_to_50'][1]:.4f}",
            "minus 500 quantile buckets (paired)": (
                ""
                if row["layout"] == quantile
                else f"{row['minus_quantile_layout'][0]:+.4f} ± {row['minus_quantile_layout'][1]:.4f}"
            ),
            "bucket widths": f"{row['narrowest_bucket']:.4f} to {row['widest_inner_bucket']:.3f}",
        }
        for row in layouts
    ]
    result = {
        "meta": {
            "command": "python benchmarks/pfn_borders.py",
            "machine": f"{platform.machine()}, 1 thread, torch {torch.__version__}",
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
            "datasets": args.datasets,
            "queries_per_dataset": QUERIES,
            "draws_per_query": args.draws,
            "contexts": list(CONTEXTS),
        },
        "layouts": layouts,
        "table": table,
    }
    result["gp-rbf-1d"], result["rbf_table"] = _rbf_section(args.draws)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    plot(result)


def plot(result: dict) -> None:
    """The floors by context size, and the bucket widths of 500 quantile and cube-root buckets."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for row in result["layouts"]:
        style = "o-" if row["power"] == 1.0 else "s--"
        left.plot(CONTEXTS, list(row["floor_by_context"].values()), style, ms=3, label=row["layout"])
    left.set_yscale("log")
    left.set_ylim(top=1.0)  # room for the legend above the curves
    left.set_xlabel("context size")
    left.set_ylabel("floor of the NLL gap (nats)")
    left.set_title("gp-hyper-1d: discretisation floor by layout")
    left.legend(fontsize=6, ncol=2, loc="upper right")
    for buckets, power in ((500, 1.0), (500, 1 / 3)):
        borders = layout_borders(buckets, power)
        mids, widths = (borders[1:] + borders[:-1]) / 2, borders[1:] - borders[:-1]
        right.plot(mids[1:-1], widths[1:-1], label=f"{buckets} buckets, power {power:.3g}")
    right.set_yscale("log")
    right.set_xlabel("y")
    right.set_ylabel("bucket width")
    right.set_title("bucket widths")
    right.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(ROOT / "docs" / "images" / "pfn_borders.png", dpi=110)


if __name__ == "__main__":
    main()
