"""ForwardGNN single-forward (SF) against the same GCN trained by backprop, and an MLP, on an SBM graph.

The paper's claim (Park et al., ICLR 2024, Sec. 4.2, node-classification table): GNNs trained
layer by layer by the forward learning rules, SF with virtual class nodes above all, reach
accuracy on par with backprop on five real graphs (CiteSeer, Cora-ML, PubMed, Amazon-Photo,
GitHub; 64/16/20 node splits), for GCN, SAGE and GAT alike. Here, offline: a stochastic block
model graph of 2000 nodes in 4 classes (``p_in = 0.02``, ``p_out = 0.002``, about 10 edges inside
and 3 across classes per node), features a unit class centroid plus Gaussian noise of
standard deviation 0.65 in 16 dimensions (an MLP on the features alone reaches about 60%), a
10/10/80 train/validation/test split. Three models, each full-batch Adam (lr 0.01) for the
same number of epochs, scored on the test nodes:

* a two-layer GCN (``GCNConv(16, 32) - ReLU - GCNConv(32, 4)``) trained by backprop;
* the same two GCN layers (widths 32, 32: SF has no classifier layer, it predicts by similarity
  to the virtual class nodes) trained by ForwardGNN-SF, temperature 1;
* an MLP ``16 - 32 - 4`` on the node features (backprop).

The details also report SF with top-down signals (Sec. 3.3) on the same graphs.
"""

from __future__ import annotations

import math
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from probtheory.layers.graph import GCNConv, GraphBatch
from probtheory.plugins.data import sbm_graph
from probtheory.plugins.entry import ReproductionResult
from probtheory.plugins.evaluation import accuracy_verdict
from probtheory.plugins.reproductions.figures import bar_chart
from probtheory.training.forward_gnn import VirtualNodeGNN
from probtheory.training.loop import fit

__all__ = ["reproduce"]

_NODES, _CLASSES, _P_IN, _P_OUT, _NOISE, _FEATURES = 2000, 4, 0.02, 0.002, 0.65, 16
_HIDDEN = 32
_LR = 0.01


class _GCN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.first, self.second = GCNConv(_FEATURES, _HIDDEN), GCNConv(_HIDDEN, _CLASSES)

    def forward(self, graph: GraphBatch) -> Tensor:
        return self.second(torch.relu(self.first(graph.x, graph.adjacency)), graph.adjacency)


class _MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(_FEATURES, _HIDDEN), nn.ReLU(), nn.Linear(_HIDDEN, _CLASSES))

    def forward(self, graph: GraphBatch) -> Tensor:
        return self.net(graph.x)


def _training_loss(model: nn.Module, graph: GraphBatch) -> Tensor:
    return F.cross_entropy(model(graph)[graph.train_mask], graph.y[graph.train_mask])


def _test_accuracy(model: nn.Module, graph: GraphBatch) -> float:
    model.eval()
    with torch.no_grad():
        predicted = model(graph).argmax(dim=1)
    return float((predicted[graph.test_mask] == graph.y[graph.test_mask]).float().mean())


def _run(name: str, graph: GraphBatch, epochs: int, seed: int) -> float:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if name.startswith("ForwardGNN-SF"):
            model: nn.Module = VirtualNodeGNN(
                [GCNConv(_FEATURES, _HIDDEN), GCNConv(_HIDDEN, _HIDDEN)],
                _CLASSES,
                top_down=name.endswith("top-down"),
                seed=seed,
            )
        else:
            model = _GCN() if name == "GCN backprop" else _MLP()
    update = model.local_update() if isinstance(model, VirtualNodeGNN) else None
    parameters = model.parameters() if update is None else update.parameters()
    fit(
        model,
        [graph],
        epochs=epochs,
        loss=_training_loss,
        update=update,
        optimizer=torch.optim.Adam(parameters, lr=_LR),
        seed=seed,
        progress=False,
    )
    return _test_accuracy(model, graph)


def reproduce(quick: bool = False, seed: int = 0, out_dir: Path | None = None) -> ReproductionResult:
    """ForwardGNN-SF vs backprop GCN vs MLP: test accuracy on an SBM graph (one graph per seed).

    Args:
        quick: Three seeds and 60 epochs (else five seeds and 150 epochs).
        seed: First seed; runs use ``seed, seed + 1, ...`` (graph, split and weights).
        out_dir: Where to write ``forwardgnn.png``; ``None`` for no figure.
    """
    start = time.perf_counter()
    epochs = 60 if quick else 150
    seeds = [seed + i for i in range(3 if quick else 5)]
    names = ("ForwardGNN-SF", "GCN backprop", "MLP", "ForwardGNN-SF top-down")
    accuracies: dict[str, list[float]] = {name: [] for name in names}
    n_test = 0
    for run_seed in seeds:
        graph = sbm_graph(_NODES, _CLASSES, _P_IN, _P_OUT, _NOISE, run_seed, features=_FEATURES)
        n_test += int(graph.test_mask.sum())
        for name in names:
            accuracies[name].append(_run(name, graph, epochs, run_seed))
    mean = {name: statistics.fmean(values) for name, values in accuracies.items()}
    gap_gcn = mean["ForwardGNN-SF"] - mean["GCN backprop"]
    gap_mlp = mean["ForwardGNN-SF"] - mean["MLP"]
    note = (
        f"SF {'within' if abs(gap_gcn) <= 0.03 else 'not within'} 3 pts of backprop GCN "
        f"({100 * gap_gcn:+.1f}); "
        f"{100 * gap_mlp:+.1f} pts over the MLP ({'at least' if gap_mlp >= 0.10 else 'less than'} 10); "
        "paper: SF on par with backprop on five real graphs"
    )
    figure = None
    if out_dir is not None:
        errors = [math.sqrt(max(mean[n] * (1 - mean[n]), 1e-12) / n_test) for n in names]
        figure = bar_chart(
            out_dir / "forwardgnn.png",
            list(names),
            [mean[n] for n in names],
            errors,
            ylabel="test accuracy (SBM graph)",
            title=f"SBM 2000 nodes, 4 classes, two GCN layers, {epochs} epochs",
        )
    verdict = accuracy_verdict(
        "ForwardGNN-SF", mean["ForwardGNN-SF"], "GCN backprop", mean["GCN backprop"], n_test
    )
    return ReproductionResult(
        method="forwardgnn",
        metric="test accuracy (SBM graph)",
        value=mean["ForwardGNN-SF"],
        baseline="GCN backprop",
        baseline_value=mean["GCN backprop"],
        seconds=time.perf_counter() - start,
        verdict=f"{verdict}; {note}",
        quick=quick,
        seed=seed,
        details={
            **{f"{name} accuracy": mean[name] for name in names},
            "SF minus backprop GCN (pts)": 100 * gap_gcn,
            "SF minus MLP (pts)": 100 * gap_mlp,
            "test nodes (all seeds)": float(n_test),
        },
        figure=figure,
    )
