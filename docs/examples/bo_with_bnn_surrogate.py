"""Bayesian optimisation of your own black-box function with a BNN surrogate, in plain BoTorch.

What it shows: ``bo.models.LaplaceBNN`` (a last-layer Laplace Bayesian neural network) is a
BoTorch ``Model``, so the ordinary BoTorch loop -- fit a surrogate, build
``qLogNoisyExpectedImprovement``, ``optimize_acqf``, evaluate, repeat -- runs with it unchanged.
The black box is a function defined here (the negated 2-D Branin function with measurement
noise), standing in for an experiment or a simulator. Inputs are mapped to the unit cube with
BoTorch's ``normalize`` because the surrogates expect it; outcomes are standardised inside the
model.

Run:

    python docs/examples/bo_with_bnn_surrogate.py            # 8 initial points + 20 iterations
    python docs/examples/bo_with_bnn_surrogate.py --smoke    # a few seconds
    python docs/examples/bo_with_bnn_surrogate.py --surrogate ensemble --batch-size 2

Swap ``LaplaceBNN`` for any other surrogate of ``bo.models`` (``DeepEnsemble``, ``IBNN``,
``HMCBNN``, ``SVIBNN``) without touching the loop.
"""

from __future__ import annotations

import argparse
import time

import torch
from botorch.acquisition import qLogNoisyExpectedImprovement
from botorch.optim import optimize_acqf
from botorch.utils.sampling import draw_sobol_samples
from botorch.utils.transforms import normalize, unnormalize
from torch import Tensor

from bo.models import DeepEnsemble, LaplaceBNN, SurrogateModel

# The search space of the black box, in its own units: x1 in [-5, 10], x2 in [0, 15].
BOUNDS = torch.tensor([[-5.0, 0.0], [10.0, 15.0]], dtype=torch.float64)
UNIT_CUBE = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=torch.float64)


def black_box(x: Tensor, noise_std: float = 0.1) -> Tensor:
    """The function to maximise: negated Branin plus Gaussian measurement noise.

    Args:
        x: An `n x 2` tensor of points inside ``BOUNDS``.
        noise_std: Standard deviation of the measurement noise.

    Returns:
        An `n x 1` tensor of noisy observations. The noiseless maximum is -0.397887,
        attained at (-pi, 12.275), (pi, 2.275) and (9.42478, 2.475).
    """
    x1, x2 = x[..., 0], x[..., 1]
    b, c, t = 5.1 / (4 * torch.pi**2), 5 / torch.pi, 1 / (8 * torch.pi)
    branin = (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * torch.cos(x1) + 10
    return (-branin + noise_std * torch.randn_like(branin)).unsqueeze(-1)


def make_surrogate(name: str, train_X: Tensor, train_Y: Tensor, steps: int, seed: int) -> SurrogateModel:
    """A fitted BNN surrogate on `n x 2` unit-cube inputs and `n x 1` outcomes."""
    if name == "laplace":
        return LaplaceBNN(train_X, train_Y, map_steps=steps, seed=seed).fit()
    return DeepEnsemble(train_X, train_Y, n_models=5, steps=steps, seed=seed).fit()


def main() -> None:
    """Parse the options, run the BO loop on ``black_box`` and print each iteration."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny budgets: runs in seconds")
    parser.add_argument("--surrogate", choices=("laplace", "ensemble"), default="laplace")
    parser.add_argument("--n-init", type=int, default=8, help="Sobol points before the first fit")
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=1, help="q: points proposed per iteration")
    parser.add_argument("--steps", type=int, default=1000, help="training steps of each network")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.smoke:
        args.n_init, args.iterations, args.steps = 5, 2, 100
    raw_samples, restarts = (32, 2) if args.smoke else (256, 8)

    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    X = draw_sobol_samples(BOUNDS, n=args.n_init, q=1, seed=args.seed).squeeze(1)
    Y = black_box(X)
    print(f"initial design: {args.n_init} points, best observed {Y.max().item():.4f}")

    for iteration in range(1, args.iterations + 1):
        start = time.perf_counter()
        train_X = normalize(X, BOUNDS)  # the surrogates work on the unit cube
        model = make_surrogate(args.surrogate, train_X, Y, args.steps, args.seed + iteration)
        acqf = qLogNoisyExpectedImprovement(model, X_baseline=train_X)
        candidates, _ = optimize_acqf(
            acqf, UNIT_CUBE, q=args.batch_size, num_restarts=restarts, raw_samples=raw_samples
        )
        new_X = unnormalize(candidates.detach(), BOUNDS)
        new_Y = black_box(new_X)
        X, Y = torch.cat([X, new_X]), torch.cat([Y, new_Y])
        seconds = time.perf_counter() - start
        print(
            f"iteration {iteration:2d}: proposed {new_X[0].tolist()!s:42} "
            f"observed {new_Y.max().item():9.4f}  best {Y.max().item():9.4f}  ({seconds:.1f} s)"
        )

    best = Y.argmax()
    print(f"best point {X[best].tolist()} with value {Y[best].item():.4f} (noiseless optimum -0.3979)")


if __name__ == "__main__":
    main()
