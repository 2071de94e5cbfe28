"""Public hypothesis strategies for networks, inputs, kernel hyperparameters and seeds.

Use them in your own test suites::

    from hypothesis import given
    from proofs_checks import strategies as pst

    @given(pst.sphere_inputs(), pst.kernel_hyperparameters())
    def test_my_kernel_is_psd(x, hp): ...

Random tensors are built from a drawn seed with a ``torch.Generator``, so an example
replays and shrinks exactly, and never depends on torch's global RNG.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from hypothesis import strategies as st

from probtheory.networks import MLP

__all__ = [
    "KernelHyperparameters",
    "NetworkInstance",
    "activations",
    "depths",
    "kernel_hyperparameters",
    "mlps",
    "network_instances",
    "psd_matrices",
    "seeds",
    "sphere_inputs",
]

#: activations with a closed-form kernel
CLOSED_FORM_ACTIVATIONS = ("relu", "erf", "abs", "leaky_relu:0.2")


def seeds() -> st.SearchStrategy[int]:
    """Seeds for ``torch.Generator().manual_seed``."""
    return st.integers(0, 2**31 - 1)


def depths(min_depth: int = 1, max_depth: int = 5) -> st.SearchStrategy[int]:
    """Numbers of hidden layers."""
    return st.integers(min_depth, max_depth)


def activations(closed_form_only: bool = True) -> st.SearchStrategy[str]:
    """Activation names accepted by :func:`probtheory.kernels.resolve_activation`."""
    names = CLOSED_FORM_ACTIVATIONS + (() if closed_form_only else ("tanh", "gelu"))
    return st.sampled_from(names)


@dataclass(frozen=True)
class KernelHyperparameters:
    """Weight and bias variances of an infinite-width kernel."""

    weight_variance: float
    bias_variance: float


def kernel_hyperparameters(
    weight_std: tuple[float, float] = (0.5, 2.5), bias_std: tuple[float, float] = (0.0, 1.0)
) -> st.SearchStrategy[KernelHyperparameters]:
    """sigma_w drawn in ``weight_std``, sigma_b in ``bias_std`` (returned as variances)."""
    finite = {"allow_nan": False, "allow_infinity": False}
    return st.builds(
        lambda sw, sb: KernelHyperparameters(sw**2, sb**2),
        st.floats(*weight_std, **finite),
        st.floats(*bias_std, **finite),
    )


@st.composite
def sphere_inputs(
    draw: st.DrawFn,
    n: tuple[int, int] = (2, 12),
    d: tuple[int, int] = (2, 6),
    radius: str = "sqrt_d",
) -> torch.Tensor:
    """An `n x d` float64 tensor of distinct points on the sphere of radius sqrt(d).

    ``radius="varied"`` rescales each point by a factor in [0.5, 2] (general norms).
    """
    rows = draw(st.integers(*n))
    dim = draw(st.integers(*d))
    g = torch.Generator().manual_seed(draw(seeds()))
    x = torch.randn(rows, dim, generator=g, dtype=torch.float64)
    x = x / x.norm(dim=-1, keepdim=True) * math.sqrt(dim)
    if radius == "varied":
        x = x * (0.5 + 1.5 * torch.rand(rows, 1, generator=g, dtype=torch.float64))
    return x


@dataclass(frozen=True)
class NetworkInstance:
    """Inputs and a fully connected architecture: what a kernel claim is checked on."""

    x: torch.Tensor
    depth: int
    activation: str
    weight_variance: float
    bias_variance: float
    seed: int

    def kernels(self, kernel_fn, depth: int | None = None):
        """Call ``kernel_fn`` (signature of :func:`probtheory.kernels.nngp_and_ntk`) on this instance."""
        return kernel_fn(
            self.x,
            depth=self.depth if depth is None else depth,
            activation=self.activation,
            weight_variance=self.weight_variance,
            bias_variance=self.bias_variance,
        )

    def mlp(self, hidden_widths, **kwargs) -> MLP:
        """A finite :class:`~probtheory.networks.MLP` with this instance's activation and variances."""
        return MLP(
            self.x.shape[-1],
            hidden_widths,
            activation=self.activation,
            weight_variance=self.weight_variance,
            bias_variance=self.bias_variance,
            **kwargs,
        )


def network_instances(
    inputs: st.SearchStrategy[torch.Tensor] | None = None,
    depth: st.SearchStrategy[int] | None = None,
    activation: st.SearchStrategy[str] | None = None,
    hyperparameters: st.SearchStrategy[KernelHyperparameters] | None = None,
) -> st.SearchStrategy[NetworkInstance]:
    """Inputs, depth, activation, variances and a seed (defaults: the strategies above)."""
    return st.builds(
        lambda x, d, act, hp, seed: NetworkInstance(x, d, act, hp.weight_variance, hp.bias_variance, seed),
        inputs if inputs is not None else sphere_inputs(),
        depth if depth is not None else depths(),
        activation if activation is not None else activations(),
        hyperparameters if hyperparameters is not None else kernel_hyperparameters(),
        seeds(),
    )


@st.composite
def psd_matrices(draw: st.DrawFn, n: tuple[int, int] = (1, 8), rank: int | None = None) -> torch.Tensor:
    """A symmetric PSD `n x n` float64 matrix ``A A^T`` (of the given rank if set)."""
    size = draw(st.integers(*n))
    g = torch.Generator().manual_seed(draw(seeds()))
    a = torch.randn(size, rank or size, generator=g, dtype=torch.float64)
    return a @ a.T


@st.composite
def mlps(
    draw: st.DrawFn,
    in_features: tuple[int, int] = (1, 6),
    width: int = 16,
    depth: tuple[int, int] = (1, 3),
    parameterization: str = "ntk",
) -> MLP:
    """A randomly initialised :class:`~probtheory.networks.MLP` of fixed hidden width.

    Widths are not drawn: tolerances of width-dependent checks depend on them.
    """
    hp = draw(kernel_hyperparameters())
    return MLP(
        draw(st.integers(*in_features)),
        [width] * draw(st.integers(*depth)),
        activation=draw(activations(closed_form_only=False)),
        weight_variance=hp.weight_variance,
        bias_variance=hp.bias_variance,
        parameterization=parameterization,
        seed=draw(seeds()),
    )
