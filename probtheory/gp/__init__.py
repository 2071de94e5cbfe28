"""Nonparametric Bayesian regression built on the infinite-width kernels."""

from probtheory.gp.datasets import RegressionSplit, synthetic_regression
from probtheory.gp.student_t_process import StudentTProcess, multivariate_t_log_prob

__all__ = ["RegressionSplit", "StudentTProcess", "multivariate_t_log_prob", "synthetic_regression"]
