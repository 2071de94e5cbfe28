"""Surrogates against SingleTaskGP and random search in Bayesian optimisation, in one run.

Run:  python benchmarks/bo_surrogates.py [--problems branin,hartmann6,ackley10]
                              [--surrogates gp,ibnn,tp,ensemble,laplace,dkl,svi,hmc,random]
                              [--seeds 5] [--n-init 10] [--budget 40] [--out bo-runs]
                              [--runs-only | --timing-only | --saved-only]
      (writes benchmarks/results/bo_surrogates.json and docs/images/bo_regret.png)
      python benchmarks/bo_surrogates.py --trust-region [--acquisition ts] [same options]
      (writes benchmarks/results/bo_trust_region.json: TuRBO trust-region runs next to the
      whole-cube rows of bo_surrogates.json of the same budget; rows of other invocations kept;
      without --acquisition each surrogate runs with bo.run's default in a region: Thompson
      sampling for the network surrogates, qLogEI for the others)

Every (problem, surrogate, seed) is a ``bo.run`` with qLogEI and q = 1, checkpointed under
``--out`` so an interrupted benchmark resumes (``probtheory bo`` runs one problem the same
way); ``--runs-only`` makes or resumes those runs and nothing else (no timing, table or
plot), e.g. in the background, and with ``--only-seeds 0,1,2`` only those of the ``--seeds``
(two processes on disjoint seeds use two cores); ``--saved-only`` makes the table and plot from
the completed runs saved so far, starting none (each row says how many seeds it has). Reported per problem
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

from bo.loop import default_acquisition, make_surrogate, propose, run  # noqa: E402
from bo.problems import get_problem  # noqa: E402
from bo.results import BOResult  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SURROGATES = "gp,ibnn,tp,ensemble,laplace,dkl,svi,hmc,random"


def _run_all(args: argparse.Namespace) -> dict[str, dict[str, list[BOResult]]]:
    out: dict[str, dict[str, list[BOResult]]] = {}
    for problem in args.problems.split(","):
        for surrogate in args.surrogates.split(","):
            for seed in range(args.seeds):
                if args.only_seeds is not None and seed not in args.only_seeds:
                    continue
                # random search has no acquisition: its runs are shared by every acquisition
                acquisition = "qlogei" if surrogate == "random" else args.acquisition
                if acquisition is None:  # the library's default: Thompson for networks in a region
                    acquisition = default_acquisition(surrogate, args.trust_region)
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
        "--only-seeds",
        type=lambda text: {int(seed) for seed in text.split(",")},
        help="with --runs-only: make or resume only these of the seeds, e.g. 0,1,2",
    )
    parser.add_argument(
        "--acquisition",
        help="default: qLogEI (the table of bo_surrogates.json), in a trust region bo.run's default "
        "(Thompson sampling for the network surrogates); qlogei, ts, ...: trust-region rows only",
    )
    parser.add_argument(
        "--trust-region",
        action="store_true",
        help="TuRBO trust-region runs; results in bo_trust_region.json next to the whole-cube loop's",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    results_path = ROOT / "benchmarks" / "results" / "bo_surrogates.json"
    if args.acquisition not in (None, "qlogei") and not args.trust_region:
        parser.error("--acquisition other than qlogei needs --trust-region (bo_surrogates.json is qLogEI's)")
    if args.only_seeds is not None and not args.runs_only:
        parser.error("--only-seeds needs --runs-only (a table is made from every seed)")
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
    commands = list(dict.fromkeys([c for c in earlier if c] + [command]))
    if kept:
        print(f"kept {len(kept)} rows of earlier runs; the regret plot needs every run, so it is not redrawn")
    else:
        commands = [command]
        _plot_regret(results)
    data = {
        "table": table,
        "findings_table": _paper_findings(table),
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


def _paper_findings(table: list[dict]) -> list[dict]:
    """Which conclusions of Li, Rudner & Wilson (ICLR 2024, abstract and Sec. 5) the table reproduces.

    Each finding is checked on the rows' median final regret over seeds (lower is better; as
    printed, to 3 significant digits), per problem where it is a statement about every problem;
    "reproduced" is yes where it holds on every problem checked, partly on some, no on none.
    """
    median: dict[str, dict[str, float]] = {}
    for r in table:
        regret = r["final regret (median [q1, q3])"].split()[0]
        median.setdefault(r["problem"], {})[r["surrogate"]] = float(regret)
    models = {p: {n: v for n, v in m.items() if n != "random"} for p, m in median.items()}
    # rank 1 is the best; tied surrogates share a rank
    place = {p: {n: 1 + sum(w < v for w in m.values()) for n, v in m.items()} for p, m in models.items()}
    problems = list(median)
    high_dim = [p for p in problems if get_problem(p).dim >= 6]

    def row(finding: str, checked: dict[str, bool], detail: str) -> dict:
        held = [p for p, ok in checked.items() if ok]
        verdict = "yes" if len(held) == len(checked) else ("partly" if held else "no")
        return {
            "finding of the paper": finding,
            "measured here": detail,
            "holds on": ", ".join(held) or "none",
            "reproduced": verdict if checked else "not run",
        }

    def at_least_as_good(a: str, b: str, where: list[str]) -> dict[str, bool]:
        return {p: median[p][a] <= median[p][b] for p in where if a in median[p] and b in median[p]}

    def ranks(name: str, where: list[str]) -> str:
        places = [f"{p} {place[p][name]}/{len(place[p])}" for p in where if name in place[p]]
        return f"{name}'s rank: " + ", ".join(places)

    best = {p: min(m, key=m.get) for p, m in models.items()}
    in_worse_half = {p: r["ensemble"] > len(r) / 2 for p, r in place.items() if "ensemble" in r}
    return [
        row(
            "the ranking of surrogates is problem-dependent (the best one differs between problems)",
            {"the problems together": len(set(best.values())) > 1},
            "best: " + ", ".join(f"{p} {b}" for p, b in best.items()),
        ),
        row(
            "HMC is the best inference for fully stochastic BNNs (here: at least as good as mean-field SVI)",
            at_least_as_good("hmc", "svi", problems),
            ranks("hmc", problems),
        ),
        row(
            "deep kernel learning is competitive with fully stochastic BNNs (DKL at least as good as HMC)",
            at_least_as_good("dkl", "hmc", problems),
            ranks("dkl", problems),
        ),
        row(
            "deep ensembles perform relatively poorly (in the worse half of the surrogates)",
            in_worse_half,
            ranks("ensemble", problems),
        ),
        row(
            "infinite-width BNNs are promising in high dimensions (IBNN at least as good as the GP, d >= 6)",
            at_least_as_good("ibnn", "gp", high_dim),
            ranks("ibnn", high_dim),
        ),
    ]


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


def _region_overhead(
    problems: list[str], surrogates: list[str], repeats: int, n: int = 30
) -> tuple[dict, dict]:
    """The trust region's cost per iteration, side by side: two medians over repeats per surrogate.

    One iteration = fit on ``n`` points + qLogEI proposal, once with the box of a fresh region
    (length 0.8 around the best point, lengthscale-weighted where the model has lengthscales)
    and once in the whole cube, in a shuffled order per repeat. Returned: (1) the ratio of the
    region's iteration time to the whole cube's (the whole effect, including an acquisition
    optimised over a different box, which may converge in more or fewer iterations); (2) the
    region's own bookkeeping (lengthscales, box, state update) as a fraction of the iteration.
    """
    import random
    import time

    from bo.trust_region import TrustRegion, input_lengthscales

    ratio: dict[str, dict[str, float]] = {}
    bookkeeping: dict[str, dict[str, float]] = {}
    settings = TrustRegion()
    for problem_name in problems:
        problem = get_problem(problem_name)
        X = torch.rand(n, problem.dim, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        Y = problem.evaluate_unit(X).reshape(n, 1)
        order = random.Random(0)
        for name in (s for s in surrogates if s != "random"):
            ratios, shares = [], []
            for repeat in range(repeats):
                seconds, own = {}, 0.0
                for loop in order.sample(["cube", "region"], 2):
                    start = time.perf_counter()
                    model = make_surrogate(name, X, Y, seed=repeat)
                    box = None
                    if loop == "region":
                        tick = time.perf_counter()
                        state = settings.start(0).updated(settings, Y[:, 0], problem.dim, 1)
                        box = state.box(X[Y[:, 0].argmax()], input_lengthscales(model, problem.dim))
                        own = time.perf_counter() - tick
                    propose(model, "qlogei", X, Y, 1, seed=repeat, bounds=box)
                    seconds[loop] = time.perf_counter() - start
                ratios.append(seconds["region"] / seconds["cube"])
                shares.append(own / seconds["region"])
            ratio.setdefault(problem_name, {})[name] = statistics.median(ratios)
            bookkeeping.setdefault(problem_name, {})[name] = statistics.median(shares)
            print(
                f"overhead {problem_name} {name}: region / cube {ratio[problem_name][name]:.3f}x, "
                f"bookkeeping {bookkeeping[problem_name][name] * 100:.2g}% of an iteration"
            )
    return ratio, bookkeeping


def _annotate_overhead(data: dict) -> None:
    """Each row's side-by-side time ratio (region / whole cube) and bookkeeping share."""
    for row in data["table"]:
        ratio = data.get("overhead", {}).get(row["problem"], {}).get(row["surrogate"])
        share = data.get("bookkeeping", {}).get(row["problem"], {}).get(row["surrogate"])
        row["time in region / whole cube (side by side)"] = "" if ratio is None else f"{ratio:.2f}x"
        row["region bookkeeping / iteration"] = "" if share is None else f"{share * 100:.2g}%"


