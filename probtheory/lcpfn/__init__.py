"""LC-PFN: Bayesian learning-curve extrapolation with prior-data fitted networks.

Adriaensen, Rakotoarison, Müller, Hutter, "Efficient Bayesian Learning Curve Extrapolation
using Prior-Data Fitted Networks" (NeurIPS 2023).
"""

from probtheory.lcpfn.curves import (
    BASIS_CURVES,
    PEAKED_PRIORS,
    UNIFORM_PRIORS,
    BasisCurve,
    CurvePrior,
    ParameterSpec,
)
from probtheory.lcpfn.extrapolator import CurveExtrapolator, GaussianMixture
from probtheory.lcpfn.importance import ImportanceSamplingExtrapolator, parametric_predictive
from probtheory.lcpfn.mcmc import MCMCExtrapolator
from probtheory.lcpfn.model import LCPFN
from probtheory.lcpfn.normalizer import CurveNormalizer

__all__ = [
    "BASIS_CURVES",
    "LCPFN",
    "PEAKED_PRIORS",
    "UNIFORM_PRIORS",
    "BasisCurve",
    "CurveExtrapolator",
    "CurveNormalizer",
    "CurvePrior",
    "GaussianMixture",
    "ImportanceSamplingExtrapolator",
    "MCMCExtrapolator",
    "ParameterSpec",
    "parametric_predictive",
]
