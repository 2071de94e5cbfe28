r"""A prior-data fitted network (PFN) as a BoTorch surrogate.

A PFN trained on a prior over functions returns, in one forward pass, the posterior
predictive distribution of an observation at each query given the training data (Müller et
al., ICLR 2022; used for BO by Müller et al., "PFNs4BO", ICML 2023). "Fitting" is therefore
only encoding the context: the training rows' keys and values are computed once in
``fit()`` and reused by every ``posterior`` call, which costs one forward pass of the
queries.

The PFN predicts each query's bar distribution separately; there is no joint distribution
over a q-batch. The posterior is a :class:`bo.posteriors.MarginalPosterior`: exact for
q = 1 (qLogEI, qUCB, ...), and for q > 1 it treats the q points as independent. Samples
are quantiles of the bar distributions at Sobol normals, so they are differentiable in X
(through the transformer) and reproducible under a seed.

The PFN is trained on noisy observations, so its predictive distribution already includes
the prior's observation noise: ``posterior(X)`` is the predictive of a new observation, and
``observation_noise=True`` returns the same distribution.

Inputs are the unit cube, as the shipped GP PFNs' priors (``x_support`` in the checkpoint's
metadata); outputs are standardised before they are given to the PFN, which matches priors
with an output scale of about 1. Only PFNs with ``num_features == d`` can be used: the
shipped ``gp-rbf-1d`` and ``gp-hyper-1d`` are one-dimensional; train your own with
``probtheory pfn train`` for other dimensions.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from botorch.posteriors import Posterior
from torch import Tensor

from bo._validation import resolve_config
from bo.models.base import SurrogateModel
from bo.posteriors import MarginalPosterior
from probtheory.errors import InputDataError, UnsupportedError
from probtheory.pfn import PFN

__all__ = ["PFNSurrogate", "PFNSurrogateConfig"]


@dataclass(frozen=True)
class PFNSurrogateConfig:
    """Options of :class:`PFNSurrogate`.

    Attributes:
        pfn: The name of a shipped PFN (``probtheory.pfn.pretrained_names()``), the path
            (without suffix) of a checkpoint written by ``PFN.save`` / ``probtheory pfn train``,
            or a :class:`probtheory.pfn.PFN` object (e.g. one just trained).
    """

    pfn: str | Path | PFN = "gp-hyper-1d"

    def __post_init__(self) -> None:
        if not isinstance(self.pfn, str | Path | PFN) or not str(self.pfn):
            raise InputDataError(
                "pfn", "a shipped PFN's name, a checkpoint path or a PFN", type(self.pfn).__name__
            )


class PFNSurrogate(SurrogateModel):
    """A BoTorch surrogate whose posterior is a PFN's predictive distribution.

    Attributes:
        pfn: The (frozen) :class:`probtheory.pfn.PFN`.

    Example:
        >>> import torch
        >>> X = torch.rand(8, 1, dtype=torch.float64)
        >>> model = PFNSurrogate(X, torch.sin(6 * X)).fit()
        >>> model.posterior(torch.rand(4, 1, 1, dtype=torch.float64)).mean.shape
        torch.Size([4, 1, 1])
    """

    def __init__(
        self,
        train_X: Tensor,
        train_Y: Tensor,
        config: PFNSurrogateConfig | None = None,
        **options: Any,
    ) -> None:
        """Create an (unfitted) PFN surrogate.

        Args:
            train_X: An `n x d` tensor of inputs in the unit cube [0, 1]^d.
            train_Y: An `n x 1` tensor of observations (PFNs have one output).
            config: The options, or None to build them from ``options``.
            **options: Fields of :class:`PFNSurrogateConfig`, e.g. ``pfn="gp-rbf-1d"``.
        """
        super().__init__(train_X, train_Y)
        self.config = resolve_config(PFNSurrogateConfig, config, options)
        if self.num_outputs != 1:
            raise UnsupportedError(
                "train_Y", "a single output (`n x 1`): a PFN predicts one", self.num_outputs
            )
        pfn = self.config.pfn
        if not isinstance(pfn, PFN):
            pfn = PFN.from_pretrained(str(pfn)) if Path(pfn).parent == Path(".") else PFN.load(pfn)
        d = self.train_X.shape[-1]
        if pfn.config.num_features != d:
            raise UnsupportedError(
                "train_X",
                f"{pfn.config.num_features}-dimensional inputs (the PFN's num_features)",
                f"d = {d}",
            )
        max_context = pfn.metadata.get("train_config", {}).get("max_context")
        if max_context is not None and self.train_X.shape[0] > max_context:
            warnings.warn(
                f"{self.train_X.shape[0]} training points, but the PFN was trained with at most "
                f"{max_context}: its predictions beyond that are extrapolations",
                stacklevel=2,
            )
        self.pfn = pfn.eval().requires_grad_(False)
        self._context = None

    def _fit(self) -> None:
        dtype = next(self.pfn.parameters()).dtype
        with torch.no_grad():
            self._context = self.pfn.transformer.encode_context(
                self.train_X.to(dtype).unsqueeze(0), self.train_Y_standardized[..., 0].to(dtype).unsqueeze(0)
            )

    def _posterior(self, X: Tensor, outputs: list[int], observation_noise: bool | Tensor) -> Posterior:
        if isinstance(observation_noise, Tensor):
            raise UnsupportedError(
                "observation_noise",
                "a bool: the PFN predicts observations, its prior's noise included",
                "a tensor of noise variances",
            )
        if self._context is None:  # restored from a state_dict: encode the context again
            self._fit()
        dtype = next(self.pfn.parameters()).dtype
        batch_q = X.shape[:-1]
        queries = X.reshape(1, -1, X.shape[-1]).to(dtype)
        logits = self.pfn.transformer.predict_logits(self._context, queries)[0].to(torch.float64)
        distribution = self.pfn.distribution(logits.reshape(*batch_q, 1, logits.shape[-1]))
        transform = self.outcome_transform
        return MarginalPosterior(distribution, loc=transform.means[..., 0], scale=transform.stdvs[..., 0])
