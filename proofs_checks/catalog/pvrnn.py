"""Claims ``pvrnn.kl_matches_torch`` and ``pvrnn.meta_prior_switching`` (PV-RNN).

Ahmadi & Tani, *A Novel Predictive-Coding-Inspired Variational RNN Model for Online Prediction
and Recognition*, Neural Computation 31(11), 2019; shared/research/bayes.md section 7:

* the KL term of the model's loss, between the posterior of the adaptive vectors and the
  prior computed from d_{t-1}, is the Gaussian KL (checked against
  ``torch.distributions.kl_divergence`` in float64), and the loss weighs it by w / z_size;
* the meta-prior w trades the posterior's freedom against the prior: trained at an intermediate
  w, the model's *prior* generates pattern switches at a rate closer to the training data's than
  trained at a very small or a very large w (paper Sec. 3; bayes.md 7(b), 7(d)).

The second claim needs three trained networks (minutes of CPU), too slow for a claim run, so it
is checked on a cached instance: the weights of the three networks, trained by
:func:`train_switching_model` (command below), are stored in this module as float32 and
upcast to float64; the slow test ``test_pvrnn_meta_prior_claim_on_fresh_training``
(tests/probtheory/recurrent/test_pvrnn.py) retrains them from scratch and re-checks the claim.
Regenerate the cache with ``python -m proofs_checks.catalog.pvrnn``.
"""

from __future__ import annotations

import base64
import hashlib
import textwrap
from dataclasses import dataclass

import torch
from hypothesis import strategies as st
from torch.distributions import Normal, kl_divergence

from probtheory.recurrent.data import classify_segments, pattern_switching_sequences
from probtheory.recurrent.pvrnn import PVRNN
from probtheory.recurrent.pvrnn_layer_config import PVRNNLayerConfig
from proofs_checks.catalog.bibliography import AHMADI_TANI_2019
from proofs_checks.claim import Claim, Evidence, Mutant
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
        "KL = sum_k log s_p - log s_q - 1/2 + (s_q^2 + (m_q - m_p)^2) / (2 s_p^2) "
        "= torch.distributions.kl_divergence(N(m_q, s_q), N(m_p, s_p))"
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

#: the cached instance: training data, architecture and budget (bayes.md 7(d), scaled down)
SWITCH_PROB = 0.3
TRAIN_N, TRAIN_LENGTH, DATA_SEED = 16, 100, 0
EPOCHS, LR, MODEL_SEED, FIT_SEED = 1000, 0.01, 0, 0
W_LOW, W_MID, W_HIGH = 1e-4, 1e-2, 1.0
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


def encode_weights(model: PVRNN) -> str:
    """The network weights (not the adaptive vectors) as base64 of little-endian float32."""
    params = dict(model.named_parameters())
    flat = torch.cat([params[name].detach().reshape(-1) for name in _weight_names(model)])
    return base64.b64encode(flat.to(torch.float32).numpy().astype("<f4").tobytes()).decode()


def cached_switching_model(w: float, cls: type[PVRNN] = PVRNN) -> PVRNN:
    """A network of the cached instance (``w`` in ``_CACHE``), built as ``cls`` in float64."""
    raw = base64.b64decode("".join(_CACHE[w]))
    if hashlib.sha256(raw).hexdigest() != _SHA256[w]:
        raise RuntimeError(f"the cached PV-RNN weights for w = {w} are corrupted")
    model = cls(2, switching_layers(w), seed=MODEL_SEED)
    flat = torch.frombuffer(bytearray(raw), dtype=torch.float32).to(torch.float64)
    params = dict(model.named_parameters())
    with torch.no_grad():
        torch.nn.utils.vector_to_parameters(flat, [params[name] for name in _weight_names(model)])
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
            )  # fmt: skip
        )
    return evidence


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
        "extreme (cached instance: three trained networks stored in the claim module)."
    ),
    formula="|r_gen(w_mid) - r_data| < min(|r_gen(w_low) - r_data|, |r_gen(w_high) - r_data|)",
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
)


def _print_cache() -> None:
    """Retrain the three cached networks and print the ``_CACHE`` / ``_SHA256`` literals."""
    for w in (W_LOW, W_MID, W_HIGH):
        text = encode_weights(train_switching_model(w, progress=True))
        raw = base64.b64decode(text)
        print(f"    {w!r}: (")
        for line in textwrap.wrap(text, 96):
            print(f'        "{line}"')
        print(f"    ),  # sha256 {hashlib.sha256(raw).hexdigest()}")


