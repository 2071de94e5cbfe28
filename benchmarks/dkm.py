"""Deep kernel machines: does representation learning pay (test log-likelihood), and does the
sparse DKM scale linearly in n?

Run:  python benchmarks/dkm.py            (writes benchmarks/results/dkm.json, docs/images/dkm_scaling.png)
      python benchmarks/dkm.py --quick    (small sizes, for a smoke test; writes to /tmp)
      python benchmarks/dkm.py --replot   (redraw the figure from the saved JSON)

(a) Exact DKM (ReLU Gram kernel, depth 2) against the NNGP of the same kernel (dof = inf). Both
have their hyperparameters fitted by the same objective with the same Adam budget. Tasks:

* ``chirp-1d``: y = sin(1.5 pi (x + 1)^2) + 0.1 noise, x ~ U(-1, 1). The frequency grows along
  x, so no single fixed kernel suits the whole input range.
* ``projection-10d``: y = sin(2 w^T x) + 0.1 noise, x ~ N(0, I_10), with w a random unit vector.
  The rotation-invariant NNGP cannot single out w.
* ``diabetes``: scikit-learn's diabetes split of ``probtheory.gp.regression_dataset``.

The DKM is run at dof in {1, 10, 100, 1000}. "DKM (dof by validation)" picks dof per seed by the
validation log-likelihood, and the test numbers of that choice are reported. Each number is the
mean +- standard error over seeds of the per-point test log-likelihood of noisy targets.

(b) Time per fit step (objective + gradient + Adam step, full batch) against n for the sparse
DKM with 50 inducing points, and for the exact DKM where affordable. The medians of repeated
blocks are reported, since the machine is shared.
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

import numpy as np
import torch

from probtheory.gp import DeepKernelMachine, regression_dataset

ROOT = Path(__file__).resolve().parent.parent
F64 = torch.float64


# ------------------------------------------------------------------------------------- data


def _standardised(x, y, n_train, n_valid):
    xm, xs = x[:n_train].mean(0), x[:n_train].std(0)
    ym, ys = y[:n_train].mean(), y[:n_train].std()
    x, y = (x - xm) / xs, (y - ym) / ys
    cut = (n_train, n_train + n_valid)
    return x[: cut[0]], y[: cut[0]], x[cut[0] : cut[1]], y[cut[0] : cut[1]], x[cut[1] :], y[cut[1] :]


def chirp_1d(seed: int, n_train: int = 150, n_valid: int = 150, n_test: int = 500):
    g = torch.Generator().manual_seed(1000 + seed)
    n = n_train + n_valid + n_test
    x = 2 * torch.rand(n, 1, generator=g, dtype=F64) - 1
    y = torch.sin(1.5 * math.pi * (x[:, 0] + 1) ** 2) + 0.1 * torch.randn(n, generator=g, dtype=F64)
    return _standardised(x, y, n_train, n_valid)


def projection_10d(seed: int, n_train: int = 200, n_valid: int = 100, n_test: int = 500):
    g = torch.Generator().manual_seed(2000 + seed)
    n = n_train + n_valid + n_test
    w = torch.randn(10, generator=g, dtype=F64)
    x = torch.randn(n, 10, generator=g, dtype=F64)
    y = torch.sin(2 * x @ (w / w.norm())) + 0.1 * torch.randn(n, generator=g, dtype=F64)
    return _standardised(x, y, n_train, n_valid)


def diabetes(seed: int):
    s = regression_dataset("diabetes", seed=seed)
    return s.train_x, s.train_y, s.valid_x, s.valid_y, s.test_x, s.test_y


TASKS = {"chirp-1d": chirp_1d, "projection-10d": projection_10d, "diabetes": diabetes}


# ------------------------------------------------------------------- (a) representation learning


def fit_and_score(data, dof: float, steps: int, lr: float, whiten: bool = True) -> dict:
    train_x, train_y, valid_x, valid_y, test_x, test_y = data
    model = DeepKernelMachine(train_x, train_y, depth=2, kernel="relu", dof=dof, noise=0.1, whiten=whiten)
    start = time.perf_counter()
    history = model.fit(steps=steps, lr=lr, progress=False)
    seconds = time.perf_counter() - start
    test, valid = model.predict(test_x), model.predict(valid_x)
    return {
        "train_objective_per_point": history[-1],
        "valid_loglik": valid.log_prob(valid_y).mean().item(),
        "test_loglik": test.log_prob(test_y).mean().item(),
        "test_rmse": (test.mean - test_y).square().mean().sqrt().item(),
        "noise": model.noise.item(),
        "fit_s": seconds,
    }


def _mean_se(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{np.mean(values):.3f} ± {np.std(values, ddof=1) / math.sqrt(len(values)):.3f}"


def representation(
    seeds: list[int], dofs: list[float], steps: int, lr: float, quick: bool
) -> tuple[dict, list]:
    raw: dict[str, dict[str, list[dict]]] = {}
    for task, make in TASKS.items():
        raw[task] = {}
        for seed in seeds:
            data = make(seed) if not quick or task == "diabetes" else make(seed, 60, 40, 100)
            runs = {"NNGP (dof=inf)": fit_and_score(data, math.inf, steps, lr)}
            for dof in dofs:
                runs[f"DKM dof={dof:g}"] = fit_and_score(data, dof, steps, lr)
            if task == "chirp-1d":
                runs[f"DKM dof={dofs[-1]:g}, unwhitened"] = fit_and_score(
                    data, dofs[-1], steps, lr, whiten=False
                )
            best = max((f"DKM dof={d:g}" for d in dofs), key=lambda name: runs[name]["valid_loglik"])  # noqa: B023
            runs["DKM (dof by validation)"] = {**runs[best], "chosen": best}
            for name, result in runs.items():
                raw[task].setdefault(name, []).append(result)
            print(task, seed, {k: round(v["test_loglik"], 3) for k, v in runs.items()}, flush=True)
    table = []
    for task, models in raw.items():
        for name, results in models.items():
            row = {
                "task": task,
                "model": name,
                "test log-lik / point": _mean_se([r["test_loglik"] for r in results]),
                "test RMSE": _mean_se([r["test_rmse"] for r in results]),
                "train objective / point": _mean_se([r["train_objective_per_point"] for r in results]),
            }
            if name == "DKM (dof by validation)":
                row["model"] += " [" + ", ".join(r["chosen"].split("=")[1] for r in results) + "]"
            table.append(row)
        diff = [
            a["test_loglik"] - b["test_loglik"]
            for a, b in zip(models["DKM (dof by validation)"], models["NNGP (dof=inf)"], strict=True)
        ]
        se = np.std(diff, ddof=1) / math.sqrt(len(diff)) if len(diff) > 1 else math.inf
        winner = (
            "DKM"
            if np.mean(diff) > 2 * se
            else "NNGP"
            if np.mean(diff) < -2 * se
            else "neither (|diff| < 2 se)"
        )
        table.append({
            "task": task,
            "model": "DKM (validation) − NNGP, paired",
            "test log-lik / point": _mean_se(diff),
            "test RMSE": "-",
            "train objective / point": f"higher test log-lik: {winner}",
        })  # fmt: skip
    return raw, table


# ------------------------------------------------------------------------------- (b) scaling


def time_per_step(n: int, num_inducing: int | None, steps: int, repeats: int) -> float:
    g = torch.Generator().manual_seed(n)
    x = torch.randn(n, 10, generator=g, dtype=F64)
    y = torch.sin(2 * x[:, 0]) + 0.1 * torch.randn(n, generator=g, dtype=F64)
    model = DeepKernelMachine(x, y, depth=2, kernel="relu", dof=1.0, num_inducing=num_inducing)
    model.fit(steps=1, progress=False)  # warm-up
    blocks = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.fit(steps=steps, progress=False)
        blocks.append((time.perf_counter() - start) / steps)
    return statistics.median(blocks)


def scaling(sizes: list[int], exact_sizes: list[int], num_inducing: int) -> dict:
    sparse = [time_per_step(n, num_inducing, steps=5, repeats=3) for n in sizes]
    print("sparse", dict(zip(sizes, sparse, strict=True)), flush=True)
    exact = [time_per_step(n, None, steps=1 if n > 1000 else 3, repeats=2) for n in exact_sizes]
    print("exact", dict(zip(exact_sizes, exact, strict=True)), flush=True)

    def slope(ns, ts):
        return float(np.polyfit(np.log(ns), np.log(ts), 1)[0])

    # The sparse cost is a + b n: a fixed O(P_i^3) part plus O(n P_i^2). A log-log slope below
    # 1 comes from the fixed part, so the linear fit and its R^2 are the direct test.
    b, a = np.polyfit(sizes, sparse, 1)
    residual = np.asarray(sparse) - (a + b * np.asarray(sizes))
    r2 = 1 - float((residual**2).sum() / ((np.asarray(sparse) - np.mean(sparse)) ** 2).sum())
    return {
        "num_inducing": num_inducing,
        "n": sizes,
        "sparse_s_per_step": sparse,
        "sparse_loglog_slope_all": slope(sizes, sparse),
        "sparse_loglog_slope_top3": slope(sizes[-3:], sparse[-3:]),
        "sparse_linear_fit": {"intercept_s": float(a), "s_per_1000_points": 1000 * float(b), "r2": r2},
        "exact_n": exact_sizes,
        "exact_s_per_step": exact,
        "exact_loglog_slope": slope(exact_sizes, exact),
    }


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4))
    n, sparse = np.asarray(result["n"]), np.asarray(result["sparse_s_per_step"])
    ne, exact = np.asarray(result["exact_n"]), np.asarray(result["exact_s_per_step"])
    ax.loglog(n, sparse, "o-", label=f"sparse DKM, {result['num_inducing']} inducing points")
    ax.loglog(ne, exact, "s-", label="exact DKM")
    ax.loglog(n, sparse[-1] * n / n[-1], "k:", lw=1, label="slope 1 (linear)")
    ax.loglog(ne, exact[-1] * (ne / ne[-1]) ** 3, "k--", lw=1, label="slope 3 (cubic)")
    ax.set_xticks(n, [str(v) for v in n], minor=False)
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("number of training points n")
    ax.set_ylabel("seconds per fit step (1 thread)")
    ax.set_title("DKM fit step: depth 2, ReLU Gram kernel, 10-D inputs")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--replot", action="store_true", help="redraw the figure from the saved JSON only")
    args = parser.parse_args()
    if args.replot:
        saved = json.loads((args.out or ROOT / "benchmarks" / "results" / "dkm.json").read_text())
        plot(saved["scaling"], ROOT / "docs" / "images" / "dkm_scaling.png")
        return
    torch.set_num_threads(1)
    if args.quick:
        seeds, dofs, steps, lr = [0], [1.0, 100.0], 20, 0.01
        sizes, exact_sizes = [100, 200, 400], [100, 200]
        out = args.out or Path("/tmp/dkm_quick.json")
        image = out.with_suffix(".png")
    else:
        seeds, dofs, steps, lr = [0, 1, 2], [1.0, 10.0, 100.0, 1000.0], 200, 0.01
        sizes, exact_sizes = [250, 500, 1000, 2000, 4000], [250, 500, 1000, 2000]
        out = args.out or ROOT / "benchmarks" / "results" / "dkm.json"
        image = ROOT / "docs" / "images" / "dkm_scaling.png"
    start = time.perf_counter()
    raw, table = representation(seeds, dofs, steps, lr, args.quick)
    timing = scaling(sizes, exact_sizes, num_inducing=50)
    plot(timing, image)
    scaling_table = [
        {
            "model": f"sparse DKM ({timing['num_inducing']} inducing)",
            "n": ", ".join(map(str, timing["n"])),
            "s / step": ", ".join(f"{t:.4f}" for t in timing["sparse_s_per_step"]),
            "log-log slope": (
                f"{timing['sparse_loglog_slope_top3']:.2f} over the 3 largest n "
                f"({timing['sparse_loglog_slope_all']:.2f} over all); t = a + b n fit: "
                f"a = {timing['sparse_linear_fit']['intercept_s']:.4f} s, "
                f"b = {timing['sparse_linear_fit']['s_per_1000_points']:.4f} s per 1000 points, "
                f"R^2 = {timing['sparse_linear_fit']['r2']:.4f}"
            ),
        },
        {
            "model": "exact DKM",
            "n": ", ".join(map(str, timing["exact_n"])),
            "s / step": ", ".join(f"{t:.4f}" for t in timing["exact_s_per_step"]),
            "log-log slope": f"{timing['exact_loglog_slope']:.2f}",
        },
    ]
    result = {
        "meta": {
            "command": "python benchmarks/dkm.py" + (" --quick" if args.quick else ""),
            "machine": f"{platform.machine()}, 1 torch thread (shared host), torch {torch.__version__}",
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
            "settings": {
                "depth": 2,
                "kernel": "relu",
                "steps": steps,
                "lr": lr,
                "seeds": seeds,
                "dofs": dofs,
                "whiten": True,
            },
            "total_s": time.perf_counter() - start,
        },
        "table": table,
        "scaling_table": scaling_table,
        "scaling": timing,
        "runs": raw,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(table + scaling_table, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
