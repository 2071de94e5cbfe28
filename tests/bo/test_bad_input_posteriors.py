"""Bad input to posteriors of ``bo.posteriors`` built directly (more cases: test_bad_input_bo)."""

from __future__ import annotations

import pytest
import torch

from bo.posteriors import ScaleMixtureNormalPosterior
from probtheory.errors import InputDataError, UnsupportedError
from tests.bad_input import BadInput, check_case

DTYPE = torch.float64


def _scale_mixture(m: int = 1) -> ScaleMixtureNormalPosterior:
    """A q = 3 Student-t posterior with m outputs (identity unit covariance)."""
    tril = torch.eye(3, dtype=DTYPE).expand(m, 3, 3)
    return ScaleMixtureNormalPosterior(
        torch.zeros(3, m, dtype=DTYPE), tril, torch.full((m,), 3.0, dtype=DTYPE), torch.ones(m, dtype=DTYPE)
    )


CASES = [
    BadInput(
        "ScaleMixtureNormalPosterior",
        "base samples without the scale coordinate",
        lambda: _scale_mixture().rsample_from_base_samples(torch.Size([4]), torch.randn(4, 3, dtype=DTYPE)),
        InputDataError,
        "base_samples",
    ),
    BadInput(
        "ScaleMixtureNormalPosterior.affine",
        "a scalarisation of two outputs",
        lambda: _scale_mixture(m=2).affine(torch.tensor([1.0, 1.0])),
        UnsupportedError,
        "posterior_transform",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_input(case):
    check_case(case)
