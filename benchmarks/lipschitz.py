"""Local Lipschitz bounds: tightness and time of propagation vs interval vs global, side by side.

Run:  python benchmarks/lipschitz.py            (writes benchmarks/results/lipschitz.json)
      python benchmarks/lipschitz.py --quick    (small sizes, a smoke test; prints, writes nothing)

For each model and centre the three upper bounds of ``local_lipschitz_bound`` (l-inf input
norm, max over outputs) are computed in the same process, interleaved, together with one lower
bound (``lipschitz_lower_bound``: samples, vertices, gradient ascent), so every ratio
``upper / lower`` is measured on the same bracket. Medians over centres (and seeds) are reported.

Models: random MLPs (He-normal weights, zero biases; depth 2-6, width 16-256, 32 inputs, 10
outputs) and two models trained on scikit-learn's digits (8 x 8 images scaled to [0, 1]): an MLP
64-128-128-10 and a small CNN (conv 8 -> conv 16 stride 2 -> linear), at radius 0.01 around test
images. Our acceptance criterion: propagation >= 2x tighter than the global bound on the trained
models.
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
from torch import nn

from probtheory.bounds.lipschitz import METHODS, lipschitz_lower_bound, local_lipschitz_bound

RESULTS = Path(__file__).resolve().parent / "results"


def _random_mlp(depth: int, width: int, seed: int) -> nn.Sequential:
    g = torch.Generator().manual_seed(seed)
    layers: list[nn.Module] = []
    sizes = [32] + [width] * depth + [10]
    for k in range(len(sizes) - 1):
        linear = nn.Linear(sizes[k], sizes[k + 1]).double()
        with torch.no_grad():
            linear.weight.copy_(torch.randn(sizes[k + 1], sizes[k], generator=g, dtype=torch.float64))
            linear.weight.mul_((2.0 / sizes[k]) ** 0.5)
            linear.bias.zero_()
        layers.append(linear)
        if k < depth:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def _measure(model: nn.Module, center: torch.Tensor, radius: float, seed: int, quick: bool) -> dict:
    lower = lipschitz_lower_bound(
        model, center, radius, steps=20 if quick else 50, restarts=2 if quick else 4,
        samples=128 if quick else 512, seed=seed,
    )  # fmt: skip
    out = {"lower": lower.lower, "lower_s": lower.seconds}
    for method in METHODS:
        bound = local_lipschitz_bound(model, center, radius, method=method)
        out[method] = bound.upper
        out[f"{method}_s"] = bound.seconds
        out[f"{method}_ratio"] = bound.upper / lower.lower
    out["global_over_propagation"] = out["global"] / out["propagation"]
    out["interval_over_propagation"] = out["interval"] / out["propagation"]
    return out


def _summary(rows: list[dict]) -> dict:
    keys = [k for k in rows[0] if k.endswith(("_s", "_ratio", "_over_propagation"))]
    return {f"median_{k}": statistics.median(r[k] for r in rows) for k in keys}


def random_mlps(quick: bool) -> list[dict]:
    depths = (2, 4) if quick else (2, 4, 6)
    widths = (16, 64) if quick else (16, 64, 256)
    seeds = (0,) if quick else (0, 1, 2)
    out = []
    for depth in depths:
        for width in widths:
            for radius in (0.01,) if quick else (0.001, 0.01):
                rows = []
                for seed in seeds:
                    model = _random_mlp(depth, width, seed)
                    center = torch.randn(
                        32, generator=torch.Generator().manual_seed(100 + seed), dtype=torch.float64
                    )
                    rows.append(_measure(model, center, radius, seed, quick))
                out.append({"depth": depth, "width": width, "radius": radius, **_summary(rows)})
                print(out[-1], flush=True)
    return out


def _digits() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    data = load_digits()
    x = torch.tensor(data.data / 16.0, dtype=torch.float64)
    y = torch.tensor(data.target)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    x, y = x[perm], y[perm]
    return x[:1400], y[:1400], x[1400:], y[1400:]


def _train(model: nn.Module, x: torch.Tensor, y: torch.Tensor, epochs: int) -> nn.Module:
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(epochs):
        perm = torch.randperm(len(y))
        for i in range(0, len(y), 64):
            idx = perm[i : i + 64]
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    return model.eval()


def trained_models(quick: bool) -> list[dict]:
    xtr, ytr, xte, yte = _digits()
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 10))
    cnn = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(),
        nn.Flatten(), nn.Linear(16 * 4 * 4, 10),
    )  # fmt: skip
    epochs = 5 if quick else 30
    results = []
    for name, model, shape in (("digits_mlp", mlp, (64,)), ("digits_cnn", cnn, (1, 8, 8))):
        model = _train(model.double(), xtr.reshape(-1, *shape), ytr, epochs)
        with torch.no_grad():
            accuracy = float((model(xte.reshape(-1, *shape)).argmax(1) == yte).double().mean())
        rows = []
        for i in range(3 if quick else 20):
            rows.append(_measure(model, xte[i].reshape(shape), 0.01, i, quick))
        results.append(
            {"model": name, "test_accuracy": accuracy, "radius": 0.01, "points": len(rows), **_summary(rows)}
        )
        print(results[-1], flush=True)
    return results


def run(quick: bool = False) -> dict:
    torch.set_num_threads(1)
    start = time.perf_counter()
    trained = trained_models(quick)
    mlps = random_mlps(quick)
    bar = min(r["median_global_over_propagation"] for r in trained)
    return {
        "benchmark": "lipschitz",
        "quick": quick,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": platform.platform(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "norm": "inf (l-inf box, max over outputs of the l1 norm of gradient rows)",
        "trained": trained,
        "random_mlps": mlps,
        "bar": {
            "statement": "propagation >= 2x tighter than global on the trained models at radius 0.01",
            "min_median_global_over_propagation": bar,
            "met": bar >= 2.0,
        },
        "seconds": time.perf_counter() - start,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    result = run(quick=args.quick)
    if args.quick:  # a smoke test: print, keep the full run's results
        print(json.dumps(result["bar"], indent=2))
    else:
        RESULTS.mkdir(exist_ok=True)
        path = RESULTS / "lipschitz.json"
        path.write_text(json.dumps(result, indent=2))
        print(f"wrote {path}")
