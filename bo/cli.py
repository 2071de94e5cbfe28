"""``probtheory bo``: benchmark surrogates on a problem over seeds, resumably, with a regret plot.

``probtheory bo --problem hartmann6 --surrogates gp,ibnn,hmc,ensemble --seeds 5 --n-init 10
--budget 40 --out DIR`` runs :func:`bo.loop.run` for every (surrogate, seed) pair and writes

* ``DIR/runs/<surrogate>_seed<k>.json`` (``<surrogate>_trust-region_seed<k>.json`` with
  ``--trust-region``) -- one :class:`bo.results.BOResult` per run, checkpointed after every
  iteration: a finished run is skipped and an interrupted one resumed when the command is
  repeated; a stored run of another configuration (problem, budget's settings, ...) is refused
  with a message naming the differing fields;
* ``DIR/summary.json`` -- the configuration, and per surrogate: final simple regret (median and quartiles over
  seeds), final best values, mean fit and acquisition times per iteration;
* ``DIR/regret.png`` -- median and interquartile band of the simple regret against the
  number of evaluations, one line per surrogate.

The subcommand is contributed to the ``probtheory`` command line by the entry point
``bo = "bo.cli:register"`` (group ``probtheory.commands``); ``python -m bo.cli`` runs it too.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from probtheory._cli_options import add_command, add_list_argument, add_no_progress_argument

# the names --help lists, without importing botorch to print help (tests/bo/test_cli.py keeps
# them equal to bo.problems.PROBLEMS, bo.loop.SURROGATES and bo.loop.ACQUISITIONS)
PROBLEM_NAMES = ("branin", "hartmann6", "ackley10", "levy", "rosenbrock", "bnn_prior")
SURROGATE_NAMES = ("gp", "ibnn", "tp", "hmc", "svi", "ensemble", "dkl", "laplace", "pfn", "random")
ACQUISITION_NAMES = ("qlogei", "qlognei", "qucb", "ts")

__all__ = ["main", "register"]


def _run(args: argparse.Namespace) -> int:
    from probtheory.cli import report_error
    from probtheory.errors import ProbtheoryError

    try:
        return _benchmark(args)
    except ProbtheoryError as error:  # the command line's one format (callers of func get 2 too)
        return report_error(error, args)


def _benchmark(args: argparse.Namespace) -> int:
    import torch

    from bo.loop import ACQUISITIONS, SURROGATES, run
    from bo.problems import get_problem
    from bo.results import BOResult
    from probtheory._checks import check_int, check_name
    from probtheory.errors import InputDataError

    if args.threads is not None:  # before any work: torch.set_num_threads(0) would crash
        check_int("--threads", args.threads, minimum=1)
    check_int("--n-init", args.n_init, minimum=2)
    check_int("--budget", args.budget, minimum=1)
    check_int("--q", args.q, minimum=1)
    surrogates = list(dict.fromkeys(args.surrogates))  # each once, in the order given
    if not surrogates:
        raise InputDataError("--surrogates", f"surrogate names from {list(SURROGATES)}", "none")
    for name in surrogates:
        check_name("--surrogates", name, SURROGATES, meaning="surrogate names")
    if args.acquisition is not None:
        check_name("--acquisition", args.acquisition, ACQUISITIONS, meaning="an acquisition name")
    check_int("--seeds", args.seeds, minimum=1)
    problem = get_problem(args.problem)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    out = Path(args.out)
    results: dict[str, list[BOResult]] = {}
    for surrogate in surrogates:
        for seed in range(args.seeds):
            loop = "trust-region_" if args.trust_region else ""
            path = out / "runs" / f"{surrogate}_{loop}seed{seed}.json"
            # a stored run is resumed through `run`, which refuses one of other settings (naming
            # them: problem, surrogate, ...) and evaluates nothing more when it is complete, so the
            # summary never mixes runs of different configurations
            stored = BOResult.load(path).n_evaluations if path.is_file() else 0
            result = run(
                problem,
                surrogate,
                acquisition=args.acquisition,
                n_init=args.n_init,
                budget=args.budget,
                q=args.q,
                seed=seed,
                progress=not (args.no_progress or args.json),
                resume_from=path if path.is_file() else None,
                checkpoint=path,
                trust_region=args.trust_region,
            )
            regret = result.simple_regret
            if not args.json and result.n_evaluations == stored:
                print(f"{surrogate} seed {seed}: done, skipped ({path})")
            elif not args.json:
                best, final = result.Y.max().item(), regret[-1].item()
                print(f"{surrogate} seed {seed}: best {best:.6g}, regret {final:.3g}")
            results.setdefault(surrogate, []).append(result)
    summary = _summary(problem.name, problem.optimal_value, problem.optimum_note, results)
    summary["configuration"] = {
        "acquisition": {name: runs[0].acquisition for name, runs in results.items()},
        "n_init": args.n_init,
        "budget": args.budget,
        "q": args.q,
        "trust_region": args.trust_region,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    _plot_regret(problem.name, results, out / "regret.png")
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        print(f"wrote {out / 'summary.json'} and {out / 'regret.png'}")
    return 0


def _summary(problem: str, optimal_value: float, note: str, results: dict) -> dict:
    import torch

    surrogates = {}
    for name, runs in results.items():
        final = torch.tensor([r.simple_regret[-1].item() for r in runs], dtype=torch.float64)
        fit = [t for r in runs for t in r.fit_seconds]
        acquisition = [t for r in runs for t in r.acquisition_seconds]
        surrogates[name] = {
            "seeds": [r.seed for r in runs],
            "final_best": [r.Y.max().item() for r in runs],
            "final_simple_regret": final.tolist(),
            "final_simple_regret_quartiles": torch.quantile(
                final, final.new_tensor([0.25, 0.5, 0.75])
            ).tolist(),
            "mean_fit_seconds": sum(fit) / max(len(fit), 1),
            "mean_acquisition_seconds": sum(acquisition) / max(len(acquisition), 1),
            "n_evaluations": runs[0].n_evaluations,
        }
    return {
        "problem": problem,
        "optimal_value": optimal_value,
        "optimum_note": note,
        "surrogates": surrogates,
    }


def _plot_regret(problem: str, results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    figure, axes = plt.subplots(figsize=(6, 4))
    for name, runs in results.items():
        n = min(r.n_evaluations for r in runs)
        regret = torch.stack([r.simple_regret[:n] for r in runs]).clamp_min(1e-12)  # log scale needs > 0
        low, median, high = torch.quantile(regret, regret.new_tensor([0.25, 0.5, 0.75]), dim=0)
        evaluations = range(1, n + 1)
        axes.plot(evaluations, median.tolist(), label=f"{name} ({len(runs)} seeds)")
        axes.fill_between(evaluations, low.tolist(), high.tolist(), alpha=0.2)
    axes.set_yscale("log")
    axes.set_xlabel("evaluations")
    axes.set_ylabel("simple regret (median, quartiles)")
    axes.set_title(problem)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``bo`` subcommand to the ``probtheory`` command line."""
    parser = add_command(
        subparsers,
        "bo",
        help="benchmark BO surrogates on a problem (resumable)",
        description=f"""Run Bayesian optimisation (maximisation, unit cube) of one problem with
        each surrogate over seeds 0..SEEDS-1: a Sobol initial design, then one fresh surrogate fit
        and acquisition per iteration. Each run is checkpointed after every iteration under
        OUT/runs, so repeating the command skips finished runs and resumes interrupted ones (a
        stored run of another configuration is refused, naming the difference). Writes
        OUT/summary.json (final simple regret per surrogate) and OUT/regret.png. Problems:
        {", ".join(PROBLEM_NAMES)}. Surrogates: {", ".join(SURROGATE_NAMES)} (random = random
        search). Acquisitions: {", ".join(ACQUISITION_NAMES)}.""",
        examples=[
            "probtheory bo --problem branin --surrogates gp ibnn random --seeds 5 --out bo-runs/branin",
            "probtheory bo --problem ackley10 --surrogates gp ensemble random --trust-region --out tr",
        ],
    )
    parser.add_argument("--problem", required=True, help="a problem name (listed above)")
    add_list_argument(
        parser, "--surrogates", default=["gp"], metavar="NAME", help="surrogate names (default gp)"
    )
    parser.add_argument(
        "--acquisition",
        help="qlogei, qlognei, qucb or ts (default: ts for a network surrogate with --trust-region, "
        "as in TuRBO; qlogei otherwise)",
    )
    parser.add_argument("--seeds", type=int, default=5, help="run seeds 0..SEEDS-1 (default 5)")
    parser.add_argument("--n-init", type=int, default=10, help="Sobol initial design size (default 10)")
    parser.add_argument(
        "--budget", type=int, default=40, help="evaluations after the initial design (default 40)"
    )
    parser.add_argument("--q", type=int, default=1, help="points per iteration (default 1)")
    parser.add_argument(
        "--trust-region",
        action="store_true",
        help="optimise the acquisition inside a TuRBO trust region (runs saved as "
        "<surrogate>_trust-region_seed<k>.json)",
    )
    parser.add_argument("--threads", type=int, help="torch threads, >= 1 (default: torch's choice)")
    parser.add_argument("--out", required=True, help="output folder (runs/, summary.json, regret.png)")
    add_no_progress_argument(parser)
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the summary as one JSON document on stdout and nothing else",
    )
    parser.set_defaults(func=_run)


def main(argv: list[str] | None = None) -> int:
    """Run ``bo ...`` without the ``probtheory`` front end (``python -m bo.cli ...``)."""
    parser = argparse.ArgumentParser(prog="bo.cli")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["bo", *(sys.argv[1:] if argv is None else argv)])
    from probtheory.cli import run_command  # user errors: one line, exit status 2

    return run_command(args)


if __name__ == "__main__":
    sys.exit(main())
