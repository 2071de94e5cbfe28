"""Claims ``pvrnn.kl_matches_torch`` and ``pvrnn.meta_prior_switching`` (PV-RNN).

Ahmadi & Tani, *A Novel Predictive-Coding-Inspired Variational RNN Model for Online Prediction
and Recognition*, Neural Computation 31(11):2025-2074, 2019 (arXiv 1811.01339):

* the KL term of the model's loss, between the posterior of the adaptive vectors and the
  prior computed from d_{t-1}, is the Gaussian KL (checked against
  ``torch.distributions.kl_divergence`` in float64), and the loss weighs it by w / z_size (the
  normalisation of the lab's public PyTorch PV-RNN, h-idei/pvrnn_sa);
* the meta-prior w trades the posterior's freedom against the prior: trained at an intermediate
  w, the model's *prior* generates pattern switches at a rate closer to the training data's than
  trained at a very small or a very large w (the paper's abstract and Sec. 3: a large w makes the
  network near-deterministic, a small w makes it a noisy random process).

The second claim needs three trained networks (minutes of CPU), too slow for a claim run, so it
is checked on a cached instance: the weights of the three networks, trained by
:func:`train_switching_model`, are package data (``proofs_checks/catalog/data/
pvrnn_switching_w_{low,mid,high}.safetensors``, float32, with a JSON recording their sha256, the
architecture and the training run), verified and loaded like the shipped PFNs
(:func:`probtheory.pfn.checkpoint.read_checkpoint`: nothing unpickled) and upcast to float64. The
slow test ``test_pvrnn_meta_prior_claim_on_fresh_training`` (tests/probtheory/recurrent/
test_pvrnn.py) retrains them from scratch and re-checks the claim. Regenerate the checkpoints
with ``python -m proofs_checks.catalog.pvrnn``.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch
from hypothesis import strategies as st
from torch.distributions import Normal, kl_divergence

from probtheory.errors import InputDataError
from probtheory.pfn.checkpoint import CheckpointError, read_checkpoint, write_checkpoint
from probtheory.recurrent.data import classify_segments, pattern_switching_sequences
from probtheory.recurrent.pvrnn import PVRNN
from probtheory.recurrent.pvrnn_layer_config import PVRNNLayerConfig
from proofs_checks.catalog.bibliography import AHMADI_TANI_2019
from proofs_checks.claim import Claim, Evidence, Mutant
from proofs_checks.plotting import BOUND, instance_label, label_axes
from proofs_checks.strategies import seeds

F64 = torch.float64
# float64 evaluations of the same closed form in a different order: rounding ~ 1e-16 relative
KL_TOLERANCE = 1e-10


@dataclass(frozen=True)
class KLInstance:
    d_sizes: tuple[int, ...]
    z_sizes: tuple[int, ...]
    taus: tuple[float, ...]
    w: float
    w1: float
    n: int
    length: int
    A_scale: float
    seed: int


@st.composite
def _kl_instances(draw: st.DrawFn) -> KLInstance:
    depth = draw(st.integers(1, 3))
    sizes = st.lists(st.integers(1, 6), min_size=depth, max_size=depth).map(tuple)
    taus = st.lists(st.floats(1.0, 20.0), min_size=depth, max_size=depth).map(tuple)
    return KLInstance(
        draw(sizes),
        draw(st.lists(st.integers(1, 3), min_size=depth, max_size=depth).map(tuple)),
        draw(taus),
        draw(st.floats(0.0, 2.0)),
        draw(st.floats(0.0, 2.0)),
        draw(st.integers(1, 4)),
        draw(st.integers(1, 8)),
        draw(st.floats(0.1, 2.0)),
        draw(seeds()),
    )


def _check_kl(inst: KLInstance, cls) -> list[Evidence]:
    layers = [
        PVRNNLayerConfig(d, z, tau, w=inst.w, w1=inst.w1)
        for d, z, tau in zip(inst.d_sizes, inst.z_sizes, inst.taus, strict=True)
    ]
    model = cls(2, layers, seed=inst.seed, dtype=F64)
    g = torch.Generator().manual_seed(inst.seed)
    A = [
        inst.A_scale * torch.randn(inst.n, inst.length, 2 * c.z_size, generator=g, dtype=F64) for c in layers
    ]
    x = torch.randn(inst.n, inst.length, 2, generator=g, dtype=F64)
    with torch.no_grad():
        result = model.unroll(inst.length, A=A, generator=g)
        worst, weighted = 0.0, torch.zeros(inst.n, dtype=F64)
        for layer, (c, kl) in enumerate(zip(layers, result.kl, strict=True)):
            (mu_q, sigma_q), (mu_p, sigma_p) = result.posterior[layer], result.prior[layer]
            reference = kl_divergence(Normal(mu_q, sigma_q), Normal(mu_p, sigma_p)).sum(-1)
            worst = max(worst, ((kl - reference).abs() / reference.abs().clamp_min(1.0)).max().item())
            w_t = torch.full((inst.length,), c.w / c.z_size, dtype=F64)
            w_t[0] = c.first_w / c.z_size
            weighted = weighted + (reference * w_t).sum(-1)
        kl_in_loss = model.loss(x, result) - model.reconstruction(x, result.outputs).sum(-1)
        loss_gap = ((kl_in_loss - weighted).abs() / weighted.abs().clamp_min(1.0)).max().item()
    reason = "float64 evaluations of one closed form: rounding only"
    return [
        Evidence.at_most("max relative |model KL - torch kl_divergence|", worst, KL_TOLERANCE, reason),
        Evidence.at_most(
            "max relative |KL part of the loss - sum_l sum_t w_t KL_torch / z_size|",
            loss_gap,
            KL_TOLERANCE,
            reason,
        ),
    ]


class _FlippedLogVariance(PVRNN):
    """Mutant: the log-variance ratio enters with the wrong sign."""

    def kl_divergence(self, mu_q, sigma_q, mu_p, sigma_p):  # noqa: D102
        return (
            torch.log(sigma_q) - torch.log(sigma_p) - 0.5
            + (sigma_q.square() + (mu_q - mu_p).square()) / (2 * sigma_p.square())
        )  # fmt: skip


class _NoLogVariance(PVRNN):
    """Mutant: the log-variance ratio is missing."""

    def kl_divergence(self, mu_q, sigma_q, mu_p, sigma_p):  # noqa: D102
        return -0.5 + (sigma_q.square() + (mu_q - mu_p).square()) / (2 * sigma_p.square())


KL_MATCHES_TORCH_CLAIM = Claim(
    id="pvrnn.kl_matches_torch",
    title="The PV-RNN KL term is the Gaussian KL between posterior and prior",
    paper=AHMADI_TANI_2019,
    statement=(
        "At every step and layer the model's KL between the adaptive-vector posterior "
        "N(tanh A_mu, exp(A_sigma)^2) and the prior N(tanh(W_mu d_{t-1}), exp(W_sigma d_{t-1})^2) "
        "(N(0, I) at t = 1) is the closed-form Gaussian KL, and the loss weighs it by w^l_t / |z^l|."
    ),
    formula=(
        r"\mathrm{KL} = \sum_k \log s_p - \log s_q - \frac{1}{2} + \frac{s_q^2 + (m_q - m_p)^2}{2 "
        r"s_p^2} = \mathrm{torch.distributions.kl\_divergence}(\mathcal{N}(m_q, s_q), "
        r"\mathcal{N}(m_p, s_p))"
    ),
    strategy=_kl_instances,
    check=_check_kl,
    subject=PVRNN,
    mutants=(
        Mutant("flipped-log-variance", "log s_q - log s_p instead of log s_p - log s_q", _FlippedLogVariance),
        Mutant("no-log-variance", "the log-variance ratio term dropped", _NoLogVariance),
    ),
    examples={"ci": 10, "thorough": 100},
    mutant_examples=5,
)


# ------------------------------------------------------------------------- meta-prior w claim

#: the cached instance: training data, architecture and budget (a CPU-sized version of the paper's
#: synthetic pattern-switching experiment)
SWITCH_PROB = 0.3
TRAIN_N, TRAIN_LENGTH, DATA_SEED = 16, 100, 0
EPOCHS, LR, MODEL_SEED, FIT_SEED = 1000, 0.01, 0, 0
W_LOW, W_MID, W_HIGH = 1e-4, 1e-2, 1.0
#: the checkpoint (in :mod:`proofs_checks.catalog.data`) of each cached network, by meta-prior w
CHECKPOINTS = {
    W_LOW: "pvrnn_switching_w_low",
    W_MID: "pvrnn_switching_w_mid",
    W_HIGH: "pvrnn_switching_w_high",
}
_DATA = "proofs_checks.catalog.data"
GENERATED_N, GENERATED_LENGTH = 1000, 200
Z_SCORE = 5.0


def switching_layers(w: float) -> list[PVRNNLayerConfig]:
    """The two-layer architecture of the cached networks (d = 20 / 10, z = 2 / 1, tau = 2 / 10)."""
    return [PVRNNLayerConfig(20, 2, 2.0, w=w), PVRNNLayerConfig(10, 1, 10.0, w=w)]


def switching_training_data() -> torch.Tensor:
    """The training sequences, `16 x 100 x 2` (two patterns, switch probability 0.3)."""
    return pattern_switching_sequences(TRAIN_N, TRAIN_LENGTH, switch_prob=SWITCH_PROB, seed=DATA_SEED).values


def train_switching_model(w: float, progress: bool = False) -> PVRNN:
    """Train one cached network from scratch (about 1.5 CPU minutes)."""
    model = PVRNN(2, switching_layers(w), seed=MODEL_SEED)
    return model.fit(switching_training_data(), epochs=EPOCHS, lr=LR, seed=FIT_SEED, progress=progress)


def _weight_names(model: PVRNN) -> list[str]:
    return [name for name, _ in model.named_parameters() if not name.startswith("posterior_A")]


def switching_checkpoint_config(w: float) -> dict:
    """What the checkpoint of the cached network with meta-prior ``w`` records besides its sha256."""
    return {
        "description": (
            "PV-RNN weights (every parameter except the adaptive vectors posterior_A of the "
            "training sequences) of the cached instance of the claim pvrnn.meta_prior_switching, "
            f"meta-prior w = {w!r}; stored as float32, loaded as float64"
        ),
        "w": w,
        "output_size": 2,
        "layers": [
            {"d_size": c.d_size, "z_size": c.z_size, "tau": c.tau, "w": c.w} for c in switching_layers(w)
        ],
        "training_data": (
            f"probtheory.recurrent.data.pattern_switching_sequences({TRAIN_N}, {TRAIN_LENGTH}, "
            f"switch_prob={SWITCH_PROB}, seed={DATA_SEED}).values"
        ),
        "training": {"epochs": EPOCHS, "lr": LR, "model_seed": MODEL_SEED, "fit_seed": FIT_SEED},
        "training_command": "python -m proofs_checks.catalog.pvrnn",
    }


def write_switching_checkpoint(path: str | Path, w: float, tensors: dict[str, torch.Tensor]) -> str:
    """Write the weights of a cached network as ``PATH.safetensors`` + ``PATH.json``; returns the sha256."""
    float32 = {name: t.detach().to(torch.float32) for name, t in tensors.items()}
    return write_checkpoint(path, float32, switching_checkpoint_config(w))


def cached_switching_model(w: float, cls: type[PVRNN] = PVRNN) -> PVRNN:
    """A network of the cached instance (``w`` in :data:`CHECKPOINTS`), built as ``cls`` in float64.

    The float32 weights come from the package data (sha256 verified, nothing unpickled) and are
    upcast exactly to float64.

    Raises:
        InputDataError: If ``w`` is not one of the cached meta-priors.
        CheckpointError: If a checkpoint is missing, corrupted, or does not fit the architecture.
    """
    if w not in CHECKPOINTS:
        raise InputDataError("w", f"one of the cached meta-priors {sorted(CHECKPOINTS)}", repr(w))
    with resources.as_file(resources.files(_DATA) / f"{CHECKPOINTS[w]}.safetensors") as weights:
        tensors, config = read_checkpoint(weights.with_suffix(""))
    model = cls(2, switching_layers(w), seed=MODEL_SEED)
    params = dict(model.named_parameters())
    names = _weight_names(model)
    if config.get("w") != w or sorted(tensors) != sorted(names):
        raise CheckpointError(f"{CHECKPOINTS[w]}: not the weights of the cached PV-RNN with w = {w}")
    with torch.no_grad():
        for name in names:
            params[name].copy_(tensors[name])
    return model


def _generated_rates(model: PVRNN, seed: int) -> torch.Tensor:
    """Per generated sequence, the fraction of segment boundaries where the pattern switches."""
    with torch.no_grad():
        generated = model.generate(GENERATED_N, GENERATED_LENGTH, seed=seed)
    labels = classify_segments(generated)
    return (labels[:, 1:] != labels[:, :-1]).double().mean(1)


def switching_evidence(models: dict[float, PVRNN], seed: int) -> list[Evidence]:
    """|rate(w_mid) - p_data| is smaller than |rate(w_extreme) - p_data| for both extremes."""
    p_data = float(pattern_switching_sequences(
        TRAIN_N, TRAIN_LENGTH, switch_prob=SWITCH_PROB, seed=DATA_SEED
    ).switches[:, 1:].double().mean())  # fmt: skip
    stats = {}
    for w, model in models.items():
        rates = _generated_rates(model, seed)
        stats[w] = (rates.mean().item(), rates.std().item() / GENERATED_N**0.5)
    mid, mid_se = stats[W_MID]
    # generated rates are multiples of 1 / (n * boundaries): a smaller gap is no gap at all
    resolution = 1 / (GENERATED_N * (GENERATED_LENGTH // 10 - 1))
    evidence = []
    for w in (W_LOW, W_HIGH):
        rate, se = stats[w]
        gap = abs(rate - p_data) - abs(mid - p_data)
        bound = Z_SCORE * (se**2 + mid_se**2) ** 0.5 + resolution
        evidence.append(
            Evidence.at_least(
                f"|rate(w={w:g}) - p_data| - |rate(w={W_MID:g}) - p_data|",
                gap,
                bound,
                f"z = {Z_SCORE:g} standard errors of the difference of two means over {GENERATED_N} "
                "generated sequences, plus one count of resolution",
                p_data=p_data,
                rate_mid=mid,
                rate_extreme=rate,
                rates=stats,
            )  # fmt: skip
        )
    return evidence


def plot_switching(records, ax) -> None:
    """Switching rate of sequences generated from the prior (+- 5 SE) against the meta-prior w."""
    for i, (inst, evidence) in enumerate(records):
        rates = evidence[0].details["rates"]
        ws = sorted(rates)
        ax.errorbar(ws, [rates[w][0] for w in ws], yerr=[Z_SCORE * rates[w][1] for w in ws], fmt="o-", ms=4,
                    capsize=3, label=instance_label(i, f"generation seed {inst.seed}"))  # fmt: skip
    if records:
        p_data = records[0][1][0].details["p_data"]
        ax.axhline(p_data, label=f"training data's rate {p_data:.3f}", **BOUND)
    label_axes(ax, "meta-prior w", f"switching rate of {GENERATED_N} generated sequences", xscale="log")


@dataclass(frozen=True)
class SwitchingInstance:
    seed: int


def _check_switching(inst: SwitchingInstance, cls) -> list[Evidence]:
    models = {w: cached_switching_model(w, cls) for w in (W_LOW, W_MID, W_HIGH)}
    return switching_evidence(models, inst.seed)


class _PriorMeanGenerator(PVRNN):
    """Mutant: generation ignores the stochastic units (z = the prior mean at every step)."""

    def _draw(self, mu, sigma, noise, generator):
        return mu


class _StandardNormalPrior(PVRNN):
    """Mutant: generation ignores the learned prior p(z_t | d_{t-1}) and draws z ~ N(0, I)."""

    def prior_params(self, layer, d_prev):  # noqa: D102
        mu, sigma = super().prior_params(layer, d_prev)
        return torch.zeros_like(mu), torch.ones_like(sigma)


META_PRIOR_SWITCHING_CLAIM = Claim(
    id="pvrnn.meta_prior_switching",
    title="An intermediate meta-prior w generates the data's switching statistics best",
    paper=AHMADI_TANI_2019,
    section="Sec. 3",
    statement=(
        "PV-RNNs trained on pattern-switching sequences (switch probability 0.3) with meta-prior "
        f"w = {W_LOW:g}, {W_MID:g}, {W_HIGH:g}: sequences generated from the prior of the w = {W_MID:g} "
        "network switch pattern at a rate closer to the training data's than those of either "
        "extreme (cached instance: three trained networks shipped as package data)."
    ),
    formula=(
        r"|r_{\mathrm{gen}}(w_{\mathrm{mid}}) - r_{\mathrm{data}}| < "
        r"\min(|r_{\mathrm{gen}}(w_{\mathrm{low}}) - r_{\mathrm{data}}|, "
        r"|r_{\mathrm{gen}}(w_{\mathrm{high}}) - r_{\mathrm{data}}|)"
    ),
    strategy=lambda: st.builds(SwitchingInstance, seeds()),
    check=_check_switching,
    subject=PVRNN,
    mutants=(
        Mutant("prior-mean-generator", "generation uses z = prior mean (ignores z)", _PriorMeanGenerator),
        Mutant(
            "standard-normal-z",
            "generation draws z ~ N(0, I), ignoring the learned prior",
            _StandardNormalPrior,
        ),
    ),  # fmt: skip
    examples={"ci": 2, "thorough": 10},
    mutant_examples=1,
    plot=plot_switching,
)


def _write_cache(folder: Path) -> None:
    """Retrain the three cached networks and write their checkpoints into ``folder``."""
    for w, name in CHECKPOINTS.items():
        model = train_switching_model(w, progress=True)
        params = dict(model.named_parameters())
        digest = write_switching_checkpoint(folder / name, w, {n: params[n] for n in _weight_names(model)})
        print(f"{folder / name}.safetensors  sha256 {digest}")


if __name__ == "__main__":
    _write_cache(Path(__file__).resolve().parent / "data")
