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
:func:`probtheory.plugins.fit` and records the online hyperparameter schedule.

Example:
    >>> import torch
    >>> from probtheory.plugins import fit
    >>> from probtheory.plugins.data import Minibatches
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

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from probtheory._checks import check_finite, check_inputs, check_int, check_real
from probtheory.errors import ConfigurationError, InputDataError
from probtheory.plugins.training import LossFn, TrainingCallback, TrainState, classification_loss

__all__ = ["Hyperparameter", "STNHyperparameters", "STNLinear", "STNMLP", "SelfTuning"]

#: Stages of :class:`STNHyperparameters`: ``"train"`` (weight step) or ``"hyper"`` (hyper step).
STAGES = ("train", "hyper")
_MAX_DROPOUT = 0.99  # keeps the inverted-dropout rescaling 1 / (1 - p) bounded


class STNLinear(nn.Module):
    r"""A linear layer that is an approximate best response, affine in the hyperparameter embedding.

    ``y = W_e x + b_e + (U h)[:out] * (W_h x) + (U h)[out:] * b_h`` (MacKay et al., Sec. 4.2).

    Args:
        in_features: Input dimension ``d_in``.
        out_features: Output dimension ``d_out``.
        num_hyperparameters: Dimension ``n_h`` of the hypernet input ``h``.
        hnet_std: Standard deviation of ``U``'s Gaussian initialisation (reference code: 0.01).
    """

    def __init__(
        self, in_features: int, out_features: int, num_hyperparameters: int, *, hnet_std: float = 0.01
    ) -> None:
        super().__init__()
        self.in_features = check_int("in_features", in_features, minimum=1)
        self.out_features = check_int("out_features", out_features, minimum=1)
        self.num_hyperparameters = check_int("num_hyperparameters", num_hyperparameters, minimum=1)
        hnet_std = check_real("hnet_std", hnet_std, nonnegative=True)
        self.elementary = nn.Linear(in_features, out_features)
        self.response = nn.Linear(in_features, out_features)  # W_h, b_h: the hyperparameter-scaled part
        self.hnet = nn.Linear(num_hyperparameters, 2 * out_features, bias=False)  # U
        with torch.no_grad():
            self.hnet.weight.normal_(0.0, hnet_std)

    def forward(self, x: Tensor, h: Tensor) -> Tensor:
        """Apply the layer.

        Args:
            x: A `b x d_in` tensor of inputs.
            h: A `b x n_h` tensor (one hypernet input per example) or an `n_h` tensor (shared).

        Returns:
            A `b x d_out` tensor.
        """
        check_inputs("x", x, feature_dim=self.in_features)
        check_finite("h", h)
        batch_ok = h.dim() == 1 or (h.dim() == x.dim() and h.shape[0] == x.shape[0])
        if h.shape[-1] != self.num_hyperparameters or not batch_ok:
            raise InputDataError(
                "h", f"an `n_h` or `b x n_h` tensor with n_h = {self.num_hyperparameters}", tuple(h.shape)
            )
        scales = self.hnet(h)
        weight_scale, bias_scale = scales[..., : self.out_features], scales[..., self.out_features :]
        response = weight_scale * F.linear(x, self.response.weight) + bias_scale * self.response.bias
        return self.elementary(x) + response


@dataclass(frozen=True)
class Hyperparameter:
    """One tunable hyperparameter with values in the open interval ``(low, high)``.

    Attributes:
        name: Its name (``"dropout_0"``, ``"input_noise"``).
        low: Lower end of its range.
        high: Upper end, ``> low``.
        init: Initial value, strictly inside ``(low, high)``.
    """

    name: str
    low: float
    high: float
    init: float

    def __post_init__(self) -> None:
        low, high = check_real("low", self.low), check_real("high", self.high)
        if high <= low:
            raise InputDataError("high", f"a number > low = {low}", high)
        if not low < check_real("init", self.init) < high:
            raise InputDataError("init", f"a value strictly inside ({low}, {high})", self.init)


