"""Energy-based and dynamical models: the three benchmark parts and their summary tables.

Run:  python benchmarks/energy.py                  (all three parts, then the tables)
      python benchmarks/energy.py --parts dbm      (some parts: dbm, hebbian, pvrnn)
      python benchmarks/energy.py --tables-only    (rebuild benchmarks/results/energy.json)
      python benchmarks/energy.py --quick          (small sizes, for a smoke test; writes to /tmp)

The parts live in their own scripts, each runnable alone and each writing its full results to
``benchmarks/results/energy_<part>.json``:

* ``energy_dbm.py``: monotone DBM mean-field solver, iterations and time to tolerance 1e-6 with
  and without Anderson acceleration, as the number of variables grows;
* ``energy_hebbian.py``: dense Hebbian Glauber sweeps, time against N and K, and the O(K)
  incremental method against the brute-force P-index energy differences side by side;
* ``energy_pvrnn.py``: PV-RNN error regression against the open-loop prior prediction, one-step
  squared error on held-out pattern-switching sequences (the full run trains for ~11 minutes).

This script runs the requested parts and condenses the three result files into the tables of
``benchmarks/results/energy.json`` that the docs show.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
PARTS = ("dbm", "hebbian", "pvrnn")


def _run_part(part: str, quick: bool) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    module = importlib.import_module(f"energy_{part}")
    result = module.run(quick=quick)
    out = Path(f"/tmp/energy_{part}_quick.json") if quick else RESULTS / f"energy_{part}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


def _dbm_rows(data: dict) -> list[dict]:
    return [
        {
            "regime": regime,
            "variables": row["variables"],
            "iterations plain / Anderson": f"{row['plain_iterations']} / {row['anderson_iterations']}",
            "seconds plain / Anderson (median)": f"{row['plain_s']:.3g} / {row['anderson_s']:.3g}",
            "time ratio": f"{row['time_ratio']:.2f}",
        }
        for regime, rows in data["results"].items()
        for row in rows
    ]


def _hebbian_rows(data: dict) -> list[dict]:
    return [
        {
            "N": row["N"],
            "K": row["K"],
            "incremental s / sweep": f"{row['incremental_s_per_sweep']:.2g}",
            "brute force s / sweep": f"{row['brute_force_s_per_sweep']:.2g}",
            "brute force / incremental": f"{row['ratio_brute_over_incremental']:.0f}x",
            "same final state": "yes" if row["same_final_state"] else "no",
        }
        for row in data["side_by_side"]
    ]


def _pvrnn_rows(data: dict) -> list[dict]:
    s = data["summary"]
    return [
        {
            "one-step MSE, error regression": f"{s['er_one_step_mse']:.3g}",
            "one-step MSE, open loop": f"{s['open_loop_mse']:.3g}",
            "open loop / ER": f"{s['ratio_open_loop_over_er']:.1f}x",
            "smallest ratio over held-out sequences": f"{s['min_ratio_per_sequence']:.1f}x",
            "s per ER step (all sequences)": f"{s['seconds_per_er_step']:.2g}",
            "bar (>= 5x)": "met" if s["bar_met"] else "not met",
        }
    ]


def build_tables() -> dict:
    """Condense the part result files into ``energy.json`` (parts not run yet are left out)."""
    tables: dict = {"sources": {}}
    for part, rows in (("dbm", _dbm_rows), ("hebbian", _hebbian_rows), ("pvrnn", _pvrnn_rows)):
        path = RESULTS / f"energy_{part}.json"
        if path.is_file():
            data = json.loads(path.read_text())
            tables[part] = rows(data)
            tables["sources"][part] = {"file": f"benchmarks/results/{path.name}", "date": data.get("date")}
    (RESULTS / "energy.json").write_text(json.dumps(tables, indent=1) + "\n")
    return tables


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default=",".join(PARTS))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--tables-only", action="store_true")
    args = parser.parse_args()
    if not args.tables_only:
        for part in args.parts.split(","):
            if part not in PARTS:
                parser.error(f"unknown part {part!r}; choose from {', '.join(PARTS)}")
            _run_part(part, args.quick)
    if not args.quick:
        print(json.dumps(build_tables(), indent=1))


if __name__ == "__main__":
    main()
