"""Finite fully connected networks: the objects the theory claims are checked on.

Their infinite-width limits are the kernels of :mod:`probtheory.kernels`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from probtheory._checks import check_int, check_real, match_parameter_dtype
from probtheory.errors import InputDataError
from probtheory.kernels.activations import Activation, resolve_activation
from probtheory.networks.parameterization import (
    LayerScaling,
    Parameterization,
    resolve_parameterization,
)

__all__ = ["MLP"]


class MLP(nn.Module):
    r"""A fully connected network ``Dense -> activation -> ... -> Dense``, abc-parameterised.

    Each layer computes ``h = weight_multiplier * x @ w + bias_multiplier * b`` with trainable
    ``w ~ N(0, weight_std^2)``, ``b ~ N(0, bias_std^2)``, the scalings given by the
    ``parameterization`` (see :mod:`probtheory.networks.parameterization`). With
    ``parameterization="ntk"`` this is neural-tangents' ``stax.Dense(W_std, b_std)`` network,
    whose NNGP and NTK are :class:`~probtheory.kernels.NNGPKernel` and
    :class:`~probtheory.kernels.NTKKernel` with the same depth and variances.

    With ``num_networks=E`` the module holds ``E`` independent networks evaluated in one
    batched matmul (for Monte-Carlo estimates); inputs `n x d` then give outputs
    `E x n x out_features`.

    Example:
        >>> import torch
        >>> from probtheory.networks import MLP
        >>> net = MLP(3, [512, 512], activation="relu", weight_variance=2.0, seed=0)
        >>> net(torch.randn(4, 3, dtype=torch.float64)).shape
        torch.Size([4, 1])
    """

    def __init__(
        self,
        in_features: int,
        hidden_widths: Sequence[int],
        out_features: int = 1,
        *,
        activation: str | Activation | Callable[[Tensor], Tensor] = "relu",
        weight_variance: float = 2.0,
        bias_variance: float = 0.0,
        parameterization: str | Parameterization = "ntk",
        num_networks: int | None = None,
        seed: int | None = None,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float64,
    ) -> None:
        """Create and initialise the network(s).

        Args:
            in_features: Input dimension d.
            hidden_widths: Width of each hidden layer (its length is the depth L >= 0).
            out_features: Output dimension.
            activation: As for :class:`~probtheory.kernels.NNGPKernel`.
            weight_variance: sigma_w^2 > 0.
            bias_variance: sigma_b^2 >= 0.
            parameterization: ``"ntk"``, ``"standard"``, ``"mup"`` or a callable.
            num_networks: If given, hold this many independent networks.
            seed: Seed of the initialisation (ignored when ``generator`` is given).
            generator: Generator for the initialisation.
            dtype: Parameter dtype.
        """
        super().__init__()
        widths = [check_int("in_features", in_features, minimum=1)]
        if isinstance(hidden_widths, str | bytes) or not isinstance(hidden_widths, Sequence):
            raise InputDataError(
                "hidden_widths", "a sequence of widths (e.g. [512, 512])", repr(hidden_widths)
            )
        widths += [check_int(f"hidden_widths[{i}]", w, minimum=1) for i, w in enumerate(hidden_widths)]
        widths.append(check_int("out_features", out_features, minimum=1))
        sigma_w = math.sqrt(check_real("weight_variance", weight_variance, positive=True))
        sigma_b = math.sqrt(check_real("bias_variance", bias_variance, nonnegative=True))
        self.activation = resolve_activation(activation)
        self.num_networks = (
            None if num_networks is None else check_int("num_networks", num_networks, minimum=1)
        )
        scaling_of = resolve_parameterization(parameterization)
        if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
            raise InputDataError(
                "dtype", "a floating torch.dtype (torch.float64 or torch.float32)", repr(dtype)
            )
        if generator is not None and not isinstance(generator, torch.Generator):
            raise InputDataError("generator", "a torch.Generator", type(generator).__name__)
        if generator is None:
            # seed None draws the seed from the global generator (reproducible under torch.manual_seed)
            seed = int(torch.randint(2**62, ())) if seed is None else check_int("seed", seed, minimum=0)
            generator = torch.Generator().manual_seed(seed)
        lead = () if self.num_networks is None else (self.num_networks,)
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        multipliers = []
        last = len(widths) - 2
        for index, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
            kind = "input" if index == 0 else "readout" if index == last else "hidden"
            if index == 0 and index == last:
                kind = "readout"  # depth 0: a single readout layer on the inputs
            s = _check_scaling(scaling_of(kind, fan_in, fan_out, sigma_w, sigma_b))
            w = torch.randn(*lead, fan_in, fan_out, generator=generator, dtype=dtype) * s.weight_std
            b = torch.randn(*lead, 1, fan_out, generator=generator, dtype=dtype) * s.bias_std
            self.weights.append(nn.Parameter(w))
            self.biases.append(nn.Parameter(b))
            multipliers.append((s.weight_multiplier, s.bias_multiplier))
        self.multipliers = multipliers

    @property
    def depth(self) -> int:
        """Number of hidden layers."""
        return len(self.weights) - 1

    def forward(self, x: Tensor, return_preactivations: bool = False) -> Tensor | tuple[Tensor, list]:
        """Evaluate the network(s).

        dtype policy (the package's, for every module with weights): the network computes in
        its parameter dtype; a floating input of another dtype is converted to it and the
        results are returned in the input's dtype. Non-floating inputs raise InputDataError.

        Args:
            x: An `n x d` floating tensor of inputs.
            return_preactivations: Also return the hidden pre-activations ``[h^1, ..., h^L]``.

        Returns:
            Outputs of shape `n x out_features` (or `E x n x out_features` for an ensemble),
            and optionally the list of pre-activations of the same leading shape, in the dtype
            of `x`.
        """
        d = self.weights[0].shape[-2]
        h = match_parameter_dtype("x", x, self.weights[0].dtype)
        if x.dim() < 1 or x.shape[-1] != d:
            raise InputDataError("x", f"a `n x {d}` tensor", f"shape {tuple(x.shape)}")
        preactivations = []
        for index, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            w_mult, b_mult = self.multipliers[index]
            h = w_mult * (h @ w) + b_mult * b
            if index < self.depth:
                preactivations.append(h.to(x.dtype))
                h = self.activation(h)
        h = h.to(x.dtype)
        return (h, preactivations) if return_preactivations else h


def _check_scaling(scaling: object) -> LayerScaling:
    """A parameterization's output must be a LayerScaling (whose values are checked when built)."""
    if not isinstance(scaling, LayerScaling):
        raise InputDataError(
            "parameterization", "a callable returning a LayerScaling", type(scaling).__name__
        )
    return scaling
