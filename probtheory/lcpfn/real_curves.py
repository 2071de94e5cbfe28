r"""Real learning curves without downloads, for benchmarking LC-PFN extrapolation and early stopping.

The LC-PFN (Adriaensen et al., NeurIPS 2023) is trained on curves from a parametric prior;
to see how it does on curves it was *not* trained on, we need learning curves of actual
training runs. Benchmarks such as LCBench need a download, so this module produces its own
from the two classification data sets that scikit-learn bundles (``load_digits``,
``load_breast_cancer``):

1. a fixed stratified 70/30 train/validation split (seeded), features standardised with the
   training statistics;
2. ``num_configs`` hyperparameter configurations drawn from a seeded generator: learning
   rate log-uniform in [1e-4, 3e-1], hidden width a log-uniform integer in [4, 256], depth
   (hidden layers) in {1, 2, 3}, weight decay log-uniform in [1e-6, 1e-2], batch size in
   {16, 32, 64, 128, 256}, optimizer SGD (momentum 0.9) or Adam, dropout uniform in [0, 0.5];
3. a ReLU MLP per configuration, trained with cross-entropy for ``epochs`` epochs; its
   curve is the validation accuracy after every epoch.

The search space is deliberately wide, so the curves range from fast and good through slow
to poor and diverging runs — the mix that predictive early stopping has to sort out. A run
whose training loss or weights become non-finite is stopped and keeps its last validation
accuracy for the remaining epochs (chance level, one over the number of classes, if it
diverged before its first evaluation), so curves never contain NaN.

Everything is determined by the seed: configurations come from ``numpy.random.default_rng``,
and each run seeds torch with its own ``torch_seed`` (stored in its configuration), so any
single curve can be reproduced on its own. Bitwise reproduction needs the same torch version
and thread count (both recorded in the files' provenance).

The package ships 60 curves of 100 epochs per data set (:func:`load_real_curves`); the
command that produced each file is stored in it and can be rerun::

    python -m probtheory.lcpfn.real_curves --dataset digits --configs 60 --epochs 100 --seed 0 \
        --out probtheory/lcpfn/data/real_curves_digits.json
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, overload

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from probtheory._checks import check_finite, check_int, check_path, require_module
from probtheory.errors import InputDataError

__all__ = ["DATASETS", "LearningCurveSet", "generate_learning_curves", "load_real_curves", "main"]

DATASETS = ("digits", "breast_cancer")
"""The scikit-learn bundled classification data sets that curves can be generated on."""

_DATA_PACKAGE = "probtheory.lcpfn.data"
_DECIMALS = 6  # accuracies are k / n_val with n_val < 1000: 1e-6 resolves them
_BATCH_SIZES = (16, 32, 64, 128, 256)
_OPTIMIZERS = ("sgd", "adam")


@dataclass(frozen=True)
class LearningCurveSet:
    """Validation-accuracy learning curves of several training runs on one data set.

    Equality compares the data (``dataset``, ``configs``, ``curves``, ``seed``), not the
    provenance, which records how and how fast the set was produced.

    Attributes:
        dataset: Name of the data set the runs were trained on (see :data:`DATASETS`).
        configs: One JSON-friendly dict of hyperparameters per run, in the order of ``curves``.
        curves: A `num_configs x epochs` float64 tensor; entry ``[i, t]`` is run ``i``'s
            validation accuracy after epoch ``t + 1``, in [0, 1].
        seed: The seed the set was generated with.
        provenance: Free-form JSON-serialisable description of the generation (command, wall
            time, library versions).
    """

    dataset: str
    configs: tuple[dict, ...]
    curves: Tensor
    seed: int
    provenance: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Validate the fields and store ``curves`` as float64 and ``configs`` as a tuple."""
        if not isinstance(self.dataset, str):
            raise InputDataError("dataset", "a string", type(self.dataset).__name__)
        check_int("seed", self.seed)
        curves = check_finite("curves", self.curves)
        if curves.dim() != 2 or curves.shape[0] < 1 or curves.shape[1] < 1:
            raise InputDataError("curves", "a non-empty `num_configs x epochs` tensor", tuple(curves.shape))
        if (curves < 0).any() or (curves > 1).any():
            raise InputDataError(
                "curves", "accuracies in [0, 1]", f"values in [{curves.min().item()}, {curves.max().item()}]"
            )
        configs = tuple(self.configs)
        if len(configs) != curves.shape[0] or not all(isinstance(c, dict) for c in configs):
            raise InputDataError(
                "configs", f"one dict per curve ({curves.shape[0]})", f"{len(configs)} items"
            )
        object.__setattr__(self, "curves", curves.detach().to(torch.float64))
        object.__setattr__(self, "configs", configs)

    def __len__(self) -> int:
        """Number of runs (curves) in the set."""
        return self.curves.shape[0]

    def __eq__(self, other: object) -> bool:
        """Whether ``other`` holds the same runs: provenance is ignored."""
        if not isinstance(other, LearningCurveSet):
            return NotImplemented
        return (
            self.dataset == other.dataset
            and self.seed == other.seed
            and self.configs == other.configs
            and torch.equal(self.curves, other.curves)
        )

    @property
    def epochs(self) -> int:
        """Length of every curve."""
        return self.curves.shape[1]

    def best_final(self) -> tuple[int, float]:
        """The run with the highest final accuracy (the first one on ties).

        Returns:
            Its index into ``configs``/``curves`` and its final validation accuracy.
        """
        index = int(torch.argmax(self.curves[:, -1]))
        return index, float(self.curves[index, -1])

    def to_json(self, path: str | Path) -> None:
        """Write the set to ``path`` as JSON, one run per line, accuracies rounded to 6 decimals.

        Args:
            path: The file to write (its folder must exist).
        """
        header = {
            "dataset": self.dataset,
            "seed": self.seed,
            "num_configs": len(self),
            "epochs": self.epochs,
            "provenance": self.provenance,
        }
        rows = [[round(v, _DECIMALS) for v in row] for row in self.curves.tolist()]
        parts = [f" {json.dumps(key)}: {json.dumps(value)}" for key, value in header.items()]
        parts.append(' "configs": [\n' + ",\n".join(f"  {json.dumps(c)}" for c in self.configs) + "\n ]")
        parts.append(' "curves": [\n' + ",\n".join(f"  {json.dumps(r)}" for r in rows) + "\n ]")
        Path(path).write_text("{\n" + ",\n".join(parts) + "\n}\n")

    @classmethod
    def from_json(cls, path: str | Path) -> LearningCurveSet:
        """Read a set written by :meth:`to_json`.

        Args:
            path: The JSON file.

        Returns:
            The set, validated as on construction.

        Raises:
            InputDataError: If the file cannot be read or does not hold a learning-curve set.
        """
        path = check_path("path", path)
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as err:
            raise InputDataError("path", "a readable learning-curve JSON file", f"{path} ({err})") from err
        return _from_text(text, source=str(path))