class STNHyperparameters(nn.Module):
    r"""The unconstrained hyperparameters ``h``, their perturbation scales, and the per-example draws.

    Args:
        specs: The tuned hyperparameters (unique names).
        perturb_scale: Initial perturbation scale ``s`` of every ``h_j`` (reference code: 0.5).

    Attributes:
        unconstrained: The ``n_h`` parameter ``h``, with ``h_j = logit((init_j - low_j) / (high_j - low_j))``.
        raw_scale: The ``n_h`` parameter ``rho`` with ``s = softplus(rho)``.
        stage: ``"train"`` or ``"hyper"``, set by :class:`SelfTuning`; see :meth:`sample`.
        perturb_hyper: Whether :meth:`sample` perturbs ``h`` in the hyper stage (needed to tune ``s``).
    """

    def __init__(self, specs: Sequence[Hyperparameter], *, perturb_scale: float = 0.5) -> None:
        super().__init__()
        specs = tuple(specs)
        if not specs:
            raise InputDataError("specs", "at least one Hyperparameter", "none")
        for i, spec in enumerate(specs):
            if not isinstance(spec, Hyperparameter):
                raise InputDataError(f"specs[{i}]", "a Hyperparameter", type(spec).__name__)
        names = [spec.name for spec in specs]
        if len(set(names)) != len(names):
            raise InputDataError("specs", "unique names", names)
        perturb_scale = check_real("perturb_scale", perturb_scale, positive=True)
        self.specs = specs
        self.register_buffer("low", torch.tensor([s.low for s in specs]))
        self.register_buffer("width", torch.tensor([s.high - s.low for s in specs]))
        fractions = torch.tensor([(s.init - s.low) / (s.high - s.low) for s in specs])
        self.unconstrained = nn.Parameter(torch.logit(fractions))
        # inverse softplus: log(exp(s) - 1), written stably as s + log(1 - exp(-s))
        self.raw_scale = nn.Parameter(
            torch.full((len(specs),), perturb_scale + math.log(-math.expm1(-perturb_scale)))
        )
        self.stage = "train"
        self.perturb_hyper = True

    @property
    def names(self) -> list[str]:
        """The hyperparameters' names, in the order of the ``n_h`` coordinates."""
        return [spec.name for spec in self.specs]

    @property
    def num_hyperparameters(self) -> int:
        """``n_h``."""
        return len(self.specs)

    def scale(self) -> Tensor:
        """The `n_h` perturbation scales ``s = softplus(rho)``."""
        return F.softplus(self.raw_scale)

    def entropy(self) -> Tensor:
        r"""Entropy of the perturbation distribution ``N(h, diag(s^2))``: ``sum_j log(s_j sqrt(2 pi e))``."""
        return (self.scale().log() + 0.5 * math.log(2 * math.pi * math.e)).sum()

    def constrain(self, h: Tensor) -> Tensor:
        """Map unconstrained `... x n_h` values to hyperparameter values ``low + (high - low) sigmoid(h)``."""
        return self.low + self.width * torch.sigmoid(h)

    def values(self) -> dict[str, float]:
        """The current (unperturbed) hyperparameter values by name."""
        with torch.no_grad():
            return dict(zip(self.names, self.constrain(self.unconstrained).tolist(), strict=True))

    def scales(self) -> dict[str, float]:
        """The current perturbation scales ``s`` by name (in unconstrained units)."""
        with torch.no_grad():
            return dict(zip(self.names, self.scale().tolist(), strict=True))

    def sample(self, batch_size: int) -> Tensor:
        """One unconstrained hyperparameter vector per example: a `batch_size x n_h` tensor.

        In eval mode: ``h`` for every example (no perturbation). In the ``"train"`` stage:
        ``h + s * eps`` detached, so weight steps never move ``h`` or ``s``. In the ``"hyper"``
        stage: ``h + s * eps`` (``h`` if ``perturb_hyper`` is False), differentiable in both.
        The noise ``eps ~ N(0, I)`` comes from the global torch RNG (seeded by ``fit(seed=...)``).
        """
        batch_size = check_int("batch_size", batch_size, minimum=1)
        if self.stage not in STAGES:
            raise InputDataError("stage", f"one of {STAGES}", repr(self.stage))
        h = self.unconstrained.expand(batch_size, -1)
        if not self.training or (self.stage == "hyper" and not self.perturb_hyper):
            return h
        eps = torch.randn(h.shape, dtype=h.dtype, device=h.device)
        drawn = h + self.scale() * eps
        return drawn.detach() if self.stage == "train" else drawn


