"""Shipped GP PFNs against exact and MCMC Bayesian inference, in the same run.

Run:  python benchmarks/pfn_gp.py [--model PATH] [--datasets 2000] [--nuts-datasets 128]
      [--earlier-model PATH ...] [--earlier-hyper-model PATH ...]
      (writes benchmarks/results/pfn_gp.json, docs/images/pfn_gp.png and pfn_gp_hyper.png;
      with --out elsewhere, the figures go beside that file)

* ``gp-rbf-1d`` vs the exact GP posterior with the true hyperparameters: mean NLL gap over fresh
  prior datasets with context sizes 1..50 (one query each), PIT calibration (KS statistic), and
  the time for a batch of 256 datasets x 50 context x 50 queries, as a ratio to the exact GP.
* ``gp-hyper-1d`` (if shipped) vs NUTS over the GP hyperparameters (Pyro) and vs the Bayes
  predictive by importance sampling from the hyper-prior (4096 draws): NLL of 10 queries per
  dataset on the same datasets (context sizes 5, 10, 20, 50 in turn; standard errors with the
  datasets as units; 128 datasets, since on 32 a few datasets dominate the difference to NUTS)
  and wall time per dataset; and, on 128 more datasets, the PFN's NLL gap to
  the importance-sampled Bayes predictive at each context size 0..50, and its mean over the
  sizes 5..50 (the bar, <= 0.02 nats), with the floor of that gap on the model's buckets: the
  expected gap of the Bayes predictive's own bucket masses (``discretisation_floor``, 32 draws
  of y per query, the same draws as ``benchmarks/pfn_borders.py``), which no training on these
  borders can go below.
* ``--earlier-model`` / ``--earlier-hyper-model``: other checkpoints of the same prior, scored
  on the same datasets, paired: each one's gap (and for gp-hyper-1d the NLL difference on the
  NUTS datasets), under ``earlier_models`` keyed by their training (``200000-steps-sampled``:
  the steps and targets of their recorded configuration).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import shlex
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from torch import Tensor  # noqa: E402

from probtheory.pfn import PFN, GPHyperPrior, GPPrior, pretrained_names  # noqa: E402
from probtheory.pfn.evaluation import (  # noqa: E402
    discretisation_floor,
    exact_gp_predictive,
    hyperprior_gp_predictive,
    ks_uniform,
)
from probtheory.pfn.recipes import get_recipe  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "pfn_gp.json"
MAX_CONTEXT = 50


def _load(name: str, path: str | None) -> PFN | None:
    if path:
        return PFN.load(path)
    return PFN.from_pretrained(name) if name in pretrained_names() else None


def _label(model: PFN) -> str:
    """A checkpoint's key in ``earlier_models``: the steps and targets it was trained with."""
    config = model.metadata.get("train_config", {})
    return f"{config.get('steps')}-steps-{config.get('targets', 'sampled')}"


def _comparison(model: PFN, gaps: Tensor, earlier_gaps: Tensor) -> dict:
    """An earlier checkpoint's provenance, its gap and the paired difference (datasets as units)."""
    return {
        **_provenance(model),
        "gap": list(_dataset_mean_se(earlier_gaps)),
        "minus_earlier": list(_dataset_mean_se(gaps - earlier_gaps)),
    }


