"""CurveNormalizer: exact inverses, monotonicity, the Jacobian, and bad ranges."""

import math

import pytest
import torch

from probtheory.errors import ConfigurationError, InputDataError
from probtheory.lcpfn import CurveNormalizer

NORMALIZERS = [
    CurveNormalizer(),
    CurveNormalizer(0.0, 100.0),
    CurveNormalizer(0.0, 10.0, minimize=True),
    CurveNormalizer(0.0, math.inf, minimize=True, soft_lower=0.0, soft_upper=3.0),
    CurveNormalizer(-math.inf, math.inf, soft_lower=-1.0, soft_upper=2.0),
]


@pytest.mark.parametrize("n", NORMALIZERS)
def test_round_trip_monotone_and_onto_unit_interval(n):
    lo = n.soft_lower if n.soft_lower is not None else n.lower
    hi = n.soft_upper if n.soft_upper is not None else n.upper
    y = torch.linspace(lo, hi, 101, dtype=torch.float64)
    z = n.forward(y)
    assert torch.allclose(n.inverse(z), y, atol=1e-9)
    assert ((z >= 0) & (z <= 1)).all()
    steps = z.diff()
    assert (steps < 0).all() if n.minimize else (steps > 0).all()


def test_bounds_map_to_the_ends():
    n = CurveNormalizer(0.0, 5.0, soft_lower=1.0, soft_upper=2.0)
    assert n.forward(torch.tensor(0.0)).item() == pytest.approx(0.0, abs=1e-12)
    assert n.forward(torch.tensor(5.0)).item() == pytest.approx(1.0, abs=1e-12)
    loss = CurveNormalizer(0.0, math.inf, minimize=True, soft_lower=0.0, soft_upper=3.0)
    assert loss.forward(torch.tensor(0.0)).item() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("n", NORMALIZERS)
def test_log_abs_det_jacobian_matches_finite_differences(n):
    z = torch.tensor([0.2, 0.5, 0.8], dtype=torch.float64)
    h = 1e-6
    fd = (n.inverse(z + h) - n.inverse(z - h)).abs() / (2 * h)
    t = n.transform()
    assert torch.allclose(t.log_abs_det_jacobian(z, t(z)), fd.log(), atol=1e-6)


def test_bad_ranges():
    with pytest.raises(InputDataError, match="lower, upper"):
        CurveNormalizer(1.0, 0.0)
    with pytest.raises(ConfigurationError, match="soft range"):
        CurveNormalizer(0.0, math.inf)
    with pytest.raises(ConfigurationError, match="both"):
        CurveNormalizer(0.0, 1.0, soft_lower=0.2)
    with pytest.raises(InputDataError, match="soft_lower"):
        CurveNormalizer(0.0, 1.0, soft_lower=0.5, soft_upper=2.0)
    with pytest.raises(InputDataError, match="y_train"):
        CurveNormalizer().check("y_train", torch.tensor([0.5, 1.2]))
