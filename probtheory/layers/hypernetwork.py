r"""Hypernetworks with magnitude invariant parametrizations (MIP).

A hypernetwork :math:`H` maps a conditioning input :math:`\gamma \in [0, 1]^h` (e.g. a
regularisation strength) to all weights :math:`\theta(\gamma)` of a primary network. Ortiz,
Guttag & Dalca, "Magnitude Invariant Parametrizations Improve Hypernetwork Learning" (ICLR 2024;
code JJGO/hyperlight) observe that with the raw input the *magnitude* of the generated weights
scales with :math:`\lVert\gamma\rVert`, which makes training unstable, and fix it with two changes:

* **input encoding** :math:`E(\gamma) = [\cos(\pi\gamma/2), \sin(\pi\gamma/2)]`, whose norm
  :math:`\sqrt h` does not depend on :math:`\gamma`;
* **additive output** :math:`\theta(\gamma) = \theta_0 + H(E(\gamma))`, with :math:`\theta_0`
  independent primary weights in their standard initialisation (the bias of the hypernetwork's
  last layer).

With a bias-free (at initialisation) LeakyReLU backbone and Gaussian (Kaiming-normal) weights,
the distribution of :math:`H(z)` over initialisations depends on :math:`z` only through
:math:`\lVert z\rVert` (the first layer's Gaussian matrix is rotation invariant), so with the
encoding the distribution of the generated weights is the same for every :math:`\gamma` -- the
claim ``mip.magnitude_invariance`` checks exactly that.

Example:
    >>> import torch
    >>> from torch import nn
    >>> primary = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    >>> hyper = HyperNetwork(primary, input_dim=1, hidden_sizes=(16, 16), seed=0)
    >>> out = hyper(torch.tensor([0.3]), torch.randn(5, 4))  # primary(x; theta(0.3))
    >>> out.shape
    torch.Size([5, 2])
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.func import functional_call

from probtheory._checks import check_finite, check_floating, check_int, check_name, match_parameter_dtype
from probtheory.errors import InputDataError

__all__ = ["ENCODINGS", "HyperNetwork", "encode_input"]

#: ``"cos|sin"``: MIP's constant-norm encoding; ``"identity"``: the raw input (the default parametrization).
ENCODINGS = ("cos|sin", "identity")


def encode_input(gamma: Tensor, encoding: str = "cos|sin") -> Tensor:
    r"""Encode `... x h` inputs in [0, 1]: ``cos|sin`` gives `... x 2h` of norm :math:`\sqrt h`."""
    check_name("encoding", encoding, ENCODINGS, meaning="an input encoding")
    check_floating("gamma", gamma)
    if encoding == "identity":
        return gamma
    angle = (math.pi / 2) * gamma
    return torch.cat([torch.cos(angle), torch.sin(angle)], dim=-1)


class HyperNetwork(nn.Module):
    """A hypernetwork generating every parameter of a primary network from a conditioning input.

    Args:
        primary: The primary network (its parameters define the output shapes; its current
            values are the independent weights theta_0 when ``residual``). It is not trained
            itself: its parameters are replaced functionally.
        input_dim: Dimension h of the conditioning input gamma in [0, 1]^h.
        hidden_sizes: Widths of the hypernetwork's LeakyReLU backbone.
        encoding: ``"cos|sin"`` (MIP) or ``"identity"``.
        residual: Generate theta_0 + H(E(gamma)) with theta_0 the last layer's bias initialised to
            the primary's weights (MIP); otherwise theta = H(E(gamma)).
        init: ``"kaiming-normal"`` (fan-out, zero biases; MIP) or ``"default"`` (PyTorch's
            ``nn.Linear`` initialisation).
        seed: Seed of the hypernetwork's initialisation; None uses the global RNG.

    The MIP configuration is the default; ``encoding="identity", residual=False,
    init="default"`` is the conventional parametrization the paper compares against.
    """

    def __init__(
        self,
        primary: nn.Module,
        input_dim: int,
        hidden_sizes: Sequence[int] = (64, 64),
        *,
        encoding: str = "cos|sin",
        residual: bool = True,
        init: str = "kaiming-normal",
        seed: int | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(primary, nn.Module):
            raise InputDataError("primary", "a torch.nn.Module (the primary network)", type(primary).__name__)
        self.input_dim = check_int("input_dim", input_dim, minimum=1)
        check_name("encoding", encoding, ENCODINGS, meaning="an input encoding")
        check_name("init", init, ("kaiming-normal", "default"), meaning="an initialisation")
        if isinstance(hidden_sizes, str | bytes) or not isinstance(hidden_sizes, Sequence):
            raise InputDataError("hidden_sizes", "a sequence of widths (e.g. (64, 64))", repr(hidden_sizes))
        sizes = [check_int(f"hidden_sizes[{i}]", w, minimum=1) for i, w in enumerate(hidden_sizes)]
        if seed is not None:
            seed = check_int("seed", seed, minimum=0)
        self.encoding, self.residual = encoding, bool(residual)
        self.primary = primary.requires_grad_(False)
        self._names = [name for name, _ in primary.named_parameters()]
        self._shapes = [p.shape for _, p in primary.named_parameters()]
        if not self._names:
            raise InputDataError("primary", "a module with parameters", "none")
        self._input_width = _input_width(primary)
        total = sum(math.prod(s) for s in self._shapes)
        widths = [2 * self.input_dim if encoding == "cos|sin" else self.input_dim, *sizes, total]
        layers: list[nn.Module] = []
        for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
            layers.append(nn.Linear(fan_in, fan_out))
            if i < len(widths) - 2:
                layers.append(nn.LeakyReLU())
        self.backbone = nn.Sequential(*layers)
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        with torch.no_grad():
            for layer in self.backbone:
                if isinstance(layer, nn.Linear):
                    if init == "kaiming-normal":
                        std = math.sqrt(2.0 / layer.out_features)  # fan-out, as in hyperlight
                        layer.weight.copy_(torch.randn(layer.weight.shape, generator=generator) * std)
                        layer.bias.zero_()
                    else:
                        bound = 1.0 / math.sqrt(layer.in_features)
                        layer.weight.copy_(
                            (torch.rand(layer.weight.shape, generator=generator) * 2 - 1) * bound
                        )
                        layer.bias.copy_((torch.rand(layer.bias.shape, generator=generator) * 2 - 1) * bound)
            last = self.backbone[-1]
            if self.residual:
                last.bias.copy_(torch.cat([p.detach().reshape(-1) for p in primary.parameters()]))

    def flat_parameters(self, gamma: Tensor) -> Tensor:
        """The generated parameters as one flat vector, for an `h` tensor ``gamma`` in [0, 1]."""
        gamma = check_finite("gamma", gamma)
        if gamma.shape != (self.input_dim,):
            raise InputDataError("gamma", f"a tensor of shape ({self.input_dim},)", tuple(gamma.shape))
        if ((gamma < 0) | (gamma > 1)).any():
            raise InputDataError("gamma", "values in [0, 1]", gamma.tolist())
        weight = self.backbone[0].weight
        return self.backbone(encode_input(gamma.to(weight), self.encoding))

    def parameters_for(self, gamma: Tensor) -> dict[str, Tensor]:
        """The primary network's parameters at ``gamma``, by name (differentiable)."""
        flat = self.flat_parameters(gamma)
        out, start = {}, 0
        for name, shape in zip(self._names, self._shapes, strict=True):
            size = math.prod(shape)
            out[name] = flat[start : start + size].reshape(shape)
            start += size
        return out

    def forward(self, gamma: Tensor, x: Tensor) -> Tensor:
        """``primary(x)`` with the parameters generated at ``gamma``.

        dtype policy (the package's, for every module with weights): the generated parameters
        have the hypernetwork's dtype; a floating ``x`` of another dtype is converted to it and
        the output is returned in the dtype of ``x``.

        Args:
            gamma: An `h` tensor in [0, 1]^h.
            x: The primary network's input, e.g. `n x d_in` for a primary starting with
                ``nn.Linear(d_in, ...)`` (the width is checked when the first layer is a Linear
                or a convolution).
        """
        params = self.parameters_for(gamma)
        inputs = match_parameter_dtype("x", x, self.backbone[0].weight.dtype)
        if self._input_width is not None:
            kind, width, axis = self._input_width
            if x.dim() < -axis or x.shape[axis] != width:
                raise InputDataError(
                    "x", f"an input with {width} {kind} along dim {axis} (the primary's first layer)",
                    f"shape {tuple(x.shape)}",
                )  # fmt: skip
        out = functional_call(self.primary, params, (inputs,))
        return out.to(x.dtype) if isinstance(out, Tensor) and out.is_floating_point() else out


def _input_width(primary: nn.Module) -> tuple[str, int, int] | None:
    """(what, size, dim) of the input the primary's first layer needs, for a Linear or a convolution.

    The first layer is the first submodule with parameters in registration order (an
    ``nn.Sequential``'s order); None when it is of another kind (no check then).
    """
    for module in primary.modules():
        if not any(True for _ in module.parameters(recurse=False)):
            continue
        if isinstance(module, nn.Linear):
            return "features", module.in_features, -1
        if isinstance(module, nn.Conv1d | nn.Conv2d | nn.Conv3d):
            spatial = {nn.Conv1d: 1, nn.Conv2d: 2, nn.Conv3d: 3}[type(module)]
            return "channels", module.in_channels, -(spatial + 1)
        return None
    return None
