"""Nonparametric Bayesian models side by side: Student-t vs Gaussian NNGP, DKM vs NNGP vs
SingleTaskGP, and MPNP vs CNP vs NP against the exact GP.

Run:  OMP_NUM_THREADS=1 python benchmarks/nonparametric.py
          (writes benchmarks/results/nonparametric.json)
      OMP_NUM_THREADS=1 python benchmarks/nonparametric.py --quick
          (tiny budgets; writes /tmp/nonparametric_quick.json)

The run is resumable: the JSON is rewritten after every cell, and a rerun with the same settings
skips the cells already there (delete the file to start over).

(i) Scale-mixture NNGP (``StudentTProcess``: inverse-gamma last-layer variance) against the
Gaussian NNGP GP, same kernel (``NNGPKernel(depth=3)``), both fitted by marginal likelihood with
the same Adam budget. Test NLL per point on ``syn-t`` and ``syn-normal`` (Lee et al. ICLR 2022,
``probtheory.gp.synthetic_regression``; the paper's seed plus 19 more draws of the data) and on
diabetes with injected outliers (10% of all standardised targets get 3 * Cauchy noise; test NLL
reported on the corrupted and on the clean test targets; 5 splits). The mean NLL is reported
with the median and with the share of test points on which the Student-t process is better,
since on ``syn-t`` a few Cauchy outliers in the test targets decide the mean.

(ii) Deep kernel machine vs NNGP vs BoTorch's ``SingleTaskGP`` (Matérn-5/2 ARD, fitted by
``fit_gpytorch_mll``) on the splits of ``benchmarks/dkm.py`` (chirp-1d and projection-10d:
synthetic representation-learning tasks; diabetes). The DKM uses, per seed, the dof chosen by
validation in ``benchmarks/results/dkm.json`` and is refitted here so that times are side by side.

(iii) Neural processes meta-trained on 1-D GP tasks (bnp protocol, fixed kernel hyperparameters
per family so that the GP with the true hyperparameters is the Bayes-optimal reference), all
three with the same width, depth, steps, batch size and learning rate. Families: RBF, Matérn-5/2,
periodic, and RBF with Student-t (df 2) noise — evaluated with the RBF-trained models, the
paper's robustness protocol; there the GP reference is not a bound. Metric: mean target
log-likelihood per point over a fixed held-out set of tasks, with paired standard errors.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from probtheory.gp import StudentTProcess, regression_dataset, synthetic_regression
from probtheory.gp._fitting import maximise_marginal_likelihood
from probtheory.kernels import NNGPKernel
from probtheory.processes.mpnp import MPNP, MPNPConfig
from probtheory.processes.neural_process import CNP, NP, NeuralProcessConfig, NPConfig
from probtheory.processes.tasks import GPTaskSampler, exact_gp_log_likelihood
from probtheory.processes.training import meta_train

ROOT = Path(__file__).resolve().parent.parent
F64 = torch.float64


def _mean_se(values) -> dict:
    values = np.asarray(values, dtype=float)
    se = float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else None
    return {"mean": float(values.mean()), "se": se, "median": float(np.median(values)), "n": len(values)}


# ------------------------------------------------------------------ (i) Student-t vs Gaussian NNGP


class GaussianNNGP(nn.Module):
    """Exact GP regression with an NNGP kernel, fitted by marginal likelihood (the baseline of (i))."""

    def __init__(self, train_x: Tensor, train_y: Tensor, noise: float = 0.1) -> None:
        super().__init__()
        self.train_x, self.train_y = train_x.to(F64), train_y.to(F64)
        self.kernel = NNGPKernel(depth=3, weight_variance=2.0).double()
        self.raw_noise = nn.Parameter(torch.tensor(math.log(math.expm1(noise)), dtype=F64))

    @property
    def noise(self) -> Tensor:
        return nn.functional.softplus(self.raw_noise)

    def _cholesky(self) -> Tensor:
        k = self.kernel(self.train_x).to_dense() + self.noise * torch.eye(len(self.train_y), dtype=F64)
        return torch.linalg.cholesky(k)

    def marginal_log_likelihood(self) -> Tensor:
        chol = self._cholesky()
        return torch.distributions.MultivariateNormal(
            torch.zeros_like(self.train_y), scale_tril=chol
        ).log_prob(self.train_y)

    def posterior(self, test_x: Tensor) -> torch.distributions.Normal:
        chol = self._cholesky()
        k_star = self.kernel(test_x, self.train_x).to_dense()
        alpha = torch.cholesky_solve(self.train_y.unsqueeze(-1), chol).squeeze(-1)
        v = torch.linalg.solve_triangular(chol, k_star.T, upper=False)
        var = (self.kernel(test_x, diag=True) + self.noise - v.square().sum(0)).clamp_min(1e-12)
        return torch.distributions.Normal(k_star @ alpha, var.sqrt())

    def fit(self, steps: int, lr: float) -> list[float]:
        return maximise_marginal_likelihood(self, steps, lr, False, "GaussianNNGP.fit")


def _with_outliers(split, seed: int, fraction: float = 0.1, scale: float = 3.0):
    """Add scale * Cauchy noise to a random ``fraction`` of every part's targets (seeded)."""
    g = torch.Generator().manual_seed(10_000 + seed)
    out = []
    for y in (split.train_y, split.valid_y, split.test_y):
        mask = torch.rand(len(y), generator=g, dtype=F64) < fraction
        cauchy = torch.tan(math.pi * (torch.rand(len(y), generator=g, dtype=F64) - 0.5))
        out.append(y + mask * scale * cauchy)
    return out


