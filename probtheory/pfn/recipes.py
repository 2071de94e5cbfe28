"""Named training recipes: the exact prior and settings of each PFN shipped with probtheory.

``probtheory pfn train RECIPE`` trains one; the shipped checkpoint records the recipe, the
command, the training time and the machine.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from probtheory.errors import InputDataError
from probtheory.lcpfn.curves import CurvePrior
from probtheory.pfn.priors import GPHyperPrior, GPPrior, Prior
from probtheory.pfn.training import TrainConfig
from probtheory.pfn.transformer import TransformerConfig

__all__ = ["RECIPES", "Recipe", "get_recipe"]


@dataclass(frozen=True)
class Recipe:
    """A prior, a training configuration and a description."""

    name: str
    prior: Prior
    config: TrainConfig
    description: str

    def metadata(self) -> dict:
        """JSON-serialisable description stored in the checkpoint."""
        return {
            "recipe": self.name,
            "description": self.description,
            "prior": {"class": type(self.prior).__name__, **self.prior.__dict__},
            "x_support": [0.0, 1.0],
        }


def _lcpfn_training() -> TrainConfig:
    # curves of 1..100 epochs; the context is the observed prefix, s uniform on 0..99
    return TrainConfig(
        steps=16_000,
        batch_size=64,
        seq_len=100,
        max_context=99,
        lr=7e-4,
        checkpoint_every=250,
        transformer=TransformerConfig(
            num_features=1, num_buckets=500, emsize=128, nhead=4, nhid=256, nlayers=4
        ),
    )


_ARCHITECTURE = TransformerConfig(num_features=1, num_buckets=500, emsize=128, nhead=4, nhid=256, nlayers=4)
_TRAINING = TrainConfig(
    steps=16_000,
    batch_size=64,
    seq_len=60,
    max_context=50,
    lr=5e-4,
    checkpoint_every=250,
    transformer=_ARCHITECTURE,
)

RECIPES: dict[str, Recipe] = {
    "gp-rbf-1d": Recipe(
        "gp-rbf-1d",
        GPPrior(lengthscale=0.2, outputscale=1.0, noise=0.01, num_features=1),
        _TRAINING,
        "GP regression on [0, 1], RBF kernel with lengthscale 0.2, outputscale 1, noise variance 0.01; "
        "up to 50 context points",
    ),
    "gp-hyper-1d": Recipe(
        "gp-hyper-1d",
        GPHyperPrior(num_features=1),
        replace(_TRAINING, steps=64_000),  # inferring the hyperparameters needs longer training
        "GP regression on [0, 1], RBF kernel with log-normal hyper-priors on lengthscale (median 0.2), "
        "outputscale (median 1) and noise variance (median 0.01); up to 50 context points",
    ),
    "lcpfn": Recipe(
        "lcpfn",
        CurvePrior(),
        _lcpfn_training(),
        "LC-PFN: learning curves of up to 100 epochs from the reference prior (pow3 + ilog2 + janoschek, "
        "peaked parameter priors, log sigma ~ N(-4, 1)); x = epoch / 100",
    ),
}


def get_recipe(name: str) -> Recipe:
    """The recipe called ``name``."""
    if name not in RECIPES:
        raise InputDataError("recipe", f"one of {sorted(RECIPES)}", repr(name))
    return RECIPES[name]
