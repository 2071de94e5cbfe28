r"""Monotone deep Boltzmann machines: a unique mean-field fixed point by construction.

Feng, Winston, Kolter, *Monotone deep Boltzmann machines* (TMLR 2023, arXiv 2307.04990);
reference code locuslab/MonotoneDBM (``MultiMonotoneHollowConv``, ``ProxSoftmax``).

Categorical variables ``x_i in {0, ..., k_i - 1}`` are one-hot encoded into
``z in R^D, D = sum_i k_i``; the pairwise model is ``p(x) ∝ exp(z^T W z / 2 + b^T z)`` with a
symmetric coupling ``W`` that is *hollow* (zero on each variable's own ``k_i x k_i`` block) and
couples every pair of variables, within a layer too. Mean-field ``q = prod_i q_i`` has the
free energy

.. math::
    F(q) = -\tfrac12 q^\top W q - b^\top q - \sum_i H(q_i),

stationary exactly at ``q_i = softmax((W q + b)_i)``. Since ``-H`` is 1-strongly convex on the
simplex, ``F`` is m-strongly convex whenever ``I - W ⪰ m I``; the fixed point then exists and is
globally unique. The parameterisation (paper's ``MultiMonotoneHollowConv``, dense here)

.. math::
    W = -s\,(A^\top A - \mathrm{blkdiag}(A^\top A)), \qquad
    s = \min\bigl(1, (1 - m) / \max_i \|(A^\top A)_{ii}\|_2\bigr)

guarantees it: ``I - W ⪰ I - s blkdiag(A^T A) ⪰ m I``.

Inference — damped forward-backward splitting with the proximal softmax, optional Anderson
acceleration, a ``RuntimeWarning`` with the residual when a solve misses its tolerance, and
gradients through the fixed point by the implicit function theorem (no unrolling) — lives in
:mod:`probtheory.energy.categorical_mean_field` and :mod:`probtheory.energy.proximal_softmax`;
the categorical layout of ``z`` in :mod:`probtheory.energy._categorical_groups`.

Example (scikit-learn digits, binarised: 64 binary pixels and a 10-class label; ~10 s on one
thread; the paper calls the model "still largely conceptual", and mean-field completion of a
pairwise model is only about as good as the per-pixel majority)::

    import torch
    from sklearn.datasets import load_digits
    from probtheory.energy.monotone_dbm import MonotoneDBM

    digits = load_digits()
    pixels = torch.as_tensor(digits.data > 7, dtype=torch.long)       # 1797 x 64 in {0, 1}
    labels = torch.as_tensor(digits.target, dtype=torch.long)[:, None]
    x = torch.cat([pixels, labels], dim=1)                             # 1797 x 65
    train, test = x[:1500], x[1500:]
    model = MonotoneDBM([2] * 64 + [10], seed=0)
    model.fit(train, target=-1, observe_prob=0.7, target_weight=0.7, epochs=3, lr=0.05,
              batch_size=100, seed=0, progress=False)
    accuracy = (model.classify(test) == test[:, -1]).double().mean()  # all pixels observed
    mask = torch.ones_like(test, dtype=torch.bool)
    mask[:, :32] = False                                               # hide the top half
    completed = model.complete(test, mask)                             # 297 x 65
    pixel_error = (completed[:, :32] != test[:, :32]).double().mean()
    majority = (train[:, :32].double().mean(0) > 0.5).long()
    baseline = (majority != test[:, :32]).double().mean()
    print(f"accuracy {accuracy:.2f}, top-half pixel error {pixel_error:.2f} (majority {baseline:.2f})")
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.distributions import Categorical
from tqdm.auto import tqdm

from probtheory._checks import (
    check_finite,
    check_int,
    check_interval,
    check_name,
    check_nonempty,
    check_real,
    make_generator,
)
from probtheory.energy._categorical_groups import _check_sizes, _flat, _Groups
from probtheory.energy.categorical_mean_field import (
    MeanFieldSolution,
    _ImplicitMeanField,
    _make_setup,
    _Setup,
    default_step,
    mean_field_free_energy,
)
from probtheory.errors import ConfigurationError, InputDataError

__all__ = ["MonotoneDBM"]


class MonotoneDBM(nn.Module):
    r"""Monotone deep Boltzmann machine over categorical variables (dense couplings).

    Visible variables (the data columns) come first, hidden ones after; every pair of
    variables is coupled through ``W = -s (A^T A - blkdiag(A^T A))`` (see the module
    docstring), which makes the mean-field free energy m-strongly convex and its fixed point
    unique. A binary variable is a group of size 2.

    Args:
        visible_sizes: Category counts ``k_i >= 2`` of the visible variables (one per data column).
        hidden_sizes: Category counts of the hidden variables (never observed).
        rank: Rows of the factor ``A`` (default ``D``, the one-hot dimension).
        m: Strong-monotonicity parameter in ``(0, 1)``: ``I - W ⪰ m I``.
        alpha: Forward-backward step in ``(0, 1]``; default ``2 / (λ_min + λ_max)`` of ``I - W``.
        tol: Tolerance of the mean-field residual ``max |q - softmax(W q + b)|``.
        max_iter: Maximum solver iterations (forward and adjoint).
        anderson_memory: Anderson memory; 0 turns acceleration off.
        seed: Seed of the initial factor ``A``.
        dtype: Parameter dtype (float64 default: the solver tolerances assume it).
    """

    def __init__(
        self,
        visible_sizes: Sequence[int],
        hidden_sizes: Sequence[int] = (),
        *,
        rank: int | None = None,
        m: float = 0.1,
        alpha: float | None = None,
        tol: float = 1e-6,
        max_iter: int = 2000,
        anderson_memory: int = 5,
        seed: int | None = None,
        dtype: torch.dtype = torch.float64,
    ) -> None:
        super().__init__()
        self.visible_sizes = _check_sizes("visible_sizes", visible_sizes)
        self.hidden_sizes = _check_sizes("hidden_sizes", hidden_sizes, allow_empty=True)
        self.m = check_interval(
            "m", m, 0.0, 1.0, closed=(False, False), meaning="a strong-monotonicity parameter"
        )
        if alpha is not None:
            alpha = check_interval(
                "alpha", alpha, 0.0, 1.0, closed=(False, True), meaning="a forward-backward step"
            )
        self.alpha = alpha
        if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
            raise InputDataError("dtype", "a floating torch.dtype (torch.float64 by default)", repr(dtype))
        self.tol = check_real("tol", tol, positive=True)
        self.max_iter = check_int("max_iter", max_iter, minimum=1)
        self.anderson_memory = check_int("anderson_memory", anderson_memory, minimum=0)
        self._groups = _Groups(self.visible_sizes + self.hidden_sizes)
        dim = self._groups.dim
        rank = dim if rank is None else check_int("rank", rank, minimum=1)
        generator = make_generator(seed)
        self.factor = nn.Parameter(torch.randn(rank, dim, generator=generator, dtype=dtype) / math.sqrt(rank))
        self.bias = nn.Parameter(torch.zeros(dim, dtype=dtype))
        # paper: readout logits (W q* + b) * tau^2 with a learned temperature per visible variable
        self.log_temperature = nn.Parameter(torch.zeros(len(self.visible_sizes), dtype=dtype))
        self.last_solution: MeanFieldSolution | None = None

    # -- structure -------------------------------------------------------------------------

    @property
    def group_sizes(self) -> tuple[int, ...]:
        """Category counts of all variables, visible first."""
        return self._groups.sizes

    @property
    def num_visible(self) -> int:
        """Number of visible variables (data columns)."""
        return len(self.visible_sizes)

    def coupling(self) -> Tensor:
        """The `D x D` hollow symmetric coupling ``W`` with ``I - W ⪰ m I``."""
        gram = self.factor.T @ self.factor
        gram = 0.5 * (gram + gram.T)  # exactly symmetric (matmul round-off is not)
        block_norm = torch.stack(
            [self._largest_block_eigenvalue(gram, k) for k in set(self.group_sizes)]
        ).max()
        scale = torch.clamp((1.0 - self.m) / block_norm, max=1.0)
        return -scale * gram.masked_fill(self._groups.same_group().to(gram.device), 0.0)

    def _largest_block_eigenvalue(self, gram: Tensor, k: int) -> Tensor:
        starts = self._groups.offsets[torch.tensor(self.group_sizes) == k]
        idx = (starts[:, None] + torch.arange(k)).to(gram.device)  # groups x k
        blocks = gram[idx[:, :, None], idx[:, None, :]]
        return torch.linalg.eigvalsh(blocks)[:, -1].max()

    # -- inference -------------------------------------------------------------------------

    def mean_field(
        self, x: Tensor | None = None, mask: Tensor | None = None, *, init: Tensor | None = None
    ) -> Tensor:
        """Mean-field marginals given the observed variables, differentiable (implicitly).

        Args:
            x: A `... x n x V` tensor of visible states (integers ``0 <= x_i < k_i``); ``None``
                infers every variable (one row).
            mask: A `... x n x V` boolean tensor, True where ``x`` is observed (clamped);
                default: all visible variables observed.
            init: Optional `D` or `N x D` starting point (block-wise distributions).

        Returns:
            A `... x n x D` tensor (one row of `D` without ``x``): the one-hot marginals of all
            variables, visible then hidden; observed blocks are their one-hot values.
        """
        if init is not None:
            check_finite("init", init)
        coupling, bias = self.coupling(), self.bias
        if x is None:
            if mask is not None:
                raise InputDataError("mask", "None when `x` is None", f"shape {tuple(mask.shape)}")
            clamp = free = None
            batch = init.shape[0] if init is not None and init.dim() == 2 else 1
            lead = (batch,) if init is not None and init.dim() == 2 else ()
        else:
            x, mask, lead = self._states_and_mask(x, mask)
            clamp, free = self._clamp(x, mask)
            batch = x.shape[0]
        setup = _make_setup(
            coupling, bias, self._groups, clamp, free, self._step(coupling), self.tol, self.max_iter,
            self.anderson_memory, init,
        )  # fmt: skip
        q = self._fixed_point(coupling, bias, setup, batch)
        self.last_solution = setup.solution
        return q.reshape(*lead, self._groups.dim)

    def _step(self, coupling: Tensor) -> float:
        """The user's step, or the default one cached until the factor changes (it costs an eigvalsh)."""
        if self.alpha is not None:
            return self.alpha
        key = (self.factor._version, self.factor.data_ptr(), self.m)
        if getattr(self, "_step_cache", (None,))[0] != key:
            self._step_cache = (key, default_step(coupling))
        return self._step_cache[1]

    def _fixed_point(self, coupling: Tensor, bias: Tensor, setup: _Setup, batch: int) -> Tensor:
        return _ImplicitMeanField.apply(coupling, bias, setup, batch)

    def free_energy(self, q: Tensor) -> Tensor:
        """Mean-field free energy ``F(q)`` of `... x D` marginals ``q`` (see the module docstring)."""
        check_finite("q", q)
        return mean_field_free_energy(
            _flat("q", q, self._groups.dim).reshape(q.shape), self.coupling(), self.bias
        )

    def marginals(self, x: Tensor, mask: Tensor | None = None) -> list[Tensor]:
        """Mean-field marginals of the visible variables: a list of `... x n x k_i` tensors."""
        q = self.mean_field(x, mask)
        return list(q[..., : sum(self.visible_sizes)].split(self.visible_sizes, dim=-1))

    def readout_log_proba(self, q: Tensor) -> Tensor:
        """Tempered readout ``log softmax(tau_i^2 (W q + b)_i)`` of the visible variables.

        At the fixed point and ``tau = 1`` this is ``log q_i`` itself (the mean-field equation);
        the learned per-variable temperature ``tau_i`` (paper's ``tau``/``clftau``) calibrates it.

        Args:
            q: A `N x D` tensor of mean-field marginals.

        Returns:
            A `N x D_v` tensor (``D_v = sum(visible_sizes)``) of per-block log-probabilities.
        """
        dv = sum(self.visible_sizes)
        check_finite("q", q)
        _flat("q", q, self._groups.dim)
        field = (q.to(self.factor.dtype) @ self.coupling().T + self.bias)[..., :dv]
        tau2 = torch.exp(2.0 * self.log_temperature)[self._groups.gid[:dv]]
        return (
            _Groups(self.visible_sizes, q.device)
            .log_softmax(field.reshape(-1, dv) * tau2)
            .reshape(field.shape)
        )

    def _predictive(self, x: Tensor, mask: Tensor | None) -> list[Tensor]:
        q = self.mean_field(x, mask)
        logp = self.readout_log_proba(q.reshape(-1, self._groups.dim)).exp()
        return list(logp.reshape(*q.shape[:-1], -1).split(self.visible_sizes, dim=-1))

    def complete(self, x: Tensor, mask: Tensor) -> Tensor:
        """Fill in the unobserved visible variables with their most probable state.

        Args:
            x: A `... x n x V` tensor of states (unobserved entries are ignored but must be in range).
            mask: A `... x n x V` boolean tensor, True where observed.

        Returns:
            A `... x n x V` long tensor: observed entries unchanged, the others the argmax of
            their mean-field marginals (the same as that of the tempered readout).
        """
        with torch.no_grad():
            states = torch.stack([p.argmax(-1) for p in self._predictive(x, mask)], dim=-1)
        x_long, mask_bool, _ = self._states_and_mask(x, mask)
        return torch.where(mask_bool, x_long, states.reshape(x_long.shape)).reshape(states.shape)

    def predict_proba(self, x: Tensor, mask: Tensor | None = None, variable: int = -1) -> Tensor:
        """Readout probabilities of one visible variable (always treated as unobserved).

        Args:
            x: A `... x n x V` tensor of states; the entry of ``variable`` is ignored.
            mask: A `... x n x V` boolean tensor of observed entries (default: all but ``variable``).
            variable: Index of the visible variable to predict (default: the last, e.g. a label).

        Returns:
            A `... x n x k` tensor of probabilities, ``k = visible_sizes[variable]``.
        """
        v = self._variable_index(variable)
        x = self._check_x_tensor(x)
        if mask is None:
            mask = torch.ones(x.shape, dtype=torch.bool, device=x.device)
        else:
            mask = self._check_mask_tensor(mask, x.shape)
        mask = mask.clone()
        mask[..., v] = False
        with torch.no_grad():
            return self._predictive(x, mask)[v]

    def predictive(self, x: Tensor, mask: Tensor | None = None, variable: int = -1) -> Categorical:
        """The readout distribution of one visible variable, as a ``torch.distributions.Categorical``.

        Args:
            x: A `... x n x V` tensor of states; the entry of ``variable`` is ignored.
            mask: A `... x n x V` boolean tensor of observed entries (default: all but ``variable``).
            variable: Index of the visible variable to predict.

        Returns:
            A ``Categorical`` with batch shape `... x n`.
        """
        return Categorical(probs=self.predict_proba(x, mask, variable))

    def classify(self, x: Tensor, mask: Tensor | None = None, variable: int = -1) -> Tensor:
        """Most probable state of ``variable`` given the observed entries: a `... x n` long tensor."""
        return self.predict_proba(x, mask, variable).argmax(-1)

    # -- training --------------------------------------------------------------------------

    def fit(
        self,
        x: Tensor,
        *,
        target: int | None = -1,
        mask_strategy: str = "bernoulli",
        observe_prob: float = 0.5,
        target_weight: float = 0.9,
        focal_gamma: float = 0.0,
        epochs: int = 10,
        lr: float = 1e-2,
        batch_size: int = 64,
        seed: int | None = None,
        progress: bool = True,
    ) -> list[float]:
        """Train by the paper's conditional loss: mean-field marginals vs held-out variables.

        Each batch draws which visible variables are observed; the mean-field marginals ``q``
        of the others are scored by the (focal) log loss of their true states,
        ``(1 - w) recon + w clf`` with ``clf`` the loss of the ``target`` variable (always held
        out) and ``recon`` that of the other held-out variables (paper: focal loss, ``w = 0.9``).

        Args:
            x: An `n x V` tensor of visible states.
            target: Index of the class-label variable, or None (completion only).
            mask_strategy: ``"bernoulli"`` (each non-target variable observed with probability
                ``observe_prob``, the paper's) or ``"target"`` (all observed but the target).
            observe_prob: Observation probability of the ``"bernoulli"`` strategy, in ``[0, 1)``.
            target_weight: ``w`` in ``[0, 1]``.
            focal_gamma: Focal-loss exponent (0: cross-entropy; the paper uses 2).
            epochs: Passes over the data.
            lr: Adam learning rate.
            batch_size: Mini-batch size.
            seed: Seed of shuffling and masks.
            progress: Show a progress bar.

        Returns:
            The mean training loss of each epoch. Solver non-convergence during training is
            reported once, at the end, as a ``RuntimeWarning`` with the largest residual.
        """
        x = self._check_x_tensor(x)
        if x.dim() != 2:
            raise InputDataError("x", f"an `n x {self.num_visible}` tensor", f"shape {tuple(x.shape)}")
        check_nonempty("x", x, what="training row")
        x, _, _ = self._states_and_mask(x, None)
        v = None if target is None else self._variable_index(target)
        check_name("mask_strategy", mask_strategy, ("bernoulli", "target"), meaning="a masking strategy")
        if mask_strategy == "target" and v is None:
            raise ConfigurationError("mask_strategy='target' needs a `target` variable")
        observe_prob = check_interval(
            "observe_prob", observe_prob, 0.0, 1.0, closed=(True, False), meaning="a probability"
        )
        target_weight = check_interval("target_weight", target_weight, 0.0, 1.0, meaning="a weight")
        focal_gamma = check_real("focal_gamma", focal_gamma, nonnegative=True)
        epochs = check_int("epochs", epochs, minimum=1)
        batch_size = check_int("batch_size", batch_size, minimum=1)
        lr = check_real("lr", lr, positive=True)
        generator = make_generator(seed)
        optimizer = torch.optim.Adam(self.parameters(), lr=lr)
        losses: list[float] = []
        failures, worst = 0, 0.0
        bar = tqdm(range(epochs), desc="MonotoneDBM.fit", disable=not progress, unit="epoch")
        try:
            for _ in bar:
                total, count = 0.0, 0
                for idx in torch.randperm(x.shape[0], generator=generator).split(batch_size):
                    batch = x[idx]
                    mask = self._training_mask(batch, v, mask_strategy, observe_prob, generator)
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always", RuntimeWarning)
                        loss = self._conditional_loss(batch, mask, v, target_weight, focal_gamma)
                        optimizer.zero_grad()
                        loss.backward()
                    for w in caught:
                        if "did not converge" in str(w.message):
                            failures += 1
                        else:
                            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
                    if self.last_solution is not None and not self.last_solution.converged:
                        worst = max(worst, float(self.last_solution.residual.max()))
                    optimizer.step()
                    total, count = total + float(loss.detach()) * len(idx), count + len(idx)
                losses.append(total / count)
                bar.set_postfix(loss=f"{losses[-1]:.4f}")
        except KeyboardInterrupt:  # keep what was learnt so far
            warnings.warn(
                f"MonotoneDBM.fit interrupted after {len(losses)} epochs", RuntimeWarning, stacklevel=2
            )
        if failures:
            warnings.warn(
                f"MonotoneDBM.fit: {failures} mean-field or adjoint solves did not reach "
                f"tol = {self.tol:.1e} (largest forward residual {worst:.3e}); raise max_iter",
                RuntimeWarning,
                stacklevel=2,
            )
        return losses

    def _training_mask(self, batch: Tensor, v: int | None, strategy: str, p: float, generator) -> Tensor:
        if strategy == "target":
            mask = torch.ones(batch.shape, dtype=torch.bool)
        else:
            mask = torch.rand(batch.shape, generator=generator, dtype=torch.float64) < p
        if v is not None:
            mask[:, v] = False
        return mask.to(batch.device)

    def _conditional_loss(self, batch: Tensor, mask: Tensor, v: int | None, w: float, gamma: float) -> Tensor:
        logp = self.readout_log_proba(self.mean_field(batch, mask))
        idx = self._groups.offsets[: self.num_visible].to(batch.device) + batch  # n x V
        logp = logp.gather(1, idx)
        nll = -logp * (1.0 - logp.exp()).pow(gamma)
        held = ~mask
        if v is None:
            return (nll * held).sum() / held.sum().clamp_min(1)
        others = held.clone()
        others[:, v] = False
        recon = (nll * others).sum() / others.sum().clamp_min(1)
        return (1.0 - w) * recon + w * nll[:, v].mean()

    # -- validation ------------------------------------------------------------------------

    def _variable_index(self, variable: int) -> int:
        v = check_int("variable", variable)
        if not -self.num_visible <= v < self.num_visible:
            raise InputDataError(
                "variable", f"a visible-variable index in [-{self.num_visible}, {self.num_visible})", v
            )
        return v % self.num_visible

    def _check_x_tensor(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor):
            raise InputDataError("x", "a torch.Tensor of states", type(x).__name__)
        if x.dim() < 2 or x.shape[-1] != self.num_visible:
            raise InputDataError(
                "x", f"a `... x n x {self.num_visible}` tensor of states", f"shape {tuple(x.shape)}"
            )
        return x

    def _check_mask_tensor(self, mask: Tensor, shape: torch.Size) -> Tensor:
        if not isinstance(mask, Tensor):
            raise InputDataError("mask", "a boolean torch.Tensor", type(mask).__name__)
        if mask.shape != shape:
            raise InputDataError("mask", f"the shape of `x` {tuple(shape)}", f"shape {tuple(mask.shape)}")
        if mask.dtype != torch.bool:
            if not ((mask == 0) | (mask == 1)).all():  # NaN fails this too
                raise InputDataError("mask", "a boolean (or 0/1) tensor", "other values")
            mask = mask.bool()
        return mask

    def _states_and_mask(self, x: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor, tuple[int, ...]]:
        """Validate and flatten to `N x V` long states and `N x V` bool mask."""
        x = self._check_x_tensor(x)
        lead = tuple(x.shape[:-1])
        if x.is_floating_point():
            check_finite("x", x)
            if not (x == x.round()).all():
                raise InputDataError("x", "integer category indices", "non-integer values")
        elif x.dtype == torch.bool or x.is_complex():
            raise InputDataError("x", "an integer or floating tensor of category indices", f"dtype {x.dtype}")
        x = x.long().reshape(-1, self.num_visible)
        sizes = torch.tensor(self.visible_sizes, device=x.device)
        bad = (x < 0) | (x >= sizes)
        if bad.any():
            col = int(bad.any(0).nonzero()[0])
            raise InputDataError(
                "x", f"states in [0, {self.visible_sizes[col]}) in column {col}",
                f"values {sorted(set(x[:, col][bad[:, col]].tolist()))[:5]}",
            )  # fmt: skip
        if mask is None:
            mask = torch.ones(x.shape, dtype=torch.bool, device=x.device)
        else:
            mask = self._check_mask_tensor(mask, torch.Size((*lead, self.num_visible))).reshape(x.shape)
        return x, mask, lead

    def _clamp(self, x: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        groups = self._groups
        dtype = self.factor.dtype
        clamp = torch.zeros(x.shape[0], groups.dim, dtype=dtype, device=x.device)
        clamp.scatter_(1, groups.offsets[: self.num_visible].to(x.device) + x, 1.0)
        observed = torch.zeros(x.shape[0], groups.n, dtype=torch.bool, device=x.device)
        observed[:, : self.num_visible] = mask
        return clamp, ~observed[:, groups.gid.to(x.device)]