def evaluate_rbf(model: PFN, datasets: int, seed: int, earlier: tuple[PFN, ...] = ()) -> dict:
    """NLL gap to the exact GP posterior, PIT calibration, and for each of ``earlier`` (other
    checkpoints of the same prior) its gap and the paired difference, on the same datasets."""
    prior: GPPrior = get_recipe("gp-rbf-1d").prior
    batch = prior.sample(datasets, MAX_CONTEXT + 1, torch.Generator().manual_seed(seed))
    contexts = [1 + i % MAX_CONTEXT for i in range(datasets)]
    gap_by_context: dict[int, list[float]] = {}
    pits, gaps = [], []
    earlier_gaps: list[list[float]] = [[] for _ in earlier]
    for c in range(1, MAX_CONTEXT + 1):
        idx = [i for i, ci in enumerate(contexts) if ci == c]
        x, y = batch.x[idx], batch.y[idx]
        pfn = model.predict(x[:, :c], y[:, :c], x[:, c : c + 1])
        exact = exact_gp_predictive(
            x[:, :c], y[:, :c], x[:, c : c + 1], prior.lengthscale, prior.outputscale, prior.noise
        )
        target = y[:, c : c + 1]
        gap = (-pfn.log_prob(target)) - (-exact.log_prob(target))
        gaps += gap.flatten().tolist()
        for other, other_gaps in zip(earlier, earlier_gaps, strict=True):
            other_nll = -other.predict(x[:, :c], y[:, :c], x[:, c : c + 1]).log_prob(target)
            other_gaps += (other_nll + exact.log_prob(target)).flatten().tolist()
        gap_by_context[c] = gap.flatten().tolist()
        pits += pfn.cdf(target).flatten().tolist()
    mean_gap = statistics.fmean(gaps)
    se = statistics.stdev(gaps) / math.sqrt(len(gaps))
    out = {
        "datasets": datasets,
        "mean_nll_gap": mean_gap,
        "mean_nll_gap_se": se,
        "pit_ks": ks_uniform(torch.tensor(pits)),
        "gap_by_context": {c: statistics.fmean(v) for c, v in gap_by_context.items()},
    }
    if earlier:
        gaps_t = torch.tensor(gaps)[:, None]
        out["earlier_models"] = {
            _label(other): _comparison(other, gaps_t, torch.tensor(other_gaps)[:, None])
            for other, other_gaps in zip(earlier, earlier_gaps, strict=True)
        }
    return out


def timing(model: PFN, repeats: int = 5) -> dict:
    prior: GPPrior = get_recipe("gp-rbf-1d").prior
    batch = prior.sample(256, 100, torch.Generator().manual_seed(7))
    x_train, y_train, x_test = batch.x[:, :50], batch.y[:, :50], batch.x[:, 50:]
    pfn_t, gp_t = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict(x_train, y_train, x_test).mean  # noqa: B018
        pfn_t.append(time.perf_counter() - start)
        start = time.perf_counter()
        exact_gp_predictive(x_train, y_train, x_test, prior.lengthscale, prior.outputscale, prior.noise).mean  # noqa: B018
        gp_t.append(time.perf_counter() - start)
    return {
        "pfn_s": statistics.median(pfn_t),
        "exact_gp_s": statistics.median(gp_t),
        "ratio_pfn_over_exact_gp": statistics.median(a / b for a, b in zip(pfn_t, gp_t, strict=True)),
    }


def _dataset_mean_se(values: Tensor) -> tuple[float, float]:
    """Mean and standard error of a `D x Q` tensor, with the D datasets as the independent units."""
    per_dataset = values.mean(-1)
    return float(per_dataset.mean()), float(per_dataset.std() / math.sqrt(len(per_dataset)))


NUTS_SEED = 2027  # the NUTS comparison's datasets


def _nuts_datasets(datasets: int, seed: int, queries: int):
    """The NUTS comparison's datasets: (context size, x, y, query x, query y) each, 1-D x."""
    batch = GPHyperPrior().sample(datasets, MAX_CONTEXT + queries, torch.Generator().manual_seed(seed))
    for i in range(datasets):
        c = [5, 10, 20, 50][i % 4]
        yield c, batch.x[i, :c, 0], batch.y[i, :c], batch.x[i, MAX_CONTEXT:, 0], batch.y[i, MAX_CONTEXT:]


def pfn_minus_earlier_on_nuts_datasets(model: PFN, earlier: PFN, datasets: int, seed: int, queries: int = 10):
    """Paired NLL difference of two checkpoints on the NUTS comparison's datasets (datasets as units)."""
    rows = []
    for _, x, y, xq, yq in _nuts_datasets(datasets, seed, queries):
        nll, earlier_nll = (
            -m.predict(x[:, None], y, xq[:, None]).log_prob(yq).double() for m in (model, earlier)
        )
        rows.append(nll - earlier_nll)
    return list(_dataset_mean_se(torch.stack(rows)))


