"""Surrogates against SingleTaskGP and random search in Bayesian optimisation, in one run.

Run:  python benchmarks/bo_surrogates.py [--problems branin,hartmann6,ackley10]
                              [--surrogates gp,ibnn,tp,ensemble,laplace,dkl,svi,hmc,random]
                              [--seeds 5] [--n-init 10] [--budget 40] [--out bo-runs]
                              [--runs-only | --timing-only | --saved-only]
      (writes benchmarks/results/bo_surrogates.json and docs/images/bo_regret.png)
      python benchmarks/bo_surrogates.py --trust-region [same options]
      (writes benchmarks/results/bo_trust_region.json: TuRBO trust-region runs next to the
      whole-cube rows of bo_surrogates.json of the same budget; rows of other invocations kept)

Every (problem, surrogate, seed) is a ``bo.run`` with qLogEI and q = 1, checkpointed under
``--out`` so an interrupted benchmark resumes (``probtheory bo`` runs one problem the same
way); ``--runs-only`` makes or resumes those runs and nothing else (no timing, table or
plot), e.g. in the background; ``--saved-only`` makes the table and plot from the completed
runs saved so far, starting none (each row says how many seeds it has). Reported per problem
and surrogate: median and quartiles of the final simple regret over seeds, the median wall
time of one BO iteration (fit + acquisition) in those runs, and whether the surrogate's median
final regret is below random search's.

The runs of different surrogates happen minutes apart on a shared machine, so their times are
not comparable. The ratio to SingleTaskGP is therefore measured separately, side by side
(``--timing-only`` re-measures the ratios of the listed surrogates in an existing results file,
keeping the others, e.g. on a quiet machine): on each problem, one BO iteration
(fit on 30 points + qLogEI proposal) of every surrogate and of the GP, interleaved in a
shuffled order, repeated; the median over repeats of each surrogate's time divided by the GP's
time in the same repeat.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
from datetime import datetime, timezone
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from bo.loop import make_surrogate, propose, run  # noqa: E402
from bo.problems import get_problem  # noqa: E402
from bo.results import BOResult  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SURROGATES = "gp,ibnn,tp,ensemble,laplace,dkl,svi,hmc,random"


def _run_all(args: argparse.Namespace) -> dict[str, dict[str, list[BOResult]]]:
    out: dict[str, dict[str, list[BOResult]]] = {}
    for problem in args.problems.split(","):
        for surrogate in args.surrogates.split(","):
            for seed in range(args.seeds):
                # random search has no acquisition: its runs are shared by every acquisition
                acquisition = "qlogei" if surrogate == "random" else args.acquisition
                loop = ("trust-region_" if args.trust_region else "") + (
                    "" if acquisition == "qlogei" else f"{acquisition}_"
                )
                path = Path(args.out) / problem / f"{surrogate}_{loop}seed{seed}.json"
                previous = BOResult.load(path) if path.is_file() else None
                if previous is not None and previous.complete and previous.budget == args.budget:
                    result = previous
                elif args.saved_only:
                    continue
                else:
                    result = run(
                        get_problem(problem),
                        surrogate,
                        acquisition=acquisition,
                        n_init=args.n_init,
                        budget=args.budget,
                        q=1,
                        seed=seed,
                        progress=True,
                        resume_from=path if previous is not None else None,
                        checkpoint=path,
                        trust_region=args.trust_region,
                    )
                print(f"{problem} {surrogate} seed {seed}: regret {result.simple_regret[-1].item():.4g}")
                out.setdefault(problem, {}).setdefault(surrogate, []).append(result)
    return out


def _row(problem: str, name: str, runs: list[BOResult], random_regret: float | None):
    regrets = sorted(r.simple_regret[-1].item() for r in runs)
    q = torch.quantile(
        torch.tensor(regrets, dtype=torch.float64), torch.tensor([0.25, 0.5, 0.75], dtype=torch.float64)
    )
    iteration = [f + a for r in runs for f, a in zip(r.fit_seconds, r.acquisition_seconds, strict=True)]
    seconds = statistics.median(iteration) if iteration else 0.0
    return {
        "problem": problem,
        "surrogate": name,
        "seeds": len(runs),
        "final regret (median [q1, q3])": f"{q[1]:.3g} [{q[0]:.3g}, {q[2]:.3g}]",
        "s / iteration (median)": f"{seconds:.3g}",
        "beats random": ""
        if random_regret is None or name == "random"
        else ("yes" if q[1] < random_regret else "no"),
    }


def _side_by_side_timing(problems: list[str], surrogates: list[str], repeats: int, n: int = 30) -> dict:
    """Median over repeats of (surrogate iteration time / GP iteration time in the same repeat)."""
    import random
    import time

    timing: dict[str, dict[str, float]] = {}
    for problem_name in problems:
        problem = get_problem(problem_name)
        generator = torch.Generator().manual_seed(0)
        X = torch.rand(n, problem.dim, generator=generator, dtype=torch.float64)
        Y = problem.evaluate_unit(X).reshape(n, 1)
        names = [s for s in surrogates if s != "random"]
        if "gp" not in names:
            names.append("gp")
        ratios: dict[str, list[float]] = {name: [] for name in names}
        order = random.Random(0)
        for repeat in range(repeats):
            seconds = {}
            for name in order.sample(names, len(names)):
                start = time.perf_counter()
                model = make_surrogate(name, X, Y, seed=repeat)
                propose(model, "qlogei", X, Y, 1, seed=repeat)
                seconds[name] = time.perf_counter() - start
            for name in names:
                ratios[name].append(seconds[name] / seconds["gp"])
            print(
                f"timing {problem_name} repeat {repeat}: "
                + ", ".join(f"{k} {v:.3f}s" for k, v in seconds.items())
            )
        timing[problem_name] = {name: statistics.median(r) for name, r in ratios.items() if name != "gp"}
    return timing


def _add_timing(data: dict, timing: dict) -> None:
    for row in data["table"]:
        ratio = timing.get(row["problem"], {}).get(row["surrogate"])
        row["time / GP (side by side)"] = "" if ratio is None else f"{ratio:.2f}x"
    data["timing"] = timing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", default="branin,hartmann6,ackley10")
    parser.add_argument("--surrogates", default=SURROGATES)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--n-init", type=int, default=10)
    parser.add_argument("--budget", type=int, default=40)
    parser.add_argument("--out", default="bo-runs")
    parser.add_argument("--timing-repeats", type=int, default=7)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--timing-only", action="store_true", help="only (re)measure the side-by-side time ratios"
    )
    mode.add_argument(
        "--runs-only", action="store_true", help="only the resumable BO runs: no timing, table or plot"
    )
    mode.add_argument(
        "--saved-only", action="store_true", help="table and plot from the completed runs saved so far"
    )
    parser.add_argument(
        "--acquisition",
        default="qlogei",
        help="qlogei (default; the table of bo_surrogates.json) or ts, ...: trust-region rows only",
    )
    parser.add_argument(
        "--trust-region",
        action="store_true",
        help="TuRBO trust-region runs; results in bo_trust_region.json next to the whole-cube loop's",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    results_path = ROOT / "benchmarks" / "results" / "bo_surrogates.json"
    if args.acquisition != "qlogei" and not args.trust_region:
        parser.error("--acquisition other than qlogei needs --trust-region (bo_surrogates.json is qLogEI's)")
    if args.runs_only:
        _run_all(args)
        return
    if args.trust_region:
        _trust_region_main(args, results_path)
        return
    timing = (  # a table from saved runs keeps the ratios measured before
        {}
        if args.saved_only
        else _side_by_side_timing(args.problems.split(","), args.surrogates.split(","), args.timing_repeats)
    )
    if args.timing_only:
        # re-measure some ratios (e.g. on a quiet machine); the others stay as they were
        data = json.loads(results_path.read_text())
        merged = data.get("timing", {})
        for problem, ratios in timing.items():
            merged.setdefault(problem, {}).update(ratios)
        _add_timing(data, merged)
        data["meta"].setdefault("timing_commands", []).append(
            f"python benchmarks/bo_surrogates.py --timing-only --problems {args.problems} "
            f"--surrogates {args.surrogates} --timing-repeats {args.timing_repeats}"
        )
        results_path.write_text(json.dumps(data, indent=1))
        print(json.dumps(timing, indent=1))
        return
    results = _run_all(args)
    table = []
    for problem, by_surrogate in results.items():
        rnd = by_surrogate.get("random")
        random_regret = statistics.median(r.simple_regret[-1].item() for r in rnd) if rnd else None
        table += [_row(problem, name, runs, random_regret) for name, runs in by_surrogate.items()]
    command = (
        f"python benchmarks/bo_surrogates.py --problems {args.problems} --surrogates {args.surrogates} "
        f"--seeds {args.seeds} --n-init {args.n_init} --budget {args.budget}"
        + (" --saved-only" if args.saved_only else "")
    )
    # rows of (problem, surrogate) pairs this invocation did not run are kept from the results
    # file (e.g. the rest of the table while HMC's slow rows are completed), as are their timings
    previous = json.loads(results_path.read_text()) if results_path.is_file() else {"table": [], "meta": {}}
    done = {(row["problem"], row["surrogate"]) for row in table}
    kept = [row for row in previous["table"] if (row["problem"], row["surrogate"]) not in done]
    order = {name: i for i, name in enumerate(SURROGATES.split(","))}
    problems = list(dict.fromkeys([r["problem"] for r in previous["table"]] + list(results)))
    table = sorted(
        kept + table, key=lambda r: (problems.index(r["problem"]), order.get(r["surrogate"], len(order)))
    )
    merged_timing = previous.get("timing", {})
    for problem, ratios in timing.items():
        merged_timing.setdefault(problem, {}).update(ratios)
    earlier = previous["meta"].get("commands") or [previous["meta"].get("command", "")]
    commands = [c for c in earlier if c] + [command]
    if kept:
        print(f"kept {len(kept)} rows of earlier runs; the regret plot needs every run, so it is not redrawn")
    else:
        commands = [command]
        _plot_regret(results)
    data = {
        "table": table,
        "meta": {
            "command": " ; ".join(commands),
            "commands": commands,
            "machine": f"{platform.machine()}, 1 torch thread",
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        },
    }
    _add_timing(data, merged_timing)
    results_path.write_text(json.dumps(data, indent=1))
    print(json.dumps(table, indent=1))


def _plot_regret(results: dict[str, dict[str, list[BOResult]]]) -> None:
    figure, axes = plt.subplots(1, len(results), figsize=(5 * len(results), 3.6), squeeze=False)
    for ax, (problem, by_surrogate) in zip(axes[0], results.items(), strict=True):
        for name, runs in by_surrogate.items():
            regret = torch.stack([r.simple_regret for r in runs]).clamp_min(1e-12)
            ax.plot(regret.median(0).values, label=name)
        ax.set_yscale("log")
        ax.set_title(problem)
        ax.set_xlabel("evaluations")
        ax.set_ylabel("simple regret (median over seeds)")
        ax.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(ROOT / "docs" / "images" / "bo_regret.png", dpi=110)


def _region_overhead(problems: list[str], surrogates: list[str], repeats: int, n: int = 30) -> dict:
    """Median over repeats of (iteration time in a trust region / in the whole cube), side by side.

    One iteration = fit on ``n`` points + qLogEI proposal, once with the box of a fresh region
    (length 0.8 around the best point, lengthscale-weighted where the model has lengthscales)
    and once in the whole cube, in a shuffled order per repeat.
    """
    import random
    import time

    from bo.trust_region import TrustRegion, input_lengthscales

    overhead: dict[str, dict[str, float]] = {}
    for problem_name in problems:
        problem = get_problem(problem_name)
        X = torch.rand(n, problem.dim, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        Y = problem.evaluate_unit(X).reshape(n, 1)
        ratios: dict[str, list[float]] = {}
        order = random.Random(0)
        for name in (s for s in surrogates if s != "random"):
            for repeat in range(repeats):
                seconds = {}
                for loop in order.sample(["cube", "region"], 2):
                    start = time.perf_counter()
                    model = make_surrogate(name, X, Y, seed=repeat)
                    box = None
                    if loop == "region":
                        center = X[Y[:, 0].argmax()]
                        box = TrustRegion().start(0).box(center, input_lengthscales(model, problem.dim))
                    propose(model, "qlogei", X, Y, 1, seed=repeat, bounds=box)
                    seconds[loop] = time.perf_counter() - start
                ratios.setdefault(name, []).append(seconds["region"] / seconds["cube"])
            print(f"overhead {problem_name} {name}: {statistics.median(ratios[name]):.3f}x")
        overhead[problem_name] = {name: statistics.median(r) for name, r in ratios.items()}
    return overhead


def _annotate_overhead(data: dict) -> None:
    """Each row's side-by-side time ratio (region / whole cube) of its problem and surrogate."""
    for row in data["table"]:
        ratio = data.get("overhead", {}).get(row["problem"], {}).get(row["surrogate"])
        row["time in region / whole cube (side by side)"] = "" if ratio is None else f"{ratio:.2f}x"


