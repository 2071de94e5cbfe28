"""Train a small PFN on a prior of your own and check that it learned to use the context.

What it shows: a prior over 1-D regression datasets written as a plain function -- random
sinusoids ``y = a sin(2 pi f x + phi) + sigma eps`` with a random amplitude, frequency, phase
and noise level -- wrapped in ``probtheory.pfn.FunctionPrior`` and trained with
``train_pfn(prior, TrainConfig(...))`` (Mueller et al., *Transformers Can Do Bayesian
Inference*, ICLR 2022). The trained PFN's ``predict(x_train, y_train, x_test)`` returns a bar
distribution per query; the script prints its held-out negative log-likelihood on fresh
datasets from the prior for growing context sizes: it should fall as the context grows, since
the posterior predictive sharpens with more data.

Run:

    python docs/examples/train_pfn_on_my_prior.py             # 3000 steps, minutes on a laptop
    python docs/examples/train_pfn_on_my_prior.py --smoke     # seconds; too short to learn much
    python docs/examples/train_pfn_on_my_prior.py --out my-pfn   # also save (and resume) there

A saved model loads back with ``probtheory.pfn.PFN.load("my-pfn/model")``.
"""

from __future__ import annotations

import argparse

import torch

from probtheory.pfn import Batch, FunctionPrior, TrainConfig, TransformerConfig, train_pfn


def noisy_sinusoids(batch_size: int, seq_len: int, generator: torch.Generator) -> Batch:
    """Draw ``batch_size`` datasets of ``seq_len`` points, x uniform on [0, 1].

    Returns:
        A ``Batch`` with `B x T x 1` inputs and `B x T` targets (observed and predicted targets
        are the same draws: the PFN is trained on the noisy observations).
    """

    def uniform(low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(batch_size, 1, generator=generator)

    amplitude, frequency, phase = uniform(0.5, 2.0), uniform(0.5, 3.0), uniform(0.0, 2 * torch.pi)
    noise_std = torch.exp(uniform(-3.0, -1.0))  # log-uniform on [0.05, 0.37]
    x = torch.rand(batch_size, seq_len, 1, generator=generator)
    f = amplitude * torch.sin(2 * torch.pi * frequency * x[..., 0] + phase)
    y = f + noise_std * torch.randn(batch_size, seq_len, generator=generator)
    return Batch(x, y, y)


def main() -> None:
    """Parse the options, train the PFN on ``noisy_sinusoids`` and print its held-out NLL."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny budgets: runs in seconds")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batch-size", type=int, default=32, help="datasets per step")
    parser.add_argument("--out", default=None, help="folder for checkpoints and the final model")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.set_num_threads(1)
    prior = FunctionPrior(noisy_sinusoids, num_features=1)
    if args.smoke:
        args.steps, args.batch_size = 20, 8
        transformer = TransformerConfig(num_buckets=50, emsize=32, nhead=2, nhid=64, nlayers=2)
    else:
        transformer = TransformerConfig(num_buckets=200, emsize=64, nhead=4, nhid=128, nlayers=3)
    config = TrainConfig(
        steps=args.steps,
        batch_size=args.batch_size,
        seq_len=40,
        max_context=30,
        lr=1e-3,
        border_samples=4000 if args.smoke else 50_000,
        log_every=max(1, args.steps // 10),
        seed=args.seed,
        transformer=transformer,
    )
    result = train_pfn(prior, config, out_dir=args.out, progress=not args.smoke)
    print(f"trained {result.steps} steps in {result.seconds:.1f} s")
    if result.losses:
        print(f"training loss per logging window: {' '.join(f'{loss:.3f}' for loss in result.losses)}")

    # Held-out datasets from the same prior, with a generator the training never used.
    test = prior.sample(128, 40, torch.Generator().manual_seed(10_000 + args.seed))
    queries = slice(30, 40)
    for context in (0, 2, 5, 10, 20, 30):
        predictive = result.model.predict(test.x[:, :context], test.y[:, :context], test.x[:, queries])
        nll = -predictive.log_prob(test.y[:, queries]).mean().item()
        print(f"context {context:2d} points: held-out NLL per query {nll:.3f}")


if __name__ == "__main__":
    main()
