r"""Full and mini-batch Hessians, their extreme eigenvalues, and the spiked random-matrix prediction.

Granziol, Zohren, Roberts, *Learning rates as a function of batch size: a random matrix theory
approach to neural network training* (JMLR 2022). The paper's constants are not checked here; the
exact parts below are derived in docs/derivations.md, §5:

* **Jensen / monotonicity** (any model, any loss, no asymptotics). With per-sample Hessians
  :math:`h_i`, :math:`H_B = \frac1B\sum_{i\in S} h_i` for a uniform :math:`B`-subset :math:`S`.
  :math:`\lambda_{\max}` is convex and :math:`H_{B+1}` is the average of its :math:`B`-subsets'
  Hessians, so :math:`\mathbb E\lambda_{\max}(H_B) \ge \lambda_{\max}(H_{\text{full}})` and is
  non-increasing in :math:`B` (mirror statements for :math:`\lambda_{\min}`).
* **Spiked covariance (BBP)**. For :math:`x \sim N(0, I_d + \theta vv^\top)` and
  :math:`H_B = X_B^\top X_B/B` (the Hessian of least squares on a batch), with
  :math:`\gamma = d/B` (Baik, Ben Arous, Péché 2005; Paul 2007):
  :math:`\lambda_{\max} \to (1+\theta)(1+\gamma/\theta)` if :math:`\theta > \sqrt\gamma`, else the
  Marchenko-Pastur edge :math:`(1+\sqrt\gamma)^2`. The largest stable SGD step is
  :math:`2/\lambda_{\max}(H_B)`.

Example::

    import torch
    from probtheory.theory.batch_hessian import (
        spiked_covariance_sample, lanczos_top_eigenvalue, spiked_top_eigenvalue)

    x = spiked_covariance_sample(100, 200, spike=3.0, seed=0)        # B = 100, d = 200
    top = lanczos_top_eigenvalue(lambda v: x.T @ (x @ v) / 100, 200, seed=0)
    print(top, spiked_top_eigenvalue(3.0, 2.0))                       # ~ 6.7 and 6.67
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from probtheory._checks import check_finite, check_floating, check_int, check_real, make_generator
from probtheory.errors import InputDataError

__all__ = [
    "BatchEigenvalues",
    "TanhRegression",
    "batch_eigenvalues",
    "batch_hessian",
    "lanczos_top_eigenvalue",
    "marchenko_pastur_edge",
    "max_stable_learning_rate",
    "spiked_covariance_sample",
    "spiked_top_eigenvalue",
]

_DTYPE = torch.float64


@dataclass(frozen=True)
class TanhRegression:
    r"""A one-hidden-layer tanh network on synthetic regression data, at a fixed random point.

    :math:`f(x) = v^\top \tanh(Wx + c)/\sqrt{m} + e`, squared loss
    :math:`\ell_i = \tfrac12(f(x_i) - y_i)^2`, :math:`y = \sin(x_1) + 0.1\,\text{noise}`. The
    Hessian of :math:`\ell_i` in the :math:`P = m(d+2)+1` parameters is indefinite (the
    residual term), so both ends of the spectrum are informative.

    Attributes:
        n: Number of samples.
        d: Input dimension.
        width: Hidden width :math:`m`.
        seed: Seed of data and parameters.
    """

    n: int
    d: int
    width: int
    seed: int

    def __post_init__(self) -> None:
        """Require positive sizes and a seed >= 0."""
        check_int("n", self.n, minimum=1)
        check_int("d", self.d, minimum=1)
        check_int("width", self.width, minimum=1)
        check_int("seed", self.seed, minimum=0)

    def data(self) -> tuple[Tensor, Tensor, Tensor]:
        """Inputs `n x d`, targets `n` and the parameter vector `P` (float64)."""
        g = make_generator(self.seed)
        x = torch.randn(self.n, self.d, generator=g, dtype=_DTYPE)
        y = torch.sin(x[:, 0]) + 0.1 * torch.randn(self.n, generator=g, dtype=_DTYPE)
        params = torch.randn(self.width * (self.d + 2) + 1, generator=g, dtype=_DTYPE)
        return x, y, params

    def loss(self, params: Tensor, x: Tensor, y: Tensor) -> Tensor:
        r"""Per-sample loss :math:`\ell(\theta; x, y)` for one `d` input and a scalar target."""
        m, d = self.width, self.d
        check_floating("params", params)
        check_floating("x", x)
        if params.shape != (m * (d + 2) + 1,):
            raise InputDataError(
                "params", f"a `{m * (d + 2) + 1}` parameter vector", f"shape {tuple(params.shape)}"
            )
        if x.shape != (d,):
            raise InputDataError("x", f"one `{d}` input", f"shape {tuple(x.shape)}")
        w = params[: m * d].reshape(m, d)
        c = params[m * d : m * d + m]
        v = params[m * d + m : m * d + 2 * m]
        e = params[-1]
        out = v @ torch.tanh(w @ x / math.sqrt(d) + c) / math.sqrt(m) + e
        return 0.5 * (out - y) ** 2

    def per_sample_hessians(self) -> Tensor:
        r"""The `n x P x P` tensor of per-sample Hessians :math:`h_i`, in closed form.

        :math:`\nabla^2 \ell_i = \nabla f \nabla f^\top + r_i \nabla^2 f` with
        :math:`z = Wx/\sqrt d + c`: the only non-zero blocks of :math:`\nabla^2 f` are
        :math:`v_k \tanh''(z_k) JJ^\top/\sqrt m` for unit k's :math:`(W_k, c_k)` and
        :math:`\tanh'(z_k) J/\sqrt m` between them and :math:`v_k`, :math:`J = (x/\sqrt d, 1)`.
        Agrees with autodiff (``torch.func.jacfwd(jacrev(loss))``) to round-off, ~100x faster.
        """
        x, y, params = self.data()
        m, d, n = self.width, self.d, self.n
        w = params[: m * d].reshape(m, d)
        c = params[m * d : m * d + m]
        v = params[m * d + m : m * d + 2 * m]
        s = x / math.sqrt(d)
        z = s @ w.T + c  # n x m
        h = torch.tanh(z)
        dh = 1.0 - h * h
        ddh = -2.0 * h * dh
        r = h @ v / math.sqrt(m) + params[-1] - y  # n
        jac = torch.cat([s, torch.ones(n, 1, dtype=s.dtype)], dim=1)  # n x (d+1)
        grad = torch.cat(
            [
                (v * dh / math.sqrt(m))[:, :, None].mul(s[:, None, :]).reshape(n, m * d),
                v * dh / math.sqrt(m),
                h / math.sqrt(m),
                torch.ones(n, 1, dtype=s.dtype),
            ],
            dim=1,
        )
        hess = grad[:, :, None] * grad[:, None, :]
        outer = jac[:, :, None] * jac[:, None, :]
        for k in range(m):
            ids = torch.tensor([*range(k * d, (k + 1) * d), m * d + k])
            vk = m * d + m + k
            block = (r * v[k] * ddh[:, k] / math.sqrt(m))[:, None, None] * outer
            hess[:, ids[:, None], ids] += block
            cross = (r * dh[:, k] / math.sqrt(m))[:, None] * jac
            hess[:, ids, vk] += cross
            hess[:, vk, ids] += cross
        return hess


def batch_hessian(per_sample: Tensor, index: Tensor) -> Tensor:
    r"""The mini-batch Hessian :math:`H_B = \frac1B\sum_{i \in S} h_i`.

    Args:
        per_sample: An `n x P x P` tensor of per-sample Hessians.
        index: A `B` tensor of sample indices (the batch :math:`S`).

    Returns:
        A `P x P` tensor.
    """
    check_floating("per_sample", per_sample)
    if per_sample.dim() != 3 or per_sample.shape[1] != per_sample.shape[2]:
        raise InputDataError("per_sample", "an `n x P x P` tensor", tuple(per_sample.shape))
    n = per_sample.shape[0]
    if not isinstance(index, Tensor) or index.dtype != torch.long or index.dim() != 1 or index.numel() == 0:
        got = (
            f"dtype {index.dtype}, shape {tuple(index.shape)}"
            if isinstance(index, Tensor)
            else type(index).__name__
        )
        raise InputDataError("index", "a non-empty 1-d long tensor of sample indices", got)
    if int(index.min()) < 0 or int(index.max()) >= n:
        raise InputDataError(
            "index", f"sample indices in [0, {n})", f"range [{int(index.min())}, {int(index.max())}]"
        )
    return per_sample[index].mean(0)


@dataclass(frozen=True)
class BatchEigenvalues:
    r"""Extreme eigenvalues of mini-batch Hessians.

    Attributes:
        batch_sizes: The batch sizes :math:`B`, a list.
        top: A `len(batch_sizes) x K` tensor of :math:`\lambda_{\max}(H_B)`, K batches each.
        bottom: The matching :math:`\lambda_{\min}(H_B)`.
        full_top: :math:`\lambda_{\max}` of the full Hessian.
        full_bottom: :math:`\lambda_{\min}` of the full Hessian.
    """

    batch_sizes: list[int]
    top: Tensor
    bottom: Tensor
    full_top: float
    full_bottom: float

    @staticmethod
    def _se(t: Tensor) -> Tensor:
        return t.std(-1) / math.sqrt(t.shape[-1])

    @property
    def top_mean(self) -> Tensor:
        r"""Mean :math:`\lambda_{\max}` per batch size."""
        return self.top.mean(-1)

    @property
    def top_se(self) -> Tensor:
        """Standard error of :attr:`top_mean`."""
        return self._se(self.top)

    @property
    def bottom_mean(self) -> Tensor:
        r"""Mean :math:`\lambda_{\min}` per batch size."""
        return self.bottom.mean(-1)

    @property
    def bottom_se(self) -> Tensor:
        """Standard error of :attr:`bottom_mean`."""
        return self._se(self.bottom)


def batch_eigenvalues(
    per_sample: Tensor,
    batch_sizes: list[int],
    num_batches: int,
    *,
    hessian_fn: Callable[[Tensor, Tensor], Tensor] = batch_hessian,
    seed: int | None = None,
    generator: torch.Generator | None = None,
) -> BatchEigenvalues:
    """Extreme eigenvalues of Hessians of batches drawn uniformly without replacement.

    Args:
        per_sample: An `n x P x P` tensor of symmetric per-sample Hessians.
        batch_sizes: Batch sizes, each in [1, n].
        num_batches: Batches per size (>= 2, for a standard error).
        hessian_fn: ``hessian_fn(per_sample, index)`` -> `P x P` batch Hessian.
        seed: Seed of the batch draws.
        generator: Random generator (overrides `seed`).

    Returns:
        The eigenvalues, with those of the full Hessian (the mean of all samples).
    """
    check_finite("per_sample", per_sample)
    if per_sample.dim() != 3 or per_sample.shape[1] != per_sample.shape[2]:
        raise InputDataError("per_sample", "an `n x P x P` tensor", tuple(per_sample.shape))
    n = per_sample.shape[0]
    if isinstance(batch_sizes, str | bytes) or not isinstance(batch_sizes, Sequence):
        raise InputDataError("batch_sizes", f"a non-empty list of sizes in [1, {n}]", repr(batch_sizes))
    if not callable(hessian_fn):
        raise InputDataError(
            "hessian_fn", "a callable (per_sample, index) -> P x P", type(hessian_fn).__name__
        )
    sizes = [check_int("batch_sizes", b, minimum=1) for b in batch_sizes]
    if not sizes or max(sizes) > n:
        raise InputDataError("batch_sizes", f"a non-empty list of sizes in [1, {n}]", batch_sizes)
    k = check_int("num_batches", num_batches, minimum=2)
    g = make_generator(seed, generator)
    full = torch.linalg.eigvalsh(per_sample.mean(0))
    top = torch.empty(len(sizes), k, dtype=per_sample.dtype)
    bottom = torch.empty_like(top)
    for j, b in enumerate(sizes):
        hs = torch.stack([hessian_fn(per_sample, torch.randperm(n, generator=g)[:b]) for _ in range(k)])
        ev = torch.linalg.eigvalsh(hs)
        top[j], bottom[j] = ev[:, -1], ev[:, 0]
    return BatchEigenvalues(sizes, top, bottom, float(full[-1]), float(full[0]))


def marchenko_pastur_edge(aspect_ratio: float) -> float:
    r"""Upper edge :math:`(1 + \sqrt\gamma)^2` of the Marchenko-Pastur law with ratio :math:`\gamma = d/B`."""
    gamma = check_real("aspect_ratio", aspect_ratio, positive=True)
    return (1.0 + math.sqrt(gamma)) ** 2


def spiked_top_eigenvalue(spike: float, aspect_ratio: float) -> float:
    r"""BBP limit of :math:`\lambda_{\max}(X^\top X/B)` for :math:`x \sim N(0, I + \theta vv^\top)`.

    :math:`(1+\theta)(1+\gamma/\theta)` above the transition :math:`\theta > \sqrt\gamma`, the
    Marchenko-Pastur edge :math:`(1+\sqrt\gamma)^2` below it (the two agree at the transition).

    Args:
        spike: :math:`\theta > 0`.
        aspect_ratio: :math:`\gamma = d/B > 0`.
    """
    theta = check_real("spike", spike, positive=True)
    gamma = check_real("aspect_ratio", aspect_ratio, positive=True)
    if theta > math.sqrt(gamma):
        return (1.0 + theta) * (1.0 + gamma / theta)
    return marchenko_pastur_edge(gamma)


def spiked_covariance_sample(
    num_samples: int,
    dim: int,
    spike: float,
    *,
    seed: int | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    r"""A `B x d` sample of :math:`N(0, I_d + \theta e_1 e_1^\top)` (float64)."""
    b = check_int("num_samples", num_samples, minimum=1)
    d = check_int("dim", dim, minimum=1)
    theta = check_real("spike", spike, nonnegative=True)
    x = torch.randn(b, d, generator=make_generator(seed, generator), dtype=_DTYPE)
    x[:, 0] *= math.sqrt(1.0 + theta)
    return x


def lanczos_top_eigenvalue(
    matvec: Callable[[Tensor], Tensor],
    dim: int,
    *,
    iterations: int = 60,
    reorthogonalize: bool = True,
    seed: int | None = None,
    generator: torch.Generator | None = None,
) -> float:
    """Largest eigenvalue of a symmetric operator by Lanczos (full reorthogonalisation by default).

    Args:
        matvec: ``v -> A v`` for `dim` float64 vectors (e.g. a Hessian-vector product).
        dim: Dimension of the operator.
        iterations: Krylov dimension (capped at `dim`).
        reorthogonalize: Re-orthogonalise against all previous vectors (twice), which
            prevents the spurious copies of converged eigenvalues of plain Lanczos.
        seed: Seed of the random start vector.
        generator: Random generator (overrides `seed`).

    Returns:
        The top Ritz value.
    """
    if not callable(matvec):
        raise InputDataError("matvec", "a callable v -> A v", type(matvec).__name__)
    n = check_int("dim", dim, minimum=1)
    k = min(check_int("iterations", iterations, minimum=1), n)
    v = torch.randn(n, generator=make_generator(seed, generator), dtype=_DTYPE)
    basis = [v / v.norm()]
    alphas, betas = [], []
    for j in range(k):
        w = matvec(basis[j])
        if not isinstance(w, Tensor) or w.shape != (n,) or not torch.isfinite(w).all():
            got = f"shape {tuple(w.shape)}" if isinstance(w, Tensor) else type(w).__name__
            raise InputDataError("matvec", f"a map returning finite `{n}` vectors (A v for `dim` = {n})", got)
        w = w.to(_DTYPE)
        alpha = torch.dot(w, basis[j])
        w = w - alpha * basis[j] - (betas[-1] * basis[j - 1] if j > 0 else 0.0)
        if reorthogonalize:
            q = torch.stack(basis)
            for _ in range(2):
                w = w - q.T @ (q @ w)
        alphas.append(alpha)
        beta = w.norm()
        if j == k - 1 or beta <= 1e-12 * max(1.0, float(alpha.abs())):
            break
        betas.append(beta)
        basis.append(w / beta)
    m = len(alphas)
    tri = torch.diag(torch.stack(alphas))
    if m > 1:
        off = torch.stack(betas[: m - 1])
        tri = tri + torch.diag(off, 1) + torch.diag(off, -1)
    return float(torch.linalg.eigvalsh(tri)[-1])


def max_stable_learning_rate(hessian: Tensor) -> float:
    r"""Largest stable gradient-descent step :math:`2/\lambda_{\max}(H)` on the quadratic model.

    Args:
        hessian: A symmetric `P x P` tensor.

    Raises:
        InputDataError: if :math:`\lambda_{\max}(H) \le 0` (a singular or negative semi-definite
            Hessian has no positive curvature, so no step size is the stability limit).
    """
    check_finite("hessian", hessian)
    if hessian.dim() != 2 or hessian.shape[0] != hessian.shape[1]:
        raise InputDataError("hessian", "a square `P x P` tensor", tuple(hessian.shape))
    if not torch.allclose(hessian, hessian.T, rtol=1e-10, atol=1e-12):
        raise InputDataError("hessian", "a symmetric matrix", "a non-symmetric matrix")
    top = float(torch.linalg.eigvalsh(hessian.to(_DTYPE))[-1])
    scale = float(hessian.abs().max())
    if top <= 1e-12 * max(scale, 1e-300):
        raise InputDataError(
            "hessian", "a positive largest eigenvalue (positive curvature)", f"lambda_max = {top:.3g}"
        )
    return 2.0 / top