def _from_text(text: str, source: str) -> LearningCurveSet:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputDataError("path", "a learning-curve JSON file", f"{source} ({err})") from err
    required = ("dataset", "seed", "configs", "curves")
    if not isinstance(data, dict) or any(key not in data for key in required):
        raise InputDataError("path", f"a learning-curve JSON object with keys {required}", source)
    return LearningCurveSet(
        dataset=data["dataset"],
        configs=tuple(data["configs"]),
        curves=torch.tensor(data["curves"], dtype=torch.float64),
        seed=data["seed"],
        provenance=data.get("provenance", {}),
    )


@dataclass(frozen=True)
class _Hyperparameters:
    """One run's configuration; stored in the set as ``asdict(...)``."""

    learning_rate: float
    hidden_width: int
    depth: int
    weight_decay: float
    batch_size: int
    optimizer: str
    dropout: float
    torch_seed: int


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(math.exp(rng.uniform(math.log(low), math.log(high))))


def _sample_hyperparameters(rng: np.random.Generator) -> _Hyperparameters:
    # a fixed number of draws per configuration: the first k configurations of a seed do not
    # depend on how many are drawn in total
    return _Hyperparameters(
        learning_rate=_log_uniform(rng, 1e-4, 3e-1),
        # floor of a log-uniform on [4, 257): every integer in [4, 256], log-uniformly weighted
        hidden_width=min(int(_log_uniform(rng, 4, 257)), 256),
        depth=int(rng.integers(1, 4)),
        weight_decay=_log_uniform(rng, 1e-6, 1e-2),
        batch_size=int(rng.choice(_BATCH_SIZES)),
        optimizer=str(rng.choice(_OPTIMIZERS)),
        dropout=float(rng.uniform(0.0, 0.5)),
        torch_seed=int(rng.integers(2**31)),
    )


