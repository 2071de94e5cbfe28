r"""The configuration of one PV-RNN layer: its sizes, time constant and meta-prior.

Ahmadi & Tani, *A Novel Predictive-Coding-Inspired Variational RNN Model for Online Prediction
and Recognition*, Neural Computation 31(11), 2019; reference code h-idei/pvrnn_sa.
Each layer :math:`l` of a :class:`probtheory.recurrent.pvrnn.PVRNN` is a multiple-timescale
(leaky-integrator) RNN layer with deterministic units :math:`d^l_t`, stochastic units
:math:`z^l_t` and time constant :math:`\tau_l`; its KL term is weighted by the meta-prior
:math:`w_l` (:math:`w1_l` at t = 1). The equations are in :mod:`probtheory.recurrent.pvrnn`.
"""

from __future__ import annotations

from dataclasses import dataclass

from probtheory._checks import check_int, check_real
from probtheory.errors import InputDataError

__all__ = ["PVRNNLayerConfig"]


@dataclass(frozen=True)
class PVRNNLayerConfig:
    """One MTRNN layer of a PV-RNN.

    Attributes:
        d_size: Number of deterministic units (>= 1).
        z_size: Number of stochastic units (>= 1).
        tau: Time constant (>= 1; 1 is an ordinary RNN, large is slow).
        w: Meta-prior weight of the KL for t > 1 (>= 0).
        w1: Meta-prior weight of the KL to N(0, I) at t = 1 (>= 0; None: same as ``w``).
    """

    d_size: int
    z_size: int
    tau: float
    w: float = 0.01
    w1: float | None = None

    def __post_init__(self) -> None:
        check_int("d_size", self.d_size, minimum=1)
        check_int("z_size", self.z_size, minimum=1)
        tau = check_real("tau", self.tau)
        if tau < 1:
            raise InputDataError("tau", "a time constant >= 1", tau)
        check_real("w", self.w, nonnegative=True)
        if self.w1 is not None:
            check_real("w1", self.w1, nonnegative=True)

    @property
    def first_w(self) -> float:
        """The KL weight at t = 1."""
        return self.w if self.w1 is None else self.w1
