"""Stop hopeless training runs early with the LC-PFN, from your own training loop.

What it shows: a hyperparameter search written as an ordinary torch training loop (a small
MLP classifying synthetic data, one run per learning rate) that reports each run's validation
accuracy after every epoch to ``bo.early_stopping.PredictiveEarlyStopping``. The rule asks the
shipped LC-PFN (``probtheory.lcpfn.LCPFN.from_pretrained()``, offline) for the posterior
predictive of the run's final accuracy given the epochs seen so far, and stops the run once

    P(final accuracy > best final accuracy so far | curve so far) < 1 - delta

(Adriaensen et al., NeurIPS 2023, Sec. 5). The script prints, per run, where it stopped, and
the epochs saved against training every run to the end.

Run:

    python docs/examples/lcpfn_early_stopping.py             # 12 learning rates, 40 epochs each
    python docs/examples/lcpfn_early_stopping.py --smoke     # a few seconds
    python docs/examples/lcpfn_early_stopping.py --delta 0.99   # more cautious stopping

The values must be higher-is-better in [0, 1] (accuracy); for a loss, give the rule a
``probtheory.lcpfn.CurveNormalizer(..., minimize=True)``. ``bo.hpo.random_search`` runs the
same loop for you when ``train(config)`` is a generator yielding one value per epoch.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import torch
from torch import Tensor, nn

from bo.early_stopping import PredictiveEarlyStopping
from probtheory.lcpfn import LCPFN


def make_data(n: int, seed: int) -> tuple[Tensor, Tensor]:
    """`n x 10` inputs and `n` binary labels of a noisy nonlinear decision rule."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 10, generator=g)
    logit = 2.0 * torch.sin(x[:, 0]) + x[:, 1] * x[:, 2] - 0.5 * x[:, 3]
    y = (logit + 0.5 * torch.randn(n, generator=g) > 0).float()
    return x, y


def train_epochs(lr: float, data: tuple[Tensor, ...], seed: int) -> Iterator[float]:
    """Train an MLP with SGD at learning rate ``lr``; yield the validation accuracy after each epoch.

    A generator: the caller decides after each epoch whether to ask for the next one.
    """
    x_train, y_train, x_val, y_val = data
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 1))
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    loss_fn = nn.BCEWithLogitsLoss()
    while True:
        for batch in torch.randperm(len(x_train)).split(64):
            optimizer.zero_grad()
            loss_fn(net(x_train[batch])[:, 0], y_train[batch]).backward()
            optimizer.step()
        with torch.no_grad():
            yield ((net(x_val)[:, 0] > 0).float() == y_val).float().mean().item()


def main() -> None:
    """Parse the options, run the search with early stopping and print where each run stopped."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny budgets: runs in seconds")
    parser.add_argument("--runs", type=int, default=12, help="learning rates tried, log-spaced")
    parser.add_argument("--epochs", type=int, default=40, help="epochs of a complete run (<= 100)")
    parser.add_argument("--delta", type=float, default=0.95, help="stop when P(beat incumbent) < 1 - delta")
    parser.add_argument("--min-epochs", type=int, default=3, help="never stop before this epoch")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.smoke:
        args.runs, args.epochs = 4, 8

    torch.set_num_threads(1)
    x_train, y_train = make_data(512 if args.smoke else 2000, args.seed)
    x_val, y_val = make_data(500, args.seed + 1)
    data = (x_train, y_train, x_val, y_val)
    # The search visits the learning rates in a seeded random order, as a random search would.
    order = torch.randperm(args.runs, generator=torch.Generator().manual_seed(args.seed))
    rates = torch.logspace(-4, 0, args.runs)[order]

    rule = PredictiveEarlyStopping(
        LCPFN.from_pretrained(), final_epoch=args.epochs, delta=args.delta, min_epochs=args.min_epochs
    )
    incumbent, best_lr, spent = None, None, 0
    for lr in rates.tolist():
        curve: list[float] = []
        for accuracy in train_epochs(lr, data, args.seed):
            curve.append(accuracy)
            if len(curve) == args.epochs or rule.should_stop(curve, incumbent):
                break
        spent += len(curve)
        finished = len(curve) == args.epochs
        if finished and (incumbent is None or curve[-1] > incumbent):
            incumbent, best_lr = curve[-1], lr
        status = "trained to the end" if finished else f"stopped after epoch {len(curve)}"
        print(f"lr {lr:8.2e}: {status:26} last accuracy {curve[-1]:.3f}  incumbent {incumbent:.3f}")

    full = args.runs * args.epochs
    print(f"best learning rate {best_lr:.2e}, final validation accuracy {incumbent:.3f}")
    print(f"epochs trained: {spent} of {full} ({100 * (1 - spent / full):.0f}% saved by early stopping)")


if __name__ == "__main__":
    main()
