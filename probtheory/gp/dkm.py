r"""Deep kernel machines (DKMs): the exact DKM objective and its sparse inducing-point form.

Yang, Robeyns, Milsom, Anson, Schoots & Aitchison, *A theory of representation learning gives a
deep generalisation of kernel methods* (ICML 2023, arXiv 2108.13097). Take a deep GP (or BNN)
to infinite width while also scaling up the number of output channels. The posterior over the
layers' Gram matrices then concentrates at the maximiser of the **DKM objective**

.. math::
    \mathcal L(G_1,\dots,G_L) = \log P(Y \mid G_L)
        - \sum_{\ell=1}^{L} \nu_\ell\, D_{KL}\big(N(0, G_\ell)\,\|\,N(0, K(G_{\ell-1}))\big),
    \qquad G_0 = XX^\top / N_0,

where :math:`D_{KL}(N(0,G)\|N(0,K)) = \tfrac12[\operatorname{tr}(K^{-1}G) - \log|K^{-1}G| - P]`.
For regression, :math:`\log P(Y \mid G_L) = \sum_\lambda \log N(y_\lambda;\, 0,\, K(G_L) + \sigma^2 I)`
(a sum over output columns). :math:`\nu_\ell = \infty` pins :math:`G_\ell = K(G_{\ell-1})`,
which is the NNGP and gives no representation learning. A finite :math:`\nu_\ell` lets the data
reshape :math:`G_\ell`.

The **sparse DKM** follows the ``dkm`` library of Milsom, Anson & Aitchison (*Convolutional
deep kernel machines*, ICLR 2024; ``dkm/layer.py``, ``dkm/output.py``). Each layer carries the
inducing block :math:`G_{ii}`, the cross block :math:`G_{ti}` and the diagonal :math:`g_t`, and
only :math:`G_{ii}` is free. The data points follow the GP conditional

.. math::
    G_{ti} = K_{ti}K_{ii}^{-1}G_{ii}, \qquad
    g_t = \operatorname{diag}K_{tt} - \operatorname{rowsum}\big((K_{ti}K_{ii}^{-1}) \circ K_{ti}\big)
        + \operatorname{rowsum}\big((K_{ti}K_{ii}^{-1}G_{ii}) \circ (K_{ti}K_{ii}^{-1})\big).

The KL terms act on the inducing blocks only. The output is a sparse variational GP
:math:`q(F_i) = N(\mu, A)` with :math:`A = LL^\top/P_i` shared by the output columns, and the
objective is :math:`\sum_t E_q[\log p(y_t \mid f_t)] - \sum_\ell \nu_\ell D_{KL,\ell}
- D_{KL}(q(F_i)\|N(0, K_{ii}))`. Its cost is :math:`O(P_i^3 + P_t P_i^2)` per layer, so it is
linear in the number of data points.

Conventions of this module.

* Gram layers are whitened by default: :math:`G_\ell = L W W^\top L^\top / P` with
  :math:`L = \operatorname{chol}(K(G_{\ell-1}))` and :math:`W` lower-triangular, so
  :math:`D_{KL,\ell} = D_{KL}(N(0, WW^\top/P)\,\|\,N(0, I))`. :math:`W` starts at
  :math:`\sqrt P\, I`, which is the NNGP. This is the same family of matrices and the same
  objective as the ``dkm`` library's :math:`G = VV^\top/P` with :math:`V` starting at
  :math:`\sqrt P L` (``whiten=False``). Whitened, :math:`G_\ell` moves with its prior when the
  hyperparameters or the earlier layers change. Unwhitened, a large :math:`\nu_\ell` pins
  :math:`G_\ell` where it started and blocks the hyperparameters (see ``benchmarks/dkm.py``).
* The output's :math:`q(F_i)` is stored whitened the same way: :math:`\mu = L_K m` and
  :math:`A = L_K (WW^\top/P_i) L_K^\top` with :math:`L_K = \operatorname{chol}(K_{ii})`.
* For the ReLU kernel the raw inputs first pass a Dense layer with the same variances,
  :math:`K_1 = K(\sigma_w^2 G_0 + \sigma_b^2)`. With every :math:`\nu_\ell = \infty`, a
  ``depth``-L ReLU DKM is therefore exactly the GP with ``NNGPKernel(depth=L + 1)``.
* Every inverted kernel matrix gets a relative jitter (``jitter`` times its mean diagonal).
  A kernel that is still not positive definite raises :class:`~probtheory.errors.InputDataError`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral, Real

import torch
from gpytorch.constraints import Positive
from torch import Tensor, nn
from torch.distributions import Categorical, Normal
from tqdm.auto import tqdm

from probtheory._checks import check_finite, check_inputs, check_int, check_name, check_nonempty, check_real
from probtheory.errors import ConfigurationError, InputDataError, NotFittedError
from probtheory.gp.gram_kernels import GramKernel, StructuredGram, resolve_gram_kernel

__all__ = ["DeepKernelMachine"]

_POSITIVE = Positive()

# ----------------------------------------------------------------------- Gaussian algebra


def _cholesky(matrix: Tensor, what: str) -> Tensor:
    """Cholesky factor, or an InputDataError naming the matrix (never a NaN downstream)."""
    chol, info = torch.linalg.cholesky_ex(matrix)
    if info.item() != 0 or not torch.isfinite(chol).all():
        raise InputDataError(
            "kernel",
            f"hyperparameters for which {what} is positive definite "
            "(change the kernel hyperparameters or raise `jitter`)",
            f"a matrix that is not (Cholesky failed at column {info.item()})",
        )
    return chol


def _with_jitter(matrix: Tensor, jitter: float) -> Tensor:
    """Add jitter * mean(diag) * I: a relative jitter, invariant to the kernel's scale."""
    if jitter == 0.0:
        return matrix
    diag = matrix.diagonal()
    return matrix + torch.diag_embed(torch.full_like(diag, jitter) * diag.mean())


