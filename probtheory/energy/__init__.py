"""Energy-based models: monotone deep Boltzmann machines, dense Hebbian networks, equilibrium propagation.

* :class:`MonotoneDBM` -- categorical Boltzmann machines with arbitrary pairwise couplings,
  parameterised so that the mean-field fixed point is unique; damped forward-backward splitting
  with Anderson acceleration and implicit gradients (Feng, Winston & Kolter, TMLR 2023);
  :mod:`probtheory.energy.monotone_dbm`, the mean-field solver in
  :mod:`probtheory.energy.categorical_mean_field` and :mod:`probtheory.energy.proximal_softmax`.
* :class:`DenseHebbian` -- supervised and unsupervised dense (P-body) Hebbian networks built from
  examples, Glauber dynamics with O(K) flips (Agliari et al., Physica A 2023);
  :mod:`probtheory.energy.hebbian`, and the low-load theory (exact zero-temperature overlap,
  mean-field equations, phase diagrams) in :mod:`probtheory.energy.hebbian_theory`.
* :class:`EquilibriumPropagation` -- EP with one-sided, symmetric and holomorphic nudges and
  Jacobian homeostasis for asymmetric weights (Laborieux & Zenke, ICLR 2024);
  :mod:`probtheory.energy.equilibrium_propagation`, the network and its relaxation to fixed
  points in :mod:`probtheory.energy.hopfield_network`.
"""

from probtheory.energy.equilibrium_propagation import EquilibriumPropagation
from probtheory.energy.hebbian import DenseHebbian
from probtheory.energy.monotone_dbm import MonotoneDBM

__all__ = ["DenseHebbian", "EquilibriumPropagation", "MonotoneDBM"]
