r"""Self-Tuning Networks (STN): hyperparameters tuned online by a structured best-response approximation.

MacKay, Vicol, Lorraine, Duvenaud & Grosse, "Self-Tuning Networks: Bilevel Optimization of
Hyperparameters using Structured Best-Response Functions" (ICLR 2019; code
asteroidhouse/self-tuning-networks). The bilevel problem
:math:`\min_\lambda L_V(\lambda, w^*(\lambda))`, :math:`w^*(\lambda) = \arg\min_w L_T(\lambda, w)`
is made tractable by letting every layer *be* an approximate best response, affine in an
embedding of the hyperparameters (Sec. 4.2): with :math:`\tilde h` the hypernet input
and :math:`U` a bias-free linear map to :math:`2\,d_{out}` scales,

.. math::
    y = W_e x + b_e + (U \tilde h)_{1:d_{out}} \odot (W_h x) + (U \tilde h)_{d_{out}+1:2d_{out}} \odot b_h
    \qquad (U_{ij} \sim \mathcal N(0, 0.01^2)\text{ at initialisation}).

Hyperparameters are unconstrained :math:`h \in \mathbb R^{n_h}` (here :math:`\tilde h = h`),
mapped to their range by :math:`\lambda = \text{low} + (\text{high} - \text{low})\,\sigma(h)`,
and perturbed per example, :math:`h_b = h + s \odot \varepsilon`, with the learned scale
:math:`s = \operatorname{softplus}(\rho)` and entropy
:math:`H = \sum_j \log(s_j \sqrt{2\pi e})` (Sec. 4.3). Training alternates (Algorithm 1):

* ``T_train`` weight steps on :math:`L_T(\lambda(h_b), w) - \tau H` with perturbed, *detached*
  :math:`h_b` and the regularisers (dropout, input noise) applied at :math:`\lambda(h_b)`;
* ``T_val`` hyper steps on :math:`L_V - \tau H` with the regularisers off, updating only
  :math:`h` and :math:`\rho` (Adam); :math:`h` receives the validation gradient only through
  the hypernet path :math:`U \tilde h` and :math:`\rho` also through the entropy term.

:class:`STNLinear` is the layer, :class:`STNHyperparameters` holds :math:`h, \rho` and draws
:math:`h_b`, :class:`STNMLP` is an MLP whose per-layer dropout rates and input-noise std are
tuned, and :class:`SelfTuning` is the callback that runs the hyper steps inside
:func:`probtheory.plugins.fit` and records the online hyperparameter schedule. The layer and the
MLP live in :mod:`probtheory.training.self_tuning.networks`, the hyperparameters in
:mod:`probtheory.training.self_tuning.hyperparameters`; this module holds the callback.

Example:
    >>> import torch
    >>> from probtheory.plugins import fit
    >>> from probtheory.training.minibatches import Minibatches
    >>> from probtheory.training.self_tuning.networks import STNMLP
    >>> g = torch.Generator().manual_seed(0)
    >>> x, y = torch.randn(96, 4, generator=g), torch.randint(0, 3, (96,), generator=g)
    >>> net = STNMLP(4, (16,), 3, seed=0)
    >>> stn = SelfTuning(net.hyperparameters, Minibatches(x[64:], y[64:], batch_size=16), hyper_lr=0.01)
    >>> _ = fit(net, Minibatches(x[:64], y[:64], batch_size=16), epochs=3, callbacks=[stn], seed=0,
    ...         progress=False)
    >>> len(stn.history["step"]), sorted(net.hyperparameters.values())  # 12 steps, hyper step every 2
    (6, ['dropout_0', 'input_noise'])
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import torch
from torch import Tensor, nn

from probtheory._checks import check_int, check_real
from probtheory.errors import ConfigurationError, InputDataError
from probtheory.training.loop import LossFn, TrainingCallback, TrainState, classification_loss
from probtheory.training.minibatches import check_batches
from probtheory.training.self_tuning.hyperparameters import STNHyperparameters

__all__ = ["SelfTuning"]


class SelfTuning(TrainingCallback):
    """The STN callback for :func:`probtheory.plugins.fit`: alternating weight and hyper steps.

    ``fit``'s own steps are the weight steps (its optimizer should hold the model weights; it
    never moves ``h`` or ``s``, whose training-stage draws are detached). After ``warmup_steps``
    weight steps, every ``train_steps`` weight steps this callback takes ``val_steps`` hyper
    steps: on the next validation batch it computes ``loss(model, batch) - entropy_weight * H``
    with the hyperparameters in the ``"hyper"`` stage and steps its own Adam on ``h`` (and on
    ``rho`` if ``tune_scales``). Model weights get gradients from this loss but are not updated.

    Args:
        hyperparameters: The model's :class:`STNHyperparameters` (a submodule of the trained model).
        val_data: Re-iterable validation batches (cycled).
        train_steps: ``T_train``, weight steps between hyper phases (reference: 2).
        val_steps: ``T_val``, hyper steps per phase (reference: 1).
        hyper_lr: Adam learning rate of ``h`` (reference: 3e-3).
        scale_lr: Adam learning rate of ``rho`` (reference: 3e-3).
        entropy_weight: ``tau`` (reference: 1e-5).
        tune_scales: Perturb ``h`` in the hyper step and tune ``rho``; otherwise ``s`` stays fixed.
        warmup_steps: Weight steps before the first hyper step (reference: about 5 epochs).
        loss: ``loss(model, batch) -> scalar``, the validation loss; default cross-entropy.

    Attributes:
        history: The online schedule: ``"step"`` (weight steps so far at each hyper step),
            ``"val_loss"``, every hyperparameter's value and ``"scale <name>"`` after each hyper step.
        hyper_steps: Hyper steps taken.
    """

    def __init__(
        self,
        hyperparameters: STNHyperparameters,
        val_data: Iterable[Any],
        *,
        train_steps: int = 2,
        val_steps: int = 1,
        hyper_lr: float = 3e-3,
        scale_lr: float = 3e-3,
        entropy_weight: float = 1e-5,
        tune_scales: bool = True,
        warmup_steps: int = 0,
        loss: LossFn = classification_loss,
    ) -> None:
        if not isinstance(hyperparameters, STNHyperparameters):
            raise InputDataError(
                "hyperparameters", "an STNHyperparameters module", type(hyperparameters).__name__
            )
        if not callable(loss):
            raise InputDataError("loss", "a callable loss(model, batch)", type(loss).__name__)
        self._val_source = check_batches("val_data", val_data)
        self.hp, self.val_data, self.loss = hyperparameters, val_data, loss
        self.train_steps = check_int("train_steps", train_steps, minimum=1)
        self.val_steps = check_int("val_steps", val_steps, minimum=1)
        self.warmup_steps = check_int("warmup_steps", warmup_steps, minimum=0)
        self.entropy_weight = check_real("entropy_weight", entropy_weight, nonnegative=True)
        self.tune_scales = bool(tune_scales)
        groups = [
            {"params": [hyperparameters.unconstrained], "lr": check_real("hyper_lr", hyper_lr, positive=True)}
        ]
        scale_lr = check_real("scale_lr", scale_lr, positive=True)
        if self.tune_scales:
            groups.append({"params": [hyperparameters.raw_scale], "lr": scale_lr})
        self.optimizer = torch.optim.Adam(groups)
        self.hyper_steps = 0
        self.history: dict[str, list[float]] = {}
        self._val_iter: Iterator[Any] | None = None

    def on_fit_start(self, state: TrainState) -> None:
        """Check that the hyperparameters belong to the model and start the validation stream."""
        if not any(module is self.hp for module in state.model.modules()):
            raise ConfigurationError(
                "SelfTuning: `hyperparameters` must be a submodule of the model given to fit(), "
                "so that the model's forward pass reads them"
            )
        self.hp.stage = "train"
        self.hp.perturb_hyper = self.tune_scales
        self._val_iter = iter(self.val_data)

    def on_step_end(self, state: TrainState) -> None:
        """After every ``train_steps``-th weight step past the warm-up, take ``val_steps`` hyper steps."""
        since = state.step - self.warmup_steps
        if since <= 0 or since % self.train_steps:
            return
        for _ in range(self.val_steps):
            self.hyper_step(state.model)
            self.history.setdefault("step", []).append(float(state.step))

    def hyper_step(self, model: nn.Module) -> float:
        """One step of ``h`` (and ``rho``) on the next validation batch; returns the validation loss."""
        batch = self._next_val_batch()
        self.hp.stage = "hyper"
        try:
            val_loss = self.loss(model, batch)
        finally:
            self.hp.stage = "train"
        if not isinstance(val_loss, Tensor) or val_loss.numel() != 1 or not torch.isfinite(val_loss):
            raise InputDataError("loss", "a finite scalar tensor on the validation batch", val_loss)
        objective = val_loss - self.entropy_weight * self.hp.entropy()
        self.optimizer.zero_grad(set_to_none=True)
        objective.backward()
        self.optimizer.step()
        model.zero_grad(set_to_none=True)  # the weights' validation gradients must not leak into fit's step
        self.hyper_steps += 1
        self._record(float(val_loss.detach()))
        return float(val_loss.detach())

    def on_epoch_end(self, state: TrainState) -> None:
        """Append the current hyperparameter values to ``state.logs`` (keys ``"stn <name>"``)."""
        for name, value in self.hp.values().items():
            state.logs.setdefault(f"stn {name}", []).append(value)

    def on_fit_end(self, state: TrainState) -> None:
        """Leave the hyperparameters in the training stage."""
        self.hp.stage = "train"

    def _next_val_batch(self) -> Any:
        if self._val_iter is None:
            self._val_iter = iter(self.val_data)
        try:
            return next(self._val_iter)
        except StopIteration:
            self._val_iter = iter(self.val_data)
            try:
                return next(self._val_iter)
            except StopIteration:
                received = (
                    "a one-shot iterator, used up (cycling needs a collection or an endless stream)"
                    if self._val_source.one_shot
                    else "a collection that yields no batch"
                )
                raise InputDataError("val_data", "validation batches to cycle through", received) from None

    def _record(self, val_loss: float) -> None:
        self.history.setdefault("val_loss", []).append(val_loss)
        for name, value in self.hp.values().items():
            self.history.setdefault(name, []).append(value)
        for name, value in self.hp.scales().items():
            self.history.setdefault(f"scale {name}", []).append(value)
