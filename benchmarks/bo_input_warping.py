"""Does learned input warping help the network surrogates? A paired A/B on the model-fit benchmark.

It did not, enough (benchmarks/results/bo_input_warping.json, ``decision``), and the
``input_warping`` option of DeepEnsemble, LaplaceBNN and DKL (a Kumaraswamy-CDF warp learned
with the network, as BoTorch's ``Warp``; Snoek et al., ICML 2014) was removed again. It lives in
commit f102ed7: run the fits below from a checkout of that commit.

Run (the fits, then this analysis, which adds ``paired`` and ``decision`` to the same file):

    OMP_NUM_THREADS=1 python benchmarks/bo_model_fit.py --problems branin,hartmann6,ackley10 \\
        --surrogates 'ensemble,ensemble:input_warping=true,laplace,laplace:input_warping=true,\\
dkl,dkl:input_warping=true' --points 30 --seeds 10 --proposals --out benchmarks/results/bo_input_warping.json
    python benchmarks/bo_input_warping.py [--results benchmarks/results/bo_input_warping.json]

The deep ensemble, the borderline case at 10 seeds, was rerun alone at 30 seeds
(``--surrogates 'ensemble,ensemble:input_warping=true' --seeds 30``, into
``benchmarks/results/bo_input_warping_ensemble.json``).

Every surrogate ``S`` whose spec ``S:input_warping=true`` is in the results is compared with it
seed by seed (:mod:`benchmarks.bo_model_fit` fits both on the same Sobol design and scores them
on the same test points): the medians of RMSE / sd and NLL with and without warping, the median
paired difference (warped minus plain) and on how many seeds warping was better, and the
fraction of qLogEI proposals within 0.01 of the cube's boundary.

The rule (decided before the run): warping helps a surrogate if it lowers the median NLL or the
median RMSE on at least 2 of the 3 problems and clearly hurts none -- "clearly hurts" being a
median NLL higher by more than ``NLL_MARGIN`` nats or a median RMSE higher by more than
``RMSE_MARGIN`` (relative). The medians are over all seeds run; those over the first three
(the seeds of ``bo_model_fit.json``) are reported too.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OPTION = "input_warping=true"
NLL_MARGIN = 0.1
RMSE_MARGIN = 0.05


def paired(plain: list[dict], warped: list[dict]) -> dict:
    """The paired comparison of one surrogate on one problem, from its cells with and without warping."""
    seeds = min(len(plain), len(warped))
    row: dict = {"seeds": seeds}
    for key in ("rmse", "nll"):
        a = [cell[key] for cell in plain[:seeds]]
        b = [cell[key] for cell in warped[:seeds]]
        row[f"{key} median"] = statistics.median(a)
        row[f"{key} median, warped"] = statistics.median(b)
        row[f"{key} median, first 3 seeds"] = statistics.median(a[:3])
        row[f"{key} median, warped, first 3 seeds"] = statistics.median(b[:3])
        row[f"{key} median paired difference"] = statistics.median(y - x for x, y in zip(a, b, strict=True))
        row[f"{key} seeds better warped"] = sum(y < x for x, y in zip(a, b, strict=True))
    if "proposal_at_boundary" in plain[0]:
        row["proposals at boundary"] = statistics.mean(c["proposal_at_boundary"] for c in plain[:seeds])
        row["proposals at boundary, warped"] = statistics.mean(
            c["proposal_at_boundary"] for c in warped[:seeds]
        )
    return row


def verdict(rows: dict[str, dict]) -> tuple[bool, str]:
    """Whether warping helps one surrogate by the rule of the module docstring, and why."""
    helps, hurts = [], []
    for problem, row in rows.items():
        nll_delta = row["nll median, warped"] - row["nll median"]
        rmse_ratio = row["rmse median, warped"] / row["rmse median"] - 1.0
        if nll_delta < 0 or rmse_ratio < 0:
            helps.append(problem)
        if nll_delta > NLL_MARGIN or rmse_ratio > RMSE_MARGIN:
            hurts.append(f"{problem} (NLL {nll_delta:+.3f}, RMSE {100 * rmse_ratio:+.1f}%)")
    keep = len(helps) >= 2 and not hurts
    reason = (
        f"lower median NLL or RMSE on {len(helps)} of {len(rows)} problems ({', '.join(helps) or 'none'}); "
        f"clearly worse on {', '.join(hurts) or 'none'}"
    )
    return keep, reason


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = ROOT / "benchmarks" / "results" / "bo_input_warping.json"
    parser.add_argument("--results", type=Path, default=default, help="bo_model_fit.py's JSON; updated")
    parser.add_argument("--conclusion", help="the decision taken, in words, stored with the rule's verdicts")
    args = parser.parse_args()
    data = json.loads(args.results.read_text())
    comparisons: dict[str, dict[str, dict]] = {}
    for problem, by_spec in data["cells"].items():
        for spec, warped in by_spec.items():
            base, _, options = spec.partition(":")
            if options.lower() == OPTION and base in by_spec:
                comparisons.setdefault(base, {})[problem] = paired(by_spec[base], warped)
    decision = {}
    for surrogate, rows in comparisons.items():
        keep, reason = verdict(rows)
        decision[surrogate] = {"warping helps": keep, "reason": reason}
    data["paired"] = comparisons
    rule = " ".join(__doc__.split("The rule ")[1].split("\n\n")[0].split())
    rule = rule.replace("``NLL_MARGIN``", f"{NLL_MARGIN}").replace("``RMSE_MARGIN``", f"{RMSE_MARGIN:.0%}")
    data["decision"] = {"rule": rule, **decision}
    if args.conclusion:
        data["decision"]["conclusion"] = args.conclusion
    args.results.write_text(json.dumps(data, indent=1) + "\n")
    for surrogate, rows in comparisons.items():
        for problem, row in rows.items():
            line = (
                f"{surrogate:9s} {problem:10s} RMSE {row['rmse median']:.3f} -> "
                f"{row['rmse median, warped']:.3f}  NLL {row['nll median']:.3f} -> "
                f"{row['nll median, warped']:.3f}  "
                f"NLL better on {row['nll seeds better warped']}/{row['seeds']}"
            )
            if "proposals at boundary" in row:
                line += (
                    f"  at boundary {row['proposals at boundary']:.2f} -> "
                    f"{row['proposals at boundary, warped']:.2f}"
                )
            print(line)
        print(f"{surrogate}: {decision[surrogate]}")


if __name__ == "__main__":
    main()
