"""BoTorch integration of probtheory: surrogate models, optimisation loops, early stopping.

The infinite-width kernels of :mod:`probtheory.kernels` already plug into BoTorch's own
models, e.g. ``SingleTaskGP(X, Y, covar_module=NNGPKernel(depth=3))``; the surrogate classes
built on probtheory's Bayesian components are added here as they land.
"""
