"""The shipped LC-PFN: loads offline with provenance, is calibrated on its prior, and its
predictions sharpen as more of the curve is seen."""

import math

import pytest
import torch

from probtheory.errors import InputDataError
from probtheory.lcpfn import LCPFN, CurvePrior

EPOCHS = torch.arange(1, 101, dtype=torch.float64)


@pytest.fixture(scope="module")
def model():
    return LCPFN.from_pretrained()


@pytest.fixture(scope="module")
def curves():
    return CurvePrior().sample(300, 100, torch.Generator().manual_seed(77)).y


def test_shipped_as_the_lcpfn_recipe(model):
    # command, time and loss record: checked for every shipped PFN in tests/probtheory/pfn
    assert model.metadata["recipe"] == "lcpfn" and model.max_epochs == 100
    with pytest.raises(InputDataError, match="name"):
        LCPFN.from_pretrained("gp-rbf-1d-typo")


def _tail(model, curves, cutoff):
    b = curves.shape[0]
    dist = model.predict_normalized(
        EPOCHS[:cutoff].expand(b, cutoff).unsqueeze(-1),
        curves[:, :cutoff],
        EPOCHS[cutoff:].expand(b, 100 - cutoff).unsqueeze(-1),
    )
    return dist, curves[:, cutoff:]


def test_central_intervals_are_calibrated_on_the_prior(model, curves):
    """Coverage of the central 90% interval of held-out prior points, within 4 standard errors
    (points of one curve are dependent: the standard error is computed over curves)."""
    dist, target = _tail(model, curves, 20)
    bands = dist.icdf(torch.tensor([0.05, 0.95], dtype=torch.float64).view(2, 1, 1))
    per_curve = ((target >= bands[0]) & (target <= bands[1])).double().mean(-1)
    se = per_curve.std() / math.sqrt(len(per_curve))
    assert abs(per_curve.mean().item() - 0.9) < 4 * se.item() + 0.01


def test_log_likelihood_improves_with_the_observed_prefix(model, curves):
    """Log-likelihood of the last 40 epochs rises with the number of observed epochs."""
    ll = {}
    for cutoff in (5, 20, 50):
        dist, target = _tail(model, curves, cutoff)
        ll[cutoff] = dist.log_prob(target)[:, -40:].mean().item()
    assert ll[5] < ll[20] < ll[50]


def test_quantiles_are_monotone_and_the_fan_widens(model, curves):
    q = model.predict_quantiles(
        EPOCHS[:10], curves[0, :10].clamp(0, 1), EPOCHS[10:], [0.05, 0.25, 0.5, 0.75, 0.95]
    )
    assert (q.diff(dim=-1) >= 0).all()
    assert (q[-1, -1] - q[-1, 0]) > (q[0, -1] - q[0, 0])
