"""Base class of surrogates whose posterior is a finite set of function draws.

Deep ensembles, HMC and SGHMC chains, SVI with fixed guide samples and martingale-posterior
draws all reduce, at prediction time, to "evaluate draw s of the network at X". A subclass
says how (``_draws``) and how noisy each draw is (``_noise_variance``); this class turns
that into a :class:`bo.posteriors.SampleEnsemblePosterior` in the original units of
``train_Y``, with lazy evaluation of only the draws a sampler needs.
"""

from __future__ import annotations

from abc import abstractmethod

from botorch.posteriors import Posterior
from torch import Tensor

from bo.models.base import SurrogateModel
from bo.posteriors import SampleEnsemblePosterior
from probtheory.errors import InputDataError

__all__ = ["SampleSurrogate"]


class SampleSurrogate(SurrogateModel):
    """A :class:`SurrogateModel` whose posterior is the uniform mixture of S function draws."""

    @property
    @abstractmethod
    def num_draws(self) -> int:
        """The number of function draws S."""

    @abstractmethod
    def _draws(self, X: Tensor, indices: Tensor) -> Tensor:
        """Evaluate draws ``indices`` (a `k` long tensor) at `N x d` inputs: `k x N x m`, standardised."""

    def _noise_variance(self) -> Tensor | None:
        """Per-draw observation-noise variances `S x m` in standardised units, or None."""
        return None

    def _posterior(self, X: Tensor, outputs: list[int], observation_noise: bool | Tensor) -> Posterior:
        batch_q = X.shape[:-1]
        flat_X = X.reshape(-1, X.shape[-1])
        transform = self.outcome_transform

        def evaluate(indices: Tensor) -> Tensor:
            values, _ = transform.untransform(self._draws(flat_X, indices))
            return values[..., outputs].reshape(len(indices), *batch_q, len(outputs))

        noise = None
        if isinstance(observation_noise, Tensor):
            expected_shape = (*batch_q, len(outputs))
            if observation_noise.shape != expected_shape:
                raise InputDataError(
                    "observation_noise",
                    f"a bool or a tensor of noise variances of shape {expected_shape}",
                    f"shape {tuple(observation_noise.shape)}",
                )
            noise = observation_noise.to(X).unsqueeze(0)
        elif observation_noise:
            per_draw = self._noise_variance()
            if per_draw is not None:
                _, per_draw = transform.untransform(per_draw.new_zeros(per_draw.shape), per_draw)
                noise = per_draw[:, outputs].reshape(
                    self.num_draws, *[1] * (len(batch_q) - 1), 1, len(outputs)
                )
        return SampleEnsemblePosterior(
            evaluate,
            self.num_draws,
            batch_q + (len(outputs),),
            dtype=X.dtype,
            device=X.device,
            noise_variance=noise,
        )
