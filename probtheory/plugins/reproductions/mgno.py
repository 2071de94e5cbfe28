"""MgNO against a plain CNN and a small U-Net at matched parameters, on 2-D Darcy flow.

The paper's claim (He, Liu and Xu, ICLR 2024, Sec. 5, Table 1 and Fig. 3): on Darcy flow MgNO
reaches a lower test error than the CNN-type operators (U-Net, dilated ResNet) and FNO, and
overfits less (a smaller gap between training and test error). Here, at CPU scale: Darcy flow
on a 32 x 32 grid (:func:`probtheory.sciml.problems.darcy_dataset`: thresholded Gaussian random
field, values 12 / 3, finite-volume solve), 1000 training and 200 test pairs (quick: 300 / 100).
Three models with about the same number of parameters, trained with the same optimizer, epochs
and loss (the per-sample relative L2 error, the metric operator-learning papers report):
MgNO (zero padding for the Dirichlet boundary, restricting ``f``, convolutional coarse guess as
in the authors' code), a CNN of 3x3 convolutions at full resolution, and a 3-level U-Net.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor, nn

from probtheory.layers import MgNO
from probtheory.plugins.entry import ReproductionResult
from probtheory.plugins.evaluation import count_parameters, matched_width, relative_l2
from probtheory.sciml.problems import darcy_dataset
from probtheory.training import Minibatches, TrainingCallback, TrainState, fit

__all__ = ["reproduce"]

_GRID = 32
_MGNO_WIDTH = 8
_MGNO_LEVELS = 4
_MGNO_LAYERS = 3
# one pre-sweep per level, two on the coarsest, no post-sweeps: the authors' Darcy setting
_MGNO_SMOOTHING = ((1, 0), (1, 0), (1, 0), (2, 0))
_CNN_DEPTH = 6
_BATCH = 16
_LEARNING_RATE = 2e-3


def _mgno() -> nn.Module:
    return MgNO(
        1, _MGNO_WIDTH, _MGNO_LEVELS, layers=_MGNO_LAYERS, smoothing=_MGNO_SMOOTHING, padding_mode="zeros"
    )


def _cnn(width: int) -> nn.Module:
    layers: list[nn.Module] = [nn.Conv2d(1, width, 3, padding=1), nn.GELU()]
    for _ in range(_CNN_DEPTH - 1):
        layers += [nn.Conv2d(width, width, 3, padding=1), nn.GELU()]
    return nn.Sequential(*layers, nn.Conv2d(width, 1, 1))


def _double_conv(c_in: int, c_out: int) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1), nn.GELU(), nn.Conv2d(c_out, c_out, 3, padding=1), nn.GELU()
    )


class _UNet(nn.Module):
    """Three resolutions (32, 16, 8), channels w, 2w, 4w, skip connections by concatenation."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.down1 = _double_conv(1, width)
        self.down2 = _double_conv(width, 2 * width)
        self.bottom = _double_conv(2 * width, 4 * width)
        self.pool = nn.AvgPool2d(2)
        self.up2 = nn.ConvTranspose2d(4 * width, 2 * width, 2, stride=2)
        self.dec2 = _double_conv(4 * width, 2 * width)
        self.up1 = nn.ConvTranspose2d(2 * width, width, 2, stride=2)
        self.dec1 = _double_conv(2 * width, width)
        self.out = nn.Conv2d(width, 1, 1)

    def forward(self, x: Tensor) -> Tensor:
        s1 = self.down1(x)
        s2 = self.down2(self.pool(s1))
        b = self.bottom(self.pool(s2))
        d2 = self.dec2(torch.cat([self.up2(b), s2], dim=1))
        d1 = self.dec1(torch.cat([self.up1(d2), s1], dim=1))
        return self.out(d1)


def _relative_l2_loss(model: nn.Module, batch: tuple[Tensor, Tensor]) -> Tensor:
    a, u = batch
    prediction = model(a)
    error = (prediction - u).flatten(1).norm(dim=1)
    return (error / u.flatten(1).norm(dim=1)).mean()


