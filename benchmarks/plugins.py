"""Every implemented plug-in method's reproduction against its baseline, in one table with wall times.

Run:  python benchmarks/plugins.py                 (full budgets; writes benchmarks/results/plugins.json)
      python benchmarks/plugins.py --quick         (the ``--quick`` budgets, about a minute each)
      python benchmarks/plugins.py --methods polycom,trained-rank-pruning

Each method's reproduction (``probtheory reproduce NAME``) runs the method and its baseline
(named in the reproduction's docstring) on offline data (scikit-learn's digits / breast cancer,
synthetic data), in the same process, and reports the metric of both, the verdict (whether the
paper's qualitative claim showed up at this scale, judged against the sampling noise) and the wall
time of the whole reproduction, baseline included. Results are written after every method, so an
interrupted run keeps what finished; a rerun skips methods already in the file unless ``--rerun`` is given.
Figures go to ``docs/images/plugins/``.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import platform
from datetime import datetime, timezone
from pathlib import Path

import torch

from probtheory.plugins import methods

ROOT = Path(__file__).resolve().parent.parent


def _row(result: dict) -> dict:
    return {
        "method": result["method"],
        "metric": result["metric"],
        "method value": f"{result['value']:.4g}",
        "baseline": result["baseline"],
        "baseline value": f"{result['baseline_value']:.4g}",
        "verdict": result["verdict"],
        "seconds": f"{result['seconds']:.0f}",
    }


def _merge(out: Path, name: str, record: dict, *, quick: bool) -> None:
    """Write one method's record into ``out``, keeping what other runs wrote meanwhile (file lock)."""
    with open(out.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = json.loads(out.read_text()) if out.is_file() else {"results": {}}
        data["results"][name] = record
        order = [e.name for e in methods(status="implemented")]
        data["results"] = dict(sorted(data["results"].items(), key=lambda kv: _position(order, kv[0])))
        data["table"] = [_row(r) for r in data["results"].values()]
        data["meta"] = {
            "command": "python benchmarks/plugins.py" + (" --quick" if quick else ""),
            "machine": f"{platform.machine()}, 1 torch thread",
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        out.write_text(json.dumps(data, indent=1) + "\n")


def _position(order: list[str], name: str) -> int:
    return order.index(name) if name in order else len(order)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--methods", default="", help="comma-separated names (default: every implemented one)"
    )
    parser.add_argument("--rerun", action="store_true", help="rerun methods already in the results file")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    out = Path("/tmp/plugins_quick.json") if args.quick else ROOT / "benchmarks" / "results" / "plugins.json"
    data = json.loads(out.read_text()) if out.is_file() and not args.rerun else {"results": {}}
    names = [n for n in args.methods.split(",") if n] or [e.name for e in methods(status="implemented")]
    figures = ROOT / "docs" / "images" / "plugins"
    for entry in methods(status="implemented"):
        if entry.name not in names or entry.name in data["results"]:
            continue
        print(f"reproducing {entry.name} ...", flush=True)
        result = entry.reproduce(quick=args.quick, seed=args.seed, out_dir=None if args.quick else figures)
        record = result.to_dict()
        if record.get("figure"):
            record["figure"] = str(Path(record["figure"]).relative_to(ROOT))
        _merge(out, entry.name, record, quick=args.quick)
        print(f"  {result.verdict} ({result.seconds:.0f} s)", flush=True)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
