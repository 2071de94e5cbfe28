"""Bad input to probtheory.bounds: one row per realistic mistake, each with the error it must get."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from probtheory.bounds import (
    exact_local_lipschitz,
    lipschitz_bracket,
    lipschitz_lower_bound,
    local_lipschitz_bound,
)
from probtheory.bounds.affine_chain import affine_chain, jacobian_rows
from probtheory.bounds.exact import enumerate_regions
from probtheory.bounds.propagation import (
    crown_jacobian_bound,
    derivative_ranges,
    dual_norm,
    global_bound,
    interval_jacobian_bound,
    preactivation_bounds,
    rounding_slack,
)
from probtheory.errors import InputDataError, UnsupportedError
from tests.bad_input import BadInput, check_case

NAN = float("nan")
X64 = torch.float64


def relu_net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))


CENTER = torch.zeros(3)


def chain():
    return affine_chain(relu_net(), (3,))


def ranges():
    c = chain()
    return derivative_ranges(c, preactivation_bounds(c, CENTER.double(), 0.1))


ROWS = torch.tensor([0, 1])


CASES = [
    BadInput(
        "local_lipschitz_bound",
        "NaN radius",
        lambda: local_lipschitz_bound(relu_net(), CENTER, NAN),
        InputDataError,
        "radius",
    ),
    BadInput(
        "local_lipschitz_bound",
        "zero radius",
        lambda: local_lipschitz_bound(relu_net(), CENTER, 0.0),
        InputDataError,
        "radius",
    ),
    BadInput(
        "local_lipschitz_bound",
        "a batch of centres",
        lambda: local_lipschitz_bound(relu_net(), torch.zeros(2, 3), 0.1),
        InputDataError,
        "center",
    ),
    BadInput(
        "local_lipschitz_bound",
        "NaN centre",
        lambda: local_lipschitz_bound(relu_net(), torch.full((3,), NAN), 0.1),
        InputDataError,
        "center",
    ),
    BadInput(
        "local_lipschitz_bound",
        "unknown norm",
        lambda: local_lipschitz_bound(relu_net(), CENTER, 0.1, norm="fro"),
        InputDataError,
        "norm",
    ),
    BadInput(
        "local_lipschitz_bound",
        "unknown method",
        lambda: local_lipschitz_bound(relu_net(), CENTER, 0.1, method="crown"),
        InputDataError,
        "method",
    ),
    BadInput(
        "local_lipschitz_bound",
        "output index out of range",
        lambda: local_lipschitz_bound(relu_net(), CENTER, 0.1, output_index=2),
        InputDataError,
        "output_index",
    ),
    BadInput(
        "local_lipschitz_bound",
        "a GELU layer",
        lambda: local_lipschitz_bound(nn.Sequential(nn.Linear(3, 2), nn.GELU()), CENTER, 0.1),
        UnsupportedError,
        "model[1]",
    ),
    BadInput(
        "local_lipschitz_bound",
        "a NaN LeakyReLU slope (was NaN bounds)",
        lambda: local_lipschitz_bound(
            nn.Sequential(nn.Linear(3, 2), nn.LeakyReLU(NAN), nn.Linear(2, 1)), CENTER, 0.1
        ),
        UnsupportedError,
        "model[1].negative_slope",
    ),
    BadInput(
        "local_lipschitz_bound",
        "a function instead of a network",
        lambda: local_lipschitz_bound(torch.tanh, CENTER, 0.1),
        InputDataError,
        "model",
    ),
    BadInput(
        "local_lipschitz_bound",
        "an empty centre",
        lambda: local_lipschitz_bound(relu_net(), torch.zeros(0), 0.1),
        InputDataError,
        "center",
    ),
    BadInput(
        "lipschitz_lower_bound",
        "float seed",
        lambda: lipschitz_lower_bound(relu_net(), CENTER, 0.1, seed=0.5, steps=0, samples=4),
        InputDataError,
        "seed",
    ),
    BadInput(
        "lipschitz_lower_bound",
        "negative steps",
        lambda: lipschitz_lower_bound(relu_net(), CENTER, 0.1, steps=-1),
        InputDataError,
        "steps",
    ),
    BadInput(
        "lipschitz_bracket",
        "zero restarts",
        lambda: lipschitz_bracket(relu_net(), CENTER, 0.1, restarts=0),
        InputDataError,
        "restarts",
    ),
    BadInput(
        "exact_local_lipschitz",
        "zero max_regions",
        lambda: exact_local_lipschitz(relu_net(), CENTER, 0.1, max_regions=0),
        InputDataError,
        "max_regions",
    ),
    BadInput(
        "exact_local_lipschitz",
        "a tanh network",
        lambda: exact_local_lipschitz(
            nn.Sequential(nn.Linear(3, 2), nn.Tanh(), nn.Linear(2, 1)), CENTER, 0.1
        ),
        UnsupportedError,
        "model",
    ),
    BadInput(
        "affine_chain",
        "input shape given as an int",
        lambda: affine_chain(relu_net(), 3),
        InputDataError,
        "input_shape",
    ),
    BadInput(
        "affine_chain",
        "input shape of the wrong width",
        lambda: affine_chain(relu_net(), (4,)),
        InputDataError,
        "center",
    ),
    BadInput(
        "AffineChain",
        "forward on one unbatched input",
        lambda: chain().forward(torch.zeros(3)),
        InputDataError,
        "x",
    ),
    BadInput(
        "Activation",
        "a negative LeakyReLU slope (not monotone)",
        lambda: affine_chain(nn.Sequential(nn.Linear(3, 2), nn.LeakyReLU(-0.5)), (3,)),
        UnsupportedError,
        "model[1].negative_slope",
    ),
    BadInput(
        "jacobian_rows",
        "float row indices",
        lambda: jacobian_rows(chain(), torch.zeros(2, 3, dtype=X64), torch.tensor([0.0])),
        InputDataError,
        "rows",
    ),
    BadInput(
        "jacobian_rows",
        "row index out of range",
        lambda: jacobian_rows(chain(), torch.zeros(2, 3, dtype=X64), torch.tensor([5])),
        InputDataError,
        "rows",
    ),
    BadInput(
        "preactivation_bounds",
        "negative radius",
        lambda: preactivation_bounds(chain(), CENTER.double(), -0.1),
        InputDataError,
        "radius",
    ),
    BadInput(
        "preactivation_bounds",
        "unknown method",
        lambda: preactivation_bounds(chain(), CENTER.double(), 0.1, method="lp"),
        InputDataError,
        "method",
    ),
    BadInput(
        "derivative_ranges",
        "bounds of another network",
        lambda: derivative_ranges(chain(), []),
        InputDataError,
        "bounds",
    ),
    BadInput(
        "dual_norm",
        "unknown norm (fell through to the l1 dual)",
        lambda: dual_norm(torch.ones(3), "3"),
        InputDataError,
        "norm",
    ),
    BadInput(
        "dual_norm",
        "a number instead of a name",
        lambda: dual_norm(torch.ones(3), math.inf),
        InputDataError,
        "norm",
    ),
    BadInput(
        "global_bound", "unknown norm", lambda: global_bound(chain(), ROWS, "fro"), InputDataError, "norm"
    ),
    BadInput(
        "interval_jacobian_bound",
        "ranges of another network",
        lambda: interval_jacobian_bound(chain(), [], ROWS, "inf"),
        InputDataError,
        "ranges",
    ),
    BadInput(
        "crown_jacobian_bound",
        "rows as a list",
        lambda: crown_jacobian_bound(chain(), ranges(), [0, 1], "inf"),
        InputDataError,
        "rows",
    ),
    BadInput(
        "rounding_slack", "unknown norm", lambda: rounding_slack(chain(), ROWS, "max"), InputDataError, "norm"
    ),
    BadInput(
        "enumerate_regions",
        "centre of the wrong size",
        lambda: enumerate_regions(chain(), torch.zeros(4, dtype=X64), 0.1),
        InputDataError,
        "center",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_input(case):
    check_case(case)