def evaluate_hyper(model: PFN, datasets: int, seed: int, queries: int = 10, num_samples: int = 200) -> dict:
    """NLL of the PFN, NUTS over (lengthscale, outputscale, noise) and the importance-sampled
    Bayes predictive on the same datasets and queries; wall time per dataset of PFN and NUTS."""
    import pyro
    import pyro.distributions as pdist
    from pyro.infer import MCMC, NUTS

    prior = GPHyperPrior()
    hp = prior.hyperprior()
    pfn_nll, nuts_nll, is_nll, pfn_time, nuts_time, contexts = [], [], [], [], [], []
    for i, (c, x, y, xq, yq) in enumerate(_nuts_datasets(datasets, seed, queries)):
        contexts.append(c)
        start = time.perf_counter()
        nll = -model.predict(x[:, None], y, xq[:, None]).log_prob(yq)
        pfn_time.append(time.perf_counter() - start)
        pfn_nll.append(nll.double())
        reference = hyperprior_gp_predictive(
            x[None, :, None], y[None], xq[None, :, None], prior, 4096, torch.Generator().manual_seed(seed + i)
        )
        is_nll.append(-reference.log_prob(yq[None].double())[0])

        def gp_model(x=x, y=y):
            ls = pyro.sample(
                "lengthscale",
                pdist.LogNormal(hp["lengthscale"].loc.double(), hp["lengthscale"].scale.double()),
            )
            os_ = pyro.sample(
                "outputscale",
                pdist.LogNormal(hp["outputscale"].loc.double(), hp["outputscale"].scale.double()),
            )
            nz = pyro.sample("noise", pdist.LogNormal(hp["noise"].loc.double(), hp["noise"].scale.double()))
            k = os_ * torch.exp(-((x[:, None] - x[None, :]) ** 2) / (2 * ls**2)) + (nz + 1e-8) * torch.eye(
                len(x), dtype=x.dtype
            )
            pyro.sample("y", pdist.MultivariateNormal(torch.zeros_like(y), covariance_matrix=k), obs=y)

        start = time.perf_counter()
        pyro.set_rng_seed(seed + i)
        mcmc = MCMC(NUTS(gp_model), num_samples=num_samples, warmup_steps=num_samples, disable_progbar=True)
        mcmc.run()
        samples = mcmc.get_samples()
        log_p = []
        for ls, os_, nz in zip(samples["lengthscale"], samples["outputscale"], samples["noise"], strict=True):
            pred = exact_gp_predictive(
                x[None, :, None], y[None], xq[None, :, None], float(ls), float(os_), float(nz)
            )
            log_p.append(pred.log_prob(yq[None].double())[0])
        nuts_nll.append(-(torch.logsumexp(torch.stack(log_p), 0) - math.log(len(log_p))))
        nuts_time.append(time.perf_counter() - start)
        print(f"gp-hyper-1d dataset {i}: context {c}, NUTS {nuts_time[-1]:.1f} s", flush=True)
    pfn, nuts, ref = torch.stack(pfn_nll), torch.stack(nuts_nll), torch.stack(is_nll)
    by_context = {}
    for c in sorted(set(contexts)):
        rows = [i for i, ci in enumerate(contexts) if ci == c]
        by_context[c] = {
            "pfn_minus_nuts": _dataset_mean_se(pfn[rows] - nuts[rows]),
            "pfn_minus_bayes_is": _dataset_mean_se(pfn[rows] - ref[rows]),
        }
    return {
        "datasets": datasets,
        "queries_per_dataset": queries,
        "pfn_mean_nll": float(pfn.mean()),
        "nuts_mean_nll": float(nuts.mean()),
        "bayes_is_mean_nll": float(ref.mean()),
        "pfn_minus_nuts": _dataset_mean_se(pfn - nuts),
        "nuts_minus_bayes_is": _dataset_mean_se(nuts - ref),
        "by_context": by_context,
        "pfn_s_per_dataset": statistics.median(pfn_time),
        "nuts_s_per_dataset": statistics.median(nuts_time),
        "speedup": statistics.median(nuts_time) / statistics.median(pfn_time),
    }


