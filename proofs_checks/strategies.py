"""Public hypothesis strategies for networks, inputs, kernel hyperparameters and seeds.

Use them in your own test suites::

    from hypothesis import given
    from proofs_checks import strategies as pst

    @given(pst.sphere_inputs(), pst.kernel_hyperparameters())
    def test_my_kernel_is_psd(x, hp): ...

Random tensors are built from a drawn seed with a ``torch.Generator``, so an example
replays and shrinks exactly, and never depends on torch's global RNG. Arguments are checked
when the strategy is built, not when it draws: a swapped range or an unknown option raises
:class:`probtheory.errors.InputDataError` at the ``@given`` line.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from hypothesis import strategies as st

from probtheory._checks import check_inputs, check_int, check_name, check_range, check_real
from probtheory.errors import InputDataError
from probtheory.kernels.activations import (
    ErfActivation,
    QuadratureActivation,
    SlopeReLUActivation,
    resolve_activation,
)
from probtheory.networks import MLP
from probtheory.networks.parameterization import resolve_parameterization
from proofs_checks.regimes import Regimes

__all__ = [
    "KernelHyperparameters",
    "NetworkInstance",
    "activation_cases",
    "activation_family",
    "activation_regimes",
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
#: what ``activations(closed_form_only=False)`` draws: the closed forms and two by quadrature
KERNEL_ACTIVATIONS = CLOSED_FORM_ACTIVATIONS + ("tanh", "gelu")


def seeds() -> st.SearchStrategy[int]:
    """Seeds for ``torch.Generator().manual_seed``."""
    return st.integers(0, 2**31 - 1)


def depths(min_depth: int = 1, max_depth: int = 5) -> st.SearchStrategy[int]:
    """Numbers of hidden layers, from ``min_depth >= 0`` to ``max_depth >= min_depth``."""
    min_depth = check_int("min_depth", min_depth, minimum=0)
    return st.integers(min_depth, check_int("max_depth", max_depth, minimum=min_depth))


def activations(closed_form_only: bool = True) -> st.SearchStrategy[str]:
    """Activation names accepted by :func:`probtheory.kernels.resolve_activation`."""
    if not isinstance(closed_form_only, bool):
        raise InputDataError("closed_form_only", "a bool", type(closed_form_only).__name__)
    names = CLOSED_FORM_ACTIVATIONS if closed_form_only else KERNEL_ACTIVATIONS
    return st.sampled_from(names)


# The kernels compute an activation's Gaussian expectations in one of three ways: each is a case of
# every kernel claim's regimes (a claim passing on ReLU says nothing about the quadrature path).
_FAMILIES = (
    (SlopeReLUActivation, "ReLU-type closed form"),  # relu, abs, leaky_relu: Cho & Saul's arc-cosine
    (ErfActivation, "erf closed form"),  # Williams (1997)
    (QuadratureActivation, "quadrature"),  # tanh, gelu, sigmoid, any callable: Gauss-Hermite
)


def activation_family(activation: str) -> str:
    """How the kernels compute ``activation``'s expectations: its family, a case of a claim's regimes.

    ``"ReLU-type closed form"`` (relu, abs, leaky_relu), ``"erf closed form"`` or ``"quadrature"``
    (tanh, gelu, sigmoid), read from the class :func:`probtheory.kernels.resolve_activation` returns.

    Raises:
        InputDataError: For a name outside the grammar of activations (naming ``activation``).
    """
    resolved = resolve_activation(activation)
    for cls, family in _FAMILIES:
        if isinstance(resolved, cls):
            return family
    raise InputDataError("activation", "an activation of a known family", repr(activation))


def activation_cases(names: Sequence[str], field: str = "activation") -> dict[str, dict]:
    """The families of ``names`` as cases of :class:`~proofs_checks.regimes.Regimes`.

    Each family pins the instance field ``field`` to a name of that family among ``names``.

    Raises:
        InputDataError: If ``names`` is not a non-empty sequence of activation names (a single
            string included) or ``field`` is not a string.
    """
    if isinstance(names, str) or not isinstance(names, Sequence) or not names:
        expected = "a non-empty tuple of activation names such as ('relu', 'erf', 'tanh')"
        raise InputDataError("names", expected, repr(names))
    if not isinstance(field, str):
        raise InputDataError("field", "the name of the instance's activation field", repr(field))
    by_family: dict[str, list[str]] = {}
    for name in names:
        by_family.setdefault(activation_family(name), []).append(name)
    return {family: {field: st.sampled_from(members)} for family, members in by_family.items()}


def activation_regimes(names: Sequence[str], field: str = "activation") -> Regimes:
    """The regimes of a claim whose instances name their activation in ``field`` (one of ``names``).

    Declared: the activation families among ``names``, each pinned when the draws miss it;
    counted alongside: the activations' names.

    Raises:
        InputDataError: As :func:`activation_cases`.
    """
    cases = activation_cases(names, field)
    return Regimes(
        of=lambda instance: {
            "activation family": activation_family(getattr(instance, field)),
            "activation": getattr(instance, field),
        },
        cases={"activation family": cases},
    )


@dataclass(frozen=True)
class KernelHyperparameters:
    """Weight and bias variances of an infinite-width kernel (variances, not standard deviations)."""

    weight_variance: float
    bias_variance: float

    def __post_init__(self) -> None:
        check_real("weight_variance", self.weight_variance, nonnegative=True)
        check_real("bias_variance", self.bias_variance, nonnegative=True)


def kernel_hyperparameters(
    weight_std: tuple[float, float] = (0.5, 2.5), bias_std: tuple[float, float] = (0.0, 1.0)
) -> st.SearchStrategy[KernelHyperparameters]:
    """sigma_w drawn in ``weight_std``, sigma_b in ``bias_std`` (returned as variances).

    Both are ``(low, high)`` ranges of standard deviations, ``0 <= low <= high``.
    """
    weight_std = check_range("weight_std", weight_std, minimum=0.0)
    bias_std = check_range("bias_std", bias_std, minimum=0.0)
    finite = {"allow_nan": False, "allow_infinity": False}
    return st.builds(
        lambda sw, sb: KernelHyperparameters(sw**2, sb**2),
        st.floats(*weight_std, **finite),
        st.floats(*bias_std, **finite),
    )


def sphere_inputs(
    n: tuple[int, int] = (2, 12), d: tuple[int, int] = (2, 6), radius: str = "sqrt_d"
) -> st.SearchStrategy[torch.Tensor]:
    """An `n x d` float64 tensor of distinct points on the sphere of radius sqrt(d).

    Args:
        n: Range ``(low, high)`` of the number of points, ``low >= 1``.
        d: Range of the dimension, ``low >= 1``.
        radius: ``"sqrt_d"``, or ``"varied"`` to rescale each point by a factor in [0.5, 2]
            (general norms).
    """
    n = check_range("n", n, minimum=1, integer=True)
    d = check_range("d", d, minimum=1, integer=True)
    radius = check_name("radius", radius, ("sqrt_d", "varied"), meaning="a radius mode")
    return _sphere_inputs(n, d, radius)


@st.composite
def _sphere_inputs(draw: st.DrawFn, n: tuple[int, int], d: tuple[int, int], radius: str) -> torch.Tensor:
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

    def __post_init__(self) -> None:
        check_inputs("x", self.x)
        if self.x.dim() != 2:
            raise InputDataError("x", "an `n x d` tensor", f"shape {tuple(self.x.shape)}")
        check_int("depth", self.depth, minimum=0)
        check_real("weight_variance", self.weight_variance, nonnegative=True)
        check_real("bias_variance", self.bias_variance, nonnegative=True)
        check_int("seed", self.seed, minimum=0)

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
    """Inputs, depth, activation, variances and a seed (defaults: the strategies above).

    Each argument is a hypothesis strategy (not a value: ``st.just(x)`` fixes one) or None.
    """
    given = {"inputs": inputs, "depth": depth, "activation": activation, "hyperparameters": hyperparameters}
    for name, value in given.items():
        if value is not None and not isinstance(value, st.SearchStrategy):
            expected = "a hypothesis strategy (st.just(value) for a fixed value) or None"
            raise InputDataError(name, expected, type(value).__name__)
    return st.builds(
        lambda x, d, act, hp, seed: NetworkInstance(x, d, act, hp.weight_variance, hp.bias_variance, seed),
        inputs if inputs is not None else sphere_inputs(),
        depth if depth is not None else depths(),
        activation if activation is not None else activations(),
        hyperparameters if hyperparameters is not None else kernel_hyperparameters(),
        seeds(),
    )


def psd_matrices(n: tuple[int, int] = (1, 8), rank: int | None = None) -> st.SearchStrategy[torch.Tensor]:
    """A symmetric PSD `n x n` float64 matrix ``A A^T`` (of rank at most ``rank >= 1`` if set)."""
    n = check_range("n", n, minimum=1, integer=True)
    rank = None if rank is None else check_int("rank", rank, minimum=1)
    return _psd_matrices(n, rank)


@st.composite
def _psd_matrices(draw: st.DrawFn, n: tuple[int, int], rank: int | None) -> torch.Tensor:
    size = draw(st.integers(*n))
    g = torch.Generator().manual_seed(draw(seeds()))
    a = torch.randn(size, rank or size, generator=g, dtype=torch.float64)
    return a @ a.T


def mlps(
    in_features: tuple[int, int] = (1, 6),
    width: int = 16,
    depth: tuple[int, int] = (1, 3),
    parameterization: str = "ntk",
    factory: Callable[..., torch.nn.Module] | None = None,
) -> st.SearchStrategy[torch.nn.Module]:
    """A randomly initialised network of fixed hidden width: an MLP, or your own module.

    Widths are not drawn: tolerances of width-dependent checks depend on them.

    Args:
        in_features: Range ``(low, high)`` of the input dimension, ``low >= 1``.
        width: The hidden width, >= 1.
        depth: Range of the number of hidden layers, ``low >= 1``.
        parameterization: A preset name (``"ntk"``, ``"standard"``, ``"mup"``) or a callable.
        factory: Builds your own module from what was drawn, called as
            ``factory(in_features, hidden_widths, activation=..., weight_variance=...,
            bias_variance=..., parameterization=..., seed=...)`` (the signature of
            :class:`~probtheory.networks.MLP`, which is the default); accept ``**kwargs`` to
            ignore what your module does not use.

    Example:
        >>> from torch import nn
        >>> def my_net(in_features, hidden_widths, seed, **_):
        ...     torch.manual_seed(seed)
        ...     return nn.Sequential(nn.Linear(in_features, hidden_widths[0]), nn.Tanh(),
        ...                          nn.Linear(hidden_widths[0], 1))
        >>> strategy = mlps(width=8, factory=my_net)  # use with @given(strategy)
    """
    in_features = check_range("in_features", in_features, minimum=1, integer=True)
    width = check_int("width", width, minimum=1)
    depth = check_range("depth", depth, minimum=1, integer=True)
    resolve_parameterization(parameterization)
    if factory is not None and not callable(factory):
        raise InputDataError(
            "factory", "a callable building an nn.Module (or None for MLP)", type(factory).__name__
        )
    return _mlps(in_features, width, depth, parameterization, factory or MLP)


@st.composite
def _mlps(
    draw: st.DrawFn,
    in_features: tuple[int, int],
    width: int,
    depth: tuple[int, int],
    parameterization: str,
    factory: Callable[..., torch.nn.Module],
) -> torch.nn.Module:
    hp = draw(kernel_hyperparameters())
    return factory(
        draw(st.integers(*in_features)),
        [width] * draw(st.integers(*depth)),
        activation=draw(activations(closed_form_only=False)),
        weight_variance=hp.weight_variance,
        bias_variance=hp.bias_variance,
        parameterization=parameterization,
        seed=draw(seeds()),
    )
