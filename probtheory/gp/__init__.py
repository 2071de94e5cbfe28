"""Nonparametric Bayesian regression built on the infinite-width kernels."""

from probtheory.gp.datasets import RegressionSplit, regression_dataset, synthetic_regression
from probtheory.gp.scale_mixture import BurrXII, ScaleMixtureProcess
from probtheory.gp.student_t_process import StudentTProcess, multivariate_t_log_prob

__all__ = [
    "BurrXII",
    "RegressionSplit",
    "ScaleMixtureProcess",
    "StudentTProcess",
    "multivariate_t_log_prob",
    "regression_dataset",
    "synthetic_regression",
]
