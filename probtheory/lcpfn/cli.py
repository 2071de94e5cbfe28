"""``probtheory lcpfn CURVE.csv``: extrapolate a learning curve from the command line.

The CSV holds one observed curve: either two columns (epoch, value) or one column of values
for epochs 1, 2, ...; a header row is allowed. The command prints the predictive quantiles
of every later epoch and, with ``--plot``, draws the quantile fan.

Mistakes are reported in the command line's own terms, as one line (``probtheory: error:
...``, exit status 2): a malformed CSV row by its number and content; values outside the range
the model accepts (a curve in percent: divide by 100, or pass ``--upper 100``); quantile levels
outside (0, 1) (``--qs 5 50 95``: give ``0.05 0.5 0.95``); a ``--horizon`` beyond the model's
longest curve.
"""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path

from probtheory._cli_options import add_command, add_list_argument

__all__ = ["read_curve", "register"]


def _parse_row(row: list[str]) -> list[float] | None:
    """The numbers of a CSV row; None if a cell is not a number."""
    try:
        return [float(cell) for cell in row]
    except ValueError:
        return None


def read_curve(path: str | Path) -> tuple[list[float], list[float]]:
    """Epochs and values of the curve in a CSV file (see the module docstring).

    Args:
        path: The CSV file.

    Returns:
        The epochs (1, 2, ... for a one-column file) and the values.

    Raises:
        InputDataError: If the file cannot be read, or a row is malformed (named by its number
            and content): not numeric (only the first row may be a header), not finite, or
            with another number of columns than the first data row.
    """
    from probtheory._checks import check_path
    from probtheory.errors import InputDataError

    path = check_path("path", path)
    try:
        with open(path, newline="") as handle:
            lines = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise InputDataError("curve", "a readable CSV file", f"{path} ({err})") from err
    rows: list[tuple[int, list[float]]] = []
    seen_header = False
    for number, raw in enumerate(lines, start=1):
        cells = [c.strip() for c in raw if c.strip()]
        if not cells:
            continue
        values = _parse_row(cells)
        if values is None:
            if rows or seen_header:  # only the first non-empty row may be a header
                raise InputDataError(
                    "curve", "numeric rows after an optional header row", f"row {number} of {path}: {raw!r}"
                )
            seen_header = True
            continue
        if not all(math.isfinite(v) for v in values):
            raise InputDataError("curve", "finite numbers", f"row {number} of {path}: {raw!r}")
        if rows and len(values) != len(rows[0][1]):
            width = len(rows[0][1])
            raise InputDataError(
                "curve",
                f"{width} column{'s' if width > 1 else ''} in every row, as in row {rows[0][0]}",
                f"row {number} of {path}: {raw!r}",
            )
        if len(values) > 2:
            raise InputDataError(
                "curve", "one column (values) or two (epoch, value)", f"row {number} of {path}: {raw!r}"
            )
        rows.append((number, values))
    if not rows:
        found = "only a header row" if seen_header else "an empty file"
        raise InputDataError("curve", "at least one observed epoch", f"{found} ({path})")
    if len(rows[0][1]) == 1:
        return [float(i + 1) for i in range(len(rows))], [r[0] for _, r in rows]
    return [r[0] for _, r in rows], [r[1] for _, r in rows]


def _check_levels(qs: list[float]) -> list[float]:
    """``--qs`` levels must lie in (0, 1); percentages get the fractions suggested."""
    from probtheory.errors import InputDataError

    if all(0 < q < 1 for q in qs):
        return qs
    expected = "quantile levels strictly between 0 and 1"
    if all(0 < q < 100 for q in qs):  # percentages
        expected += f" (percentages? give {' '.join(f'{q / 100:g}' for q in qs)})"
    raise InputDataError("--qs", expected, " ".join(f"{q:g}" for q in qs))


def _check_curve(path: str, epochs: list[float], values: list[float], model, normalizer) -> None:
    """The curve's epochs and values, in the terms of the command line."""
    import torch

    from probtheory.errors import InputDataError

    if any(not e.is_integer() or not 1 <= e <= model.max_epochs for e in epochs):
        raise InputDataError(
            "curve",
            f"epochs 1, 2, ... up to the model's longest curve ({model.max_epochs})",
            f"epochs {epochs[0]:g} to {max(epochs):g} in {path}",
        )
    if any(b <= a for a, b in zip(epochs[:-1], epochs[1:], strict=True)):
        raise InputDataError("curve", "strictly increasing epochs", f"{epochs[:10]} in {path}")
    low, high = model.observation_range
    z = normalizer.forward(torch.tensor(values, dtype=torch.float64))
    if bool(((z >= low) & (z <= high)).all()):
        return
    ends = sorted(normalizer.inverse(torch.tensor([low, high], dtype=torch.float64)).tolist())
    expected = (
        f"values in [{ends[0]:.4g}, {ends[1]:.4g}] (the metric's range [--lower, --upper] = "
        f"[{normalizer.lower:g}, {normalizer.upper:g}] widened by the prior's observation noise)"
    )
    if normalizer.lower == 0 and normalizer.upper == 1 and 0 <= min(values) and max(values) <= 100:
        expected += "; a curve in percent? divide the values by 100 or pass --upper 100"
    received = f"values from {min(values):.4g} to {max(values):.4g} in {path}"
    raise InputDataError("curve", expected, received)


