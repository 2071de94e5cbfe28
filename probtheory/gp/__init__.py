"""Nonparametric Bayesian regression built on the infinite-width kernels."""

from probtheory.gp.datasets import RegressionSplit, regression_dataset, synthetic_regression
from probtheory.gp.dkm import DeepKernelMachine
from probtheory.gp.gram_kernels import (
    GramKernel,
    LinearGramKernel,
    ReluGramKernel,
    SEGramKernel,
    StructuredGram,
    linear_gram_kernel,
    relu_gram_kernel,
    se_gram_kernel,
)
from probtheory.gp.scale_mixture import BurrXII, ScaleMixtureProcess
from probtheory.gp.student_t_process import (
    StudentTPosteriorParameters,
    StudentTProcess,
    multivariate_t_log_prob,
)

__all__ = [
    "BurrXII",
    "DeepKernelMachine",
    "GramKernel",
    "LinearGramKernel",
    "RegressionSplit",
    "ReluGramKernel",
    "SEGramKernel",
    "ScaleMixtureProcess",
    "StructuredGram",
    "StudentTPosteriorParameters",
    "StudentTProcess",
    "linear_gram_kernel",
    "multivariate_t_log_prob",
    "regression_dataset",
    "relu_gram_kernel",
    "se_gram_kernel",
    "synthetic_regression",
]
