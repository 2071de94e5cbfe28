r"""Dense Hebbian networks trained on examples: supervised and unsupervised P-body couplings.

Agliari, Albanese, Alemanno, Alessandrelli, Barra, Giannotti, Lotito, Pedreschi, *Dense Hebbian
neural networks: a replica symmetric picture of supervised learning* (Physica A 2023,
arXiv 2212.00606) and its unsupervised companion (arXiv 2211.14067). Our normalisation and the
low-load formulas are derived in docs/derivations.md, §8.

**Data.** ``K`` archetypes :math:`\xi^\mu \in \{\pm 1\}^N` are never shown; the network sees
``M`` examples per archetype, :math:`\eta^{\mu a}_i = \chi^{\mu a}_i \xi^\mu_i` with
:math:`P(\chi = +1) = (1 + r) / 2`: each bit is flipped with probability :math:`(1 - r)/2`, so
:math:`r \in [0, 1]` is the dataset *quality* and ``M`` its *quantity*.

**Couplings and energy.** The supervised teacher sums the examples of a class before the
Hebbian product, :math:`J^{sup}_{i_1 \dots i_P} \propto \sum_\mu \prod_k \hat\eta^\mu_{i_k}`, with
the normalised class prototype

.. math:: \hat\eta^\mu_i = \frac{\sum_a \eta^{\mu a}_i}{c}, \qquad
    c = r M \sqrt{1 + \rho} = \sqrt{M (1 + (M - 1) r^2)}, \qquad \rho = \frac{1 - r^2}{M r^2},

so that :math:`E[(\hat\eta^\mu_i)^2] = 1` (the paper's :math:`\sqrt{1+\rho}`-normalised example
overlap; unlike :math:`1/(rM)` it stays finite at ``r = 0``). With
:math:`n_\mu = N^{-1} \sum_i \hat\eta^\mu_i \sigma_i` the energy is

.. math:: H^{sup}(\sigma) = -\frac{1}{2 N^{P-1}} \sum_{i_1 \dots i_P} J^{sup}_{i_1 \dots i_P}
    \sigma_{i_1} \cdots \sigma_{i_P} = -\frac{N}{2} \sum_\mu n_\mu^P .

The unsupervised rule sums the P-products per example,
:math:`H^{unsup} = -\frac{N}{2M} \sum_{\mu, a} (N^{-1} \sum_i \eta^{\mu a}_i \sigma_i)^P`. All
index tuples are kept (repeated indices included, an :math:`O(1/N)` self-interaction), so the
explicit P-index sum and the order-parameter form are the same function. Any other constant
in front of ``H`` only rescales ``beta``.

**Dynamics.** Glauber (heat-bath) single-spin updates, flip probability
:math:`1 / (1 + e^{\beta \Delta H})`; ``beta = inf`` is the deterministic greedy (zero
temperature) dynamics, flip iff :math:`\Delta H < 0`. A flip of :math:`\sigma_i` changes
each overlap by :math:`-2 \sigma_i \hat\eta^\mu_i / N`, so :math:`\Delta H` costs O(K) (O(KM)
unsupervised) from the kept overlaps, never a P-tensor contraction. The overlaps are kept as
exact integer sums (in float64), so they do not drift over long runs.

Example (scikit-learn digits: supervised class prototypes from 150 binarised images per digit,
then retrieval of the digit-3 prototype from a corrupted, unseen 3; well under a second after
the imports)::

    import torch
    from sklearn.datasets import load_digits
    from probtheory.energy.hebbian import DenseHebbian

    digits = load_digits()
    pixels = torch.as_tensor(digits.images.reshape(-1, 64), dtype=torch.float64)
    labels = torch.as_tensor(digits.target)
    train = torch.cat([torch.nonzero(labels == k).squeeze(1)[:150] for k in range(10)])
    # binarise at each pixel's median: balanced bits, less correlated class prototypes
    images = torch.where(pixels > pixels[train].median(0).values, 1, -1).to(torch.int8)
    examples = images[train].reshape(10, 150, 64)  # K x M x N
    net = DenseHebbian(examples, P=20)  # quality r unknown: empirical normalisation
    test = images[labels == 3][150]  # a 3 not used in the couplings
    g = torch.Generator().manual_seed(0)
    noisy = torch.where(torch.rand(64, generator=g) < 0.1, -test, test)  # 10% of bits flipped
    out = net.retrieve(noisy, beta=float("inf"), sweeps=10, seed=0, progress=False)
    print(out.example_overlaps.argmax().item())  # 3
    print(bool((out.state == net.prototypes[3].sign()).all()))  # True: the 3-prototype, bit for bit

Digit prototypes are strongly correlated (shared strokes), so small ``P`` lets the common
component win and the dynamics drifts to a mixture; at large ``P`` the dynamics retrieves the
prototype of the nearest class. Over all 297 held-out images (10% noise) it lands on the right
prototype about 72% of the time, which is the nearest-prototype accuracy of the noisy images.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from probtheory._checks import (
    check_finite,
    check_int,
    check_interval,
    check_name,
    check_real,
    check_spins,
    make_generator,
)
from probtheory.errors import InputDataError, UnsupportedError

__all__ = [
    "DenseHebbian",
    "HebbianChain",
    "RetrievalResult",
    "prototype_normalisation",
]

RULES = ("supervised", "unsupervised")
#: largest coupling tensor (entries) the brute-force methods build: 2**24 float64 = 128 MiB
BRUTE_FORCE_MAX_ENTRIES = 2**24


def _check_quality(r: object) -> float:
    return check_interval("r", r, 0.0, 1.0, meaning="a dataset quality")


def _check_order(P: object) -> int:
    """Require an even interaction order ``P >= 2`` (odd P breaks the sigma -> -sigma symmetry)."""
    P = check_int("P", P, minimum=2)
    if P % 2:
        raise UnsupportedError("P", "an even interaction order (2, 4, 6, ...)", P)
    return P


def prototype_normalisation(r: float, M: int) -> float:
    r"""The constant :math:`c = rM\sqrt{1+\rho} = \sqrt{M(1 + (M-1)r^2)}`: unit mean-square prototypes."""
    r, M = _check_quality(r), check_int("M", M, minimum=1)
    return math.sqrt(M * (1.0 + (M - 1) * r * r))


@dataclass(frozen=True)
class RetrievalResult:
    r"""Final state of a retrieval run and its overlaps.

    Attributes:
        state: An ``N``-dim int8 tensor of +-1 spins.
        mattis: A ``K``-dim float64 tensor, :math:`m_\mu = N^{-1}\sum_i \xi^\mu_i \sigma_i`, or
            ``None`` when the archetypes are unknown.
        example_overlaps: A ``K``-dim float64 tensor, :math:`n_\mu = N^{-1}\sum_i \hat\eta^\mu_i \sigma_i`.
        energy: ``H`` of the final state.
        sweeps: Sweeps run (fewer than asked when the greedy dynamics reached a fixed point).
        flips: Accepted flips in total.
        converged: Zero temperature: whether the last sweep flipped nothing (a fixed point).
            Always False at finite temperature.
        interrupted: True if a ``KeyboardInterrupt`` ended the run early.
    """

    state: Tensor
    mattis: Tensor | None
    example_overlaps: Tensor
    energy: float
    sweeps: int
    flips: int
    converged: bool
    interrupted: bool = False


class HebbianChain:
    r"""A spin configuration with its overlaps kept up to date, for O(K) single-flip moves.

    Build with :meth:`DenseHebbian.chain`. ``energy_difference(i)`` is :math:`\Delta H` of
    flipping spin ``i`` computed from the kept overlaps; ``flip(i)`` flips it and updates them.
    """

    def __init__(self, model: DenseHebbian, state: Tensor) -> None:
        if not isinstance(model, DenseHebbian):
            raise InputDataError("model", "a DenseHebbian network", type(model).__name__)
        self.model = model
        self._sigma = check_spins("state", state, shape=(model.N,)).numpy().astype(np.int64)
        # rows: the integer vectors whose overlaps enter H (class sums or single examples)
        self._rows_t = np.ascontiguousarray(model._rows.T.numpy())  # N x R integers, a row per spin
        self._inv_cn = (1.0 / (model._row_norms.numpy() * model.N)).copy()  # R
        self._prefactor = -0.5 * model.N * model._row_weight
        self._sums = model._rows.numpy() @ self._sigma.astype(np.float64)  # R, exact integers
        self._xi_t = (
            None if model.archetypes is None else model.archetypes.T.numpy().astype(np.float64, order="C")
        )
        self._mattis_sums = None if self._xi_t is None else self._xi_t.T @ self._sigma.astype(np.float64)
        self._power_sum = float(((self._sums * self._inv_cn) ** model.P).sum())

    @property
    def state(self) -> Tensor:
        """The current ``N``-dim int8 spin vector (a copy)."""
        return torch.from_numpy(self._sigma.astype(np.int8))

    def energy(self) -> float:
        """``H`` of the current state, from the kept overlaps."""
        return self._prefactor * self._power_sum

    def row_overlaps(self) -> Tensor:
        """The ``R``-dim overlaps entering ``H`` (``R = K`` supervised, ``K M`` unsupervised)."""
        return torch.from_numpy(self._sums * self._inv_cn)

    def mattis(self) -> Tensor | None:
        """The ``K``-dim Mattis magnetisations, or ``None`` without archetypes."""
        return None if self._mattis_sums is None else torch.from_numpy(self._mattis_sums / self.model.N)

    def _index(self, i: object) -> int:
        i = check_int("i", i, minimum=0)
        if i >= self.model.N:
            raise InputDataError("i", f"a spin index in [0, {self.model.N})", i)
        return i

    def _proposal(self, i: int) -> tuple[np.ndarray, float]:
        new_sums = self._sums - (2 * self._sigma[i]) * self._rows_t[i]
        new_power_sum = float(((new_sums * self._inv_cn) ** self.model.P).sum())
        return new_sums, new_power_sum

    def energy_difference(self, i: int) -> float:
        r""":math:`\Delta H = H(\sigma^{(i)}) - H(\sigma)` of flipping spin ``i``, in O(R)."""
        _, new_power_sum = self._proposal(self._index(i))
        return self._prefactor * (new_power_sum - self._power_sum)

    def flip(self, i: int) -> None:
        """Flip spin ``i`` and update every kept overlap."""
        i = self._index(i)
        self._accept(i, *self._proposal(i))

    def _accept(self, i: int, new_sums: np.ndarray, new_power_sum: float) -> None:
        if self._mattis_sums is not None:
            self._mattis_sums -= (2 * self._sigma[i]) * self._xi_t[i]
        self._sums, self._power_sum = new_sums, new_power_sum
        self._sigma[i] = -self._sigma[i]

    def sweep(self, beta: float, order: np.ndarray, uniforms: np.ndarray) -> int:
        """One Glauber sweep visiting spins in ``order``; returns the number of accepted flips.

        Args:
            beta: Inverse temperature (``inf``: greedy, flip iff the energy decreases).
            order: The ``N`` spin indices in visiting order.
            uniforms: ``N`` uniform(0, 1) draws, one per visit (unused at zero temperature).
        """
        beta = _check_beta(beta)
        order, uniforms = np.asarray(order), np.asarray(uniforms)
        n = self.model.N
        if (
            order.shape != (n,)
            or not np.issubdtype(order.dtype, np.integer)
            or ((order < 0) | (order >= n)).any()
        ):
            raise InputDataError(
                "order", f"{n} spin indices in [0, {n})", f"shape {order.shape}, dtype {order.dtype}"
            )
        if uniforms.shape != (n,) or not np.isfinite(uniforms).all():
            raise InputDataError("uniforms", f"{n} finite uniform(0, 1) draws", f"shape {uniforms.shape}")
        flips = 0
        greedy = math.isinf(beta)
        for i, u in zip(order.tolist(), uniforms.tolist(), strict=True):
            new_sums, new_power_sum = self._proposal(i)
            delta = self._prefactor * (new_power_sum - self._power_sum)
            # heat bath 1/(1+exp(beta dH)) written with tanh, which cannot overflow
            if (delta < 0.0) if greedy else (u < 0.5 * (1.0 - math.tanh(0.5 * beta * delta))):
                self._accept(i, new_sums, new_power_sum)
                flips += 1
        return flips


class DenseHebbian:
    r"""Dense (P-body) Hebbian network with couplings built from labelled or unlabelled examples.

    Args:
        examples: A ``K x M x N`` tensor of +-1 entries: ``M`` examples of each of ``K`` classes.
        P: Even interaction order (``P = 2`` is the pairwise Hopfield network).
        rule: ``"supervised"`` (product of class sums) or ``"unsupervised"`` (sum of
            per-example products).
        r: Dataset quality in [0, 1] used for the prototype normalisation
            :math:`c = \sqrt{M(1 + (M-1)r^2)}`; ``None`` (quality unknown, e.g. real data)
            uses the empirical :math:`c_\mu = \sqrt{N^{-1}\sum_i (\sum_a \eta^{\mu a}_i)^2}`.
        archetypes: Optional ``K x N`` tensor of +-1 archetypes, for the Mattis magnetisations.

    Attributes:
        prototypes: ``K x N`` float64 normalised class prototypes :math:`\hat\eta^\mu`.
    """

    def __init__(
        self,
        examples: Tensor,
        *,
        P: int = 4,
        rule: str = "supervised",
        r: float | None = None,
        archetypes: Tensor | None = None,
    ) -> None:
        examples = check_spins("examples", examples, shape=(None, None, None))
        self.K, self.M, self.N = examples.shape
        self.P = _check_order(P)
        check_name("rule", rule, RULES, meaning="a learning rule")
        self.rule = rule
        self.r = None if r is None else _check_quality(r)
        self.examples = examples
        self.archetypes = (
            None if archetypes is None else check_spins("archetypes", archetypes, shape=(self.K, self.N))
        )
        class_sums = examples.to(torch.float64).sum(1)  # K x N, integers
        self.normalisation = self._normalisation(class_sums)  # K
        self.prototypes = class_sums / self.normalisation[:, None]
        if rule == "supervised":
            self._rows, self._row_norms, self._row_weight = class_sums, self.normalisation, 1.0
        else:
            self._rows = examples.to(torch.float64).reshape(self.K * self.M, self.N)
            self._row_norms = torch.ones(self.K * self.M, dtype=torch.float64)
            self._row_weight = 1.0 / self.M

    def _normalisation(self, class_sums: Tensor) -> Tensor:
        if self.r is not None:
            return torch.full((self.K,), prototype_normalisation(self.r, self.M), dtype=torch.float64)
        # an all-zero class sum (possible for even M) would make the prototype 0/0
        return class_sums.square().mean(1).sqrt().clamp_min(1.0)

    @classmethod
    def synthetic(
        cls,
        K: int,
        N: int,
        r: float,
        M: int,
        *,
        P: int = 4,
        rule: str = "supervised",
        seed: int | None = None,
        generator: torch.Generator | None = None,
    ) -> DenseHebbian:
        """Random Rademacher archetypes and ``M`` examples of quality ``r`` each (docs/derivations.md, §8).

        Args:
            K: Number of archetypes (classes), >= 1.
            N: Number of neurons, >= 1.
            r: Quality in [0, 1]: each example bit is flipped with probability ``(1 - r) / 2``.
            M: Examples per archetype, >= 1.
            P: Even interaction order.
            rule: ``"supervised"`` or ``"unsupervised"``.
            seed: Seed of the draw (ignored when ``generator`` is given).
            generator: A ``torch.Generator`` to draw from.
        """
        K, N = check_int("K", K, minimum=1), check_int("N", N, minimum=1)
        M, r = check_int("M", M, minimum=1), _check_quality(r)
        generator = make_generator(seed, generator)
        xi = torch.randint(0, 2, (K, N), generator=generator, dtype=torch.int8) * 2 - 1
        chi = cls._example_noise(K, M, N, r, generator)
        return cls(chi * xi[:, None, :], P=P, rule=rule, r=r, archetypes=xi)

    @staticmethod
    def _example_noise(K: int, M: int, N: int, r: float, generator: torch.Generator) -> Tensor:
        """``K x M x N`` int8 chi with P(chi = +1) = (1 + r) / 2."""
        keep = torch.rand(K, M, N, generator=generator, dtype=torch.float64) < 0.5 * (1.0 + r)
        return keep.to(torch.int8) * 2 - 1

    # ------------------------------------------------------------------ energies and overlaps

    def example_overlaps(self, state: Tensor) -> Tensor:
        r"""``K``-dim float64 :math:`n_\mu = N^{-1}\sum_i \hat\eta^\mu_i \sigma_i` of an ``N``-dim state."""
        sigma = check_spins("state", state, shape=(self.N,)).to(torch.float64)
        return self.prototypes @ sigma / self.N

    def mattis(self, state: Tensor) -> Tensor:
        r"""``K``-dim float64 :math:`m_\mu = N^{-1}\sum_i \xi^\mu_i \sigma_i` (needs archetypes)."""
        if self.archetypes is None:
            raise InputDataError("archetypes", "archetypes given at construction", None)
        sigma = check_spins("state", state, shape=(self.N,)).to(torch.float64)
        return self.archetypes.to(torch.float64) @ sigma / self.N

    def energy(self, state: Tensor) -> float:
        """``H`` of an ``N``-dim +-1 state from the overlaps (order-parameter form)."""
        sigma = check_spins("state", state, shape=(self.N,)).to(torch.float64)
        overlaps = (self._rows @ sigma) / (self._row_norms * self.N)
        return float(-0.5 * self.N * self._row_weight * overlaps.pow(self.P).sum())

    def energy_differences(self, state: Tensor) -> Tensor:
        r"""``N``-dim float64 :math:`\Delta H_i` of flipping each spin of ``state`` alone."""
        sigma = check_spins("state", state, shape=(self.N,)).to(torch.float64)
        scale = 1.0 / (self._row_norms * self.N)  # R
        overlaps = (self._rows @ sigma) * scale  # R
        moved = overlaps[:, None] - 2.0 * self._rows * sigma * scale[:, None]  # R x N
        return -0.5 * self.N * self._row_weight * (moved.pow(self.P) - overlaps[:, None].pow(self.P)).sum(0)

    def coupling_tensor(self) -> Tensor:
        r"""The ``N x ... x N`` (P times) float64 coupling tensor :math:`J` (small ``N`` only).

        Supervised :math:`J = \sum_\mu (\hat\eta^\mu)^{\otimes P}`, unsupervised
        :math:`J = M^{-1}\sum_{\mu a} (\eta^{\mu a})^{\otimes P}`;
        ``H = -J[\sigma,...,\sigma] / (2 N^{P-1})``.
        """
        if self.N**self.P > BRUTE_FORCE_MAX_ENTRIES:
            raise UnsupportedError(
                "N",
                f"N**P <= {BRUTE_FORCE_MAX_ENTRIES} for the explicit coupling tensor",
                f"N={self.N}, P={self.P}",
            )
        rows = self._rows / self._row_norms[:, None]  # R x N
        tensor = torch.zeros((self.N,) * self.P, dtype=torch.float64)
        for row in rows:  # one rank-one term at a time keeps the memory at N**P
            term = row
            for _ in range(self.P - 1):
                term = term[..., None] * row
            tensor += term
        return tensor * self._row_weight

    def brute_force_energy(self, state: Tensor, couplings: Tensor | None = None) -> float:
        """``H`` as the explicit sum over all P-tuples of indices (O(N^P); small ``N`` only).

        Args:
            state: An ``N``-dim +-1 tensor.
            couplings: :meth:`coupling_tensor`, to reuse it across calls.
        """
        sigma = check_spins("state", state, shape=(self.N,)).to(torch.float64)
        if couplings is not None:
            check_finite("couplings", couplings)
            if couplings.shape != (self.N,) * self.P:
                raise InputDataError(
                    "couplings",
                    f"the coupling tensor of shape {(self.N,) * self.P}",
                    f"shape {tuple(couplings.shape)}",
                )
        contracted = self.coupling_tensor() if couplings is None else couplings.to(torch.float64)
        for _ in range(self.P):
            contracted = contracted @ sigma
        return float(-0.5 * contracted / self.N ** (self.P - 1))

    def brute_force_energy_difference(self, state: Tensor, i: int, couplings: Tensor | None = None) -> float:
        """``H(state with spin i flipped) - H(state)``, both explicit P-index sums."""
        i = check_int("i", i, minimum=0)
        if i >= self.N:
            raise InputDataError("i", f"a spin index in [0, {self.N})", i)
        couplings = self.coupling_tensor() if couplings is None else couplings
        flipped = check_spins("state", state, shape=(self.N,)).clone()
        flipped[i] = -flipped[i]
        return self.brute_force_energy(flipped, couplings) - self.brute_force_energy(state, couplings)

    # ------------------------------------------------------------------------------ dynamics

    def chain(self, state: Tensor) -> HebbianChain:
        """A :class:`HebbianChain` at ``state`` (an ``N``-dim +-1 tensor) for incremental flips."""
        return HebbianChain(self, state)

    def retrieve(
        self,
        initial: Tensor,
        beta: float = math.inf,
        sweeps: int = 10,
        seed: int | None = None,
        progress: bool = True,
        *,
        generator: torch.Generator | None = None,
        order: str = "random",
    ) -> RetrievalResult:
        """Glauber dynamics from ``initial``: ``sweeps`` sweeps of N single-spin updates.

        Args:
            initial: An ``N``-dim +-1 tensor, e.g. a (noisy) example.
            beta: Inverse temperature >= 0; ``math.inf`` runs the deterministic greedy dynamics
                and stops early at a fixed point.
            sweeps: Number of sweeps, >= 1.
            seed: Seed of the visiting orders and acceptance draws.
            progress: Show a progress bar over sweeps.
            generator: A ``torch.Generator`` instead of ``seed``.
            order: ``"random"`` (a fresh permutation per sweep) or ``"sequential"`` (0..N-1).

        Returns:
            A :class:`RetrievalResult`. ``KeyboardInterrupt`` stops the run, keeps the flips
            made so far and returns them with ``interrupted=True``.
        """
        beta = _check_beta(beta)
        sweeps = check_int("sweeps", sweeps, minimum=1)
        check_name("order", order, ("random", "sequential"), meaning="a visiting order")
        generator = make_generator(seed, generator)
        chain = self.chain(initial)
        done, flips, converged, interrupted = 0, 0, False, False
        try:
            for _ in tqdm(range(sweeps), desc="Glauber sweeps", disable=not progress, unit="sweep"):
                visit = (
                    torch.randperm(self.N, generator=generator).numpy()
                    if order == "random"
                    else np.arange(self.N)
                )
                uniforms = torch.rand(self.N, generator=generator, dtype=torch.float64).numpy()
                accepted = chain.sweep(beta, visit, uniforms)
                done, flips = done + 1, flips + accepted
                if math.isinf(beta) and accepted == 0:
                    converged = True
                    break
        except KeyboardInterrupt:
            interrupted = True
        state = chain.state
        return RetrievalResult(
            state=state,
            mattis=chain.mattis(),
            example_overlaps=self.example_overlaps(state),
            energy=chain.energy(),
            sweeps=done,
            flips=flips,
            converged=converged,
            interrupted=interrupted,
        )


def _check_beta(beta: object) -> float:
    """An inverse temperature ``beta >= 0``; ``math.inf`` means zero temperature."""
    return check_real("beta", beta, nonnegative=True, allow_inf=True)
