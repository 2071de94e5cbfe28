"""The bars the benchmark tables are held to, decided from the raw numbers of the results files.

A results file's ``"table"`` rows are formatted strings written by its benchmark script; a bar's
verdict is computed here from the unformatted numbers of the same file, so the page cannot say
"met" for a result that no longer meets it. ``docs/hooks.py`` adds the verdict to the row each
bar names. The statements repeat the bars the pages give in their prose (docs/benchmarks.md).
Tables whose script already writes a verdict column (``energy:pvrnn``'s "bar (>= 5x)",
``plugins``' "verdict") and tables reported without a bar have no entry.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Bar:
    """One bar, held by one row of a results file's table.

    Args:
        statement: The bar as the table shows it (``"≤ 0.6x BoTorch"``); empty where the
            table has a column that states it.
        met: Whether the results file (its parsed JSON) meets it.
        row: The cells that pick the row out of the table (compared as strings).
    """

    statement: str
    met: Callable[[dict], bool]
    row: Mapping[str, object] = field(default_factory=dict)


def _within_noise_at_most_zero(mean_and_se: list[float]) -> bool:
    """A paired difference no more than 2 standard errors above 0."""
    mean, se = mean_and_se
    return mean <= 2 * se


def _lcpfn_bars() -> dict[str, list[Bar]]:
    cutoffs = ("10", "20", "40")
    coverage = [
        Bar(
            "prior: 90% interval covers 88-92%",
            lambda d, t=t: 0.88 <= d["cells"][f"lcpfn/prior/{t}"]["coverage_90"] <= 0.92,
            {"curves": "prior", "T'": t, "method": "lcpfn"},
        )
        for t in cutoffs
    ]
    at_least_mcmc = [
        Bar(
            "LC-PFN ≥ MCMC",
            lambda d, c=c, t=t: d["summary"][f"{c}/{t}"]["lcpfn_minus_mcmc_log_likelihood"] >= 0,
            {"curves": c, "T'": t},
        )
        for c in ("prior", "real")
        for t in cutoffs
    ]
    faster = [
        Bar(
            f"≥ {least}x faster",
            lambda d, t=t, m=mode, n=least: d["timing"][t][f"mcmc_{m}"] / d["timing"][t][f"lcpfn_{m}"] >= n,
            {"T'": t, "mode": label},
        )
        for t in cutoffs
        for mode, label, least in (
            ("batched", "batched over 20 curves", 1500),
            ("single", "one curve at a time", 1000),
        )
    ]
    early_stopping = [
        Bar(
            "median ≥ 2x, regret 0 in every order",
            lambda d, delta=delta, c=c: (
                d["early_stopping"][delta][c]["median_speedup"] >= 2
                and d["early_stopping"][delta][c]["max_regret"] == 0
            ),
            {"delta": delta, "curves": c},
        )
        for delta in ("0.95", "0.99")
        for c in ("digits", "breast_cancer")
    ]
    return {
        "lcpfn": coverage,
        "lcpfn:comparison_table": at_least_mcmc,
        "lcpfn:timing_table": faster,
        "lcpfn:early_stopping_table": early_stopping,
    }


#: The bars of each table, by ``NAME:KEY`` as in the ``<!-- benchmark:NAME:KEY -->`` placeholder
#: (``NAME`` alone for the ``"table"`` rows).
BARS: dict[str, list[Bar]] = {
    "kernels": [
        Bar(
            "≤ 0.6x BoTorch",
            lambda d: d["headline"]["ratio"] <= 0.6,
            {"case": "n=2000, depth=10, no_grad"},
        )
    ],
    # the script writes a "bar" column (<= 0.05, < 0.03, PFN <= NUTS, <= 0 within noise, >= 100x):
    # these are its verdicts, with no statement of their own
    "pfn_gp": [
        Bar(
            "",
            lambda d: d["gp-rbf-1d"]["mean_nll_gap"] <= 0.05,
            {"model": "gp-rbf-1d", "metric": "mean NLL gap to exact GP (nats)"},
        ),
        Bar(
            "",
            lambda d: d["gp-rbf-1d"]["pit_ks"] < 0.03,
            {"model": "gp-rbf-1d", "metric": "PIT KS statistic"},
        ),
        Bar(
            "",
            lambda d: d["gp-hyper-1d"]["gap_5_to_50"]["gap"] <= 0.02,
            {"model": "gp-hyper-1d", "bar": "<= 0.02"},
        ),
        Bar(
            "",
            lambda d: d["gp-hyper-1d"]["pfn_mean_nll"] <= d["gp-hyper-1d"]["nuts_mean_nll"],
            {"bar": "PFN <= NUTS"},
        ),
        Bar(
            "",  # "within noise": at most 2 standard errors above 0
            lambda d: _within_noise_at_most_zero(d["gp-hyper-1d"]["pfn_minus_nuts"]),
            {"model": "gp-hyper-1d", "metric": "NLL PFN - NUTS (paired)"},
        ),
        Bar(
            "",
            lambda d: d["gp-hyper-1d"]["speedup"] >= 100,
            {"model": "gp-hyper-1d", "metric": "speed-up per dataset over NUTS"},
        ),
    ],
    **_lcpfn_bars(),
    # the file's own bar: propagation at least 2x tighter than the global bound
    "lipschitz:trained": [
        Bar(
            "global / propagation ≥ 2",
            lambda d, i=i: d["trained"][i]["median_global_over_propagation"] >= 2,
            {"model": model},
        )
        for i, model in enumerate(("digits_mlp", "digits_cnn"))
    ],
}


def verdicts(table: str, data: dict, rows: list[dict]) -> list[str] | None:
    """The verdict cell of every row of ``rows`` (``""`` for a row without a bar).

    Args:
        table: ``NAME`` or ``NAME:KEY``, as in :data:`BARS`.
        data: The parsed results file.
        rows: Its table at ``KEY``.

    Returns:
        One cell per row, ``"STATEMENT: met"`` or ``"STATEMENT: not met"`` (without
        ``"STATEMENT: "`` for an empty statement); ``None`` when the table has no bars.

    Raises:
        LookupError: A bar picks no row, or more than one.
    """
    if table not in BARS:
        return None
    cells = [""] * len(rows)
    for bar in BARS[table]:
        picked = [
            i for i, row in enumerate(rows) if all(str(row.get(k)) == str(v) for k, v in bar.row.items())
        ]
        if len(picked) != 1:
            raise LookupError(
                f"bar {bar.statement!r} of {table} picks {len(picked)} rows with {dict(bar.row)}"
            )
        verdict = "met" if bar.met(data) else "not met"
        cell = f"{bar.statement}: {verdict}" if bar.statement else verdict
        cells[picked[0]] = "; ".join(filter(None, [cells[picked[0]], cell]))
    return cells