def student_t_cell(name: str, seed: int, steps: int, lr: float) -> dict:
    if name == "diabetes-outliers":
        split = regression_dataset("diabetes", seed=seed)
        train_y, _, test_y = _with_outliers(split, seed)
        tests = {"test_nll": test_y, "clean_test_nll": split.test_y}
    else:
        split = synthetic_regression(name, seed=None if seed == 0 else seed)
        train_y = split.train_y
        tests = {"test_nll": split.test_y}
    result = {}
    for label, cls in (("student_t", StudentTProcess), ("gaussian", GaussianNNGP)):
        if cls is StudentTProcess:
            model = StudentTProcess(split.train_x, train_y, NNGPKernel(depth=3, weight_variance=2.0))
        else:
            model = GaussianNNGP(split.train_x, train_y)
        start = time.perf_counter()
        model.fit(steps=steps, lr=lr) if cls is GaussianNNGP else model.fit(
            steps=steps, lr=lr, progress=False
        )
        seconds = time.perf_counter() - start
        with torch.no_grad():
            predictive = model.posterior(split.test_x)
            nll = {key: -predictive.log_prob(y) for key, y in tests.items()}
            result[label] = {key: values.mean().item() for key, values in nll.items()}
            result[label]["test_nll_points"] = nll["test_nll"].tolist()
        result[label]["fit_s"] = seconds
        if cls is StudentTProcess:
            result[label]["df_prior"] = 2 * model.concentration.item()
    return result


def summarise_student_t(cells: dict) -> list[dict]:
    table = []
    for name, by_seed in cells.items():
        runs = list(by_seed.values())
        for key in runs[0]["student_t"]:
            if not key.endswith("nll"):
                continue
            tp = [r["student_t"][key] for r in runs]
            gp = [r["gaussian"][key] for r in runs]
            diff = [a - b for a, b in zip(tp, gp, strict=True)]
            row = {
                "dataset": name,
                "metric": key,
                "Student-t NNGP": _mean_se(tp),
                "Gaussian NNGP": _mean_se(gp),
                "TP - GP (paired)": _mean_se(diff),
            }
            if key == "test_nll" and "test_nll_points" in runs[0]["student_t"]:
                tp_points = np.concatenate([r["student_t"]["test_nll_points"] for r in runs])
                gp_points = np.concatenate([r["gaussian"]["test_nll_points"] for r in runs])
                row["TP better on (share of test points)"] = float(np.mean(tp_points < gp_points))
            table.append(row)
    return table


# ------------------------------------------------------------------ (ii) DKM vs NNGP vs SingleTaskGP


