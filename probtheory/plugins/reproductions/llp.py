"""Learning from label proportions on breast cancer: LLP-BP against DLLP, random bags of 32.

The paper's claim (Havaldar et al., ICLR 2024): pseudo-labels from belief propagation on a
similarity graph, refined with learned embeddings, beat training on the bag proportions alone
(DLLP: binary cross-entropy between a bag's mean predicted probability and its label
proportion), increasingly so for larger bags. Our CPU-sized set-up: scikit-learn's breast
cancer data (standardised), a stratified 70/30 split, the training set cut into random bags of
32 of which only the positive counts are given; metric: instance-level test AUC, averaged over
seeds. A supervised MLP (all labels known) is reported as the upper bound. One round (no
embedding refinement): with the reconstructed potentials a second round on the MLP's
embeddings made the pseudo-labels worse here (train AUC 0.98 -> 0.72 on seed 0).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from probtheory._checks import require_module
from probtheory.plugins.entry import ReproductionResult
from probtheory.training import LLPBeliefPropagation
from probtheory.training.loop import fit
from probtheory.training.minibatches import Minibatches

__all__ = ["reproduce"]

_BAG = 32


def _data(seed: int):
    require_module("sklearn", extra="datasets", purpose="the breast-cancer data of the LLP reproduction")
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    x, y = load_breast_cancer(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, stratify=y, random_state=seed)
    scaler = StandardScaler().fit(x_train)
    as_x = lambda a: torch.as_tensor(scaler.transform(a), dtype=torch.float32)  # noqa: E731
    return as_x(x_train), torch.as_tensor(y_train), as_x(x_test), torch.as_tensor(y_test)


def _mlp(d: int) -> nn.Module:
    return nn.Sequential(nn.Linear(d, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))


def _dllp(x, bags, counts, seed: int, epochs: int) -> nn.Module:
    torch.manual_seed(seed)
    model = _mlp(x.shape[1])
    sizes = torch.bincount(bags)
    batches = [(x[bags == j], counts[j] / sizes[j]) for j in range(sizes.numel())]

    def bag_loss(net, batch):
        xb, proportion = batch
        mean = torch.sigmoid(net(xb)[:, 0]).mean().clamp(1e-6, 1 - 1e-6)
        return F.binary_cross_entropy(mean, proportion.float())

    fit(model, batches, epochs=epochs, loss=bag_loss, seed=seed, progress=False)
    return model


def _supervised(x, y, seed: int, epochs: int) -> nn.Module:
    torch.manual_seed(seed)
    model = _mlp(x.shape[1])
    data = Minibatches(x, y.float(), batch_size=64, seed=seed)
    fit(model, data, epochs=epochs, seed=seed, progress=False,
        loss=lambda net, b: F.binary_cross_entropy_with_logits(net(b[0])[:, 0], b[1]))  # fmt: skip
    return model


def _auc(scores: torch.Tensor, y: torch.Tensor) -> float:
    require_module("sklearn", extra="datasets", purpose="the LLP reproduction's AUC")
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y.numpy(), scores.numpy()))


def reproduce(quick: bool = False, seed: int = 0, out_dir: Path | None = None) -> ReproductionResult:
    """LLP-BP vs DLLP: instance-level test AUC on breast cancer with random bags of 32.

    Args:
        quick: Two seeds and 30 epochs per training (else five seeds and 60 epochs).
        seed: First seed; runs use ``seed, seed + 1, ...``.
        out_dir: Where to write ``llp-bp.png``; ``None`` for no figure.
    """
    start = time.perf_counter()
    epochs = 30 if quick else 60
    seeds = [seed + i for i in range(2 if quick else 5)]
    auc: dict[str, list[float]] = {"LLP-BP": [], "DLLP": [], "supervised (upper bound)": []}
    for run_seed in seeds:
        x, y, x_test, y_test = _data(run_seed)
        bags = torch.randperm(len(y), generator=torch.Generator().manual_seed(run_seed)) // _BAG
        counts = torch.zeros(int(bags.max()) + 1).index_add_(0, bags, y.float())
        llp = LLPBeliefPropagation(rounds=1, epochs=epochs, seed=run_seed).fit(x, bags, counts)
        auc["LLP-BP"].append(_auc(llp.predict_proba(x_test), y_test))
        dllp, supervised = _dllp(x, bags, counts, run_seed, epochs), _supervised(x, y, run_seed, epochs)
        with torch.no_grad():
            auc["DLLP"].append(_auc(dllp(x_test)[:, 0], y_test))
            auc["supervised (upper bound)"].append(_auc(supervised(x_test)[:, 0], y_test))
    mean = {name: statistics.fmean(values) for name, values in auc.items()}
    spread = {name: statistics.pstdev(values) for name, values in auc.items()}
    figure = None
    if out_dir is not None:
        from probtheory.plugins.reproductions.figures import bar_chart

        figure = bar_chart(out_dir / "llp-bp.png", list(mean), list(mean.values()), list(spread.values()),
                           ylabel="test AUC (breast cancer)", title=f"random bags of {_BAG}")  # fmt: skip
    gap = mean["LLP-BP"] - mean["DLLP"]
    verdict = (
        f"LLP-BP AUC {mean['LLP-BP']:.3f} vs DLLP {mean['DLLP']:.3f} ({gap:+.3f}; spread over seeds "
        f"{spread['LLP-BP']:.3f} / {spread['DLLP']:.3f}); supervised {mean['supervised (upper bound)']:.3f}: "
        + (
            "LLP-BP better"
            if gap > 2 * max(spread["LLP-BP"], spread["DLLP"], 1e-3)
            else "no clear difference"
        )
    )
    return ReproductionResult(
        method="llp-bp",
        metric=f"instance-level test AUC (breast cancer, bags of {_BAG})",
        value=mean["LLP-BP"],
        baseline="DLLP",
        baseline_value=mean["DLLP"],
        seconds=time.perf_counter() - start,
        verdict=verdict,
        quick=quick,
        seed=seed,
        details={f"{name} AUC": value for name, value in mean.items()},
        figure=figure,
    )