def _kl_to_prior(prior_chol: Tensor | None, factor: Tensor, size: int) -> Tensor:
    """KL(N(0, W W^T / size) || N(0, L L^T)) for lower-triangular W; L = None means identity."""
    solved = factor if prior_chol is None else torch.linalg.solve_triangular(prior_chol, factor, upper=False)
    trace = solved.square().sum() / size
    logdet_g = 2.0 * factor.diagonal().abs().log().sum() - size * math.log(size)
    logdet_k = 0.0 if prior_chol is None else 2.0 * prior_chol.diagonal().log().sum()
    return 0.5 * (trace - logdet_g + logdet_k - factor.shape[-1])


# ------------------------------------------------------------------------------- the model


class DeepKernelMachine(nn.Module):
    r"""A deep kernel machine: exact (all data points) or sparse (inducing points).

    Objective and propagation are given in the module docstring. Parameters are the
    lower-triangular factors of the finite-dof Gram layers (``gram_factors``), the Gram
    kernel's hyperparameters (``kernel``) and the noise variance (``raw_noise``, Gaussian
    likelihood). The sparse model also has ``inducing_inputs`` and the whitened output
    parameters ``output_mean`` (m) and ``output_factor`` (W). The exact model has output
    parameters only with the categorical likelihood, where :math:`q(F)` covers all training
    points. :meth:`fit` trains the parameters that require grad, so a hyperparameter is frozen with
    ``model.raw_noise.requires_grad_(False)`` or ``model.kernel.requires_grad_(False)``.

    Example:
        ```python
        dkm = DeepKernelMachine(train_x, train_y, depth=2, dof=1.0)      # exact
        dkm.fit(steps=300)
        dkm.predict(test_x).log_prob(test_y)                             # Normal per point
        sparse = DeepKernelMachine(x, labels, likelihood="categorical", num_inducing=50)
        sparse.fit(steps=500, batch_size=256)
        sparse.predict(test_x).probs                                     # Categorical
        ```
    """

    def __init__(
        self,
        train_x: Tensor,
        train_y: Tensor,
        depth: int = 2,
        kernel: str | GramKernel = "relu",
        dof: float | Sequence[float] = 1.0,
        noise: float = 0.1,
        likelihood: str = "gaussian",
        num_inducing: int | None = None,
        *,
        num_samples: int = 16,
        jitter: float = 1e-6,
        whiten: bool = True,
        seed: int = 0,
    ) -> None:
        """Create the model and initialise it at the NNGP (G_l = K(G_{l-1})).

        Args:
            train_x: An `n x d` tensor of inputs (standardise them: G_0 = X X^T / d).
            train_y: Gaussian likelihood: an `n` or `n x m` tensor of targets (m output
                columns sharing the Gram layers). Categorical: an `n` integer tensor of class
                labels in ``[0, C)``.
            depth: Number of Gram layers L >= 1.
            kernel: ``"relu"``, ``"se"``, ``"linear"`` or a :class:`GramKernel` instance.
            dof: nu_l > 0 per layer (a number, or one per layer); ``math.inf`` pins the layer
                to the NNGP, G_l = K(G_{l-1}).
            noise: Initial noise variance sigma^2 > 0 (learnable; Gaussian likelihood only).
            likelihood: ``"gaussian"`` or ``"categorical"``.
            num_inducing: None for the exact DKM, else the number of inducing points
                (1 <= P_i <= n, initialised at a random subset of ``train_x``, learnable).
            num_samples: Monte Carlo samples of the categorical expected log-likelihood.
            jitter: Relative jitter (times the mean diagonal) added to every kernel matrix
                that is inverted (the layer priors and the inducing block of the output).
            whiten: Parametrise each Gram layer relative to its prior, G = L W W^T L^T / P with
                L = chol(K(G_{l-1})) (see the module docstring). False gives the ``dkm`` library's
                G = V V^T / P. Both describe the same G and the same objective, and both start
                at the NNGP. Only the optimisation path differs.
            seed: Seed of the inducing-point choice and of the Monte Carlo draws.
        """
        super().__init__()
        self.train_x = check_inputs("train_x", train_x).to(torch.float64)
        if self.train_x.dim() != 2:
            raise InputDataError("train_x", "an `n x d` tensor", f"shape {tuple(train_x.shape)}")
        check_nonempty("train_x", self.train_x, what="training point")
        if self.train_x.shape[1] == 0:
            raise InputDataError("train_x", "at least one feature (d >= 1)", f"shape {tuple(train_x.shape)}")
        n = self.train_x.shape[0]
        check_name("likelihood", likelihood, ("gaussian", "categorical"), meaning="a likelihood")
        self.likelihood = likelihood
        self.train_y, self.num_outputs = self._check_targets(train_y, n)
        self._squeeze = likelihood == "gaussian" and torch.as_tensor(train_y).dim() == 1
        self.depth = check_int("depth", depth, minimum=1)
        self.dof = _check_dof(dof, self.depth)
        self.num_samples = check_int("num_samples", num_samples, minimum=1)
        self.jitter = check_real("jitter", jitter, nonnegative=True)
        self.seed = check_int("seed", seed, minimum=0)
        if not isinstance(whiten, bool):
            raise InputDataError("whiten", "True or False", repr(whiten))
        self.whiten = whiten
        self.kernel = resolve_gram_kernel(kernel).to(self.train_x.device)
        if num_inducing is not None:
            num_inducing = check_int("num_inducing", num_inducing, minimum=1)
            if num_inducing > n:
                raise InputDataError("num_inducing", f"an integer in [1, n = {n}] or None", num_inducing)
        self.num_inducing = num_inducing
        self.sparse = num_inducing is not None
        if likelihood == "gaussian":
            noise = torch.tensor(check_real("noise", noise, positive=True), dtype=torch.float64)
            self.raw_noise = nn.Parameter(_POSITIVE.inverse_transform(noise).to(self.train_x))
        if self.sparse:
            generator = torch.Generator().manual_seed(self.seed)
            index = torch.randperm(n, generator=generator)[:num_inducing].sort().values
            self.inducing_inputs = nn.Parameter(self.train_x[index.to(self.train_x.device)].clone())
        size = num_inducing if self.sparse else n
        finite = [nu for nu in self.dof if math.isfinite(nu)]
        self.gram_factors = nn.ParameterList(
            [nn.Parameter(torch.zeros(size, size).to(self.train_x)) for _ in finite]
        )
        self.variational_output = self.sparse or likelihood == "categorical"
        if self.variational_output:
            self.output_mean = nn.Parameter(torch.zeros(size, self.num_outputs).to(self.train_x))
            self.output_factor = nn.Parameter(torch.zeros(size, size).to(self.train_x))
        self._fitted = False
        self._initialise()

    # ------------------------------------------------------------------ validation helpers

    def _check_targets(self, train_y: Tensor, n: int) -> tuple[Tensor, int]:
        if not isinstance(train_y, Tensor):
            raise InputDataError("train_y", "a torch.Tensor", type(train_y).__name__)
        if self.likelihood == "categorical":
            if train_y.is_floating_point() or train_y.dtype == torch.bool or train_y.is_complex():
                raise InputDataError("train_y", "an integer tensor of class labels", f"dtype {train_y.dtype}")
            if train_y.shape != (n,):
                raise InputDataError("train_y", f"shape ({n},) (one label per input)", tuple(train_y.shape))
            if (train_y < 0).any():
                raise InputDataError("train_y", "class labels >= 0", int(train_y.min()))
            num_classes = int(train_y.max()) + 1
            if num_classes < 2:
                raise InputDataError("train_y", "labels of at least 2 classes", f"{num_classes} class")
            return train_y.to(device=self.train_x.device, dtype=torch.long), num_classes
        check_finite("train_y", train_y)
        if train_y.shape[:1] != (n,) or train_y.dim() not in (1, 2):
            raise InputDataError("train_y", f"shape ({n},) or ({n}, m)", tuple(train_y.shape))
        y = train_y.to(self.train_x).reshape(n, -1)
        return y, y.shape[1]

    @property
    def noise(self) -> Tensor:
        """Noise variance sigma^2 of the Gaussian likelihood."""
        if self.likelihood != "gaussian":
            raise ConfigurationError("The categorical likelihood has no noise variance.")
        return _POSITIVE.transform(self.raw_noise)

    @property
    def _size(self) -> int:
        return self.num_inducing if self.sparse else self.train_x.shape[0]

    def _anchor_inputs(self) -> Tensor:
        """The points that carry the free Gram blocks: inducing inputs, or all training inputs."""
        return self.inducing_inputs if self.sparse else self.train_x

    # ------------------------------------------------------------------------- forward pass

    def _propagate(self, x: Tensor | None, initialise: bool = False) -> tuple[Tensor, list, StructuredGram]:
        """Run the Gram layers; return the summed nu-weighted KL, the G_ii and K(G_L).

        Args:
            x: A `P_t x d` tensor of points to propagate to (the data or test points), or None
                for none (the exact objective needs the anchor block only).
            initialise: Set every finite-dof layer to G_l = K(G_{l-1}) (the NNGP) on the way.
        """
        anchor = self._anchor_inputs()
        x = anchor[:0] if x is None else x
        d = anchor.shape[-1]
        gram = StructuredGram(anchor @ anchor.T / d, x @ anchor.T / d, (x * x).sum(-1) / d)
        k = self.kernel.input_layer(gram)
        kl = torch.zeros((), dtype=torch.float64, device=anchor.device)
        grams = []
        factors = iter(self.gram_factors)
        for layer, nu in enumerate(self.dof, start=1):
            if math.isinf(nu):
                gram = k  # nu = inf: G_l = K(G_{l-1}) exactly, the NNGP
            else:
                chol = _cholesky(
                    _with_jitter(k.ii, self.jitter), f"K(G_{layer - 1}) (prior of layer {layer})"
                )
                factor = next(factors)
                if initialise:  # G_l = K(G_{l-1}): W = sqrt(P) I (whitened) or V = sqrt(P) L
                    start = torch.eye(self._size).to(chol) if self.whiten else chol
                    factor.copy_(start * math.sqrt(self._size))
                layer_kl, gram = self._gram_layer(k, chol, factor.tril())
                kl = kl + nu * layer_kl
            grams.append(gram.ii)
            k = self.kernel(gram)
        return kl, grams, k

    def _gram_layer(self, k: StructuredGram, chol: Tensor, factor: Tensor) -> tuple[Tensor, StructuredGram]:
        """KL(N(0, G_ii) || N(0, K_ii)) and G (with the GP-conditional G_ti, g_t) of one layer.

        With B = L^{-1} K_it (L = chol K_ii) and the factor V of G_ii = V V^T / P_i:
        K_ti K_ii^{-1} G_ii = (K_ti K_ii^{-1} V) V^T / P_i, and the last term of g_t is
        rowsum((K_ti K_ii^{-1} V)^2) / P_i. Whitened, V = L W, so K_ti K_ii^{-1} V = B^T W and
        the KL is KL(N(0, W W^T / P_i) || N(0, I)).
        """
        size = self._size
        b = torch.linalg.solve_triangular(chol, k.ti.T, upper=False)
        if self.whiten:
            v, projected = chol @ factor, b.T @ factor
            kl = _kl_to_prior(None, factor, size)
        else:
            v = factor
            projected = torch.linalg.solve_triangular(chol.T, b, upper=True).T @ factor
            kl = _kl_to_prior(chol, factor, size)
        g_t = k.t - b.square().sum(0) + projected.square().sum(1) / size
        return kl, StructuredGram(v @ v.T / size, projected @ v.T / size, g_t)

    def _output_marginals(self, k: StructuredGram) -> tuple[Tensor, Tensor, Tensor]:
        """Mean (`P_t x C`) and variance (`P_t`) of q(f_t), and the output KL.

        q(F_i) is stored whitened: mu = L m, A = L (W W^T / P_i) L^T with L = chol(K_ii). With
        B = L^{-1} K_it this gives K_ti K_ii^{-1} mu = B^T m and
        k_ti K_ii^{-1} A K_ii^{-1} k_it = rowsum((B^T W)^2) / P_i.
        """
        chol = _cholesky(_with_jitter(k.ii, self.jitter), "K(G_L) on the inducing points")
        b = torch.linalg.solve_triangular(chol, k.ti.T, upper=False)
        factor = self.output_factor.tril()
        mean = b.T @ self.output_mean
        var = k.t - b.square().sum(0) + (b.T @ factor).square().sum(1) / self._size
        # The standard SVGP KL, summed over the C output columns that share the covariance A.
        # KL(N(L m, L S L^T) || N(0, L L^T)) = KL(N(m, S) || N(0, I)).
        kl = self.num_outputs * _kl_to_prior(None, factor, self._size) + 0.5 * self.output_mean.square().sum()
        return mean, var, kl

    def _expected_log_likelihood(
        self, mean: Tensor, var: Tensor, y: Tensor, generator: torch.Generator | None
    ) -> Tensor:
        """Sum over points of E_q[log p(y_t | f_t)]: closed form (Gaussian) or Monte Carlo."""
        if self.likelihood == "gaussian":
            noise = self.noise
            sq = (y - mean).square() + var[:, None]
            return -0.5 * (math.log(2 * math.pi) * y.numel() + y.numel() * noise.log() + sq.sum() / noise)
        eps = torch.randn(
            self.num_samples, *mean.shape, generator=generator, dtype=mean.dtype, device=mean.device
        )
        f = mean + var.clamp_min(1e-12).sqrt()[:, None] * eps
        log_p = torch.log_softmax(f, dim=-1).gather(-1, y[None, :, None].expand(self.num_samples, -1, 1))
        return log_p.squeeze(-1).mean(0).sum()

    # --------------------------------------------------------------------------- public API

    def objective(self, batch: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        r"""The DKM objective (exact) or its sparse variational form, summed over the data.

        Args:
            batch: Optional indices of a minibatch (sparse model only). The expected
                log-likelihood of the batch is scaled by n / batch size, so the value is an
                unbiased estimate of the full objective.
            generator: Random source of the categorical Monte Carlo draws. The default is a
                generator seeded with ``seed``, so repeated calls return the same value.

        Returns:
            A scalar tensor, differentiable in every parameter.
        """
        n = self.train_x.shape[0]
        if batch is not None and not self.sparse:
            raise ConfigurationError(
                "`batch` needs the sparse DKM (num_inducing=int); the exact DKM is full-batch."
            )
        if batch is not None:
            if (
                not isinstance(batch, Tensor)
                or batch.dtype != torch.long
                or batch.dim() != 1
                or batch.numel() == 0
            ):
                got = (
                    f"dtype {batch.dtype}, shape {tuple(batch.shape)}"
                    if isinstance(batch, Tensor)
                    else type(batch).__name__
                )
                raise InputDataError("batch", "a non-empty 1-d long tensor of training indices", got)
            if ((batch < 0) | (batch >= n)).any():
                raise InputDataError(
                    "batch", f"indices in [0, {n})", f"range [{int(batch.min())}, {int(batch.max())}]"
                )
        if generator is not None and not isinstance(generator, torch.Generator):
            raise InputDataError("generator", "a torch.Generator or None", type(generator).__name__)
        if generator is None:
            generator = torch.Generator(device=self.train_x.device).manual_seed(self.seed)
        if not self.variational_output:  # exact DKM, Gaussian: the GP marginal likelihood
            kl, _, k = self._propagate(None)
            value = self._log_marginal_likelihood(k.ii) - kl
        else:
            index = torch.arange(n, device=self.train_x.device) if batch is None else batch
            x = None if not self.sparse else self.train_x[index]
            kl, _, k = self._propagate(x)
            if not self.sparse:  # exact DKM, categorical: q(F) over the training points
                k = StructuredGram(k.ii, k.ii, k.ii.diagonal())
            mean, var, output_kl = self._output_marginals(k)
            ell = self._expected_log_likelihood(mean, var, self.train_y[index], generator)
            value = ell * (n / len(index)) - kl - output_kl
        if not torch.isfinite(value):
            raise InputDataError("kernel", "hyperparameters giving a finite DKM objective", value.item())
        return value

    def _log_marginal_likelihood(self, k: Tensor) -> Tensor:
        """Sum over output columns of log N(y; 0, K + sigma^2 I)."""
        n = k.shape[0]
        chol = _cholesky(k + self.noise * torch.eye(n, dtype=k.dtype, device=k.device), "K(G_L) + noise I")
        alpha = torch.linalg.solve_triangular(chol, self.train_y, upper=False)
        logdet = 2.0 * chol.diagonal().log().sum()
        return -0.5 * (alpha.square().sum() + self.num_outputs * (logdet + n * math.log(2 * math.pi)))

    @torch.no_grad()
    def _initialise(self) -> None:
        """Start at the NNGP, and put q(F_i) at its optimum (Gaussian) or at the prior."""
        _, _, k = self._propagate(None, initialise=True)
        if not self.variational_output:
            return
        if self.likelihood == "gaussian":
            self.optimal_output_()
        else:  # q(F_i) = prior, N(0, K_ii): whitened m = 0, W = sqrt(P_i) I
            self.output_factor.copy_(torch.eye(self._size).to(self.output_factor) * math.sqrt(self._size))

    @torch.no_grad()
    def optimal_output_(self) -> None:
        r"""Set q(F_i) = N(mu, A) to its optimum given the Gram layers (sparse, Gaussian).

        :math:`A = (K_{ii}^{-1} + \sigma^{-2} K_{ii}^{-1}K_{it}K_{ti}K_{ii}^{-1})^{-1}` and
        :math:`\mu = \sigma^{-2} A K_{ii}^{-1} K_{it} Y` (Titsias 2009). At this q the sparse
        objective is the collapsed bound. With the inducing points equal to the training inputs
        it is the exact DKM objective.
        """
        if not (self.sparse and self.likelihood == "gaussian"):
            raise ConfigurationError("optimal_output_() needs the sparse DKM with the Gaussian likelihood.")
        _, _, k = self._propagate(self.train_x)
        chol = _cholesky(_with_jitter(k.ii, self.jitter), "K(G_L) on the inducing points")
        # With B = L^{-1} K_it and M = I + B B^T / noise the optimum is A = L M^{-1} L^T and
        # mu = L M^{-1} B Y / noise, i.e. whitened: S = M^{-1}, m = M^{-1} B Y / noise.
        b = torch.linalg.solve_triangular(chol, k.ti.T, upper=False)
        eye = torch.eye(self._size, dtype=b.dtype, device=b.device)
        m_chol = _cholesky(eye + b @ b.T / self.noise, "I + B B^T / noise")
        inner = torch.cholesky_solve(torch.cat([eye, b @ self.train_y / self.noise], dim=1), m_chol)
        covariance = 0.5 * (inner[:, : self._size] + inner[:, : self._size].T)
        self.output_mean.copy_(inner[:, self._size :])
        self.output_factor.copy_(
            _cholesky(covariance, "the optimal q(F_i) covariance") * math.sqrt(self._size)
        )

    def fit(
        self, steps: int = 500, lr: float = 0.01, progress: bool = True, batch_size: int | None = None
    ) -> list[float]:
        """Maximise the objective with Adam over every parameter that requires grad.

        Args:
            steps: Number of Adam steps (>= 1).
            lr: Adam learning rate (> 0).
            progress: Show a tqdm bar with the current objective per data point.
            batch_size: Minibatch size (sparse model only). None means full batch.

        Returns:
            The objective per data point (objective / n, a minibatch estimate with
            ``batch_size``) at each step, evaluated before that step's update. A
            KeyboardInterrupt stops the loop and keeps the steps already taken.
        """
        steps = check_int("steps", steps, minimum=1)
        lr = check_real("lr", lr, positive=True)
        n = self.train_x.shape[0]
        if batch_size is not None:
            batch_size = check_int("batch_size", batch_size, minimum=1)
            if not self.sparse:
                raise ConfigurationError("`batch_size` needs the sparse DKM (num_inducing=int).")
            batch_size = min(batch_size, n)
        trainable = [p for p in self.parameters() if p.requires_grad]
        # With everything frozen, fit() only evaluates the objective and marks the model fitted.
        optimiser = torch.optim.Adam(trainable, lr=lr) if trainable else None
        generator = torch.Generator(device=self.train_x.device).manual_seed(self.seed)
        history: list[float] = []
        bar = tqdm(range(steps), disable=not progress, desc="DeepKernelMachine.fit")
        try:
            for _ in bar:
                batch = None
                if batch_size is not None and batch_size < n:
                    batch = torch.randperm(n, generator=generator, device=self.train_x.device)[:batch_size]
                with torch.set_grad_enabled(optimiser is not None):
                    value = self.objective(batch=batch, generator=generator) / n
                if optimiser is not None:
                    optimiser.zero_grad()
                    (-value).backward()
                    optimiser.step()
                history.append(value.item())
                self._fitted = True
                bar.set_postfix(objective=f"{history[-1]:.4f}")
        except KeyboardInterrupt:
            pass  # keep the steps taken so far (docs/concepts.md: interruptible without losing work)
        finally:
            bar.close()
        return history

    @torch.no_grad()
    def predict(self, test_x: Tensor, num_samples: int = 512) -> Normal | Categorical:
        """Predictive distribution at ``test_x``, point by point.

        Test points enter every layer through the GP conditional of the module docstring.

        Args:
            test_x: An `m x d` tensor of inputs.
            num_samples: Monte Carlo samples of the class probabilities (categorical only).

        Returns:
            Gaussian likelihood: a ``Normal`` of noisy observations, batch shape `m` (or
            `m x k` for `n x k` targets). Categorical: a ``Categorical`` with `m x C` probs,
            E_q[softmax(f)]. Computed in float64 (the model's dtype, to which ``test_x`` is
            converted); the distribution comes back in the dtype of ``test_x``.
        """
        if not self._fitted:
            raise NotFittedError(
                "DeepKernelMachine.predict() was called before fit(); call fit(steps=...) first."
            )
        dtype = test_x.dtype if isinstance(test_x, Tensor) else torch.float64  # results in the input's dtype
        test_x = check_inputs("test_x", test_x, feature_dim=self.train_x.shape[-1]).to(self.train_x)
        if test_x.dim() != 2:
            raise InputDataError("test_x", "an `m x d` tensor", f"shape {tuple(test_x.shape)}")
        _, _, k = self._propagate(test_x)
        if self.variational_output:
            mean, var, _ = self._output_marginals(k)
        else:
            n = k.ii.shape[0]
            chol = _cholesky(k.ii + self.noise * torch.eye(n).to(k.ii), "K(G_L) + noise I")
            b = torch.linalg.solve_triangular(chol, k.ti.T, upper=False)
            alpha = torch.linalg.solve_triangular(chol, self.train_y, upper=False)
            mean, var = b.T @ alpha, k.t - b.square().sum(0)
        if self.likelihood == "gaussian":
            scale = (var.clamp_min(0.0)[:, None] + self.noise).sqrt().expand_as(mean)
            if self._squeeze:
                mean, scale = mean[:, 0], scale[:, 0]
            return Normal(mean.to(dtype), scale.to(dtype))
        num_samples = check_int("num_samples", num_samples, minimum=1)
        generator = torch.Generator(device=mean.device).manual_seed(self.seed)
        eps = torch.randn(num_samples, *mean.shape, generator=generator, dtype=mean.dtype, device=mean.device)
        probs = torch.softmax(mean + var.clamp_min(0.0).sqrt()[:, None] * eps, dim=-1).mean(0)
        return Categorical(probs=probs.to(dtype))

    @torch.no_grad()
    def gram_matrices(self) -> list[Tensor]:
        """The learned Gram matrices G_1..G_L.

        Returns:
            One tensor per layer: `n x n` over the training inputs (exact DKM) or `P_i x P_i`
            over the inducing inputs (sparse DKM).
        """
        return [g.clone() for g in self._propagate(None)[1]]


def _check_dof(dof: float | Sequence[float], depth: int) -> tuple[float, ...]:
    values = list(dof) if isinstance(dof, Sequence) else [dof] * depth
    if len(values) != depth:
        raise InputDataError("dof", f"a number or {depth} numbers (one per layer)", f"{len(values)} values")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, Real | Integral) or not value > 0:
            raise InputDataError("dof", "numbers > 0 (math.inf for an NNGP layer)", dof)
    return tuple(float(v) for v in values)
