"""PDE problems and the data sets the scientific-ML reproductions train on.

Three kinds of objects, one section each: PDE problems on a box (:class:`PDEProblem`: the
residual by autograd, the boundary loss, the exact solution where known), sparse linear
systems (discretised operators), and offline data-set generators (operator-learning pairs,
trajectories of ODE families).
"""

from __future__ import annotations

__all__: list[str] = []

# --- PDE problems on a box -------------------------------------------------------------------

# --- linear systems --------------------------------------------------------------------------

# --- data-set generators ---------------------------------------------------------------------
