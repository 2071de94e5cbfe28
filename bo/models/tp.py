r"""``StudentTP``: the Student-t process (scale-mixture NNGP) of :mod:`probtheory.gp` for BoTorch.

One :class:`probtheory.gp.StudentTProcess` per output, fitted by marginal likelihood on the
standardised outputs. Its :meth:`~probtheory.gp.StudentTProcess.joint_posterior` at a q-batch
is a normal--inverse-gamma scale mixture, :math:`f \mid \sigma^2, y \sim N(\mu, \sigma^2 C)`
with :math:`\sigma^2 \mid y \sim \mathrm{InvGamma}(a + n/2,\ b + y^\top (K + \varepsilon I)^{-1} y / 2)`
(noise :math:`\varepsilon` inside the mixture: observation noise adds :math:`\varepsilon I` to
C); marginally f is multivariate t with 2a + n degrees of freedom, jointly over the q-batch.
It reaches BoTorch as a :class:`bo.posteriors.ScaleMixtureNormalPosterior`, mapped back to
the units of ``train_Y``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from botorch.posteriors import Posterior
from torch import Tensor

from bo._validation import resolve_config
from bo.models.base import SurrogateModel
from bo.posteriors import ScaleMixtureNormalPosterior
from probtheory._checks import check_int, check_name, check_real
from probtheory.errors import InputDataError
from probtheory.gp import StudentTProcess
from probtheory.kernels import NNGPKernel

__all__ = ["StudentTP", "StudentTPConfig"]

#: Jitter added to C of the latent f (no observation noise) before its Cholesky factorisation.
_LATENT_JITTER = 1e-9


@dataclass(frozen=True)
class StudentTPConfig:
    """Options of :class:`StudentTP`.

    Attributes:
        depth: Hidden layers of the NNGP kernel.
        activation: ``"relu"`` or ``"erf"``.
        weight_variance: Initial sigma_w^2 of the kernel (then fitted; as IBNN).
        bias_variance: Initial sigma_b^2 > 0 (then fitted). Without bias the ReLU NNGP kernel is
            positively homogeneous, so on the unit cube it mostly sees directions from the
            origin, and BO gets stuck at the corners.
        concentration: Initial a of the inverse-gamma readout variance.
        rate: Initial b.
        noise: Initial noise variance epsilon (inside the mixture).
        steps: Adam steps of marginal-likelihood fitting.
        lr: Adam learning rate.
    """

    depth: int = 3
    activation: str = "relu"
    weight_variance: float = 10.0
    bias_variance: float = 1.3
    concentration: float = 2.0
    rate: float = 2.0
    noise: float = 0.1
    steps: int = 100
    lr: float = 0.05

    def __post_init__(self) -> None:
        check_int("depth", self.depth, minimum=1)
        check_int("steps", self.steps, minimum=1)
        for name in ("weight_variance", "bias_variance", "concentration", "rate", "noise", "lr"):
            check_real(name, getattr(self, name), positive=True)
        check_name("activation", self.activation, ("relu", "erf"), meaning="a closed-form activation")


class StudentTP(SurrogateModel):
    """A Student-t process surrogate: heavy-tailed, robust to outliers (one TP per output).

    Example:
        >>> import torch
        >>> X = torch.rand(10, 2, dtype=torch.float64)
        >>> model = StudentTP(X, X.sum(-1, keepdim=True), steps=20).fit()
        >>> model.posterior(torch.rand(4, 3, 2, dtype=torch.float64)).mean.shape
        torch.Size([4, 3, 1])
    """

    def __init__(
        self, train_X: Tensor, train_Y: Tensor, config: StudentTPConfig | None = None, **options: Any
    ):
        """Create an (unfitted) surrogate; ``options`` are fields of :class:`StudentTPConfig`."""
        super().__init__(train_X, train_Y)
        self.config = resolve_config(StudentTPConfig, config, options)
        c = self.config
        self.processes = torch.nn.ModuleList(
            StudentTProcess(
                self.train_X,
                self.train_Y_standardized[:, j],
                NNGPKernel(
                    depth=c.depth,
                    activation=c.activation,
                    weight_variance=c.weight_variance,
                    bias_variance=c.bias_variance,
                ),
                concentration=c.concentration,
                rate=c.rate,
                noise=c.noise,
            )
            for j in range(self.num_outputs)
        )

    def _fit(self) -> None:
        for process in self.processes:
            process.fit(steps=self.config.steps, lr=self.config.lr, progress=False)

    def _posterior(self, X: Tensor, outputs: list[int], observation_noise: bool | Tensor) -> Posterior:
        if isinstance(observation_noise, Tensor):
            raise InputDataError(
                "observation_noise", "True or False (the TP's noise is inside the mixture)", "a tensor"
            )
        means, trils, concentrations, rates = [], [], [], []
        for j in outputs:
            joint = self.processes[j].joint_posterior(X, observation_noise=bool(observation_noise))
            covariance = joint.unit_covariance
            if not observation_noise:
                covariance = covariance + _LATENT_JITTER * torch.eye(X.shape[-2], dtype=X.dtype)
            means.append(joint.mean)
            trils.append(torch.linalg.cholesky(covariance))
            concentrations.append(joint.concentration)
            rates.append(joint.rate)
        posterior = ScaleMixtureNormalPosterior(
            torch.stack(means, -1), torch.stack(trils, -3), torch.stack(concentrations), torch.stack(rates)
        )
        # back to the units of train_Y
        std = self.outcome_transform.stdvs.squeeze(0)[outputs]
        shift = self.outcome_transform.means.squeeze(0)[outputs]
        return posterior.rescaled(std, shift)
