"""probtheory: Bayesian deep learning you can trust.

Subpackages: :mod:`probtheory.kernels` (NNGP/NTK kernels, empirical kernels),
:mod:`probtheory.networks` (finite networks in NTK/standard/μP parameterisations),
:mod:`probtheory.errors` (the exceptions raised for bad input).
"""

__version__ = "0.1.0"
