"""BoTorch integration of probtheory: surrogate models, optimisation loops, early stopping.

The infinite-width kernels of :mod:`probtheory.kernels` already plug into BoTorch's own
models, e.g. ``SingleTaskGP(X, Y, covar_module=NNGPKernel(depth=3))``; the surrogate classes
built on probtheory's Bayesian components are added here as they land.
"""

# BNN surrogates for BoTorch (issue 5): models, their sample-based posterior.
from bo.models import GP, IBNN, DeepEnsemble, SurrogateModel
from bo.posteriors import SampleEnsemblePosterior

__all__ = ["GP", "IBNN", "DeepEnsemble", "SampleEnsemblePosterior", "SurrogateModel"]
