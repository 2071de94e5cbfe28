r"""Error regression: online recognition and prediction with a trained PV-RNN.

Ahmadi & Tani (2019, Sec. 2.3) and the reference code of the same lab (Idei et al.,
h-idei/pvrnn_sa, ``test/example/error_regression.py``).

The weights are frozen. At each time step t the last ``window`` observations are kept, and only
the adaptive vectors :math:`A` inside the window are free:

1. slide the window: the oldest vector leaves it (its step is committed: the network state at
   the window's start advances one step with z = its posterior mean), and a new vector for
   step t is appended, initialised to the prior computed at the previous prediction;
2. run ``iterations`` Adam steps on the window's loss (reconstruction over the window plus the
   meta-prior-weighted KL, z drawn from the posterior by reparameterisation), gradients into
   :math:`A` only;
3. predict :math:`x_{t+1}`: run the window with z = the posterior means, then one step beyond
   it with z = the prior mean.

The one-step prediction error of this procedure is compared with the *open-loop* prior
prediction, which runs the generative model from t = 1 with z = the prior means and never
sees an observation.

Example::

    from probtheory.recurrent.data import pattern_switching_sequences
    from probtheory.recurrent.error_regression import ErrorRegression
    from probtheory.recurrent.pvrnn import PVRNN
    from probtheory.recurrent.pvrnn_layer_config import PVRNNLayerConfig

    model = PVRNN(2, [PVRNNLayerConfig(16, 2, 2.0, w=0.01)], seed=0)
    model.fit(pattern_switching_sequences(8, 40, seed=0).values, epochs=50, lr=0.01, seed=0,
              progress=False)
    held_out = pattern_switching_sequences(2, 30, seed=1).values
    er = ErrorRegression(model, window=5, iterations=10, seed=0)
    result = er.run(held_out, progress=False)      # result.errors: 2 x 30
    baseline = er.open_loop(held_out)              # the prior's open-loop prediction
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import Tensor
from tqdm.auto import tqdm

from probtheory._checks import check_finite, check_int, check_real, make_generator
from probtheory.errors import InputDataError
from probtheory.recurrent.pvrnn import PVRNN

__all__ = ["ErrorRegression", "ErrorRegressionResult"]

# atanh of the prior mean used to initialise a new adaptive vector: keep it finite
_ATANH_LIMIT = 1 - 1e-6


@dataclass
class ErrorRegressionResult:
    """Online predictions and their errors.

    Attributes:
        predictions: An `n x T x D` tensor; ``predictions[:, t]`` was made from the observations
            before t only (``predictions[:, 0]`` is the prior's first output).
        errors: An `n x T` tensor of squared errors averaged over the D coordinates.
        window_loss: An `n x T` tensor: the window loss after the last iteration at each step.
        seconds_per_step: Mean wall time of one step (window optimisation plus prediction).
        completed_steps: Steps processed (< T only when interrupted).
    """

    predictions: Tensor
    errors: Tensor
    window_loss: Tensor
    seconds_per_step: float
    completed_steps: int


class ErrorRegression:
    """Online recognition and one-step prediction by error regression over a sliding window.

    Args:
        model: A trained :class:`~probtheory.recurrent.pvrnn.PVRNN` (its weights are not changed).
        window: Number of past observations whose adaptive vectors are optimised (>= 1).
        iterations: Adam iterations per time step (>= 1).
        lr: Adam learning rate of the adaptive vectors (0.09 in the reference code).
        first_iterations: Iterations at the first step (None: ``iterations``).
        seed: Seed of the posterior draws (None: nondeterministic).
    """

    def __init__(
        self,
        model: PVRNN,
        window: int = 10,
        iterations: int = 30,
        lr: float = 0.09,
        first_iterations: int | None = None,
        seed: int | None = None,
    ) -> None:
        if not isinstance(model, PVRNN):
            raise InputDataError("model", "a PVRNN", type(model).__name__)
        self.model = model
        self.window = check_int("window", window, minimum=1)
        self.iterations = check_int("iterations", iterations, minimum=1)
        self.lr = check_real("lr", lr, positive=True)
        self.first_iterations = (
            self.iterations
            if first_iterations is None
            else check_int("first_iterations", first_iterations, minimum=1)
        )
        self.seed = None if seed is None else check_int("seed", seed, minimum=0)

    def _check_observations(self, observations: Tensor) -> Tensor:
        check_finite("observations", observations)
        if observations.dim() == 2:
            observations = observations.unsqueeze(0)
        if observations.dim() != 3 or observations.shape[-1] != self.model.output_dim:
            raise InputDataError(
                "observations",
                f"a `T x D` or `n x T x D` tensor with D = {self.model.output_dim}",
                f"shape {tuple(observations.shape)}",
            )
        if observations.shape[0] == 0 or observations.shape[1] == 0:
            raise InputDataError(
                "observations",
                "at least one sequence of at least one step",
                f"shape {tuple(observations.shape)}",
            )
        return observations.to(self.model.dtype)

    @torch.no_grad()
    def open_loop(self, observations: Tensor) -> tuple[Tensor, Tensor]:
        """The open-loop prior prediction (z = prior means from t = 1) and its errors.

        Args:
            observations: A `T x D` or `n x T x D` tensor.

        Returns:
            `(predictions, errors)`: `n x T x D` and `n x T` (squared error averaged over D).
        """
        x = self._check_observations(observations)
        pred = self.model.generate(x.shape[0], x.shape[1], noise="mean")
        dtype = observations.dtype
        return pred.to(dtype), (pred - x).square().mean(-1).to(dtype)

    def _init_vectors(self, prior: list[tuple[Tensor, Tensor]]) -> list[Tensor]:
        """Adaptive vectors `n x 1 x 2 z` whose posterior equals the given prior `(mu, sigma)`."""
        return [
            torch.cat([torch.atanh(mu.clamp(-_ATANH_LIMIT, _ATANH_LIMIT)), sigma.log()], -1).unsqueeze(1)
            for mu, sigma in prior
        ]

    def run(self, observations: Tensor, progress: bool = True) -> ErrorRegressionResult:
        """Feed the observations one step at a time, predicting each from its past.

        Args:
            observations: A `T x D` or `n x T x D` tensor (n sequences processed side by side;
                their adaptive vectors are independent).
            progress: Show a tqdm bar over the time steps.

        Returns:
            The :class:`ErrorRegressionResult` (a KeyboardInterrupt returns the steps done), its
            tensors in the dtype of ``observations`` (computed in the model's dtype).
        """
        model = self.model
        x = self._check_observations(observations)
        n, T, D = x.shape
        g = make_generator(self.seed)
        predictions = torch.zeros(n, T, D, dtype=model.dtype)
        window_loss = torch.full((n, T), float("nan"), dtype=model.dtype)
        committed = model.initial_state(n)  # state before the window's first step
        committed_at_start = True
        with torch.no_grad():
            first = model.unroll(1, n=n, noise="mean")
        predictions[:, 0] = first.outputs[:, 0]
        next_prior = [(mu[:, 0], sigma[:, 0]) for mu, sigma in first.prior]
        A = [v.new_zeros(n, 0, v.shape[-1] * 2) for v, _ in next_prior]
        done, start = 0, time.perf_counter()
        with tqdm(total=T, disable=not progress, desc="ErrorRegression") as bar:
            try:
                for t in range(T):
                    A = [
                        torch.cat([a, new], 1)
                        for a, new in zip(A, self._init_vectors(next_prior), strict=True)
                    ]
                    if A[0].shape[1] > self.window:  # commit the oldest step and slide
                        with torch.no_grad():
                            oldest = [a[:, :1] for a in A]
                            committed = model.unroll(
                                1, A=oldest, state=committed, at_start=committed_at_start, noise="mean"
                            ).state
                        committed_at_start = False
                        A = [a[:, 1:] for a in A]
                    iterations = self.first_iterations if t == 0 else self.iterations
                    seen_x = x[:, t + 1 - A[0].shape[1] : t + 1]
                    A = self._optimise(seen_x, A, committed, committed_at_start, iterations, g)
                    window_loss[:, t] = self._last_loss
                    if t + 1 < T:
                        with torch.no_grad():
                            seen = model.unroll(
                                A[0].shape[1], A=A, state=committed, at_start=committed_at_start, noise="mean"
                            )
                            ahead = model.unroll(1, state=seen.state, at_start=False, noise="mean")
                        predictions[:, t + 1] = ahead.outputs[:, 0]
                        next_prior = [(mu[:, 0], sigma[:, 0]) for mu, sigma in ahead.prior]
                    done = t + 1
                    bar.update()
            except KeyboardInterrupt:
                pass
        seconds = (time.perf_counter() - start) / max(done, 1)
        errors = (predictions - x).square().mean(-1)
        dtype = observations.dtype  # the package's dtype policy: results in the input's dtype
        return ErrorRegressionResult(
            predictions[:, :done].to(dtype),
            errors[:, :done].to(dtype),
            window_loss[:, :done].to(dtype),
            seconds,
            done,
        )

    def _optimise(
        self,
        x: Tensor,
        A: list[Tensor],
        state: list[tuple[Tensor, Tensor]],
        at_start: bool,
        iterations: int,
        generator: torch.Generator,
    ) -> list[Tensor]:
        """Adam on the window's adaptive vectors only (the weights get no gradient)."""
        A = [a.detach().clone().requires_grad_(True) for a in A]
        optimizer = torch.optim.Adam(A, lr=self.lr)
        for _ in range(iterations):
            result = self.model.unroll(x.shape[1], A=A, state=state, at_start=at_start, generator=generator)
            per_sequence = self.model.loss(x, result, at_start=at_start)
            grads = torch.autograd.grad(per_sequence.sum(), A)
            for a, grad in zip(A, grads, strict=True):
                a.grad = grad
            optimizer.step()
            self._last_loss = per_sequence.detach()
        return [a.detach() for a in A]