@dataclass(frozen=True)
class _Split:
    """Standardised float32 features and int64 labels of the train/validation split."""

    x_train: Tensor
    y_train: Tensor
    x_val: Tensor
    y_val: Tensor
    num_classes: int


def _check_dataset(dataset: object) -> str:
    if dataset not in DATASETS:
        raise InputDataError("dataset", f"one of {DATASETS}", repr(dataset))
    return dataset  # type: ignore[return-value]


def _load_split(dataset: str, seed: int) -> _Split:
    # imported here: reading the shipped curves does not need scikit-learn
    require_module("sklearn", extra="datasets", purpose="generating learning curves")
    from sklearn.datasets import load_breast_cancer, load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    loader = {"digits": load_digits, "breast_cancer": load_breast_cancer}[dataset]
    x, y = loader(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(x, y, test_size=0.3, stratify=y, random_state=seed)
    scaler = StandardScaler().fit(x_train)  # constant features (digits' border pixels) get scale 1
    return _Split(
        x_train=torch.as_tensor(scaler.transform(x_train), dtype=torch.float32),
        y_train=torch.as_tensor(y_train, dtype=torch.int64),
        x_val=torch.as_tensor(scaler.transform(x_val), dtype=torch.float32),
        y_val=torch.as_tensor(y_val, dtype=torch.int64),
        num_classes=int(np.unique(y).size),
    )


def _mlp(num_features: int, num_classes: int, hp: _Hyperparameters) -> nn.Sequential:
    layers: list[nn.Module] = []
    width_in = num_features
    for _ in range(hp.depth):
        layers += [nn.Linear(width_in, hp.hidden_width), nn.ReLU(), nn.Dropout(hp.dropout)]
        width_in = hp.hidden_width
    layers.append(nn.Linear(width_in, num_classes))
    return nn.Sequential(*layers)


def _optimizer(model: nn.Module, hp: _Hyperparameters) -> torch.optim.Optimizer:
    if hp.optimizer == "sgd":
        return torch.optim.SGD(
            model.parameters(), lr=hp.learning_rate, momentum=0.9, weight_decay=hp.weight_decay
        )
    return torch.optim.Adam(model.parameters(), lr=hp.learning_rate, weight_decay=hp.weight_decay)


def _validation_accuracy(model: nn.Module, split: _Split) -> float:
    model.eval()
    with torch.no_grad():
        correct = int((model(split.x_val).argmax(dim=-1) == split.y_val).sum())
    return round(correct / split.y_val.numel(), _DECIMALS)


def _is_finite(model: nn.Module) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in model.parameters())


def _train_curve(split: _Split, hp: _Hyperparameters, epochs: int) -> list[float]:
    """Train one configuration; the validation accuracy after each of ``epochs`` epochs."""
    # fork_rng: seeding for this run (initialisation, dropout) leaves the caller's RNG untouched
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(hp.torch_seed)
        model = _mlp(split.x_train.shape[1], split.num_classes, hp)
        optimizer = _optimizer(model, hp)
        shuffle = torch.Generator().manual_seed(hp.torch_seed)
        n = split.y_train.numel()
        accuracy = round(1.0 / split.num_classes, _DECIMALS)  # chance level until the first evaluation
        diverged = False
        curve = []
        for _ in range(epochs):
            if not diverged:
                model.train()
                order = torch.randperm(n, generator=shuffle)
                for start in range(0, n, hp.batch_size):
                    batch = order[start : start + hp.batch_size]
                    loss = F.cross_entropy(model(split.x_train[batch]), split.y_train[batch])
                    if not torch.isfinite(loss):
                        diverged = True
                        break
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    optimizer.step()
                diverged = diverged or not _is_finite(model)
                if not diverged:
                    accuracy = _validation_accuracy(model, split)
            curve.append(accuracy)
    return curve


