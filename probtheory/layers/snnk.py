r"""Scalable neural network kernels (SNNK): a Linear + activation rewritten as a random-feature product.

Sehanobish, Choromanski, Zhao, Dubey & Likhosherstov, "Scalable Neural Network Kernels" (ICLR 2024;
code arijitthegame/neural-network-kernels). A feed-forward layer :math:`x \mapsto f(Wx + b)` couples
inputs and parameters inside :math:`f`. SNNK replaces it by a *bilinear* form of two feature maps
that share one random matrix :math:`G \in \mathbb{R}^{m \times (d+1)}` with rows
:math:`g_k \sim \mathcal N(0, I)` (optionally orthogonal):

.. math::

    \mathrm{layer}(x)_j = \Phi(\tilde x)^\top \Psi_j, \qquad \tilde x = [x, 1],\ \tilde w_j = [w_j, b_j],

so the bias is folded in (:math:`\tilde w_j^\top \tilde x = w_j^\top x + b_j`). The weight features
:math:`\Psi_j` are initialised as :math:`\Psi(\tilde w_j)` and then trained directly: the layer has
`out x m` parameters (below `out x (d + 1)` when `m <= d`), and :math:`\Phi(x)` depends on the input only.

* **ReLU-SNNK** (``kind="relu"``): :math:`\Phi(z) = \Psi(z) = \mathrm{relu}(G z) / \sqrt m`. Then
  :math:`\mathbb E_G[\Phi(\tilde x)^\top \Psi(\tilde w)]` is the first-order arc-cosine kernel
  (Cho & Saul 2009) :math:`k_1(u, v) = \lVert u\rVert \lVert v\rVert (\sin\theta + (\pi - \theta)
  \cos\theta) / (2\pi)`, :math:`\theta = \angle(u, v)` -- see :func:`arccos_kernel`.
* **URF-SNNK** (``kind="urf"``, exponential "universal random features"): for an activation with
  a decomposition :math:`f(z) = \mathbb E_{\xi \sim p}[c(\xi) \exp(a(\xi)^2 z)]`,

  .. math::

      \Phi(z)_k = \tfrac{1}{\sqrt m} \exp\!\big(a_k g_k^\top z - a_k^2 \lVert z\rVert^2 / 2\big),
      \qquad \Psi(z)_k = c(\xi_k)\, \Phi(z)_k ,

  and because :math:`\mathbb E_g[e^{g^\top u}] = e^{u^\top u / 2}` (also for complex `u`),
  :math:`\mathbb E_{G, \xi}[\Phi(\tilde x)^\top \Psi(\tilde w)] = f(w^\top x + b)` exactly: the
  layer's output at initialisation is an *unbiased* estimate of the activation output. Built in
  (:data:`URF_ACTIVATIONS`): ``exp`` (:math:`a = 1`, real features), ``cos`` and ``sin``
  (:math:`\xi = \pm 1`, :math:`a^2 = i\xi`, :math:`c = 1` resp. :math:`-i\xi`) and ``gaussian``
  :math:`e^{-z^2/2}` (:math:`\xi \sim \mathcal N(0, 1)`, :math:`a^2 = i\xi`). Complex features are
  trained as complex :math:`\Psi` and the layer returns the real part. The estimator's variance grows
  like :math:`e^{c \lVert x\rVert^2}`, so URF layers want inputs of norm about 1 (the paper
  normalises them), and with :math:`\xi \sim \mathcal N(0, 1)` (``gaussian``) the terms are
  heavy-tailed, since :math:`|a| = \sqrt{|\xi|}` is unbounded; the ReLU kind has neither issue.
  Softplus, GELU and ReLU itself have no decomposition of this form (their Fourier transforms are
  not measures), so they are not offered.

Example:
    >>> import torch
    >>> from torch import nn
    >>> layer = SNNKLinear(8, 16, num_features=32, seed=0)  # replaces nn.Linear(8, 16) + ReLU
    >>> layer(torch.randn(5, 8)).shape
    torch.Size([5, 16])
    >>> sum(p.numel() for p in layer.parameters())  # out x m, instead of out x (d + 1) = 144
    512
    >>> up = SNNKLinear.from_linear(nn.Linear(8, 16), num_features=64, seed=0)  # "uptraining"
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from probtheory._checks import check_floating, check_int, check_name, match_parameter_dtype
from probtheory.errors import ConfigurationError, InputDataError
from probtheory.kernels.activations import SlopeReLUActivation

__all__ = [
    "KINDS",
    "URF_ACTIVATIONS",
    "SNNKLinear",
    "URFDecomposition",
    "arccos_kernel",
    "exponential_random_features",
    "gaussian_projection",
    "relu_random_features",
]

#: ``"relu"``: ReLU random features (arc-cosine kernel); ``"urf"``: exponential random features.
KINDS = ("relu", "urf")
_RELU = SlopeReLUActivation()  # its Gaussian expectation is the arc-cosine kernel


@dataclass(frozen=True)
class URFDecomposition:
    r"""An activation written as :math:`f(z) = \mathbb E_{\xi \sim p}[c(\xi) \exp(a(\xi)^2 z)]`.

    Attributes:
        name: The activation's name.
        sample_xi: ``sample_xi(m, generator)`` draws an `m` float64 tensor of :math:`\xi \sim p`.
        a_squared: Maps `m` values of :math:`\xi` to :math:`a(\xi)^2` (complex128).
        coefficient: Maps `m` values of :math:`\xi` to :math:`c(\xi)` (complex128).
        activation: The exact :math:`f`, elementwise on a real tensor.
        real: Whether :math:`a^2` and :math:`c` are real for every :math:`\xi` (then the features are real).
    """

    name: str
    sample_xi: Callable[[int, torch.Generator], Tensor]
    a_squared: Callable[[Tensor], Tensor]
    coefficient: Callable[[Tensor], Tensor]
    activation: Callable[[Tensor], Tensor]
    real: bool = False

    def __post_init__(self) -> None:
        """Require a name and four callables (a swapped field would fail deep inside a layer)."""
        if not isinstance(self.name, str):
            raise InputDataError("name", "a string", type(self.name).__name__)
        for field in ("sample_xi", "a_squared", "coefficient", "activation"):
            if not callable(getattr(self, field)):
                raise InputDataError(field, "a callable", type(getattr(self, field)).__name__)
        if not isinstance(self.real, bool):
            raise InputDataError("real", "True or False", repr(self.real))


def _signs(m: int, generator: torch.Generator) -> Tensor:
    return torch.randint(0, 2, (m,), generator=generator).to(torch.float64) * 2 - 1


def _complex(values: Tensor) -> Tensor:
    return values.to(torch.complex128)


#: The built-in URF decompositions, by activation name.
URF_ACTIVATIONS: dict[str, URFDecomposition] = {
    "exp": URFDecomposition(
        "exp",
        lambda m, gen: torch.zeros(m, dtype=torch.float64),
        lambda xi: _complex(torch.ones_like(xi)),
        lambda xi: _complex(torch.ones_like(xi)),
        torch.exp,
        real=True,
    ),
    # cos z = E_{xi = +-1}[e^{i xi z}],  sin z = E_{xi = +-1}[-i xi e^{i xi z}]
    "cos": URFDecomposition(
        "cos", _signs, lambda xi: 1j * _complex(xi), lambda xi: _complex(torch.ones_like(xi)), torch.cos
    ),  # fmt: skip
    "sin": URFDecomposition(
        "sin", _signs, lambda xi: 1j * _complex(xi), lambda xi: -1j * _complex(xi), torch.sin
    ),
    # e^{-z^2/2} is the characteristic function of N(0, 1)
    "gaussian": URFDecomposition(
        "gaussian",
        lambda m, gen: torch.randn(m, generator=gen, dtype=torch.float64),
        lambda xi: 1j * _complex(xi),
        lambda xi: _complex(torch.ones_like(xi)),
        lambda z: torch.exp(-0.5 * z.square()),
    ),
}


def gaussian_projection(
    num_features: int, dim: int, *, orthogonal: bool = True, generator: torch.Generator | None = None
) -> Tensor:
    r"""An `m x d` float64 matrix whose rows are each marginally :math:`\mathcal N(0, I_d)`.

    With ``orthogonal``, rows come in blocks of `d` mutually orthogonal directions (QR of a Gaussian
    matrix, sign-corrected so the directions are Haar distributed), each rescaled by the norm of an
    independent `d`-dim Gaussian vector: every row is still exactly :math:`\mathcal N(0, I_d)`, so
    estimators built from it stay unbiased, with lower variance (Performer's orthogonal features).

    Args:
        num_features: Number of rows `m`.
        dim: Number of columns `d`.
        orthogonal: Orthogonal blocks instead of i.i.d. rows.
        generator: Source of randomness; None uses the global RNG.
    """
    num_features = check_int("num_features", num_features, minimum=1)
    dim = check_int("dim", dim, minimum=1)
    if generator is not None and not isinstance(generator, torch.Generator):
        raise InputDataError("generator", "a torch.Generator or None", type(generator).__name__)
    if not orthogonal:
        return torch.randn(num_features, dim, generator=generator, dtype=torch.float64)
    blocks = []
    for _ in range(math.ceil(num_features / dim)):
        q, r = torch.linalg.qr(torch.randn(dim, dim, generator=generator, dtype=torch.float64))
        q = q * torch.sign(torch.diagonal(r))  # Haar measure: QR's sign convention would bias it
        norms = torch.randn(dim, dim, generator=generator, dtype=torch.float64).norm(dim=-1)
        blocks.append(q.T * norms.unsqueeze(-1))
    return torch.cat(blocks)[:num_features]


def relu_random_features(z: Tensor, projection: Tensor) -> Tensor:
    r"""ReLU features :math:`\Phi(z) = \mathrm{relu}(G z) / \sqrt m`.

    Args:
        z: A `... x d` tensor.
        projection: An `m x d` matrix `G`.

    Returns:
        A `... x m` tensor with :math:`\mathbb E_G[\Phi(u)^\top \Phi(v)] =` :func:`arccos_kernel`\ (u, v).
    """
    _check_projection(z, projection)
    return torch.relu(z @ projection.to(z).T) / math.sqrt(projection.shape[0])


def _check_projection(z: Tensor, projection: Tensor) -> None:
    check_floating("z", z)
    check_floating("projection", projection)
    if projection.dim() != 2 or z.dim() < 1 or z.shape[-1] != projection.shape[1]:
        raise InputDataError(
            "projection", f"an `m x {z.shape[-1] if z.dim() else 'd'}` matrix (d: the last dim of `z`)",
            f"shape {tuple(projection.shape)}",
        )  # fmt: skip


def exponential_random_features(
    z: Tensor, projection: Tensor, a_squared: Tensor, coefficient: Tensor | None = None
) -> Tensor:
    r""":math:`\Phi(z)_k = c_k \exp(a_k g_k^\top z - a_k^2 \lVert z\rVert^2 / 2) / \sqrt m`.

    Args:
        z: A `... x d` real tensor.
        projection: An `m x d` matrix with rows :math:`g_k`.
        a_squared: An `m` tensor of :math:`a_k^2` (real or complex); :math:`a_k` is its principal root.
        coefficient: An `m` tensor of :math:`c_k`; None for 1.

    Returns:
        A `... x m` tensor, complex unless ``a_squared`` and ``coefficient`` are real.
    """
    _check_projection(z, projection)
    if not isinstance(a_squared, Tensor) or a_squared.shape != projection.shape[:1]:
        shape = tuple(a_squared.shape) if isinstance(a_squared, Tensor) else type(a_squared).__name__
        raise InputDataError("a_squared", f"a tensor of shape ({projection.shape[0]},)", shape)
    if not torch.isfinite(a_squared).all():  # NaN passes any comparison below
        raise InputDataError("a_squared", "finite values", "NaN or inf")
    if not a_squared.is_complex() and (a_squared < 0).any():
        raise InputDataError(
            "a_squared", "values >= 0 when real (pass a complex tensor otherwise)", "negatives"
        )
    a = torch.sqrt(a_squared.to(torch.complex128) if a_squared.is_complex() else a_squared.to(z))
    if a_squared.is_complex():
        a = a.to(torch.complex128 if z.dtype == torch.float64 else torch.complex64)
        zc = z.to(a.dtype)
    else:
        zc = z
    exponent = (zc @ projection.to(zc).T) * a - z.square().sum(-1, keepdim=True).to(a.dtype) * (a * a) / 2
    features = torch.exp(exponent) / math.sqrt(projection.shape[0])
    return features if coefficient is None else features * coefficient.to(features.dtype)


def arccos_kernel(u: Tensor, v: Tensor) -> Tensor:
    r"""First-order arc-cosine kernel, :math:`\mathbb E_g[\mathrm{relu}(g^\top u)\, \mathrm{relu}(g^\top v)]`.

    For :math:`g \sim \mathcal N(0, I)` it equals
    :math:`k_1(u, v) = \lVert u\rVert \lVert v\rVert (\sin\theta + (\pi - \theta)\cos\theta) / (2\pi)`
    (Cho & Saul 2009, half their :math:`k_1` since they integrate against :math:`2\,\mathcal N`): the
    ReLU's NNGP layer map, computed by :class:`~probtheory.kernels.activations.SlopeReLUActivation`.

    Args:
        u: An `n x d` tensor.
        v: A `p x d` tensor.

    Returns:
        The `n x p` kernel matrix.
    """
    for name, t in (("u", u), ("v", v)):
        check_floating(name, t)
        if t.dim() != 2:
            raise InputDataError(name, "an `n x d` tensor", f"shape {tuple(t.shape)}")
    if u.shape[-1] != v.shape[-1]:
        raise InputDataError("v", f"trailing dimension {u.shape[-1]} (as u)", f"shape {tuple(v.shape)}")
    # the ReLU NNGP layer map is this expectation for a Gaussian pair of covariance [[q_u, u.v], [u.v, q_v]]
    square_u, square_v = (u * u).sum(-1, keepdim=True), (v * v).sum(-1, keepdim=True).T
    return _RELU.pair(u @ v.T, square_u, square_v)[0]


class SNNKLinear(nn.Module):
    r"""An SNNK layer: a drop-in for ``nn.Linear(in_features, out_features)`` followed by its activation.

    Args:
        in_features: Input dimension `d`.
        out_features: Output dimension `out`.
        num_features: Number of random features `m`; the layer has `out x m` trainable scalars
            (twice that for complex URF features).
        kind: ``"relu"`` (ReLU-SNNK) or ``"urf"`` (exponential features of ``activation``).
        activation: For ``kind="urf"``: a key of :data:`URF_ACTIVATIONS` or a :class:`URFDecomposition`.
        orthogonal: Orthogonal random rows (see :func:`gaussian_projection`).
        bias: Fold a bias into the kernel (:math:`\tilde x = [x, 1]`); otherwise `G` is `m x d`.
        weight: An `out x d` initial weight (default: ``nn.Linear``'s Kaiming-uniform draw).
        bias_init: An `out` initial bias (default: ``nn.Linear``'s uniform draw; zeros if not drawn).
        seed: Seed of `G`, of :math:`\xi` and of the default initial weights; None uses the global RNG.
        dtype: Parameter dtype (float32 or float64).

    Attributes:
        projection: The `m x (d + 1)` (or `m x d`) buffer `G`.
        xi: The `m` buffer of :math:`\xi` (URF only; zeros for ReLU).
        psi: The trained weight features, `out x m` (complex for complex URF features).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        num_features: int,
        *,
        kind: str = "relu",
        activation: str | URFDecomposition = "exp",
        orthogonal: bool = True,
        bias: bool = True,
        weight: Tensor | None = None,
        bias_init: Tensor | None = None,
        seed: int | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        super().__init__()
        self.in_features = check_int("in_features", in_features, minimum=1)
        self.out_features = check_int("out_features", out_features, minimum=1)
        self.num_features = check_int("num_features", num_features, minimum=1)
        check_name("kind", kind, KINDS, meaning="a feature kind")
        if dtype not in (torch.float32, torch.float64):
            raise InputDataError("dtype", "torch.float32 or torch.float64", dtype)
        if seed is not None:
            seed = check_int("seed", seed, minimum=0)
        self.kind, self.use_bias, self.orthogonal = kind, bool(bias), bool(orthogonal)
        if isinstance(activation, URFDecomposition):
            self.decomposition = activation
        else:
            name = check_name(
                "activation",
                activation,
                URF_ACTIVATIONS,
                meaning="a URF activation name or a URFDecomposition",
            )
            self.decomposition = URF_ACTIVATIONS[name]
        if kind == "relu" and (isinstance(activation, URFDecomposition) or activation != "exp"):
            raise ConfigurationError(
                f"`activation`={activation!r} applies to kind='urf' only; kind='relu' has its own features."
            )
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        dim = self.in_features + int(self.use_bias)
        projection = gaussian_projection(num_features, dim, orthogonal=orthogonal, generator=generator)
        self.register_buffer("projection", projection.to(dtype))
        xi = (
            self.decomposition.sample_xi(num_features, generator)
            if kind == "urf"
            else torch.zeros(num_features)
        )
        self.register_buffer("xi", xi.to(torch.float64))
        weight, bias_init = self._initial_weights(weight, bias_init, generator, dtype)
        self.psi = nn.Parameter(self.weight_features(weight, bias_init).detach())

    @property
    def complex_features(self) -> bool:
        """Whether the features (and :attr:`psi`) are complex (URF with a complex decomposition)."""
        return self.kind == "urf" and not self.decomposition.real

    def _initial_weights(
        self, weight: Tensor | None, bias_init: Tensor | None, generator: torch.Generator | None, dtype
    ) -> tuple[Tensor, Tensor | None]:
        d, out = self.in_features, self.out_features
        if weight is None:
            bound = 1.0 / math.sqrt(
                d
            )  # nn.Linear's default: Kaiming-uniform(a = sqrt 5) = U(-1/sqrt d, 1/sqrt d)
            weight = (torch.rand(out, d, generator=generator, dtype=torch.float64) * 2 - 1) * bound
            if self.use_bias and bias_init is None:
                bias_init = (torch.rand(out, generator=generator, dtype=torch.float64) * 2 - 1) * bound
        weight = self._check_weight(weight, bias_init)
        return weight.to(dtype), None if bias_init is None else bias_init.to(dtype)

    def _check_weight(self, weight: Tensor, bias: Tensor | None) -> Tensor:
        check_floating("weight", weight)
        if weight.shape != (self.out_features, self.in_features):
            raise InputDataError(
                "weight", f"shape ({self.out_features}, {self.in_features})", f"shape {tuple(weight.shape)}"
            )
        if not torch.isfinite(weight).all():
            raise InputDataError("weight", "finite values", "non-finite entries")
        if bias is not None:
            if not self.use_bias:
                raise ConfigurationError("`bias_init` was given but the layer has bias=False.")
            check_floating("bias_init", bias)
            if bias.shape != (self.out_features,):
                raise InputDataError(
                    "bias_init", f"shape ({self.out_features},)", f"shape {tuple(bias.shape)}"
                )
            if not torch.isfinite(bias).all():
                raise InputDataError("bias_init", "finite values", "non-finite entries")
        return weight

    def _augment(self, z: Tensor, constants: Tensor | None) -> Tensor:
        if not self.use_bias:
            return z
        if constants is None:
            constants = torch.zeros(z.shape[:-1], dtype=z.dtype, device=z.device)
        return torch.cat([z, constants.to(z).unsqueeze(-1)], dim=-1)

    def _features(self, z: Tensor, coefficients: bool) -> Tensor:
        if self.kind == "relu":
            return relu_random_features(z, self.projection)
        decomposition = self.decomposition
        a_squared, c = decomposition.a_squared(self.xi), decomposition.coefficient(self.xi)
        if decomposition.real:
            a_squared, c = a_squared.real, c.real
        return exponential_random_features(z, self.projection, a_squared, c if coefficients else None)

    def input_features(self, x: Tensor) -> Tensor:
        r""":math:`\Phi(\tilde x)` for a `... x d` input: the `... x m` features (no trained parameter).

        Computed in the layer's dtype (the dtype policy of modules with weights: a floating
        ``x`` of another dtype is converted to it).
        """
        x = match_parameter_dtype("x", x, self.projection.dtype)
        if x.dim() < 1 or x.shape[-1] != self.in_features:
            raise InputDataError("x", f"a `... x {self.in_features}` tensor", f"shape {tuple(x.shape)}")
        ones = torch.ones(x.shape[:-1], dtype=x.dtype, device=x.device)
        return self._features(self._augment(x, ones), coefficients=False)

    def weight_features(self, weight: Tensor, bias: Tensor | None = None) -> Tensor:
        r"""The `out x m` features :math:`\Psi(\tilde w_j)` of an `out x d` weight and an `out` bias."""
        weight = self._check_weight(weight, bias)
        return self._features(self._augment(weight, bias), coefficients=True)

    def forward(self, x: Tensor) -> Tensor:
        r"""The `... x out` output :math:`\mathrm{Re}\, \Phi(\tilde x)\, \Psi^\top` of a `... x d` input.

        dtype policy (the package's, for every module with weights): computed in the layer's
        dtype, to which a floating ``x`` of another dtype is converted; returned in ``x``'s dtype.
        """
        out = self.input_features(x) @ self.psi.T
        return (out.real if out.is_complex() else out).to(x.dtype)

    def target(self, x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
        r"""What the layer estimates without bias when :math:`\Psi = \Psi(\tilde W)`: `... x out`.

        ``relu``: the arc-cosine kernel :math:`k_1(\tilde x, \tilde w_j)`; ``urf``: the activation
        output :math:`f(w_j^\top x + b_j)`.
        """
        weight = self._check_weight(weight, bias)
        check_floating("x", x)
        if x.shape[-1] != self.in_features:
            raise InputDataError("x", f"a `... x {self.in_features}` tensor", f"shape {tuple(x.shape)}")
        if self.kind == "urf":
            pre = x @ weight.to(x).T + (0.0 if bias is None else bias.to(x))
            return self.decomposition.activation(pre)
        ones = torch.ones(x.shape[:-1], dtype=x.dtype, device=x.device)
        flat = self._augment(x, ones).reshape(-1, self.in_features + int(self.use_bias))
        kernel = arccos_kernel(flat, self._augment(weight.to(x), bias))
        return kernel.reshape(*x.shape[:-1], self.out_features)

    @classmethod
    def from_linear(
        cls,
        linear: nn.Linear,
        num_features: int,
        *,
        kind: str = "relu",
        activation: str | URFDecomposition = "exp",
        orthogonal: bool = True,
        seed: int | None = None,
    ) -> SNNKLinear:
        """Uptraining: an SNNK layer whose weight features start at those of a (trained) ``nn.Linear``.

        The dtype follows the linear layer's weight; its bias (if any) is folded into the kernel.
        """
        if not isinstance(linear, nn.Linear):
            raise InputDataError("linear", "a torch.nn.Linear", type(linear).__name__)
        weight = linear.weight.detach()
        bias = None if linear.bias is None else linear.bias.detach()
        return cls(
            linear.in_features,
            linear.out_features,
            num_features,
            kind=kind,
            activation=activation,
            orthogonal=orthogonal,
            bias=bias is not None,
            weight=weight,
            bias_init=bias,
            seed=seed,
            dtype=weight.dtype if weight.dtype in (torch.float32, torch.float64) else torch.float32,
        )

    def extra_repr(self) -> str:
        """Sizes, kind and options, for ``repr``."""
        kind = self.kind if self.kind == "relu" else f"urf[{self.decomposition.name}]"
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"num_features={self.num_features}, kind={kind}, orthogonal={self.orthogonal}, "
            f"bias={self.use_bias}"
        )