def _train_and_score(
    build: Callable[[], nn.Module], data: tuple[Tensor, ...], epochs: int, seed: int
) -> dict[str, float]:
    a_train, u_train, a_test, u_test = data
    torch.manual_seed(seed)
    model = build()
    optimizer = torch.optim.Adam(model.parameters(), lr=_LEARNING_RATE)
    steps = epochs * -(-a_train.shape[0] // _BATCH)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=_LEARNING_RATE, total_steps=steps)

    class _Schedule(TrainingCallback):  # one scheduler step per optimizer step
        def on_step_end(self, state: TrainState) -> None:
            schedule.step()

    start = time.perf_counter()
    fit(
        model,
        Minibatches(a_train, u_train, batch_size=_BATCH, seed=seed),
        epochs=epochs,
        loss=_relative_l2_loss,
        optimizer=optimizer,
        callbacks=[_Schedule()],
        seed=seed,
        progress=False,
    )
    seconds = time.perf_counter() - start
    model.eval()
    with torch.no_grad():
        train = relative_l2(model(a_train), u_train, per_sample=True)
        test = relative_l2(model(a_test), u_test, per_sample=True)
    return {"train": train, "test": test, "gap": test - train, "seconds": seconds}


def _normalised(a: Tensor, u: Tensor, scale: float) -> tuple[Tensor, Tensor]:
    # coefficient values {3, 12} -> {-1, 1}; solution scaled to unit RMS over the training set
    return ((a - 7.5) / 4.5).float(), (u / scale).float()


def reproduce(quick: bool = False, seed: int = 0, out_dir: Path | None = None) -> ReproductionResult:
    """MgNO vs the better of a CNN and a U-Net (matched parameters): Darcy test relative L2.

    Args:
        quick: 300 / 100 training / test pairs and 8 epochs (else 1000 / 200 and 30 epochs).
        seed: Seed of the data set and of the models' initialisation.
        out_dir: Where to write ``mgno.png``; ``None`` for no figure.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small convolutions: intra-op threads mostly spin on a shared machine
    try:
        return _reproduce(quick, seed, out_dir)
    finally:
        torch.set_num_threads(threads)


def _reproduce(quick: bool, seed: int, out_dir: Path | None) -> ReproductionResult:
    start = time.perf_counter()
    n_train, n_test = (300, 100) if quick else (1000, 200)
    epochs = 8 if quick else 30
    a, u = darcy_dataset(n_train + n_test, _GRID, seed=seed)
    scale = float(u[:n_train].pow(2).mean().sqrt())
    a, u = _normalised(a, u, scale)
    data = (a[:n_train], u[:n_train], a[n_train:], u[n_train:])

    target = count_parameters(_mgno())
    cnn_width = matched_width(_cnn, target, max_width=256)
    unet_width = matched_width(_UNet, target, max_width=256)
    builders: dict[str, Callable[[], nn.Module]] = {
        "MgNO": _mgno,
        "CNN": lambda: _cnn(cnn_width),
        "U-Net": lambda: _UNet(unet_width),
    }
    scores = {name: _train_and_score(build, data, epochs, seed) for name, build in builders.items()}
    baseline = min(("CNN", "U-Net"), key=lambda name: scores[name]["test"])
    mgno, base = scores["MgNO"], scores[baseline]
    better_test = mgno["test"] <= base["test"]
    smaller_gap = mgno["gap"] <= base["gap"]
    outcome = (
        "the paper's claim shows: lower test error and no larger train/test gap"
        if better_test and smaller_gap
        else "the paper's claim does not fully show at this scale: "
        + ("lower test error" if better_test else "higher test error")
        + ", "
        + ("no larger gap" if smaller_gap else "larger train/test gap")
    )
    verdict = (
        f"MgNO test rel. L2 {mgno['test']:.4f} (gap {mgno['gap']:+.4f}) vs {baseline} {base['test']:.4f} "
        f"(gap {base['gap']:+.4f}), {epochs} epochs, {n_train} training pairs, one seed: {outcome}"
    )
    params = {name: count_parameters(build()) for name, build in builders.items()}
    details: dict[str, float] = {}
    for name, score in scores.items():
        details[f"{name} test relative L2"] = score["test"]
        details[f"{name} train relative L2"] = score["train"]
        details[f"{name} train/test gap"] = score["gap"]
        details[f"{name} training seconds"] = score["seconds"]
        details[f"{name} parameters"] = float(params[name])
    figure = None
    if out_dir is not None:
        figure = _figure(Path(out_dir) / "mgno.png", scores, params, n_train, epochs)
    return ReproductionResult(
        method="mgno",
        metric="test relative L2 error (Darcy 32x32), lower is better",
        value=mgno["test"],
        baseline=baseline,
        baseline_value=base["test"],
        seconds=time.perf_counter() - start,
        verdict=verdict,
        higher_is_better=False,
        quick=quick,
        seed=seed,
        details=details,
        figure=figure,
    )


def _figure(
    path: Path, scores: dict[str, dict[str, float]], params: dict[str, int], n_train: int, epochs: int
) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    names = list(scores)
    fig, ax = plt.subplots(figsize=(5.2, 3.2))
    positions = range(len(names))
    ax.bar([p - 0.2 for p in positions], [scores[n]["train"] for n in names], 0.4, label="train")
    ax.bar([p + 0.2 for p in positions], [scores[n]["test"] for n in names], 0.4, label="test")
    ax.set_xticks(list(positions), [f"{n}\n{params[n]} params" for n in names], fontsize=8)
    ax.set_ylabel("relative L2 error")
    ax.set_title(f"Darcy 32x32, {n_train} training pairs, {epochs} epochs", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return str(path)
