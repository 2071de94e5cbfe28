r"""A BoTorch posterior for surrogates whose belief is a finite set of function draws.

Deep ensembles, HMC / SGHMC chains and SVI predictive samples all represent the posterior
over functions by S draws :math:`f_1, \dots, f_S` (optionally each with its own observation
noise :math:`\sigma_s^2`), i.e. by the uniform mixture

.. math::
    p(y \mid X) = \frac1S \sum_{s=1}^S \mathcal N\!\left(y;\, f_s(X),\, \sigma_s^2 I\right).

:class:`SampleEnsemblePosterior` exposes that mixture to BoTorch. Two properties matter
for Bayesian optimisation and are where the reference bnn-bo code went wrong (its
``HMCPosterior`` drew indices with ``np.random`` and had no base samples; see
``models/hmc.py`` of yucenli/bnn-bo at commit ``c349b4b``):

* **Joint q-batches.** One Monte-Carlo sample picks *one* draw s for all q points (and the
  baseline points of qLogNEI), so joint acquisition functions see a coherent function.
* **Base samples.** The draw index is a deterministic function of a standard-normal base
  sample, :math:`s = \lfloor S\,\Phi(z) \rfloor`, exactly the inverse-CDF trick of BoTorch's
  ``BoundedRiemannPosterior``. Hence BoTorch's own ``SobolQMCNormalSampler`` /
  ``IIDNormalSampler`` work unchanged (registered below with ``GetSampler``): samples are
  reproducible under a seed, acquisition values are deterministic (Sample Average
  Approximation, so ``optimize_acqf``'s L-BFGS-B is sound), the t-batch dimensions are
  collapsed so every candidate sees the same draws (common random numbers), and Sobol
  points stratify the draw indices (128 samples of 8 draws pick each draw exactly 16 times).
  BoTorch's ``IndexSampler`` (integer base samples) and ``StochasticSampler`` work too.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from botorch.posteriors import Posterior
from botorch.sampling.get_sampler import GetSampler
from torch import Tensor

from bo.posteriors._base_samples import check_base_sample_shape, normal_sampler
from probtheory._checks import check_int
from probtheory.errors import InputDataError, UnsupportedError

__all__ = ["SampleEnsemblePosterior"]


class SampleEnsemblePosterior(Posterior):
    r"""The uniform mixture over S function draws, each a joint sample over a q-batch.

    Values are produced lazily by ``evaluate(indices)``, so a sampler that needs 128 of
    1000 HMC draws only evaluates those; the full set is evaluated (once, then cached) for
    :attr:`mean`, :attr:`variance` and :attr:`values`.

    Base samples are standard normals of shape `sample_shape x batch_shape x k`: the first
    of the k entries selects the draw, the remaining `q * m` (only with observation noise)
    are the noise :math:`\varepsilon` in :math:`y = f_s(X) + \sigma_s \varepsilon`.

    Example:
        >>> import torch
        >>> from botorch.sampling.get_sampler import get_sampler
        >>> values = torch.randn(5, 3, 1, dtype=torch.float64)  # 5 draws, q = 3, m = 1
        >>> posterior = SampleEnsemblePosterior.from_values(values)
        >>> sampler = get_sampler(posterior, torch.Size([4]), seed=0)
        >>> sampler(posterior).shape
        torch.Size([4, 3, 1])
    """

    def __init__(
        self,
        evaluate: Callable[[Tensor], Tensor],
        num_draws: int,
        event_shape: torch.Size,
        *,
        dtype: torch.dtype,
        device: torch.device,
        noise_variance: Tensor | None = None,
    ) -> None:
        """Create the posterior.

        Args:
            evaluate: Maps a 1-d long tensor of k distinct draw indices in [0, S) to the
                `k x batch_shape x q x m` values of those draws at the inputs,
                differentiable with respect to the inputs.
            num_draws: The number of draws S >= 1.
            event_shape: `batch_shape x q x m`, the shape of one draw's values.
            dtype: The dtype of the values.
            device: The device of the values.
            noise_variance: Observation-noise variances, broadcastable (right-aligned) to
                `S x batch_shape x q x m`, e.g. `S x 1 x 1 x m` for one homoscedastic
                noise per draw and output; None for the noise-free posterior over f.
        """
        self._evaluate = evaluate
        self.num_draws = check_int("num_draws", num_draws, minimum=1)
        self.event_shape = torch.Size(event_shape)
        if len(self.event_shape) < 2:
            raise InputDataError("event_shape", "`batch_shape x q x m` (at least 2 dims)", tuple(event_shape))
        self._dtype = dtype
        self._device = torch.device(device)
        self._noise = None
        if noise_variance is not None:
            noise = torch.as_tensor(noise_variance, dtype=dtype, device=self._device)
            try:
                noise = noise.expand(self.num_draws, *self.event_shape)
            except RuntimeError:
                expected = f"a tensor broadcastable to {(self.num_draws, *self.event_shape)}"
                raise InputDataError("noise_variance", expected, f"shape {tuple(noise.shape)}") from None
            if not (torch.isfinite(noise).all() and (noise >= 0).all()):
                raise InputDataError("noise_variance", "finite values >= 0", "negative or non-finite entries")
            self._noise = noise
        self._all_values: Tensor | None = None

    @classmethod
    def from_values(cls, values: Tensor, noise_variance: Tensor | None = None) -> SampleEnsemblePosterior:
        """Build the posterior from already evaluated draws.

        Args:
            values: A `S x batch_shape x q x m` tensor: draw s at every input.
            noise_variance: As in the constructor.

        Returns:
            The posterior over the draws in ``values``.
        """
        if not isinstance(values, Tensor) or values.dim() < 3:
            received = tuple(values.shape) if isinstance(values, Tensor) else type(values).__name__
            raise InputDataError("values", "a `S x batch_shape x q x m` tensor (at least 3 dims)", received)
        posterior = cls(
            lambda indices: values[indices],
            values.shape[0],
            values.shape[1:],
            dtype=values.dtype,
            device=values.device,
            noise_variance=noise_variance,
        )
        posterior._all_values = values
        return posterior

    # ---------------------------------------------------------------- shapes and types
    @property
    def device(self) -> torch.device:
        """The torch device of the posterior."""
        return self._device

    @property
    def dtype(self) -> torch.dtype:
        """The torch dtype of the posterior."""
        return self._dtype

    @property
    def batch_shape(self) -> torch.Size:
        """The t-batch shape `batch_shape` of the inputs."""
        return self.event_shape[:-2]

    @property
    def observation_noise(self) -> Tensor | None:
        """The noise variances expanded to `S x batch_shape x q x m`, or None if noise-free."""
        return self._noise

    @property
    def base_sample_shape(self) -> torch.Size:
        """`batch_shape x k`: one index base sample, plus `q * m` noise ones if noisy."""
        q, m = self.event_shape[-2:]
        width = 1 + (q * m if self._noise is not None else 0)
        return self.batch_shape + torch.Size([width])

    @property
    def batch_range(self) -> tuple[int, int]:
        """The t-batch dims of :attr:`base_sample_shape`; samplers share base samples over them."""
        return (0, -1)

    @property
    def mixture_weights(self) -> Tensor:
        """The uniform `S` weights of the draws (read by BoTorch's ``IndexSampler``)."""
        return torch.full((self.num_draws,), 1.0 / self.num_draws, dtype=self.dtype, device=self.device)

    def _extended_shape(self, sample_shape: torch.Size = torch.Size()) -> torch.Size:  # noqa: B008
        """The shape `sample_shape x batch_shape x q x m` of ``rsample(sample_shape)``."""
        return torch.Size(sample_shape) + self.event_shape

    # ---------------------------------------------------------------- moments
    @property
    def values(self) -> Tensor:
        """All draws at the inputs, a `S x batch_shape x q x m` tensor (evaluated once)."""
        if self._all_values is None:
            indices = torch.arange(self.num_draws, device=self.device)
            self._all_values = self._checked_evaluate(indices)
        return self._all_values

    @property
    def mean(self) -> Tensor:
        """The exact mixture mean over all S draws, a `batch_shape x q x m` tensor."""
        return self.values.mean(dim=0)

    @property
    def variance(self) -> Tensor:
        r"""The exact mixture variance, a `batch_shape x q x m` tensor.

        :math:`\frac1S\sum_s (f_s - \bar f)^2 + \frac1S\sum_s \sigma_s^2`: the population
        variance of the draws (the distribution ``rsample`` draws from is the uniform
        mixture itself, unlike BoTorch's ``EnsemblePosterior``, which reports the
        unbiased estimate with denominator S - 1) plus the mean noise variance.
        """
        variance = self.values.var(dim=0, correction=0)
        if self._noise is not None:
            variance = variance + self._noise.mean(dim=0)
        return variance

    # ---------------------------------------------------------------- sampling
    def rsample(self, sample_shape: torch.Size | None = None) -> Tensor:
        """Draw samples independently per t-batch element (one draw per q-batch).

        Args:
            sample_shape: The sample shape; ``None`` or empty means ``torch.Size([1])``.

        Returns:
            A `sample_shape x batch_shape x q x m` tensor, differentiable in the inputs.
        """
        sample_shape = torch.Size([1]) if not sample_shape else torch.Size(sample_shape)
        base_samples = torch.randn(
            sample_shape + self.base_sample_shape, dtype=self.dtype, device=self.device
        )
        return self.rsample_from_base_samples(sample_shape, base_samples)

    def rsample_from_base_samples(self, sample_shape: torch.Size, base_samples: Tensor) -> Tensor:
        """Draw samples determined by base samples (Sample Average Approximation).

        Args:
            sample_shape: The sample shape.
            base_samples: Either standard normals of shape
                `sample_shape x base_sample_shape` (BoTorch's normal samplers), or integer
                draw indices of shape `sample_shape x b` with `b` broadcastable to
                `batch_shape` (BoTorch's ``IndexSampler``; noise-free posteriors only).

        Returns:
            A `sample_shape x batch_shape x q x m` tensor, differentiable in the inputs.
        """
        sample_shape = torch.Size(sample_shape)
        batch_shape, (q, m) = self.batch_shape, self.event_shape[-2:]
        noise_eps = None
        if base_samples.is_floating_point():
            check_base_sample_shape(self, sample_shape, base_samples)
            indices = self._indices_from_normals(base_samples[..., 0])
            if self._noise is not None:
                noise_eps = base_samples[..., 1:].reshape(sample_shape + batch_shape + (q, m))
        else:
            if self._noise is not None:
                raise UnsupportedError(
                    "base_samples",
                    "normal base samples (e.g. `SobolQMCNormalSampler`) when the posterior "
                    "includes observation noise",
                    f"integer indices of dtype {base_samples.dtype}",
                )
            indices = self._broadcast_indices(sample_shape, base_samples)
        return self._gather(sample_shape, indices, noise_eps)

    def _indices_from_normals(self, z: Tensor) -> Tensor:
        # Inverse CDF of the uniform distribution over {0, ..., S-1}, applied to Phi(z).
        u = torch.special.ndtr(z)
        return (u * self.num_draws).floor().long().clamp_(0, self.num_draws - 1)

    def _broadcast_indices(self, sample_shape: torch.Size, indices: Tensor) -> Tensor:
        trailing = indices.shape[len(sample_shape) :]
        ok = indices.shape[: len(sample_shape)] == sample_shape and len(trailing) <= len(self.batch_shape)
        if ok:
            trailing = torch.Size([1] * (len(self.batch_shape) - len(trailing))) + trailing
            try:
                indices = indices.reshape(sample_shape + trailing).expand(sample_shape + self.batch_shape)
            except RuntimeError:
                ok = False
        if not ok:
            batch = tuple(self.batch_shape)
            expected = f"integer indices of shape {tuple(sample_shape)} + a shape broadcastable to {batch}"
            raise InputDataError("base_samples", expected, f"shape {tuple(indices.shape)}")
        if indices.numel() and (indices.min() < 0 or indices.max() >= self.num_draws):
            raise InputDataError("base_samples", f"indices in [0, {self.num_draws})", "indices out of range")
        return indices.to(self.device)

    def _gather(self, sample_shape: torch.Size, indices: Tensor, noise_eps: Tensor | None) -> Tensor:
        """Pick draw ``indices[n, b]`` for t-batch element b of sample n; add noise if any."""
        q, m = self.event_shape[-2:]
        n_samples, n_batch = sample_shape.numel(), self.batch_shape.numel()
        flat = indices.reshape(n_samples, n_batch)
        unique, inverse = torch.unique(flat, return_inverse=True)
        columns = torch.arange(n_batch, device=self.device)
        draws = self._draws(unique).reshape(len(unique), n_batch, q, m)
        samples = draws[inverse, columns]
        if noise_eps is not None:
            noise_std = self._noise.reshape(self.num_draws, n_batch, q, m)[flat, columns].sqrt()
            samples = samples + noise_std * noise_eps.reshape(n_samples, n_batch, q, m)
        return samples.reshape(self._extended_shape(sample_shape))

    def _draws(self, indices: Tensor) -> Tensor:
        if self._all_values is not None:
            return self._all_values[indices]
        values = self._checked_evaluate(indices)
        if len(indices) == self.num_draws:  # ``indices`` is sorted and unique: all draws
            self._all_values = values
        return values

    def _checked_evaluate(self, indices: Tensor) -> Tensor:
        values = self._evaluate(indices)
        expected = torch.Size([len(indices)]) + self.event_shape
        if values.shape != expected:
            raise InputDataError(
                "evaluate", f"values of shape {tuple(expected)} for {len(indices)} draws", tuple(values.shape)
            )
        return values

    # ---------------------------------------------------------------- transforms
    def affine(self, weights: Tensor, offset: float | Tensor = 0.0) -> SampleEnsemblePosterior:
        """The posterior of the scalarisation ``Y @ weights + offset`` (one output).

        Noise is taken independent across outputs, so its variance maps to
        ``sum_j weights_j^2 sigma_j^2``. This is what BoTorch's
        ``ScalarizedPosteriorTransform`` means; BoTorch only implements it for Gaussian
        posteriors.

        Args:
            weights: An `m` tensor of output weights.
            offset: The offset added to the scalarised output.

        Returns:
            A single-output :class:`SampleEnsemblePosterior` over the same draws.
        """
        m = self.event_shape[-1]
        weights = torch.as_tensor(weights, dtype=self.dtype, device=self.device)
        if weights.shape != (m,):
            raise InputDataError("weights", f"a tensor of shape ({m},)", f"shape {tuple(weights.shape)}")
        noise = None
        if self._noise is not None:
            noise = (self._noise * weights.square()).sum(dim=-1, keepdim=True)
        return SampleEnsemblePosterior(
            lambda indices: self._draws(indices) @ weights.unsqueeze(-1) + offset,
            self.num_draws,
            self.event_shape[:-1] + (1,),
            dtype=self.dtype,
            device=self.device,
            noise_variance=noise,
        )


GetSampler.register(SampleEnsemblePosterior)(normal_sampler)
