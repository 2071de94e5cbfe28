"""PV-RNN error regression: one-step prediction error against the open-loop prior prediction.

Run:  python benchmarks/energy_pvrnn.py            (writes benchmarks/results/energy_pvrnn.json)
      python benchmarks/energy_pvrnn.py --quick    (small budgets, smoke test; writes to /tmp)

A two-layer PV-RNN (d = 20 / 10, z = 2 / 1, tau = 2 / 10, meta-prior w) is trained on
pattern-switching sequences (two 2-D figure-eight patterns of period 10, switching with
probability 0.3 at every segment boundary; ``probtheory.recurrent.data``). On held-out sequences
of the same process, two predictors of x_t are compared side by side in one process:

* **error regression** (``ErrorRegression``): at each step the adaptive vectors of the last
  ``window`` steps are optimised with the weights frozen, then x_{t+1} is predicted;
* **open loop**: the generative model run from t = 1 with z = the prior means, never seeing an
  observation (the prediction of the model without recognition).

Reported: the mean squared one-step error of each (averaged over the 2 coordinates, over the
steps after the first window, and over the held-out sequences), their ratio (open loop / ER),
the ratio per held-out sequence, and the wall time per ER step. ER is repeated with
``repeats`` seeds of its posterior draws; medians over repeats are reported. Our acceptance criterion
is a ratio >= 5.
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

from probtheory.recurrent.data import pattern_switching_sequences, switching_rate
from probtheory.recurrent.error_regression import ErrorRegression
from probtheory.recurrent.pvrnn import PVRNN
from probtheory.recurrent.pvrnn_layer_config import PVRNNLayerConfig

ROOT = Path(__file__).resolve().parent.parent
BAR = 5.0

FULL = {
    "train_n": 16, "train_length": 100, "held_out_n": 8, "held_out_length": 100, "epochs": 1500,
    "lr": 0.01, "w": 0.01, "window": 10, "iterations": 30, "er_lr": 0.09, "repeats": 3,
}  # fmt: skip
QUICK = {
    "train_n": 8, "train_length": 40, "held_out_n": 2, "held_out_length": 30, "epochs": 100,
    "lr": 0.02, "w": 0.01, "window": 5, "iterations": 8, "er_lr": 0.09, "repeats": 2,
}  # fmt: skip


def _model(w: float) -> PVRNN:
    layers = [PVRNNLayerConfig(20, 2, 2.0, w=w), PVRNNLayerConfig(10, 1, 10.0, w=w)]
    return PVRNN(2, layers, seed=0)


def run(quick: bool = False) -> dict:
    """Train, then compare error regression with the open-loop prediction on held-out data.

    Args:
        quick: Small budgets (seconds) instead of the full run.

    Returns:
        A JSON-able dict: configuration, training summary, the ER and open-loop errors, their
        ratio (median over ER repeats), per-sequence ratios and the time per ER step.
    """
    cfg = QUICK if quick else FULL
    torch.set_num_threads(1)
    start = time.perf_counter()
    train = pattern_switching_sequences(cfg["train_n"], cfg["train_length"], switch_prob=0.3, seed=0)
    held_out = pattern_switching_sequences(cfg["held_out_n"], cfg["held_out_length"], switch_prob=0.3, seed=1)
    model = _model(cfg["w"])
    t0 = time.perf_counter()
    model.fit(train.values, epochs=cfg["epochs"], lr=cfg["lr"], seed=0, progress=not quick)
    fit_seconds = time.perf_counter() - t0
    with torch.no_grad():
        reconstruction_mse = (model.reconstruct() - train.values).square().mean().item()
    skip = cfg["window"]  # the first window has nothing to regress on
    repeats = []
    for seed in range(cfg["repeats"]):
        er = ErrorRegression(
            model, window=cfg["window"], iterations=cfg["iterations"], lr=cfg["er_lr"], seed=seed
        )
        result = er.run(held_out.values, progress=not quick)
        _, open_loop = er.open_loop(held_out.values)
        er_seq, ol_seq = result.errors[:, skip:].mean(1), open_loop[:, skip:].mean(1)
        repeats.append(
            {
                "seed": seed,
                "er_mse": er_seq.mean().item(),
                "open_loop_mse": ol_seq.mean().item(),
                "ratio": (ol_seq.mean() / er_seq.mean()).item(),
                "ratio_per_sequence": (ol_seq / er_seq).tolist(),
                "er_mse_all_steps": result.errors.mean().item(),
                "open_loop_mse_all_steps": open_loop.mean().item(),
                "seconds_per_step": result.seconds_per_step,
            }
        )
    median = lambda key: statistics.median(r[key] for r in repeats)  # noqa: E731
    summary = {
        "er_one_step_mse": median("er_mse"),
        "open_loop_mse": median("open_loop_mse"),
        "ratio_open_loop_over_er": median("ratio"),
        "bar": BAR,
        "bar_met": median("ratio") >= BAR,
        "min_ratio_per_sequence": min(min(r["ratio_per_sequence"]) for r in repeats),
        "seconds_per_er_step": median("seconds_per_step"),
        "seconds_per_er_step_per_sequence": median("seconds_per_step") / cfg["held_out_n"],
    }
    with torch.no_grad():
        generated_rate = switching_rate(model.generate(100, 200, seed=0))
    return {
        "benchmark": "energy_pvrnn",
        "quick": quick,
        "config": cfg,
        "machine": {"platform": platform.platform(), "torch": torch.__version__, "threads": 1},
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "training": {
            "fit_seconds": fit_seconds,
            "seconds_per_epoch": fit_seconds / cfg["epochs"],
            "first_loss": model.loss_history[0],
            "final_loss": model.loss_history[-1],
            "reconstruction_mse": reconstruction_mse,
            "data_switching_rate": switching_rate(train.values),
            "generated_switching_rate": generated_rate,
        },
        "summary": summary,
        "repeats": repeats,
        "total_seconds": time.perf_counter() - start,
    }


def main() -> None:
    """Command line entry: run and write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small budgets; writes to /tmp")
    args = parser.parse_args()
    result = run(quick=args.quick)
    out = (
        Path("/tmp/energy_pvrnn.json")
        if args.quick
        else ROOT / "benchmarks" / "results" / "energy_pvrnn.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["summary"], indent=2))


if __name__ == "__main__":
    main()