GAP_CONTEXTS = (5, 10, 20, 30, 40, 50)  # the range of the gap bar: "context sizes 5-50"


def hyper_gap_by_context(
    model: PFN,
    datasets: int,
    seed: int,
    queries: int = 10,
    floor_draws: int = 32,
    earlier: tuple[PFN, ...] = (),
) -> tuple[dict, dict]:
    """Mean NLL gap of the PFN to the importance-sampled Bayes predictive at each context size,
    and its mean over the context sizes ``GAP_CONTEXTS`` (the same datasets at every size, so
    the standard error is over each dataset's mean gap across those sizes).

    Also the floor of that gap on the model's bucket borders: the expected gap of the Bayes
    predictive's own bar projection (its bucket masses, the best any network with these borders
    can predict; ``floor_draws`` draws of y per query), so ``gap - floor`` is what more training
    could still remove. For each of ``earlier`` (other checkpoints of the same prior), also its
    mean gap over ``GAP_CONTEXTS`` and the paired difference, on the same datasets and the same
    Bayes predictive."""
    prior = GPHyperPrior()
    batch = prior.sample(datasets, MAX_CONTEXT + queries, torch.Generator().manual_seed(seed))
    xq, yq = batch.x[:, MAX_CONTEXT:], batch.y[:, MAX_CONTEXT:].double()
    out, in_range, floor_in_range = {}, [], []
    earlier_in_range: list[list[Tensor]] = [[] for _ in earlier]
    for c in (0, 1, 2, 3, 5, 10, 20, 30, 40, 50):
        x, y = batch.x[:, :c], batch.y[:, :c]
        pfn = -model.predict(x, y, xq).log_prob(yq).double()
        reference = hyperprior_gp_predictive(x, y, xq, prior, 4096, torch.Generator().manual_seed(seed + c))
        ess = 1 / reference.mixture_distribution.probs[:, 0].square().sum(-1)
        bayes = reference.log_prob(yq)
        gaps = pfn + bayes
        floor = discretisation_floor(
            reference, model.borders, floor_draws, torch.Generator().manual_seed(seed + c)
        )
        mean, se = _dataset_mean_se(gaps)
        out[c] = {"gap": mean, "se": se, "floor": float(floor.mean()), "median_ess": float(ess.median())}
        if c in GAP_CONTEXTS:
            in_range.append(gaps.mean(-1))
            floor_in_range.append(floor.mean(-1))
            for other, other_in_range in zip(earlier, earlier_in_range, strict=True):
                other_in_range.append((bayes - other.predict(x, y, xq).log_prob(yq).double()).mean(-1))
    mean, se = _dataset_mean_se(torch.stack(in_range, -1))
    floor, floor_se = _dataset_mean_se(torch.stack(floor_in_range, -1))
    summary = {
        "contexts": list(GAP_CONTEXTS),
        "gap": mean,
        "se": se,
        "bucket_floor": floor,
        "bucket_floor_se": floor_se,
        "buckets": model.borders.numel() - 1,
    }
    if earlier:
        summary["earlier_models"] = {
            _label(other): _comparison(other, torch.stack(in_range, -1), torch.stack(other_in_range, -1))
            for other, other_in_range in zip(earlier, earlier_in_range, strict=True)
        }
    return out, summary


def _earlier_rows(hyper: dict) -> list[dict]:
    """The table rows comparing the scored model with each ``--earlier-hyper-model``."""
    rows = []
    for label, earlier in hyper["gap_5_to_50"].get("earlier_models", {}).items():
        rows += [
            {
                "model": "gp-hyper-1d",
                "metric": f"gap minus the {label} checkpoint's (paired, same datasets); its gap "
                "{:+.4f} ± {:.4f}".format(*earlier["gap"]),
                "value": "{:+.4f} ± {:.4f}".format(*earlier["minus_earlier"]),
                "bar": "reported",
            },
            {
                "model": "gp-hyper-1d",
                "metric": f"NLL minus the {label} checkpoint's on the NUTS datasets below (paired)",
                "value": "{:+.4f} ± {:.4f}".format(*hyper["pfn_minus_earlier"][label]),
                "bar": "reported",
            },
        ]
    return rows


