"""Which library modules each claim of ``probtheory check`` exercises, for the docs' coverage table.

Run:  python benchmarks/claim_coverage.py   (writes benchmarks/results/claim_coverage.json)

The same computation as ``probtheory check --coverage``: every claim is checked on its first
``ci`` instance while the calls into probtheory and bo are traced (not the imports), and every
public module gets the claims that ran its code. Bayesian components without a claim make the
script exit 1.
"""

from __future__ import annotations

import json
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

import torch

from proofs_checks.coverage import claim_coverage

RESULTS = Path(__file__).parent / "results" / "claim_coverage.json"


def main() -> int:
    torch.set_num_threads(1)
    coverage = claim_coverage()
    document = {
        "table": coverage.table(),
        "uncovered_bayesian_components": coverage.uncovered_components(),
        "by_claim": {claim: sorted(modules) for claim, modules in coverage.by_claim.items()},
        "meta": {
            "command": "python benchmarks/claim_coverage.py",
            "machine": f"{platform.machine()}, 1 torch thread, torch {torch.__version__}",
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        },
    }
    RESULTS.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {RESULTS}; uncovered Bayesian components: {coverage.uncovered_components() or 'none'}")
    return 1 if coverage.uncovered_components() else 0


if __name__ == "__main__":
    sys.exit(main())
