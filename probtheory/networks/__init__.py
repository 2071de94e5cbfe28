"""Finite networks in NTK, standard and μP parameterisations."""

from probtheory.networks.finite_width import relu_fourth_moment_ratio
from probtheory.networks.mlp import MLP
from probtheory.networks.parameterization import LayerScaling, Parameterization, mup, ntk, standard

__all__ = [
    "MLP",
    "LayerScaling",
    "Parameterization",
    "mup",
    "ntk",
    "relu_fourth_moment_ratio",
    "standard",
]
