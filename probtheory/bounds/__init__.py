"""Certified bounds: local Lipschitz constants of ReLU / LeakyReLU / tanh networks.

* :func:`local_lipschitz_bound` -- a sound upper bound on the local Lipschitz constant over an
  l_inf box, by linear bound propagation through the Clarke-Jacobian graph (Shi et al., NeurIPS
  2022), with interval arithmetic and the product of operator norms as cheaper baselines;
* :func:`lipschitz_lower_bound` / :func:`lipschitz_bracket` -- attained gradient norms (sampling,
  vertices, gradient ascent), so the constant is bracketed;
* :func:`exact_local_lipschitz` -- the exact value for tiny ReLU nets by enumerating activation
  regions.

The chain of affine maps and activations behind them is in :mod:`probtheory.bounds.affine_chain`,
the bound computations in :mod:`probtheory.bounds.propagation`, the enumeration in
:mod:`probtheory.bounds.exact`.
"""

from probtheory.bounds.lipschitz import (
    METHODS,
    LipschitzBound,
    exact_local_lipschitz,
    lipschitz_bracket,
    lipschitz_lower_bound,
    local_lipschitz_bound,
)

__all__ = [
    "METHODS",
    "LipschitzBound",
    "exact_local_lipschitz",
    "lipschitz_bracket",
    "lipschitz_lower_bound",
    "local_lipschitz_bound",
]