def generate_learning_curves(
    dataset: str, num_configs: int, epochs: int = 100, seed: int = 0, progress: bool = True
) -> LearningCurveSet:
    """Train ``num_configs`` random MLP configurations and record their validation curves.

    See the module docstring for the split, the search space and the handling of diverged
    runs. The result depends only on the arguments (and the torch version and thread count),
    and the first ``k`` runs do not depend on ``num_configs``.

    Args:
        dataset: One of :data:`DATASETS` (scikit-learn's bundled copies; nothing is downloaded).
        num_configs: Number of configurations (runs), at least 1.
        epochs: Epochs per run, i.e. the length of each curve, at least 1.
        seed: Seeds the train/validation split and the configurations (a non-negative integer).
        progress: Show a tqdm bar over configurations.

    Returns:
        A :class:`LearningCurveSet` with a `num_configs x epochs` tensor of curves.
    """
    dataset = _check_dataset(dataset)
    num_configs = check_int("num_configs", num_configs, minimum=1)
    epochs = check_int("epochs", epochs, minimum=1)
    seed = check_int("seed", seed, minimum=0)
    split = _load_split(dataset, seed)
    rng = np.random.default_rng(seed)
    configs, curves = [], []
    for _ in tqdm(range(num_configs), disable=not progress, desc=f"learning curves ({dataset})"):
        hp = _sample_hyperparameters(rng)
        configs.append(asdict(hp))
        curves.append(_train_curve(split, hp, epochs))
    sklearn = require_module("sklearn", extra="datasets", purpose="generating learning curves")
    provenance = {
        "torch": torch.__version__,
        "scikit-learn": sklearn.__version__,
        "torch_threads": torch.get_num_threads(),
    }
    return LearningCurveSet(
        dataset=dataset,
        configs=tuple(configs),
        curves=torch.tensor(curves, dtype=torch.float64),
        seed=seed,
        provenance=provenance,
    )


@overload
def load_real_curves(dataset: None = None) -> list[LearningCurveSet]: ...
@overload
def load_real_curves(dataset: str) -> LearningCurveSet: ...
def load_real_curves(dataset: str | None = None) -> list[LearningCurveSet] | LearningCurveSet:
    """Read the learning curves shipped with probtheory (60 runs of 100 epochs per data set).

    Args:
        dataset: One of :data:`DATASETS`, or None for all of them.

    Returns:
        The set for ``dataset``, or a list of the sets of all :data:`DATASETS` in that order.
    """
    if dataset is None:
        return [load_real_curves(name) for name in DATASETS]
    dataset = _check_dataset(dataset)
    file = resources.files(_DATA_PACKAGE) / f"real_curves_{dataset}.json"
    return _from_text(file.read_text(), source=str(file))


def main(argv: Sequence[str] | None = None) -> int:
    """Generate a learning-curve file: ``python -m probtheory.lcpfn.real_curves --help``.

    The file records the command (as ``python -m ...`` with these arguments) and the wall time.

    Args:
        argv: Command-line arguments; ``sys.argv[1:]`` when None.

    Returns:
        The exit status, 0.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="python -m probtheory.lcpfn.real_curves", description="Generate real learning curves."
    )
    parser.add_argument("--dataset", required=True, choices=DATASETS)
    parser.add_argument("--configs", type=int, default=60, help="number of configurations (default 60)")
    parser.add_argument("--epochs", type=int, default=100, help="epochs per run (default 100)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split and the configurations")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1, reproducible)")
    parser.add_argument("--out", required=True, help="the JSON file to write")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)
    check_int("--threads", args.threads, minimum=1)  # torch.set_num_threads(0) would abort
    check_int("--configs", args.configs, minimum=1)
    check_int("--epochs", args.epochs, minimum=1)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    curves = generate_learning_curves(
        args.dataset, args.configs, epochs=args.epochs, seed=args.seed, progress=not args.no_progress
    )
    seconds = time.perf_counter() - start
    provenance: dict[str, Any] = {
        "command": f"{parser.prog} {shlex.join(argv)}",
        "wall_time_s": round(seconds, 1),
        **curves.provenance,
    }
    replace(curves, provenance=provenance).to_json(args.out)
    finals = curves.curves[:, -1]
    print(
        f"{args.out}: {len(curves)} curves x {curves.epochs} epochs in {seconds:.1f} s; final accuracy "
        f"min {finals.min():.3f} / median {finals.median():.3f} / max {finals.max():.3f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