def _provenance(model: PFN) -> dict:
    return {key: model.metadata.get(key) for key in ("training_command", "training_seconds", "machine")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", help="gp-rbf-1d checkpoint path (default: the shipped one)")
    parser.add_argument("--hyper-model", help="gp-hyper-1d checkpoint path (default: the shipped one)")
    parser.add_argument(
        "--earlier-model",
        nargs="+",
        default=[],
        help="other gp-rbf-1d checkpoints: each one's gap, and the paired difference, on the same datasets",
    )
    parser.add_argument(
        "--earlier-hyper-model",
        nargs="+",
        default=[],
        help="other gp-hyper-1d checkpoints: each one's gap, and the paired difference, on the same datasets",
    )
    parser.add_argument("--datasets", type=int, default=2000)
    parser.add_argument("--nuts-datasets", type=int, default=128)
    parser.add_argument(
        "--out", type=Path, default=RESULTS, help="results file (figures beside it, unless the default)"
    )
    args = parser.parse_args()
    if args.datasets < 50 or args.nuts_datasets < 4:
        parser.error("--datasets needs at least 50 (one per context size), --nuts-datasets at least 4")
    # the docs' figures belong to the committed results; a run written elsewhere draws its own
    figures = ROOT / "docs" / "images" if args.out == RESULTS else args.out.parent
    figures.mkdir(parents=True, exist_ok=True)
    rbf, hyper = _load("gp-rbf-1d", args.model), _load("gp-hyper-1d", args.hyper_model)
    earlier_rbf, earlier = (
        tuple(PFN.load(path) for path in paths) for paths in (args.earlier_model, args.earlier_hyper_model)
    )
    for flag, olds, new in (("--earlier-model", earlier_rbf, rbf), ("--earlier-hyper-model", earlier, hyper)):
        if any(new is None or old.metadata.get("prior") != new.metadata.get("prior") for old in olds):
            parser.error(f"{flag}: a checkpoint of another prior than the model it is compared with")
        if len({_label(old) for old in olds}) < len(olds):
            parser.error(f"{flag}: two checkpoints trained for the same steps on the same targets")
    result: dict = {
        "meta": {
            "command": shlex.join(["python", "benchmarks/pfn_gp.py", *sys.argv[1:]]),
            "machine": f"{platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}",
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        }
    }
    table = []
    if rbf is not None:
        result["gp-rbf-1d"] = evaluate_rbf(rbf, args.datasets, seed=2026, earlier=earlier_rbf)
        result["gp-rbf-1d"]["timing"] = timing(rbf)
        result["gp-rbf-1d"]["model"] = _provenance(rbf)
        r = result["gp-rbf-1d"]
        table.append(
            {
                "model": "gp-rbf-1d",
                "metric": "mean NLL gap to exact GP (nats)",
                "value": f"{r['mean_nll_gap']:.4f} ± {r['mean_nll_gap_se']:.4f}",
                "bar": "<= 0.05",
            }
        )
        for label, other in r.get("earlier_models", {}).items():
            table.append(
                {
                    "model": "gp-rbf-1d",
                    "metric": f"gap minus the {label} checkpoint's (paired, same datasets); its gap "
                    "{:.4f} ± {:.4f}".format(*other["gap"]),
                    "value": "{:+.4f} ± {:.4f}".format(*other["minus_earlier"]),
                    "bar": "reported",
                }
            )
        table.append(
            {
                "model": "gp-rbf-1d",
                "metric": "PIT KS statistic",
                "value": f"{r['pit_ks']:.4f}",
                "bar": "< 0.03",
            }
        )
        table.append(
            {
                "model": "gp-rbf-1d",
                "metric": "time 256 x 50 ctx x 50 queries: PFN / exact GP",
                "value": (
                    f"{r['timing']['pfn_s']:.3f} s / {r['timing']['exact_gp_s']:.3f} s "
                    f"(ratio {r['timing']['ratio_pfn_over_exact_gp']:.2f})"
                ),
                "bar": "reported",
            }
        )
        fig, ax = plt.subplots(figsize=(5.5, 3.5))
        ax.plot(list(r["gap_by_context"]), list(r["gap_by_context"].values()), "o-", ms=3)
        ax.axhline(0, color="k", lw=0.8)
        ax.set_xlabel("context size")
        ax.set_ylabel("NLL(PFN) - NLL(exact GP)")
        ax.set_title("gp-rbf-1d vs exact GP posterior")
        fig.tight_layout()
        fig.savefig(figures / "pfn_gp.png", dpi=110)
    if hyper is not None:
        result["gp-hyper-1d"] = evaluate_hyper(hyper, args.nuts_datasets, seed=NUTS_SEED)
        h = result["gp-hyper-1d"]
        h["gap_by_context"], h["gap_5_to_50"] = hyper_gap_by_context(hyper, 128, seed=2028, earlier=earlier)
        h["model"] = _provenance(hyper)
        if earlier:
            h["pfn_minus_earlier"] = {
                _label(other): pfn_minus_earlier_on_nuts_datasets(hyper, other, args.nuts_datasets, NUTS_SEED)
                for other in earlier
            }
        diff, se = h["pfn_minus_nuts"]
        gap_range = h["gap_5_to_50"]
        table += [
            {
                "model": "gp-hyper-1d",
                "metric": "mean NLL gap to the Bayes predictive (IS), 128 datasets x 10 queries, "
                "context sizes 5-50",
                "value": f"{h['gap_5_to_50']['gap']:+.4f} ± {h['gap_5_to_50']['se']:.4f}",
                "bar": "<= 0.02",
            },
            {
                "model": "gp-hyper-1d",
                "metric": f"of which the floor of its {gap_range['buckets']} buckets: expected gap of "
                "the Bayes predictive's own bucket masses (KL, 32 draws of y per query), same datasets",
                "value": f"{gap_range['bucket_floor']:+.4f} ± {gap_range['bucket_floor_se']:.4f}",
                "bar": "reported",
            },
            *_earlier_rows(h),
            {
                "model": "gp-hyper-1d",
                "metric": f"mean NLL ({h['datasets']} datasets x {h['queries_per_dataset']} queries): "
                "PFN / NUTS / Bayes (IS)",
                "value": f"{h['pfn_mean_nll']:.3f} / {h['nuts_mean_nll']:.3f} / {h['bayes_is_mean_nll']:.3f}",
                "bar": "PFN <= NUTS",
            },
            {
                "model": "gp-hyper-1d",
                "metric": "NLL PFN - NUTS (paired)",
                "value": f"{diff:+.3f} ± {se:.3f}",
                "bar": "<= 0 (within noise)",
            },
            {
                "model": "gp-hyper-1d",
                "metric": "speed-up per dataset over NUTS",
                "value": f"{h['speedup']:.0f}x",
                "bar": ">= 100x",
            },
        ]
        gaps = h["gap_by_context"]
        fig, ax = plt.subplots(figsize=(5.5, 3.5))
        contexts = list(gaps)
        means, ses = [g["gap"] for g in gaps.values()], [g["se"] for g in gaps.values()]
        ax.errorbar(contexts, means, ses, fmt="o-", label="PFN")
        ax.plot(contexts, [g["floor"] for g in gaps.values()], "s--", ms=3, label="floor of its buckets")
        ax.axhline(0, color="k", lw=0.8)
        ax.legend()
        ax.set_xlabel("context size")
        ax.set_ylabel("NLL(PFN) - NLL(Bayes, IS)")
        ax.set_title("gp-hyper-1d vs Bayes predictive under the hyper-prior")
        fig.tight_layout()
        fig.savefig(figures / "pfn_gp_hyper.png", dpi=110)
    result["table"] = table
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(table, indent=2))


if __name__ == "__main__":
    main()
