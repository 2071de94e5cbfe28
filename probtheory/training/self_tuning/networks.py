r"""Self-Tuning Network layers and models: best responses affine in the hyperparameter embedding.

MacKay, Vicol, Lorraine, Duvenaud & Grosse, "Self-Tuning Networks: Bilevel Optimization of
Hyperparameters using Structured Best-Response Functions" (ICLR 2019; code
asteroidhouse/self-tuning-networks), Sec. 4.2: every layer *is* an approximate best response,
affine in an embedding of the hyperparameters; with :math:`\tilde h` the hypernet input and
:math:`U` a bias-free linear map to :math:`2\,d_{out}` scales,

.. math::
    y = W_e x + b_e + (U \tilde h)_{1:d_{out}} \odot (W_h x) + (U \tilde h)_{d_{out}+1:2d_{out}} \odot b_h
    \qquad (U_{ij} \sim \mathcal N(0, 0.01^2)\text{ at initialisation}).

:class:`STNLinear` is the layer and :class:`STNMLP` an MLP of them whose per-layer dropout
rates and input-noise std are tuned (the hyperparameters are
:class:`~probtheory.training.self_tuning.hyperparameters.STNHyperparameters`; the callback that
tunes them is :class:`~probtheory.training.self_tuning.SelfTuning`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from probtheory._checks import check_finite, check_inputs, check_int, check_interval, check_real
from probtheory.errors import ConfigurationError, InputDataError
from probtheory.training.self_tuning.hyperparameters import Hyperparameter, STNHyperparameters

__all__ = ["STNLinear", "STNMLP"]

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
        if isinstance(hidden_sizes, (str, bytes)) or not isinstance(hidden_sizes, Sequence):
            raise InputDataError(
                "hidden_sizes", "a sequence of hidden widths, e.g. [64] for one layer", repr(hidden_sizes)
            )
        if dropout is not None:
            check_interval(
                "dropout", dropout, 0.0, 1.0, closed=(False, False), meaning="an initial dropout rate"
            )
        max_input_noise = check_real("max_input_noise", max_input_noise, positive=True)
        if input_noise is not None:
            check_interval(
                "input_noise", input_noise, 0.0, max_input_noise, closed=(False, False),
                meaning="an initial input-noise std (below max_input_noise)",
            )  # fmt: skip
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
