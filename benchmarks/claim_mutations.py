"""Does ``probtheory check --profile ci`` catch realistic one-line bugs planted in the library?

Run:  python benchmarks/claim_mutations.py   (writes benchmarks/results/claim_mutations.json)

Each bug below is a plausible slip in a Bayesian component (a dropped factor, an off-by-one, the
wrong width or norm), distinct from the mutants the claims ship with. For each, the script plants
it in a temporary copy of the package (``git worktree`` of HEAD), runs the ``ci`` claims that
execute the buggy module (from ``benchmarks/results/claim_coverage.json``: a claim that never runs
the module cannot catch it), and records whether the run fails and which claims failed.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "claim_mutations.json"

#: (name, file, the line(s) as written, the bug, the module whose claims are run)
BUGS = [
    ("relu diagonal without the 1/2", "probtheory/kernels/activations.py",
     "        half_sum = 0.5 * (self.a**2 + self.b**2)\n", "        half_sum = self.a**2 + self.b**2\n",
     "probtheory.kernels"),
    ("input variance not divided by d", "probtheory/kernels/recursion.py",
     "    return weight_variance * (x * x).sum(-1) / x.shape[-1] + bias_variance",
     "    return weight_variance * (x * x).sum(-1) + bias_variance", "probtheory.kernels"),
    ("right tail scaled by the left bucket", "probtheory/pfn/bar_distribution.py",
     "self.right_scale = self.widths[-1] / _HALF_NORMAL_MEDIAN",
     "self.right_scale = self.widths[0] / _HALF_NORMAL_MEDIAN", "probtheory.pfn"),
    ("Student-t posterior shape a + n, not a + n/2", "probtheory/gp/student_t_process.py",
     "concentration=self.concentration + n / 2,",
     "concentration=self.concentration + n,", "probtheory.gp"),
    ("multivariate t with df + n - 1", "probtheory/gp/student_t_process.py",
     "        - (df + n) / 2 * torch.log1p(maha / df)", "        - (df + n - 1) / 2 * torch.log1p(maha / df)",
     "probtheory.gp"),
    ("Gaussian KL with -1 for -1/2", "probtheory/recurrent/gaussian_kl.py",
     "        - 0.5\n        + (sigma_q.square()", "        - 1.0\n        + (sigma_q.square()",
     "probtheory.recurrent"),
    ("normaliser Jacobian without the 1/2", "probtheory/lcpfn/normalizer.py",
     "        a = (n.soft_upper - n.soft_lower) / 2\n        return math.log(a",
     "        a = n.soft_upper - n.soft_lower\n        return math.log(a", "probtheory.lcpfn"),
    ("ensemble variance with Bessel's correction", "bo/posteriors/sample_ensemble.py",
     "variance = self.values.var(dim=0, correction=0)", "variance = self.values.var(dim=0, correction=1)",
     "bo.posteriors"),
    ("l2 where the dual l1 norm belongs", "probtheory/bounds/propagation.py",
     "        return g.abs().sum(-1)", "        return g.square().sum(-1).sqrt()", "probtheory.bounds"),
    ("MPNP marginal loss not per point", "probtheory/processes/mpnp.py",
     "marginal = -(log_mean_exp(task_log_likelihood(mean, std, y), 0) * per_point).mean()",
     "marginal = -(log_mean_exp(task_log_likelihood(mean, std, y), 0)).mean()", "probtheory.processes"),
]  # fmt: skip


def _claims_of(module: str) -> list[str]:
    coverage = json.loads((ROOT / "benchmarks" / "results" / "claim_coverage.json").read_text())["by_claim"]
    return sorted(
        c for c, mods in coverage.items() if any(m == module or m.startswith(module + ".") for m in mods)
    )


def main() -> int:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        subprocess.run(["git", "worktree", "add", "--detach", str(tree), "HEAD"], cwd=ROOT, check=True)
        try:
            for name, relative, line, bug, module in BUGS:
                path = tree / relative
                text = path.read_text()
                if text.count(line) != 1:
                    raise SystemExit(f"{name}: the line to mutate is not found once in {relative}")
                claims = _claims_of(module)
                path.write_text(text.replace(line, bug))
                start = time.perf_counter()
                env = dict(os.environ, PYTHONPATH=str(tree), OMP_NUM_THREADS="1")
                command = [sys.executable, "-m", "probtheory.cli", "check", "--profile", "ci", "--no-mutants",
                           "--json", "--out", str(Path(tmp) / "report"), "--claims", *claims]  # fmt: skip
                run = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, timeout=1800)
                path.write_text(text)
                failed = [c["claim"] for c in json.loads(run.stdout)["claims"] if c["verdict"] != "PASS"]
                rows.append(
                    {
                        "bug": name,
                        "file": relative,
                        "claims run": len(claims),
                        "caught": "yes" if run.returncode != 0 else "NO",
                        "failing claims": ", ".join(f"`{c}`" for c in failed) or "none",
                        "seconds": round(time.perf_counter() - start),
                    }
                )
                print(rows[-1], flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False)
    caught = sum(r["caught"] == "yes" for r in rows)
    document = {
        "table": rows,
        "caught": caught,
        "planted": len(rows),
        "meta": {
            "command": "python benchmarks/claim_mutations.py",
            "machine": f"{platform.machine()}, 1 torch thread",
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        },
    }
    RESULTS.write_text(json.dumps(document, indent=2) + "\n")
    print(f"caught {caught} of {len(rows)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