def _run(args: argparse.Namespace) -> int:
    import torch

    from probtheory.errors import InputDataError
    from probtheory.lcpfn.model import LCPFN
    from probtheory.lcpfn.normalizer import CurveNormalizer

    qs = _check_levels(args.qs)
    epochs, values = read_curve(args.curve)
    model = LCPFN.load(args.model) if args.model else LCPFN.from_pretrained()
    if not args.lower < args.upper:
        raise InputDataError("--lower, --upper", "--lower < --upper", f"{args.lower:g}, {args.upper:g}")
    normalizer = CurveNormalizer(args.lower, args.upper, minimize=args.minimize)
    _check_curve(args.curve, epochs, values, model, normalizer)
    last = int(max(epochs))
    horizon = model.max_epochs if args.horizon is None else args.horizon
    if args.horizon is not None and not last < horizon <= model.max_epochs:
        raise InputDataError(
            "--horizon",
            f"an epoch after the last observed one ({last}) and at most the model's longest curve "
            f"({model.max_epochs})",
            horizon,
        )
    if last >= horizon:
        print(f"nothing to extrapolate: the curve already reaches epoch {horizon}")
        return 0
    x = torch.tensor(epochs, dtype=torch.float64).unsqueeze(1)
    y = torch.tensor(values, dtype=torch.float64).unsqueeze(1)
    future = torch.arange(last + 1, horizon + 1, dtype=torch.float64).unsqueeze(1)
    quantiles = model.predict_quantiles(x, y, future, qs, normalizer=normalizer)
    print("epoch," + ",".join(f"q{q:g}" for q in qs))
    for t, row in zip(future[:, 0].tolist(), quantiles.tolist(), strict=True):
        print(f"{t:g}," + ",".join(f"{v:.6g}" for v in row))
    if args.plot:
        from probtheory.lcpfn.plotting import plot_quantile_fan

        figure = plot_quantile_fan(epochs, values, future[:, 0].tolist(), quantiles, qs)
        figure.savefig(args.plot, dpi=120, bbox_inches="tight")
        print(f"plot written to {args.plot}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``lcpfn`` subcommand to the ``probtheory`` command line."""
    parser = add_command(
        subparsers,
        "lcpfn",
        help="extrapolate a learning curve (LC-PFN)",
        description="""Predict the rest of a partially observed learning curve with the shipped
        LC-PFN (Adriaensen et al., NeurIPS 2023): quantiles of the metric at every later epoch up
        to the horizon, printed as CSV, optionally plotted as a quantile fan. The metric's
        range (--lower, --upper) maps it onto the model's [0, 1] scale; --minimize for losses.""",
        examples=[
            "probtheory lcpfn curve.csv --horizon 50 --plot fan.png",
            "probtheory lcpfn losses.csv --minimize --lower 0 --upper 5 --qs 0.1,0.5,0.9",
        ],
    )
    parser.add_argument("curve", help="CSV: (epoch, value) rows or one value per row; header optional")
    parser.add_argument("--horizon", type=int, help="last epoch to predict (default: the model's maximum)")
    add_list_argument(
        parser,
        "--qs",
        item_type=float,
        default=[0.05, 0.25, 0.5, 0.75, 0.95],
        metavar="Q",
        help="quantile levels in (0, 1) (default: 0.05 0.25 0.5 0.75 0.95)",
    )
    parser.add_argument("--minimize", action="store_true", help="the metric is a loss (lower is better)")
    parser.add_argument("--lower", type=float, default=0.0, help="smallest possible value of the metric")
    parser.add_argument("--upper", type=float, default=1.0, help="largest possible value of the metric")
    parser.add_argument("--model", help="an LC-PFN checkpoint path (default: the shipped model)")
    parser.add_argument("--plot", help="write the quantile fan to this image file")
    parser.set_defaults(func=_run)
