"""Named training recipes: the exact prior and settings of each PFN shipped with probtheory.

``probtheory pfn train RECIPE`` trains one; the shipped checkpoint records the recipe, the
command, the training time and the machine.

Recipes are found through the ``probtheory.pfn_recipes`` entry-point group (name -> a
:class:`Recipe` object), so a package built on :mod:`probtheory.pfn` registers its own recipe
(:mod:`probtheory.lcpfn` registers ``lcpfn``) without pfn importing it. The GP recipes of this
module are registered the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from importlib.metadata import EntryPoint, entry_points

from probtheory.errors import ConfigurationError, InputDataError
from probtheory.pfn.priors import GPHyperPrior, GPPrior, Prior
from probtheory.pfn.training import TrainConfig
from probtheory.pfn.transformer import TransformerConfig

__all__ = ["GP_HYPER_1D", "GP_RBF_1D", "RECIPE_GROUP", "Recipe", "get_recipe", "recipes"]

#: The entry-point group that names every recipe.
RECIPE_GROUP = "probtheory.pfn_recipes"


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


_ARCHITECTURE = TransformerConfig(num_features=1, num_buckets=500, emsize=128, nhead=4, nhid=256, nlayers=4)
# Three levers that paid at equal CPU time (benchmarks/pfn_training_levers.py): a higher peak
# learning rate, 10 queries per dataset (cheaper steps), and the loss taken against the queries'
# GP posterior given the context and the drawn hyperparameters (targets="posterior": the same
# expected loss without the function values' share of the gradient noise; for gp-rbf-1d, whose
# hyperparameters are fixed, the exact posterior predictive itself); and bucket borders finer in
# the tails, for a lower floor of the attainable NLL (benchmarks/pfn_borders.py). The shipped GP
# PFNs were trained as two processes of 32 datasets each (torchrun; each checkpoint records its
# command).
_TRAINING = TrainConfig(
    steps=16_000,
    batch_size=64,
    seq_len=60,
    max_context=50,
    lr=2e-3,
    queries=10,
    border_power=1 / 3,
    targets="posterior",
    checkpoint_every=250,
    transformer=_ARCHITECTURE,
)

GP_RBF_1D = Recipe(
    "gp-rbf-1d",
    GPPrior(lengthscale=0.2, outputscale=1.0, noise=0.01, num_features=1),
    _TRAINING,
    "GP regression on [0, 1], RBF kernel with lengthscale 0.2, outputscale 1, noise variance 0.01; "
    "up to 50 context points",
)
GP_HYPER_1D = Recipe(
    "gp-hyper-1d",
    GPHyperPrior(num_features=1),
    # Inferring the hyperparameters needs longer training (the posterior targets let it be shorter
    # than the earlier 200,000 steps on sampled targets): a 75,000-step cycle, then a warm restart
    # at half the peak learning rate for 50,000 more (the first cycle is the 75,000-step run that
    # shipped before, and its checkpoint is where this run resumes)
    replace(_TRAINING, steps=125_000, restarts=(75_000,), restart_lr_factor=0.5),
    "GP regression on [0, 1], RBF kernel with log-normal hyper-priors on lengthscale (median 0.2), "
    "outputscale (median 1) and noise variance (median 0.01); up to 50 context points",
)


def _load(entry: EntryPoint) -> Recipe:
    recipe = entry.load()
    if not isinstance(recipe, Recipe) or recipe.name != entry.name:
        raise ConfigurationError(
            f"entry point {entry.name!r} of group {RECIPE_GROUP!r} ({entry.value}) must load a Recipe "
            f"named {entry.name!r}; got {recipe!r}"
        )
    return recipe


def recipes() -> dict[str, Recipe]:
    """Every installed recipe by name (the ``probtheory.pfn_recipes`` entry points), sorted by name.

    Raises:
        ConfigurationError: If an entry point does not load to a :class:`Recipe` of its own name.
    """
    return {
        entry.name: _load(entry) for entry in sorted(entry_points(group=RECIPE_GROUP), key=lambda e: e.name)
    }


def get_recipe(name: str) -> Recipe:
    """The recipe called ``name`` (loads only that entry point).

    Raises:
        InputDataError: If no installed recipe has that name.
    """
    found = entry_points(group=RECIPE_GROUP, name=name)
    if not found:
        known = sorted(entry.name for entry in entry_points(group=RECIPE_GROUP))
        raise InputDataError("recipe", f"one of {known}", repr(name))
    return _load(next(iter(found)))
