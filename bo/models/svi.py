r"""A mean-field variational BNN surrogate: Pyro's ``AutoNormal`` guide fitted by SVI.

The model is :mod:`bo.models.bayesian_mlp`'s Pyro program (tanh MLP, prior
:math:`\mathcal N(0, \sigma_p^2 I)` on the flat weight vector, Gaussian likelihood of
variance :math:`\sigma^2` on the standardised outputs). The guide is
``pyro.infer.autoguide.AutoNormal``: a fully factorised Gaussian
:math:`q(\theta) = \prod_j \mathcal N(\theta_j; \mu_j, s_j^2)`, fitted by maximising the
ELBO

.. math::
    \mathbb E_q[\log p(Y \mid X, \theta)] - \mathrm{KL}(q \,\|\, p)

with ``TraceMeanField_ELBO`` (closed-form KL, Monte-Carlo likelihood term averaged over
vectorised particles) and Adam, as in the mean-field SVI surrogate of Li, Rudner & Wilson
(ICLR 2024; yucenli/bnn-bo ``models/svi.py``). The guide's means start at a PyTorch-style
random initialisation, its scales at ``init_scale``.

After fitting, ``num_draws`` weight vectors are drawn from the guide once (seeded), so the
surrogate is a deterministic :class:`bo.posteriors.SampleEnsemblePosterior` over fixed
function draws: acquisition values are then deterministic functions of X (Sample Average
Approximation), which ``optimize_acqf``'s L-BFGS-B needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyro
import pyro.optim
import torch
from pyro.infer import SVI, TraceMeanField_ELBO
from pyro.infer.autoguide import AutoNormal
from pyro.infer.autoguide.initialization import init_to_value
from torch import Tensor
from tqdm.auto import tqdm

from bo._validation import resolve_config
from bo.models.bayesian_mlp import local_rng
from bo.models.bnn import BNNConfig, WeightSampleBNN
from probtheory._checks import check_int, check_real

__all__ = ["SVIBNN", "SVIBNNConfig"]


@dataclass(frozen=True)
class SVIBNNConfig(BNNConfig):
    """Options of :class:`SVIBNN` (besides those of :class:`~bo.models.bnn.BNNConfig`).

    Attributes:
        num_draws: Weight vectors drawn from the fitted guide: the posterior's function draws.
        steps: SVI (Adam) steps.
        lr: Adam learning rate.
        num_particles: ELBO Monte-Carlo particles per step (vectorised).
        init_scale: Initial standard deviation of every guide factor.
    """

    num_draws: int = 100
    steps: int = 1000
    lr: float = 1e-2
    num_particles: int = 4
    init_scale: float = 1e-2

    def __post_init__(self) -> None:
        super().__post_init__()
        check_int("num_draws", self.num_draws, minimum=1)
        check_int("steps", self.steps, minimum=0)
        check_real("lr", self.lr, positive=True)
        check_int("num_particles", self.num_particles, minimum=1)
        check_real("init_scale", self.init_scale, positive=True)


class SVIBNN(WeightSampleBNN):
    """A mean-field variational BNN surrogate with a fixed set of guide draws.

    Attributes:
        config: The :class:`SVIBNNConfig`.
        guide_loc: After ``fit()``, the `P` means of the fitted guide.
        guide_scale: After ``fit()``, the `P` standard deviations of the fitted guide.
        elbo_trace: The ELBO after every step of the final fit.

    Example:
        >>> import torch
        >>> X = torch.rand(8, 2, dtype=torch.float64)
        >>> model = SVIBNN(X, X.sum(-1, keepdim=True), width=8, steps=100, num_draws=16, seed=0).fit()
        >>> model.posterior(torch.rand(3, 2, dtype=torch.float64)).rsample(torch.Size([4])).shape
        torch.Size([4, 3, 1])
    """

    config: SVIBNNConfig

    def __init__(
        self, train_X: Tensor, train_Y: Tensor, config: SVIBNNConfig | None = None, **options: Any
    ) -> None:
        """Create an (unfitted) SVI surrogate.

        Args:
            train_X: An `n x d` tensor of inputs in the unit cube [0, 1]^d.
            train_Y: An `n x m` tensor of observations.
            config: The options, or None to build them from ``options``.
            **options: Fields of :class:`SVIBNNConfig`, e.g. ``steps=500``.
        """
        self.config = resolve_config(SVIBNNConfig, config, options)
        super().__init__(train_X, train_Y)
        P = self.layout.num_params
        self.register_buffer("guide_loc", self.train_X.new_zeros(P))
        self.register_buffer("guide_scale", self.train_X.new_zeros(P))
        self.elbo_trace: list[float] = []

    @property
    def num_draws(self) -> int:
        """The number of guide draws S."""
        return self.config.num_draws

    def _sample_weights(self, X: Tensor, Y: Tensor, prior_var: float, noise_var: float, seed: int) -> Tensor:
        cfg, layout = self.config, self.layout
        generator = torch.Generator().manual_seed(seed)
        init = layout.initial(1, generator)[0].to(X)

        def model(X: Tensor, Y: Tensor) -> Tensor:
            return layout.pyro_model(X, Y, prior_var, noise_var)

        # A private parameter store: neither clobbers nor reads the user's Pyro parameters.
        # Validation off: it re-checks supports at every step and costs a third of the time.
        with local_rng(seed), pyro.get_param_store().scope(), pyro.validation_enabled(False):
            guide = AutoNormal(
                model, init_loc_fn=init_to_value(values={"theta": init}), init_scale=cfg.init_scale
            )
            elbo = TraceMeanField_ELBO(
                num_particles=cfg.num_particles, vectorize_particles=True, max_plate_nesting=0
            )
            svi = SVI(model, guide, pyro.optim.Adam({"lr": cfg.lr}), loss=elbo)
            trace = [-svi.step(X, Y) for _ in tqdm(range(cfg.steps), desc="SVIBNN", disable=not cfg.progress)]
            with torch.no_grad():
                guide(X, Y)  # builds the guide's parameters even when steps == 0
                loc, scale = guide.locs.theta.detach().to(X), guide.scales.theta.detach().to(X)
        self.guide_loc.copy_(loc)
        self.guide_scale.copy_(scale)
        self.elbo_trace = trace
        eps = torch.randn(cfg.num_draws, loc.shape[-1], generator=generator, dtype=X.dtype).to(X)
        return loc + scale * eps