def _load_dkm_benchmark():
    spec = importlib.util.spec_from_file_location("benchmarks_dkm", ROOT / "benchmarks" / "dkm.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def single_task_gp_score(data) -> dict:
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from gpytorch.mlls import ExactMarginalLogLikelihood

    train_x, train_y, valid_x, valid_y, test_x, test_y = data
    start = time.perf_counter()
    model = SingleTaskGP(train_x, train_y.unsqueeze(-1))
    fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    seconds = time.perf_counter() - start
    with torch.no_grad():
        posterior = model.posterior(test_x, observation_noise=True)
        mean, var = posterior.mean.squeeze(-1), posterior.variance.squeeze(-1)
        ll = torch.distributions.Normal(mean, var.sqrt()).log_prob(test_y).mean().item()
    return {"test_loglik": ll, "test_rmse": (mean - test_y).square().mean().sqrt().item(), "fit_s": seconds}


def dkm_cell(dkm_module, task: str, seed: int, dof_text: str, steps: int, lr: float, quick: bool) -> dict:
    make = dkm_module.TASKS[task]
    data = make(seed) if not quick or task == "diabetes" else make(seed, 60, 40, 100)
    nngp = dkm_module.fit_and_score(data, math.inf, steps, lr)
    dof = float(dof_text)
    dkm = dkm_module.fit_and_score(data, dof, steps, lr)
    stgp = single_task_gp_score(data)
    keep = ("test_loglik", "test_rmse", "fit_s")
    return {
        "NNGP (dof=inf)": {k: nngp[k] for k in keep},
        f"DKM (dof={dof_text}, chosen by validation in dkm.json)": {k: dkm[k] for k in keep},
        "SingleTaskGP (Matern-5/2 ARD)": stgp,
    }


def _chosen_dofs() -> dict:
    saved = json.loads((ROOT / "benchmarks" / "results" / "dkm.json").read_text())
    return {
        task: [r["chosen"].split("=")[1] for r in runs["DKM (dof by validation)"]]
        for task, runs in saved["runs"].items()
    }


def summarise_dkm(cells: dict) -> list[dict]:
    table = []
    for task, by_seed in cells.items():
        runs = list(by_seed.values())
        models = {}
        for run in runs:
            for name, r in run.items():
                key = "DKM (dof by validation)" if name.startswith("DKM") else name
                models.setdefault(key, []).append(r)
        nngp_s = [r["fit_s"] for r in models["NNGP (dof=inf)"]]
        for name, results in models.items():
            table.append({
                "task": task,
                "model": name,
                "test log-lik / point": _mean_se([r["test_loglik"] for r in results]),
                "test RMSE": _mean_se([r["test_rmse"] for r in results]),
                "fit s (median)": float(np.median([r["fit_s"] for r in results])),
                "fit time / NNGP fit time (median)": float(
                    np.median([r["fit_s"] / s for r, s in zip(results, nngp_s, strict=True)])
                ),
            })  # fmt: skip
    return table


# ------------------------------------------------------------------ (iii) neural processes

FAMILIES = {
    "rbf": dict(kernel="rbf", lengthscale=(0.3, 0.3), outputscale=(1.0, 1.0)),
    "matern52": dict(kernel="matern52", lengthscale=(0.3, 0.3), outputscale=(1.0, 1.0)),
    "periodic": dict(kernel="periodic", lengthscale=(1.0, 1.0), outputscale=(1.0, 1.0), period=(1.0, 1.0)),
}
T_NOISE = dict(FAMILIES["rbf"], t_noise_scale=0.1, t_noise_df=2.0)


def _np_models(hidden: int, depth: int, num_samples: int, num_pseudo: int) -> dict:
    return {
        "CNP": lambda: CNP(NeuralProcessConfig(hidden=hidden, depth=depth), seed=0),
        "NP": lambda: NP(NPConfig(hidden=hidden, depth=depth, latent=hidden), seed=0),
        "MPNP": lambda: MPNP(
            MPNPConfig(
                hidden=hidden, depth=depth, num_samples=num_samples, num_pseudo=num_pseudo, num_inducing=8
            ),
            seed=0,
        ),
    }


def _test_batches(sampler: GPTaskSampler, num_batches: int, seed: int) -> list:
    g = torch.Generator().manual_seed(seed)
    return [sampler.sample(16, generator=g) for _ in range(num_batches)]


def _evaluate(model, batches: list, num_samples: int) -> dict:
    target, context = [], []
    with torch.no_grad():
        for i, b in enumerate(batches):
            target.append(
                model.log_likelihood(b.context_x, b.context_y, b.target_x, b.target_y, num_samples, seed=i)
            )
            context.append(
                model.log_likelihood(b.context_x, b.context_y, b.context_x, b.context_y, num_samples, seed=i)
            )
    return {
        "target_ll_per_task": torch.cat(target).tolist(),
        "context_ll_per_task": torch.cat(context).tolist(),
    }


def np_cell(family: str, model_name: str, settings: dict) -> dict:
    torch.manual_seed(0)
    model = _np_models(
        settings["hidden"], settings["depth"], settings["train_samples"], settings["num_pseudo"]
    )[model_name]()
    start = time.perf_counter()
    history = meta_train(
        model,
        GPTaskSampler(**FAMILIES[family]),
        settings["steps"],
        16,
        settings["lr"],
        seed=1,
        progress=False,
    )
    seconds = time.perf_counter() - start
    curve = [float(np.mean(history[i : i + 100])) for i in range(0, len(history), 100)]
    out = {"train_s": seconds, "s_per_step": seconds / settings["steps"], "loss_per_100_steps": curve}
    evals = {family: GPTaskSampler(**FAMILIES[family])}
    if family == "rbf":
        evals["rbf+t-noise"] = GPTaskSampler(**T_NOISE)
    for name, sampler in evals.items():
        batches = _test_batches(sampler, settings["test_batches"], seed=12345)
        out[name] = _evaluate(model, batches, settings["eval_samples"])
    return out


def exact_gp_reference(settings: dict) -> dict:
    out = {}
    for name, sampler in [(f, GPTaskSampler(**FAMILIES[f])) for f in FAMILIES] + [
        ("rbf+t-noise", GPTaskSampler(**T_NOISE))
    ]:
        batches = _test_batches(sampler, settings["test_batches"], seed=12345)
        out[name] = torch.cat([exact_gp_log_likelihood(b) for b in batches]).tolist()
    return out


def summarise_np(cells: dict, exact: dict) -> list[dict]:
    table = []
    for evaluation in ["rbf", "matern52", "periodic", "rbf+t-noise"]:
        family = "rbf" if evaluation == "rbf+t-noise" else evaluation
        models = {m: cells[family][m][evaluation]["target_ll_per_task"] for m in cells.get(family, {})}
        if not models:
            continue
        row = {"tasks": evaluation, "exact GP (true hyperparameters)": _mean_se(exact[evaluation])}
        for m, values in models.items():
            row[m] = _mean_se(values)
            row[f"{m} context LL"] = _mean_se(cells[family][m][evaluation]["context_ll_per_task"])
        if "MPNP" in models and "CNP" in models:
            row["MPNP - CNP (paired)"] = _mean_se(np.subtract(models["MPNP"], models["CNP"]))
        if "MPNP" in models and "NP" in models:
            row["MPNP - NP (paired)"] = _mean_se(np.subtract(models["MPNP"], models["NP"]))
        gaps = {m: float(np.mean(exact[evaluation]) - np.mean(v)) for m, v in models.items()}
        row["gap to exact GP"] = gaps
        # with Student-t noise the Gaussian exact GP is no upper bound, so "closest" means nothing
        row["closest to exact GP"] = min(gaps, key=gaps.get) if evaluation != "rbf+t-noise" else "n/a"
        table.append(row)
    return table


# ------------------------------------------------------------------ driver


def _settings(quick: bool) -> dict:
    if quick:
        return {
            "student_t": {"seeds": {"syn-t": 2, "syn-normal": 2}, "steps": 20, "lr": 0.05},
            "dkm": {"seeds": [0], "steps": 10, "lr": 0.01, "tasks": ["chirp-1d"]},
            "np": {
                "steps": 20, "lr": 5e-4, "hidden": 16, "depth": 2, "train_samples": 3, "num_pseudo": 5,
                "eval_samples": 5, "test_batches": 2, "families": ["rbf"], "models": ["CNP", "NP", "MPNP"],
            },
        }  # fmt: skip
    return {
        "student_t": {
            "seeds": {"syn-t": 20, "syn-normal": 20, "diabetes-outliers": 5}, "steps": 300, "lr": 0.05,
        },
        "dkm": {
            "seeds": [0, 1, 2], "steps": 200, "lr": 0.01, "tasks": ["chirp-1d", "projection-10d", "diabetes"],
        },
        "np": {
            "steps": 6000, "lr": 1e-3, "hidden": 64, "depth": 2, "train_samples": 5, "num_pseudo": 10,
            "eval_samples": 20, "test_batches": 20, "families": ["rbf", "matern52", "periodic"],
            "models": ["CNP", "NP", "MPNP"],
        },
    }  # fmt: skip


def run(quick: bool = False, out: Path | None = None) -> dict:
    """Run (or resume) the benchmark; the result is written to ``out`` after every cell."""
    torch.set_num_threads(1)
    settings = _settings(quick)
    result = {"meta": {}, "student_t": {}, "dkm": {}, "neural_processes": {}}
    if out is not None and out.exists():
        # resume section by section: keep the cells of every section whose settings are unchanged
        saved = json.loads(out.read_text())
        saved_settings = saved.get("meta", {}).get("settings", {})
        sections = (("student_t", "student_t"), ("dkm", "dkm"), ("np", "neural_processes"))
        for section, key in sections:
            if saved_settings.get(section) == settings[section]:
                result[key] = saved.get(key, {})
                if section == "np" and "exact_gp" in saved:
                    result["exact_gp"] = saved["exact_gp"]
    result["meta"] = {
        "command": "OMP_NUM_THREADS=1 python benchmarks/nonparametric.py" + (" --quick" if quick else ""),
        "machine": f"{platform.machine()}, 1 torch thread (shared host), torch {torch.__version__}",
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
        "settings": settings,
    }

    def save():
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(result, indent=1) + "\n")

    s = settings["student_t"]
    for name, num_seeds in s["seeds"].items():
        for seed in range(num_seeds):
            cells = result["student_t"].setdefault(name, {})
            if str(seed) not in cells:
                cells[str(seed)] = student_t_cell(name, seed, s["steps"], s["lr"])
                print("(i)", name, seed, json.dumps(cells[str(seed)]), flush=True)
                save()
    result["student_t_table"] = summarise_student_t(result["student_t"])

    s = settings["np"]
    if "exact_gp" not in result:
        result["exact_gp"] = exact_gp_reference(s)
    for family in s["families"]:
        for model_name in s["models"]:
            cells = result["neural_processes"].setdefault(family, {})
            if model_name not in cells:
                cells[model_name] = np_cell(family, model_name, s)
                print("(iii)", family, model_name, f"{cells[model_name]['train_s']:.0f}s", flush=True)
                result["np_table"] = summarise_np(result["neural_processes"], result["exact_gp"])
                save()
    result["np_table"] = summarise_np(result["neural_processes"], result["exact_gp"])
    save()

    s = settings["dkm"]
    dkm_module, chosen = _load_dkm_benchmark(), _chosen_dofs()
    for task in s["tasks"]:
        for seed in s["seeds"]:
            cells = result["dkm"].setdefault(task, {})
            if str(seed) not in cells:
                dof = chosen[task][seed]
                cells[str(seed)] = dkm_cell(dkm_module, task, seed, dof, s["steps"], s["lr"], quick)
                print("(ii)", task, seed, json.dumps(cells[str(seed)]), flush=True)
                save()
    result["dkm_table"] = summarise_dkm(result["dkm"])
    save()

    for key in ("student_t_table", "dkm_table", "np_table"):
        if key in result:
            result[f"{key}_display"] = [_display_row(row) for row in result[key]]
    save()
    return result


def _display_row(row: dict) -> dict:
    """A table row for the docs: every ``{mean, se, ...}`` cell as ``mean ± se``."""

    def cell(value):
        if isinstance(value, dict) and "mean" in value:
            return (
                f"{value['mean']:.3f} ± {value['se']:.3f}"
                if value.get("se") is not None
                else f"{value['mean']:.3f}"
            )
        if isinstance(value, dict):
            return ", ".join(f"{k} {cell(v)}" for k, v in value.items())
        if isinstance(value, float):
            return f"{value:.3g}"
        return value

    return {name: cell(value) for name, value in row.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny budgets (smoke test)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    default = (
        Path("/tmp/nonparametric_quick.json")
        if args.quick
        else ROOT / "benchmarks/results/nonparametric.json"
    )
    result = run(args.quick, args.out or default)
    tables = {k: result.get(k) for k in ("student_t_table", "dkm_table", "np_table")}
    print(json.dumps(tables, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