def _row_key(row: dict) -> tuple:
    return row["problem"], row["budget"], row["surrogate"], row.get("acquisition", "qlogei")


def _trust_region_main(args: argparse.Namespace, whole_cube_path: Path) -> None:
    """Trust-region runs side by side with the whole-cube loop's rows (same problem and budget)."""
    path = ROOT / "benchmarks" / "results" / "bo_trust_region.json"
    data = json.loads(path.read_text()) if path.is_file() else {"table": [], "meta": {"commands": []}}
    whole_cube = json.loads(whole_cube_path.read_text()) if whole_cube_path.is_file() else {"table": []}
    if args.timing_only:  # only (re)measure the trust region's overhead, keeping the rows
        overhead = _region_overhead(args.problems.split(","), args.surrogates.split(","), args.timing_repeats)
        for problem, ratios in overhead.items():
            data.setdefault("overhead", {}).setdefault(problem, {}).update(ratios)
        data["meta"]["overhead_command"] = (
            f"python benchmarks/bo_surrogates.py --trust-region --timing-only --problems {args.problems} "
            f"--surrogates {args.surrogates} --timing-repeats {args.timing_repeats}"
        )
        _annotate_overhead(data)
        path.write_text(json.dumps(data, indent=1))
        print(json.dumps(overhead, indent=1))
        return
    cube_command = whole_cube.get("meta", {}).get("command", "--budget 40")
    cube_budget = int(cube_command.split("--budget ")[1].split()[0])
    cube_rows = {(r["problem"], r["surrogate"]): r for r in whole_cube["table"]}
    if cube_budget != args.budget:  # side by side only at the same budget
        cube_rows = {}
    results = _run_all(args)
    rows = []
    for problem, by_surrogate in results.items():
        rnd = by_surrogate.get("random")
        random_regret = statistics.median(r.simple_regret[-1].item() for r in rnd) if rnd else None
        for name, runs in by_surrogate.items():
            row = _row(problem, name, runs, random_regret)
            cube = cube_rows.get((problem, name), {}) if args.acquisition == "qlogei" else {}
            cube_regret = cube.get("final regret (median [q1, q3])", "")
            rows.append(
                {
                    "problem": problem,
                    "budget": args.budget,
                    "surrogate": name,
                    "acquisition": args.acquisition if name != "random" else "",
                    "seeds": row["seeds"],
                    "trust region: final regret (median [q1, q3])": row["final regret (median [q1, q3])"],
                    "trust region: beats random": row["beats random"],
                    "whole cube: final regret (median [q1, q3])": cube_regret,
                    "whole cube: beats random": cube.get("beats random", ""),
                    "s / iteration (median)": row["s / iteration (median)"],
                }
            )
    keys = {_row_key(r) for r in rows}
    kept = [r for r in data["table"] if _row_key(r) not in keys]
    data["table"] = sorted(kept + rows, key=lambda r: (r["problem"], r["budget"]))
    if not args.saved_only and args.timing_repeats > 0:
        overhead = _region_overhead(args.problems.split(","), args.surrogates.split(","), args.timing_repeats)
        for problem, ratios in overhead.items():
            data.setdefault("overhead", {}).setdefault(problem, {}).update(ratios)
    command = (
        f"python benchmarks/bo_surrogates.py --trust-region --acquisition {args.acquisition} "
        f"--problems {args.problems} "
        f"--surrogates {args.surrogates} --seeds {args.seeds} --n-init {args.n_init} --budget {args.budget}"
        + (" --saved-only" if args.saved_only else f" --timing-repeats {args.timing_repeats}")
    )
    _annotate_overhead(data)
    data["meta"]["commands"] = list(dict.fromkeys([*data["meta"].get("commands", []), command]))
    data["meta"]["command"] = " ; ".join(data["meta"]["commands"])
    data["meta"]["machine"] = f"{platform.machine()}, 1 torch thread"
    data["meta"]["date"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    path.write_text(json.dumps(data, indent=1))
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