def _measure_overhead(args: argparse.Namespace, data: dict) -> None:
    """Measure the listed surrogates' overhead on the listed problems into ``data`` (others kept)."""
    measured = _region_overhead(args.problems.split(","), args.surrogates.split(","), args.timing_repeats)
    for key, values in zip(("overhead", "bookkeeping"), measured, strict=True):
        for problem, by_surrogate in values.items():
            data.setdefault(key, {}).setdefault(problem, {}).update(by_surrogate)


def _row_key(row: dict) -> tuple:
    return row["problem"], row["budget"], row["surrogate"], row.get("acquisition", "qlogei")


def _row_id(key: tuple) -> str:
    """A row key as a JSON string (the record of which command made which rows)."""
    return "/".join(map(str, key))


def _trust_region_main(args: argparse.Namespace, whole_cube_path: Path) -> None:
    """Trust-region runs side by side with the whole-cube loop's rows (same problem and budget)."""
    path = ROOT / "benchmarks" / "results" / "bo_trust_region.json"
    data = json.loads(path.read_text()) if path.is_file() else {"table": [], "meta": {"commands": []}}
    whole_cube = json.loads(whole_cube_path.read_text()) if whole_cube_path.is_file() else {"table": []}
    if args.timing_only:  # only (re)measure the trust region's overhead, keeping the rows
        _measure_overhead(args, data)
        data["meta"]["overhead_command"] = (
            f"python benchmarks/bo_surrogates.py --trust-region --timing-only --problems {args.problems} "
            f"--surrogates {args.surrogates} --timing-repeats {args.timing_repeats}"
        )
        _annotate_overhead(data)
        path.write_text(json.dumps(data, indent=1))
        print(json.dumps({key: data[key] for key in ("overhead", "bookkeeping")}, indent=1))
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
            acquisition = runs[0].acquisition
            cube = cube_rows.get((problem, name), {}) if acquisition == "qlogei" else {}
            cube_regret = cube.get("final regret (median [q1, q3])", "")
            rows.append(
                {
                    "problem": problem,
                    "budget": args.budget,
                    "surrogate": name,
                    "acquisition": acquisition if name != "random" else "",
                    "bo.run's default in a region": ""
                    if name == "random"
                    else ("yes" if acquisition == default_acquisition(name, True) else "no"),
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
        _measure_overhead(args, data)
    command = (
        "python benchmarks/bo_surrogates.py --trust-region "
        + (f"--acquisition {args.acquisition} " if args.acquisition else "")
        + f"--problems {args.problems} "
        f"--surrogates {args.surrogates} --seeds {args.seeds} --n-init {args.n_init} --budget {args.budget}"
        + (" --saved-only" if args.saved_only else f" --timing-repeats {args.timing_repeats}")
    )
    _annotate_overhead(data)
    # each command keeps the rows it produced; a command all of whose rows a later one replaced is dropped
    made = {_row_id(key) for key in keys}
    owned = {c: set(ids) - made for c, ids in data["meta"].get("rows_of_command", {}).items() if c != command}
    owned[command] = made
    earlier = [c for c in data["meta"].get("commands", []) if c != command and owned.get(c)]
    data["meta"]["commands"] = [*earlier, command]
    data["meta"]["rows_of_command"] = {c: sorted(owned[c]) for c in data["meta"]["commands"]}
    data["meta"]["command"] = " ; ".join(data["meta"]["commands"])
    data["meta"]["machine"] = f"{platform.machine()}, 1 torch thread"
    data["meta"]["date"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    path.write_text(json.dumps(data, indent=1))
    print(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
