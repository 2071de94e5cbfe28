"""``probtheory lcpfn CURVE.csv``: extrapolate a learning curve from the command line.

The CSV holds one observed curve: either two columns (epoch, value) or one column of values
for epochs 1, 2, ...; a header row is allowed. The command prints the predictive quantiles
of every later epoch and, with ``--plot``, draws the quantile fan.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

__all__ = ["read_curve", "register"]


def read_curve(path: str | Path) -> tuple[list[float], list[float]]:
    """Epochs and values of the curve in a CSV file (see the module docstring)."""
    from probtheory.errors import InputDataError

    rows = []
    with open(path, newline="") as handle:
        for row in csv.reader(handle):
            cells = [c.strip() for c in row if c.strip()]
            if not cells:
                continue
            try:
                rows.append([float(c) for c in cells])
            except ValueError:
                if rows:  # only the first row may be a header
                    raise InputDataError(str(path), "numeric rows after an optional header", row) from None
    if not rows:
        raise InputDataError(str(path), "at least one observed epoch", "an empty file")
    widths = {len(r) for r in rows}
    if widths == {1}:
        return [float(i + 1) for i in range(len(rows))], [r[0] for r in rows]
    if widths == {2}:
        return [r[0] for r in rows], [r[1] for r in rows]
    raise InputDataError(str(path), "one column (values) or two (epoch, value) in every row", sorted(widths))


def _run(args: argparse.Namespace) -> int:
    import torch

    from probtheory.lcpfn.model import LCPFN
    from probtheory.lcpfn.normalizer import CurveNormalizer

    epochs, values = read_curve(args.curve)
    model = LCPFN.load(args.model) if args.model else LCPFN.from_pretrained()
    horizon = args.horizon or model.max_epochs
    normalizer = CurveNormalizer(args.lower, args.upper, minimize=args.minimize)
    x = torch.tensor(epochs, dtype=torch.float64).unsqueeze(1)
    y = torch.tensor(values, dtype=torch.float64).unsqueeze(1)
    future = torch.arange(int(max(epochs)) + 1, horizon + 1, dtype=torch.float64).unsqueeze(1)
    if future.numel() == 0:
        print(f"nothing to extrapolate: the curve already reaches epoch {horizon}")
        return 0
    quantiles = model.predict_quantiles(x, y, future, args.qs, normalizer=normalizer)
    print("epoch," + ",".join(f"q{q:g}" for q in args.qs))
    for t, row in zip(future[:, 0].tolist(), quantiles.tolist(), strict=True):
        print(f"{t:g}," + ",".join(f"{v:.6g}" for v in row))
    if args.plot:
        from probtheory.lcpfn.plotting import plot_quantile_fan

        figure = plot_quantile_fan(epochs, values, future[:, 0].tolist(), quantiles, args.qs)
        figure.savefig(args.plot, dpi=120, bbox_inches="tight")
        print(f"plot written to {args.plot}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``lcpfn`` subcommand to the ``probtheory`` command line."""
    parser = subparsers.add_parser("lcpfn", help="extrapolate a learning curve (LC-PFN)")
    parser.add_argument("curve", help="CSV: (epoch, value) rows or one value per row; header optional")
    parser.add_argument("--horizon", type=int, help="last epoch to predict (default: the model's maximum)")
    parser.add_argument(
        "--qs", type=float, nargs="+", default=[0.05, 0.25, 0.5, 0.75, 0.95], help="quantile levels"
    )
    parser.add_argument("--minimize", action="store_true", help="the metric is a loss (lower is better)")
    parser.add_argument("--lower", type=float, default=0.0, help="smallest possible value of the metric")
    parser.add_argument("--upper", type=float, default=1.0, help="largest possible value of the metric")
    parser.add_argument("--model", help="an LC-PFN checkpoint path (default: the shipped model)")
    parser.add_argument("--plot", help="write the quantile fan to this image file")
    parser.set_defaults(func=_run)