class STNMLP(nn.Module):
    """An MLP of :class:`STNLinear` layers with tuned per-layer dropout rates and input-noise std.

    The regularisers act only in the ``"train"`` stage of training mode (inverted dropout with a
    per-example rate, additive Gaussian input noise with a per-example std); the hyper stage and
    eval mode run the network without them, as the paper's validation step does.

    Args:
        in_features: Input dimension ``d``.
        hidden_sizes: Widths of the ReLU hidden layers (at least one).
        out_features: Number of outputs (logits).
        dropout: Initial dropout rate of every hidden layer's output, in (0, 1); ``None`` tunes no dropout.
        input_noise: Initial std of the input noise, in (0, ``max_input_noise``); ``None`` tunes none.
        max_input_noise: Upper end of the input-noise range.
        perturb_scale: Initial perturbation scale of :class:`STNHyperparameters`.
        hnet_std: Initialisation std of each layer's hypernet map ``U``.
        seed: Seed of the initialisation; ``None`` uses the global RNG.
    """

    def __init__(
        self,
        in_features: int,
        hidden_sizes: Sequence[int],
        out_features: int,
        *,
        dropout: float | None = 0.05,
        input_noise: float | None = 0.05,
        max_input_noise: float = 1.0,
        perturb_scale: float = 0.5,
        hnet_std: float = 0.01,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        sizes = [check_int(f"hidden_sizes[{i}]", w, minimum=1) for i, w in enumerate(hidden_sizes)]
        if not sizes:
            raise InputDataError("hidden_sizes", "at least one hidden width", "an empty sequence")
        specs = []
        if dropout is not None:
            specs += [Hyperparameter(f"dropout_{i}", 0.0, 1.0, dropout) for i in range(len(sizes))]
        if input_noise is not None:
            specs.append(Hyperparameter("input_noise", 0.0, max_input_noise, input_noise))
        if not specs:
            raise ConfigurationError("STNMLP needs at least one tuned hyperparameter: dropout or input_noise")
        self.tune_dropout, self.tune_noise = dropout is not None, input_noise is not None
        widths = [check_int("in_features", in_features, minimum=1), *sizes, out_features]
        check_int("out_features", out_features, minimum=1)
        with torch.random.fork_rng(devices=[], enabled=seed is not None):
            if seed is not None:
                torch.manual_seed(check_int("seed", seed, minimum=0))
            self.hyperparameters = STNHyperparameters(specs, perturb_scale=perturb_scale)
            self.layers = nn.ModuleList(
                STNLinear(a, b, len(specs), hnet_std=hnet_std)
                for a, b in zip(widths[:-1], widths[1:], strict=True)
            )

    def forward(self, x: Tensor) -> Tensor:
        """Logits: a `b x out_features` tensor for a `b x in_features` tensor ``x``."""
        check_inputs("x", x, feature_dim=self.layers[0].in_features)
        if x.dim() != 2:
            raise InputDataError("x", "a `b x d` tensor", tuple(x.shape))
        hp = self.hyperparameters
        h = hp.sample(x.shape[0])
        regularise = self.training and hp.stage == "train"
        values = hp.constrain(h)  # b x n_h, detached in the train stage
        if regularise and self.tune_noise:
            x = x + values[:, -1:] * torch.randn_like(x)
        for i, layer in enumerate(self.layers):
            x = layer(x, h)
            if i < len(self.layers) - 1:
                x = F.relu(x)
                if regularise and self.tune_dropout:
                    x = _dropout(x, values[:, i])
        return x


def _dropout(z: Tensor, rate: Tensor) -> Tensor:
    """Inverted dropout of a `b x w` tensor with one rate per row (a `b` tensor)."""
    keep = (1.0 - rate).clamp_min(1.0 - _MAX_DROPOUT).unsqueeze(-1)
    mask = torch.bernoulli(keep.detach().expand_as(z))
    return z * mask / keep


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
                raise InputDataError(
                    "val_data", "at least one validation batch", "an empty collection"
                ) from None

    def _record(self, val_loss: float) -> None:
        self.history.setdefault("val_loss", []).append(val_loss)
        for name, value in self.hp.values().items():
            self.history.setdefault(name, []).append(value)
        for name, value in self.hp.scales().items():
            self.history.setdefault(f"scale {name}", []).append(value)