# float32 weights of the three cached networks, written by `python -m proofs_checks.catalog.pvrnn`
_CACHE: dict[float, tuple[str, ...]] = {
    0.0001: (
        "27vbPm/6gL53v5y9wjAZPuD4yz5tWIa9zd3cvubSqT7B3GG6h5QRvuCnKD4Cies9ECtrvnrRET5B42A+1UmLPhLcA74SGys+"
        "0CYOPYRIRT4XMwm+QBPLPZut075WU0w9UMpNvvVNDj0IcLS4lfTIvfWMAj28eby9flAIPqpMc77lTAS+TP6xvkQ+DL8WSKo+"
        "Eyb0PqaLpb6BTX0+r5Ssvbs8Ab4zYky9x9BAPjkr6r65/Bw+Fy8KPiNB2D4yeIC80zn8Pk4YmT58MgU/EMoXvjSRIb1sCuc/"
        "0Zs3P82XfL2o3si9YLCVPqs+i78vFN8+V+nFPfkbEL/R/YS8U5T/Pdhjhz6Ive++kc7svmYQTz7pUZC+lDgtPsUC5T3MTZo+"
        "yjc8O6yO/D1kZZ29MGn5vWnd9r0Rm4K9DDonvm4jD75/pBK+ST54PYmEkj3s4Fe9Y4m5vuxEvT0Q1LQ+WoDhvcqXYz3ICJO+"
        "WwyvvW5dcD5JH20+S6vCvV/RLD4kCz29MQ7/vfp+h75YSPo9Ec/IvrQVb74qLPg+W5FLv6QqIj3g37q9FqivPkcK8D31pTC/"
        "tUFfPmwl2j2nmGG+vOLmvtexlD7oP2C+bs2bvtMJEz9+qBM/SSThvpTVOz6EJYS9sAv5va/DAz75sxy/0rZiPneoY74SXkQ+"
        "3Vtdvv/7yz6aLIi+a7c3vt/sHj5HAwC/9+TJO5Snij2Q+76+7sVEvkhsw72MBea81UsYPU8iUD3lioy+jiIsPm42pj6soVm+"
        "4TsFvC53BD4hAMG9LeuPvScS5j5lgrM+MlYuv/qvlT56MrU+vT9JP38Shz6NoLU9uev3vkokUT5qIs+9cAfCPX+BRr6qpxA/"
        "gCIKvtz8W7uyMc49t61pPqcd2z59myC/41FRviILMT5LJR2+byK/vpzviT5wTw8+KfBvvl9qPD7IJ0Y+sLJyvgp0zz0Pu5q+"
        "mG8lvlNvJT8+zEa/mJJjvtQSDL5VNr69cSBhPx0PB79pwLu8A8a4Pt4jCT6nX0K/5+tpvhJfJr63rse9szY9PoKRkj7JzSU+"
        "C23gPMJ2A75hpN68F6O1vu0Owj3PzRG9ZmKZPYfTVj5LDvG+gg60vWLrkj6jLDa/AA5kvqOs+r1SqV4+7xzEvkxtuL4UYWS+"
        "FE6IvucTsjoeP/Y+I/+mP3DcI75FmEu+VooSPRneCb6WY6y9lkaqvRinej6hOFQ98A3XvAOjjT2O3Yu9MCjHPbkyI77Zjq0+"
        "33MsP2rJrr1H/w2+xUu6PI/gML4hvQw+yf1ivjKICj4/yXM97RVxuxZtm75lIx++7FmaPqj0ur4B+zM88As7PkiFKj6T1cq+"
        "RmOvvUFSLr6oqyg++jDOPjTHKT/D8L6+8FREvoqhWr5NPCG/rCVMPiuD0Lws/vU8iTz8PtBB/j7n7cA+1B4GPpRg8T5jdWU+"
        "zVFPPnp+zr64frQ+eBlMvYS2m70nLSa+3wc9PitYKD5Oep2+xw8rPS111r49v48+P62AvfPk4r4pazU+D+UcPgKUkT5Oirc9"
        "Hoj6PvGigb3XZVY+pr0qvonAPj77rZc+MJMavikKB76zgCm+kiuKPtjehLufvDA/60U8Pl+M770Ue7y+hnSWPVlMm77oyJw9"
        "jLjlPOh+g763r5i+j3G8vVueFL4iDA89S74EPQq5Or71EZy+3okhPndTKz7spOm95lWNvALIpz78jKI+Id8nvnj7T74bPV4+"
        "wPQBPkNgi749aki++yfIPKEPxb7cPja//gcCP8KYdD3lgJe+tjq+vlqfKL6Pwqu9mJSrPUKJnL2/pQk+ZmnLPlmBk773qkU+"
        "+HDVPalFxTzhj1I+M/LYPTNa5D1hOi67hT3UPkxttz6Jeay+ZCetvTZGjz4RbBE+RM4Tvj7i1b12lxm+Ng8jPtB+k70paOo7"
        "pBhCPhT+nb5BeMI98JFXPlJPN77psAy/MfCVvH02tL5fpcC+CzaQPvHsq7z8nBO9Mqw3PuSGKzwkhy891rtfPvmAlj2vvlq+"
        "hiRmvn6F2r7+y5G9Lx0IPguzbr0Gx2S8liAzPsM1FD854y6+FkK5vqw/HD9AbLa+VvCTvXhSmr43tE8/iGkyvOJlo776wEE+"
        "sluBPrlNK7tw1gE/KDsjvrrBbD49hja+XiWTPtZHK77IcZ8+YH5EPrmDob028tg+Nbf2PkmyFj+cfgq954IbP8vxDz6AnVw/"
        "t5l+P/kZv733pt2+hzpAPzvdDr9tS20+NLAev7oyYL77StU8Cme1O3wrWL5D84G+haGUvijOWz7+iGW9Vs8ovXW4Ir/8/iY9"
        "U0PJvGvxYb3dhYW+GH35vD+pvr7LR40+xpZ2vrqQPr6UBc6+oDc+vpZvlr7X4Cq+FB2VvRt0pz5pj7G+xIuSvTLVVz4Ef+A8"
        "sNW7volLcj15QkE+AHUpPgKgYL1jzZu+FhnLPLIClrxZTe092XqaPAyztT4CSJi90tNzvo1bir2IDse++F1dPhaIN7+Nq2U+"
        "6XRAP/D3Ij/iGDw/gBrUPW34o76LFqG8+xIkPAR7KL5n4v8+ppyDPj3mFD9+4ws9et+rvZ7aLz1Z4QC8LVHIvro2ej7iN4m+"
        "nYKyvNgRt7o6s+i+f2AAvzZcXj5zD+Y+FTp7P0Md/j6olxI97FmXvlz+Wj4Tlxg+rAgMv1Z2gb/Yh7o9/o0BP2lQ3DtvvFK8"
        "cNvnvrLfy76j2Yw9K4adPv7nu75umQS/9JqqvWxUGj4yrEs+Y+1CPmuC7D0bCpS+s4/8PhsCmT6x+6k+89FMvhA0SL5VIg4/"
        "FD0CP2XNcD5N0KW+Ku6hviwWozsH95s+TyGbvunEtr51aMA93YsJPtMoML4/cgI+7Sv0vXawKz8F3kQ+PIC8PmOPxr6b0Yg+"
        "f6nsPh+/D789/yA+e1nfPtlClD0CSsm83sp2PbX0mb0ESJ+/u0+IP/eaAz8kpCa/VHyEvjgyeD7xv3++/JgLvg6n3D0BRvi9"
        "5qqHPco41L0Ir2i+UcQIPvetXL5v0jM+M+cePYPb3z4OIAc+FpS5Puj3WT/U8Ga/8nIbPwji9D548hw/QEU0P+mKiz/QJa29"
        "dRvLPhXMM7+8RpS+w3SyvV6IHL+qYxI/xR0cP97qjz4wwtK+pfZnvo68rb1tCwQ/Jg9hvlzSPr9E5Wi8jNYwvkRhT76yWjS+"
        "tfqSvVCazD3BkFI+JNNmPhg9Gj7JX4++4eQDPlUCdz7IYcM9Qz+lvXgpeD6VTVy+GnPPPfsnp77o6qo9sSC7vr5kmT51bn6+"
        "8KaQPtFrxb2HPTG+uDF1vkg+9D0/U48+5CVRvoKuZb4ej7Q902gaO+Hpj71N/3a+7Z6wvdJvWrw2RoY9di6FvkM5KD4wxXU+"
        "YJLnPux4iD5mqYq+ZkoQPov9mT4lp8q7Sf/gPvEFrr6o9h4+jPxCPmvNhL5HDdg9JS8av7mVRz65KiM+3vkJPrE5jb3NpMW9"
        "SvkTPzzenT6Q9Lm8/dA6vt7Dkz3Q5WG9a+O9vU7KlD6o7e89mXQXPeMWRT20rv4+6EZ7Pg5Ls72NT0G+URQWvXJ2lT7unNY9"
        "ripkPjiI/7x2cdg9I8mBvozLj77cI4u+ryWVvUXMYr6R6w2/1z6qvrjrg76cJx89oCAtvi480L1lSc09rPXVPb066T39+dU+"
        "YuHLPpdswj3nQOO90vyavnQUPb2Ilnw9oQ8vvTAVFLxO4Gc9tAlCPpMipL20kio/RJKWviv9o74OWtW9QLsCvr5Q8T2jUNg9"
        "ifPbPuCDrD77Ouu8hH4ZPvt5WD4pMXI9UNWAPex+Br39gg2+ACsovmW+Fr7v4ws+u2cYvqb57z2QDRk+qLmwvcRYGD224z49"
        "CN9mvgN6CT68m8O98MGbviIinD4ID/U++mYZvumu/L76OSm+uzIiPl/Lyr6Jf6Y+m/+yPDzDqjoTBvK9FvO7vvHyLz5PhcA+"
        "FqPcvTqnqL6IynY+50EHvgT9jT7XUN49aqJevlv2JL2WMIW+n2qvPpQCVTyVWrA85hxZvh+QoL4VVoy+9NvVvbaULL6mPuc+"
        "Kk0ePmbi/LvlZ0y+6DstPigMOz5dUSm+7iTSPbkzkDvQJp+9wQmfvZS4FL5hdWE+ttKSPWMp/jzjirw+XIJPvRlJGbwYtQS+"
        "KHjfPid2Pb1LKs0+vmI/vp3H8r006PI+Xtllv4id17/Qp1k/43mavqNbCD4lW6w/MoZ9v6HapL/QdLa/NrkRP4PNmj+qHMG/"
        "MGsNP/TWRr8Ak2c+pFQOvaEZe7/E/5U/uPOwP11HKr+ltrM/Hi2FP6LyAr8myZU+wsagP/Nbmb/VEoA/L3rIP3lbqT9lqzi/"
        "3LH/vs5xvT5S7pa/RXnTP7SBLz7q12I+aZVaPxj2mL+FxzK/5fORvQKEzr7bcd4+brIWPB+scr6sW4+8sZohvuxQV76cpwu7"
        "+9MbvnuMXb21Kwy+XxBevgPZmD4atK2+wdY3Pi1zDb89S3c+WqjCPv20Pr4ff667/c66vrBOHT8vZhW+S6jKvWgNBL0TvZ08"
        "PC41vfMUOL5ir9W9PrpqvfeMDz6QBjI/XqnmPTGJ8r6Xo3o++jZ2vuFGKr7Pl5w++p/AvAGflz1IliY/lPx2vwg02b1qt5y+"
        "LEd2QLTq/bzxWXO+Yry5vt0vJj8xGpg+mhcPP9oZBb7GKqQ/6A/FPoCHH76hJrO+5jUFPweMdj7NtOW9JGJyPo/RPL2BrHM+"
        "eTebvRYxGr/Bcs0+kuCrvg2LED0fxHG+kiQEPs/VYD0dOBs+U8nqvLYatzqgf0o+YlYwvnscPL26fhi9fqPWvS2ayrqGIQQ9"
        "L7qVPZdROb6etUc88mBBvQGOT7y5pW47mtSSvjastD5URtO+cFPPvelhAj/xxec+UrGjPDaPrT5+7rC+NUUAvxllnD48TO0+"
        "lj9UvqYtHb6S2o6+CzSAPutbJb9pDww+FNT+Pa6Ogz7q6QM9IC19Pg=="
    ),
    0.01: (
        "7mzkPi+XeL6cJu89dsIHPi863D5nK4W90sCyvifJnT4FD5c7PTgJvoLedz5Cul8+95aCviu3ID64upM+ytZXPtH4qb0FqjA+"
        "bsQpPFfLKj4IpPC99LzkPZUUxb6Lmzg9DjpNvk09ID1opBS8Ta3dvUSmHT0/36W9EHAePgHIa75uI+C9k/6vvttC/b7HsbE+"
        "VdwgP/wPtb7giIM+jKr5vaLFDr6/UE29StE/PjQ7477Kcsc+Tx0OPrIi0T4LZJK8ihEAPxTFnz4/Tfw+SecNvsGZsrzcDMc/"
        "8IxAP2L0tL1fJr29EqaQPjVDlb+OYpo+KJ7rPZjHGL8u4/q7J5QBPijjmD4VNQa/Q8kPv/cjXT70ZZO+Koc6PqZYFj318aU+"
        "b6IXvmPXAz6H6Ju9qdUjvtM0Ab5MVFy9s0ktvuOpRL5u3dW9aF17PXlKoD1k6IK99bRtvghuBD6FLKU+lF3evWGEKz3E4n++"
        "4cM8vWv1jT5NbKA+BzCeve2SLD6PA4K9qsjbvQGTdL46fIM+vwyPvo7+g74TGvU+NaZDv3nqEj1xdea9SrmxPiT5+j1Lgza/"
        "/0hWPh3SwD3gutK+1oT2vq28pz52DWm+3L+WvmquEj/c4Bc/R6f9vuovMz5EIKq9dZ7/vTObDT6hYRi/dDx7PlNGVr6XzDk+"
        "0AyGvrpGoj5fMY2+XHM9vokbFT4pOeq+1OCqPHJRGT2yKNK+2w+FvuU4mb2L5zm9zpGVPRNYCDx7Z2K+vi0ePiislj51X4K+"
        "EiyCvdWgAj4ec6y9lBGRvVsr+D5Rtb0+JjUevyjUmD7/ELA+YxcoP3nqZD72hBs9LAL/voOWZD7uhHE9drSOPb9rX74phyY/"
        "8/zuvQGj0Lx8MJk9lhV3Ptc+wj5QDCi/bbU5vhw+RT4RAVe9cIPRvtJNrT742x0+1ARZvoF/OD5UmFE+jc9/vrrerz3Qe4W+"
        "eTwqvt5GHz8UsVW/Bs18vhWfBL5g0BG+hl9yP5NN7b4kj/M8CXPDPlD5sD7ijj+/MAlfvjwuLb4uHsS9K1JnPmRSbj7YQSA+"
        "2QfAu2Sul74KcNg8pPC2vrqd4D3UoNe9TEn+Pa4ucD4KdgO/b+sQvCOvlD5hDy2/Bcu6vmhBk73bhEQ+Vs+9vmRNvb7XHG6+"
        "q3mvvoG2Xj2f1BU/Tju0Pwz7H76wPE++q8cXPRPrBL4Vc9S9jxKavaytYj4rl5g9vPsUvclPRj235zi9y7/KPSBEM76eNrs+"
        "1xosP6mjDb7esya+wGalPPlHTb4S+Ck+qUp+voWMmz3rqcU9/gHUPNb3sb6p9ja+JnfJPofMl75PfqS7JsI4Ps7BUj4W3e++"
        "rtjyvTTgI74BzQ4+zVzZPnLVGT/y9LW+VQRmvi/mi748zSO/K5BXPqwcE7yoAs48Nf0EP9si9z7E2LQ+v2EbPmYLBD9dZ0s+"
        "KGcsPlhDwL6WnJQ+yHt4vWhmlL0HzzS+QNk0Pn3DLj4QuKC+xx0aPSUt3b6nC5I+N9B/vZbf1L66jDE+hQYoPoP0lT60p9Q9"
        "4jQKP/sG7by8mjE+sTMpvm0oQT7am4s+6E8gvsxx9b3Diju+J62DPo+hBb3wVCI/dGkoPl7cp71FONa+ksmoPTqGHb4jDrc9"
        "FL4hPTvseL5JYaK+DQdUvRHO2b0YQG08GXVCPf/JSr4W462+3WBqPtYmGz5G4Ua+6jXIvN8RdD6qdpk+iL8QvjqFVb6giy0+"
        "HCE6PoaOhL4LZkK+QyeqPH51yr4INj2//XH4PqFQaT0HMY2+0Pq5vlVEIb4FA1u9O3PFPdnjnb3fWVY9V4ABP1DAwr7eqlQ+"
        "LZ2MPV4xATxes+M9Wtv7PQXqhT4/F+C8R7viPryCGD+sdHW+9NgFvn3pfz4ZEzE+yz70veGmi72+WCC+QD4TPu0D+b1yWl49"
        "vFFLPkyLu77K9AA+1HlHPhEhfr7SzSS/wgQKPPZIqb6Am7K+/6PhPtURoznBQ0i9lH9DPr8QjT2GwJ49l0tDPqVTAT0C4kq+"
        "wriMvvGC4r46gui8e05xPScLYT329PM82iahPcvsDj8Ka3m+eg+8vgbQ+j4pHwm/E6pcvmaBcb7AHEI/85jdvERmm75JRA8+"
        "bomKPizQi70OE/0+i71HvuUjUT7iCSC+7fyfPq4Ugr6eZsA+n7SKPn3Oyb3R9dw+uikIP0fNEz8E9o692egSP1VmHj7wp28/"
        "tvGFP5xs373kx+q+qwpfP9WTIr9YUXE+/NoGvzvnkb6inSY+6CUKvTWVWL7kQKC+VKznvpbSOz48jPO9mrlbvVxpC78aiwU+"
        "E05dPm6bi7wWxHW+GBnQvdd4dL4wHZU+6NiHvpCcgL6k6e6+tJdqvioJlr78XDm+FGzHvZr+sD5r98e+tK0KvlsdPD7F69A8"
        "dcy2vlDdST1pLoA+0oAxPi/Exb0DSZy+aSEHPm3Np7xW9De9s0NZvWDI4z7kCBG+gquHvp/sxr1DNr6+Jz6APuqZVb8M4Do+"
        "G+IbP7V0XD+MlSo/umxOPVcC5r5hcLy8D4kUvREuIb4ORRM/5xicPhBv/z4YgvY7cbq8u5THijxsodU8pFXZvnP3fT7rWou+"
        "CGHPvNqTBj0NoCO/lUoEv+pWCj4Enfw+2dyIP8FoBz9DARK874SsvmuHnj7dK0k+4bwWvzLkjL8DwrA93IIEP4CVLb2AgyO9"
        "krj/vkAK2L5TPAo+jouuPiynor6diR6/pdm8ve0xET4+eWM+Jwg7PmRD3z1/45q+Rjv2Pt19lz4a+bA+FTI6vhO8b77hrSQ/"
        "LocFP/3jhz72+7O+rN2yvgBFjTyC16g++LDAvhJHxL7odbw9XyZZPt22U750uYA+Su8AvpXdJj9CqxM+XsTNPmqZyL4NCY4+"
        "YXANPyG1N79gl2I+G6rePml1fj3Azeg7IcqxPDxubL2yDrG/KjSbPxzZ7T7PCw+/GlCcvo4YoT73JHK+1TtAvtRX/z2yXCa+"
        "4ttJPeV9vL10zXi+nMIEPlnGX74vmiA+fEDavXrO/z62W/M8pCy3PneBaj/e8oe/qMkLP2hNBT+KGg4/QGQVP+RwaD/GrsS9"
        "YZqsPmXiHb92ZlW+Nl10PK/FRr9HNAU/fX4AP5CkbT5lBdq+u0MzvhuqFL7sZe0+8vKovtDuK7/3WrC7RzgxvjCuUL6izz6+"
        "4a34vY/C4D2zK4Y+/GqfPgvk0j0TI6G+EEXHPUezIj5Iesk9pqMTvj2tWj7zKxS+IMcdPE2OzL4Thf48Y865vo6Ujj4uqou+"
        "lLSAPknhF759LSe+nV9cvlZDj7yxG5Q+FgQmvhYwFb6V+LI9vRfdvHjUir3qjFS+uauMva7cuDpHnhY+BHV9vocxrD03TJA+"
        "TKLbPj1HJT4stXW+BbooPEUsXz7nkAa7ByCCPml1tL5K75I+AJRFPncvgL4I6F89Vc4ov+LrND5CPjM+Te9APozVSLw1vBq+"
        "sg4fP8Mxjj4kaEW+zgQ3vvJibb38vMK9bf8ZvobHkT48HZ09kO+aPIf1qz10G+g+DAmQPsO8Cb5FlUi+jnZUvbumrz4fnlU+"
        "NK4hPniKqzt4nSG8SNwevkdLKb6YIVe+90PLvNS67b094Mu+D2OLvu5p5Ly3zDM9eIaOvtVPm70b25S9ex6jPIvCsbwJZZ8+"
        "AHtuPviq7D3GtYO+KZN3vr7UDDwldAo+Y9CTvKTgtbwJ+FO9x0UcPugdnr3hhSQ/AKScvgXfnL7xvGC9VhyMvQ9hED1MDbk9"
        "qVnjPhQIaj73Sje+vlYBPsQooT2Fj8U9ab3ZPiH9SL51s5O9X+8uvs1/873hEx8+RE2fvSRdID7FSQY+S7VOvTsxY7w51Jg9"
        "2GpRvgFq7D31eb+9bQ+SvhaUoj56NxA/JwMUvncO8b41Y1++oZ5CPp8pgL5/qrk+XhCqPTQnYLz7r2K9rr7NvtQyVj4w9M0+"
        "cvPhvUZ8pr49KVM+UO4RvqHymD78Px4+WuJ/vhbRubwKwIq+8pjEPk75BT2mkhk9x0Ejvifkgb604D++puC6vW/9A74Gmsc+"
        "iQL0Pbd9LrwLuWm+2QbnPafSTj5CuC++EiGaPVgq1Lvi0b29CV/xvSLAOb1DTlI+uihpPSO7Az2/NNI+XO+Evaag4jzIaxO+"
        "B1jrPv839rynWaI+Q2QPvnnMEb0q8RA/kxJgv3/EAcDOi78+C6YTP/6uEb9S30E/izSEv24zbL/fWpK/uQKzPiLqnL1Fnai/"
        "1ha/P8AAJL9z21I/rvLSvhZW1j6T4bY/w8idP7H4Dz9sTp0/EeOsP1Nxur7jqJy+3KWMP7izTb9I9YQ/szCLP1ExSz+iXom+"
        "0MkCvc8ZBj+iULq/H+5+P2V7e725lrI+BHWWvpvLtL8lIZK/+mlVv59y5r75HFo+JrBfvTIrAb6Te3K+zzd7PNRusrxB5ao8"
        "8V7jvXbSBj2Dmw6+gBmyO//eKT5hZBy+Dao2PoFy/b5puas+nYaQPvJ/+z3V0I49Eavgvs4+uj5nzEq91qvBvUqolL7dn129"
        "885DPEi7rb2epzu+/g8jPCGTPb32BDE+4LNRPjgRCL+Sy6k+JN/AviBWGj4RzeY+fPTxvE24AD6AaIc+5Aksv9jeTr6MNZ2+"
        "AKfUP+8eg74xfB2/244ivtas+z4oQE4/oAdbPzrGPrpYLIM/1pilP95thbw19zy+ZtmfPva2hD7tnTu+8mxBvn7Ffb5OeCk+"
        "f9hmvvTsJL7yqBc/SbZnvsAApDygz1q+FG8APu/JDj2lABw+qaEaveNjZbozXis+Zo0Jvpg1b72Q+Jc6d+HsvAIrLbukLFE9"
        "zkKJPUYmHr641Ou8Wi2FvT4j1jy455G8edGJvhftpT5TsMO+i90Wvg5x5D6RVPI+IEZSPW0clD4LFsm+zZb7vvdsiz5wSQc/"
        "nPwdvmSTL75fCky+nZ2CPkqfIb/J9OA9bskdPikPbD6NSt4844RoPg=="
    ),
    1.0: (
        "z96BPsL3rb3cldM+btnZPRCInj40fB09Vn0Bv7C/cj70ong9fsv2vY9YjL6x0Fa+M2evviOM3D5+Jng+GhDZvgv2yL07NIU+"
        "LdFlvc6MjD3U0xG+qO+kPbjaQr/+0o09uHVqvgS/Gz0LLq4+yUoOvitdNryB5VK9ZGQRPS/ZPD9zins963Mgv7b59L5TJDA/"
        "sIyAPgKuGL+KyXs+ACMTvvjpgL7uszI+bXNVvTASEb7W6/Q+p/LiPfy2CT49oPW9ZsolP1fzbD6mkwE++xSCvYzUez0n/bA+"
        "A1hkPs451DzKnQO9dHWjPCTqm77g3i4+2DGCPaJ/yL6o4YI8ZYuTPeTJYD72vZO+/R1lvvltIz75+0O+ASuNPtNFvz5CeAS9"
        "u1divc49Wz6o/bu9omIjvgu8672QC6k9T08NvsO0jbyLfEu/JhLoPsWhWr0cbHu+8GVYPbe6sj6RZnk+zV3iPanMjj6IeJa9"
        "3hB0vmjcaz6Xvjg//ZI9vpvQET4/RJq9FpnLvlQBJr6F5IQ9vNPEPS0Fbb4LR5Q+bQ8Xvu6pnz2Wcne9GFWAPrWHBz0Z2Vc+"
        "MsoTPodaiL3bfkC/ur5KPvK6hz4Wp7q++jiCvnpPlb1V4FA9bU7RvnixsT174BW++BBSvXI8Qj1Ets++pj9oPkO8qr4jcxw+"
        "liFFvsJYib7embq+qR9HvrGlXT67Xw6+DerlPdsAy77WB2e/AbTYuxPJkj0NDJy9/1C0PQKlyr28332++l6RPqAI6D25wiC9"
        "X3GouxDRxz5qP668ealxvXQsez5mjAq+MjzGvoKsND7KOZE+UBUuPmx+mD0/UII9geF3vki2cDz8LtA92+nAPZ+3qb6qqYQ/"
        "z4qcvXeAmb0MLI4+zxxXPsXwkT5f8Ti+bCJ1vvU4aT4ZKZK+uRL+PfvAQz/Bof27NB5Nvnhopj5RYI+8fgGAvqPuwb0UftG9"
        "eBarvkyyxT7wrk2+6ziJvkPJYb6m/7I9R87DPnlUCr5bZ/S89b5dvUi3+D120iK+sysuurn5cb4dIwg+WMpPPa9SlT24xmk9"
        "KyAlPov6Nz3ffqU9UVSHvoiJzz2T07Y+mHomvvrCMr4KXR++cq3fvvzzRT38lTU+mYPRPqaTpb2sQuw9tebFvXnpjD405gm+"
        "qhm8Pclt27yUng0/PuB8PuCTIL16kpq+9FQNvsaNFzxFjNG+mNjovQJOGDx4C6q913UBv/nXWj0XUbm+5qJFvkb9Ub40MZ89"
        "HJaYvX2Ijz2Vd+m9PE1CPRnSqb7j7i0+ZKuTviAofD7/WFq+GmmOvdkrjr4TPce9mMIlP6ywIL5OvdM8Qu1APoSYX76ERQU+"
        "DyiJPfubFb8R0Yq+TbgrPzychz4bsga/xJEWvlQsg74Tboq+jJGMPaJKCj3/hle9idxAP+HYsT4s8Eo+bBiePuKqJz8oCqI+"
        "GcMrPrswV75Drp0+TnjNvXLV7TxLNdG9rnkjOjA08j1S8b6+etziPfafMr5p0D0+LrAgvoYV+73tMwg9aNyxPa0RgD75tWM+"
        "YovbPpJb8D2awDM+f4uJvXhq0z1HNT0+lSWCvjZSyb0bq1C+WHrCPQJfIT0ASL49JAMNPhLsfL5WEri+UoE5vScKer+OTAC+"
        "eD1CPQRJt74/+Au/50RCuvUySb1f+J0+DYi0PU/zp77xkcG+UwoXPdRqqT6fBTW+h0vmPYwjar5pphU+1Wnhvjd5v7wY6K09"
        "rAB0PWju9r74fi2+clmDvWtA672FVgU+Y41DPzf/ID4CZ5u+6h4Zvr9nGj7ZcEy+2jeSu1yirT3a/ic9UkSfPZiQe72n5Fo+"
        "sFIkPtHOA75ZrIE/0DuGPuUqIT5Q8QY+fxDuPpXKvj0J6sS9o46ePKAyFT6oF6Y+th0rPnD527wPT1y+cwarPUBAjb5qac8+"
        "vaufPVxho75/ycw9kCEYP5TRKL7eXie/G96qvm4f3b50Dwy+4g0AvlkhTj7yS8+9yuTdPDzf7D300mQ90smHPZnyybw1XkG9"
        "8QA+vqcb2L0Mayc9UP/rPCvWS74wO469SkaMPgRoibvbd9O9bjDyO8oLLz6+9M8+zt/APIHxLL2Tk1k+gzMFPhZpIL4WumE+"
        "QkEhPjJGr720QvG8IjFqvkENUr5HRKI+JNj5Pt3m3TylQos/mB68PfXvMz4lQFw+8FwMP8ppuz5QBH4+9wIkvyIG8z5LMjQ/"
        "rKBiPyruP76XsPK+HmLiPi4Zr74FXio/KtLEPjCMvz1ZHdw/LXMoP+hZ1L6dmaW/d/FsP9CfeTy7VYS/TwynvzkugL5ehks+"
        "g6YEPm5l1D13l3O+ol2jvPLf2L4ImIo+MfL5vY62m7ykahK/1OwrvnOWwT7DYga+Z/WcPsLT8r7p3xs/E5XdvoMhKL83/wa/"
        "rXuMvlnW8j2DCK8+LHWQPVuklr7djxi/67HBPbP1xDzHJYW9ivbgvZdDdj68PGE8qxjOvsUiHT4QBDi/agpUPpUfAL+9EI0+"
        "WDOYPlSPAD9cKWA/wG1YPiwxFD1CT78+pB4LveYJsr7jWq8/snBcPstS+75QJIK+SXMyvyVXgD5bqqe+CwhjvvMvRT/5H9G+"
        "AHH1viqUQT4AGCU+dxyLvZoy/jxMkts+ImIoPttjuz4cLVi+ERYHv4udrT7ozbM9nu9APCc7Kr9sZBw/XJS4PhISBD6uIu87"
        "nfQMv0cHuj0Cllk+f/RnPh+/+b6YS4K/r36QPiCygj3fcnG9viwbPrgB4L1YAkQ+fSf0O3lUzD7p++A+cnKEvgBWNr6NlAc/"
        "IBcPP9BzxT7n2aC+CkK6vly8Krsdq4g+VTdmvWZdib7mbkU8Nx50PAbwQLxrbzc9/bAoPZssyj46rua7urqiPcwBV77SjIS7"
        "xOsnvbV7vr3l9C8+DylYPnTCIT4FzeA920eHPQ4ksjxGHiS9V5xYPvDNgzyE8Am+R8EfvQHHQz4144+8hhxWvTx6Kjy+bNa9"
        "WdofPPcfYr2EeE29ZTOqvS5V1r0Hx+I8Sx0PvJUxSz6Z8SQ+9ayBPn7MOD7STY++yWsOP1joeD5FklBAP79zP02YRD9gpbG+"
        "b5fgPuUjTL9YMce+MZLBv00VAD4bzB0+woIjPzsRKr1QWYy9NgQ7PmUEcL34WHO8o6Rjvvp78b5dQAC+EDe6veWRXz4GuvO9"
        "iqJ5vUkYkb0xR6a+IPViPoR5tD0O+1A+B6aKPjX3jzyHfI6+KiMuvu7jvL23LFg8X4mBvgdqQ744fQs+eHy2PlAELj9/nlo9"
        "7UoMP8LMk7zztrG9P7hDva7K7L1R7A0/PiaEPgaWkz7L6Ts+MIFovuOApD4ciG2+2DcAvhm1lT0gVBA+wcyWvpyhlr5xNaK8"
        "SZUSP6igvb4L2Pe+W8wCv1dfdT4760E/2NUzPQ0V+74XohA9YoqmPV0qBL9S+iE+smz4vmuVnz4SyuE+i8YyvU1ulL0Hjx++"
        "2+2WPkTteT0+eMK+1CwEv1aZmDtvY7O+75uWPc5ayT4n8ca9K5HHvjG93L4whbg+Vp/wPkluSr7UuIk+JSFuvn0ZxD1Xd+M8"
        "mOArvdKtB70QCh6+wK2FvmB5mr4hR+6+KXD7Pp6sCr9aGXC+d5UPPiwHcr6FRZu+hWoLvufulr4PcJ++PNgrPjn22L71AKk+"
        "FLEXPFUPBD5DwLW+q6l5va4Ilz41rh8+02cmPjei0Dwqm06/T5A/vQVOr72COe4+/1Egv2hRMr5arww+izq0PqGFCj/R+xu9"
        "Cao9Pz8KA76tHoW+JmesPX8cJL4TZPa9r/dTvj+f3j3U+T2/IMVuvhfnXr6XUj0+ICtuPrwiLj44RkY+5ahnPfZzAz6O0Ke9"
        "Oor5vtDRIz7SZQm/4hNZvhjGNT46H40+sEvZvmmYir5DXRy+o7+/PdNgRb4XlQU/kYT+PY13qLvivAQ+/i0Nv6YbkT6uBqA+"
        "ncYrvkYEgz2wqPO+HEIWvkVEHj+DyN287J+ivoOQ376ui7K+UkkEvdFib75X5r0+GOb2PrOz2D35TpI9xHcJvgLdST7l+lU/"
        "i8Qvv8MTgj7TChQ+5guBPrtX7T4GJQe9dk0svfLSfrvUup6+7WWHPsfsK7+5ZXI+NlPJPkVfmD1pg9C+RxelPAAcvj4ToI6+"
        "9LIKPiRZob45snQ+dUK5vDopvjzS3YA+mp7MPZbZCr68kZQ8IHcFPe8IAD5UH0+9obZZvY//LT3Llge9yoBjvUzF2jySFCg9"
        "rI6Evd26AT6FEw29bhUCvtMkILxTFKi7du2SPFnZHbsMKk89xKNLvu6WuzyoITI9CHR+PY02WrxB45+8MmM/PZGPvbxYH869"
        "TKmOvbZFdDzcI7y8VjeLPYWMcL3Udhu9Rv+ePDH84LtEbFo8woDVvARtljpWXI64Bhh4OvWj8joc7rs7Prqtu4TeEbvV1oa6"
        "lxFBu+S9vDutmlc8y0TaOXaZcTsTRlW7JcUeO5aI0bn9b5m7vv6kOucU57rxOAQ7uGHPuxYMybo0+wC81Y/3uxNFx7zeuZM8"
        "hDofvHn6bTtz4fS4y1nYOubFi72Tgqo7PpVgPAFgubtB5p67b3rpvILtL7vc2oW80k+6OkgKl7vFGt+8ZOgDPg1wPb6zM+69"
        "g9yIvoZINj51vio/amQWPaB31T38nla+RYGFvSptLb5mka+7AuLyvqqamrzJKG2+xezYPILspD45fFg+PTkqPuDIYr2SWVE+"
        "0i55vrVuVD6ytDg9qACmu207mz2Q1u69d9+uPeZQFz2q2jw93YqcvQFxmb29+TI9DWE1vZ+eHL4ApRe+OJvhvEttc72tuwQ+"
        "V0HMvHi5Hr5SeVu8LfdfPAghOzwKTye9eO4/v+iDEb4EPi8++qkOv4aTQD7ESBc/RBTvvly4kb4hhFm/lroHPzZ8izxbmuy+"
        "DXU5vwYDB78vSt++hAq2Pt3tDb/5QwE/qqnOPuj9iz5VHLo9kd5MPg=="
    ),
}
_SHA256 = {
    0.0001: "7a630e6bcd8090925e6bf1e778216af17dfe166a058df82e7cb048345e4b23db",
    0.01: "ca96747b70dba548b93c2816880466740b161660e942391c55c126d9eda37f01",
    1.0: "3e4f6ba29bddf963ab941422d4f8a1f6f163a432e389a9d2416ec9c6a70cbc6a",
}

if __name__ == "__main__":
    _print_cache()
