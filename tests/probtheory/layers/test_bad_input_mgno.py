"""Bad input to VCycleConv, MgNO and darcy_dataset: one row per mistake, each with its error."""

from __future__ import annotations

import pytest
import torch

from probtheory.errors import ConfigurationError, InputDataError
from probtheory.layers import MgNO, VCycleConv
from probtheory.sciml.problems import darcy_dataset
from tests.bad_input import BadInput, check_case


def cycle(**options) -> VCycleConv:
    return VCycleConv(1, 2, 3, (1, 1), **options)


def classical(**options) -> VCycleConv:
    options = {"restrict": "residual", "coarse_guess": "zero", **options}
    return VCycleConv(1, 1, 3, (2, 2), padding_mode="circular", **options)


CASES = [
    BadInput("VCycleConv", "zero levels", lambda: VCycleConv(1, 1, 0), InputDataError, "levels"),
    BadInput("VCycleConv", "zero channels", lambda: VCycleConv(0, 1, 2), InputDataError, "in_channels"),
    BadInput("VCycleConv", "no pre-sweep", lambda: VCycleConv(1, 1, 2, (0, 1)), InputDataError,
             "smoothing (pre-sweeps)"),
    BadInput("VCycleConv", "negative post-sweeps", lambda: VCycleConv(1, 1, 2, (1, -1)), InputDataError,
             "smoothing (post-sweeps)"),
    BadInput("VCycleConv", "sweep pairs for the wrong number of levels",
             lambda: VCycleConv(1, 1, 3, [(1, 1), (1, 1)]), InputDataError, "smoothing"),
    BadInput("VCycleConv", "unknown padding", lambda: cycle(padding_mode="reflect"), InputDataError,
             "padding_mode"),
    BadInput("VCycleConv", "unknown restriction", lambda: cycle(restrict="rhs"), InputDataError, "restrict"),
    BadInput("VCycleConv", "unknown coarse guess", lambda: cycle(coarse_guess="none"), InputDataError,
             "coarse_guess"),
    BadInput("VCycleConv.forward", "grid not divisible by 2^(levels-1)",
             lambda: cycle()(torch.zeros(1, 1, 10, 16)), InputDataError, "f", pattern="divisible by 2"),
    BadInput("VCycleConv.forward", "wrong channels", lambda: cycle()(torch.zeros(1, 3, 16, 16)),
             InputDataError, "f"),
    BadInput("VCycleConv.forward", "missing batch dimension", lambda: cycle()(torch.zeros(1, 16, 16)),
             InputDataError, "f"),
    BadInput("VCycleConv.forward", "integer field",
             lambda: cycle()(torch.zeros(1, 1, 16, 16, dtype=torch.long)), InputDataError, "f"),
    BadInput("VCycleConv.set_classical_weights", "restricting f is no multigrid",
             lambda: classical(restrict="f").set_classical_weights(16), ConfigurationError,
             pattern="restrict='residual'"),
    BadInput("VCycleConv.set_classical_weights", "channels differ",
             lambda: VCycleConv(1, 2, 2, restrict="residual", coarse_guess="zero").set_classical_weights(16),
             ConfigurationError, pattern="in_channels"),
    BadInput("VCycleConv.set_classical_weights", "grid does not halve",
             lambda: classical().set_classical_weights(6), InputDataError, "grid_size"),
    BadInput("VCycleConv.set_classical_weights", "over-relaxed Jacobi",
             lambda: classical().set_classical_weights(16, omega=1.5), InputDataError, "omega"),
    BadInput("VCycleConv.set_classical_weights", "negative mass",
             lambda: classical().set_classical_weights(16, mass=-1.0), InputDataError, "mass"),
    BadInput("MgNO", "zero layers", lambda: MgNO(1, 4, 2, layers=0), InputDataError, "layers"),
    BadInput("MgNO", "zero width", lambda: MgNO(1, 0, 2), InputDataError, "width"),
    BadInput("MgNO.forward", "grid not divisible by 2^(levels-1)",
             lambda: MgNO(1, 4, 3)(torch.zeros(1, 1, 10, 16)), InputDataError, "x", pattern="divisible by 2"),
    BadInput("MgNO.forward", "wrong channels", lambda: MgNO(1, 4, 2)(torch.zeros(1, 2, 8, 8)), InputDataError,
             "x"),
    BadInput("darcy_dataset", "no samples", lambda: darcy_dataset(0), InputDataError, "n_samples"),
    BadInput("darcy_dataset", "one-cell grid", lambda: darcy_dataset(1, 1), InputDataError, "grid_size"),
    BadInput("darcy_dataset", "tau <= 0", lambda: darcy_dataset(1, 8, tau=0.0), InputDataError, "tau"),
    BadInput("darcy_dataset", "negative coefficient", lambda: darcy_dataset(1, 8, values=(12.0, -3.0)),
             InputDataError, "values"),
    BadInput("darcy_dataset", "one coefficient value", lambda: darcy_dataset(1, 8, values=(12.0,)),
             InputDataError, "values"),
    BadInput("darcy_dataset", "NaN forcing", lambda: darcy_dataset(1, 8, forcing=float("nan")),
             InputDataError, "forcing"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_input(case):
    check_case(case)
