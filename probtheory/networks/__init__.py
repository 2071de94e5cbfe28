"""Finite networks in NTK, standard and μP parameterisations."""

from probtheory.networks.mlp import MLP
from probtheory.networks.parameterization import LayerScaling, Parameterization, mup, ntk, standard

__all__ = ["MLP", "LayerScaling", "Parameterization", "mup", "ntk", "standard"]
