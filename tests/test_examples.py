"""Every script in ``docs/examples`` runs with ``--smoke`` and prints its result (examples never rot).

Each script runs in its own interpreter, as a user would run it, so import-time mistakes and
argparse wiring are exercised too; the smoke budgets keep the whole file under a minute.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "docs" / "examples"

#: script -> patterns its smoke run must print (the result, not just the absence of a crash)
EXPECTED_OUTPUT = {
    "bo_with_bnn_surrogate.py": [r"iteration  2: proposed", r"best point \[.*\] with value -?\d"],
    "lcpfn_early_stopping.py": [r"trained to the end", r"epochs trained: \d+ of 32"],
    "check_claim_on_my_network.py": [
        r"PASS  quadratic\.degree on MyQuadraticLayer",
        r"PASS  quadratic\.xor on MyQuadraticLayer",
        r"FAIL  quadratic\.degree on MyBuggyQuadraticLayer",
        r"correct layer passes every claim: True; buggy layer caught: True",
    ],
    "train_pfn_on_my_prior.py": [r"trained 20 steps", r"context 30 points: held-out NLL per query \d"],
}


def test_every_example_is_run_here():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED_OUTPUT)


@pytest.mark.parametrize("script", sorted(EXPECTED_OUTPUT))
def test_example_runs_in_smoke_mode(script):
    run = subprocess.run(
        [sys.executable, str(EXAMPLES / script), "--smoke"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, f"{script} exited with {run.returncode}:\n{run.stderr[-3000:]}"
    for pattern in EXPECTED_OUTPUT[script]:
        assert re.search(pattern, run.stdout), f"{script} did not print {pattern!r}:\n{run.stdout}"


@pytest.mark.parametrize("script", sorted(EXPECTED_OUTPUT))
def test_example_documents_how_to_run_it(script):
    text = (EXAMPLES / script).read_text()
    docstring = re.match(r'"""(.*?)"""', text, flags=re.S)
    assert docstring is not None, f"{script} has no module docstring"
    assert "What it shows" in docstring.group(1)
    assert f"python docs/examples/{script} --smoke" in docstring.group(1)
