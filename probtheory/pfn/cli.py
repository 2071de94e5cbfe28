"""``probtheory pfn``: train a PFN from a recipe, list the shipped ones, re-hash checkpoints.

``probtheory pfn rehash PATH...`` records the ``config_sha256`` of checkpoints saved before
configurations were hashed (see :mod:`probtheory.pfn.checkpoint`); the shipped checkpoints
were re-hashed with ``probtheory pfn rehash probtheory/pfn/weights/*.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from probtheory._cli_options import add_command, add_no_progress_argument, text_table

if TYPE_CHECKING:
    from probtheory.pfn.recipes import Recipe
    from probtheory.pfn.training import TrainConfig

__all__ = ["register", "training_config"]


def _number_or_fraction(text: str) -> float:
    """``0.5``, ``1/3``: a real number written as a decimal or as a fraction of two integers."""
    from fractions import Fraction

    try:
        return float(Fraction(text))
    except (ValueError, ZeroDivisionError, OverflowError):
        raise argparse.ArgumentTypeError(
            f"expected a number such as 0.5 or a fraction such as 1/3, got {text!r}"
        ) from None


def training_config(args: argparse.Namespace) -> tuple[Recipe, TrainConfig, str]:
    """The recipe, the training configuration and the override flags of a parsed ``pfn train``.

    The flags are those that set the model (not how the command was invoked), each with its
    value as it was read (``--border-power 1/3`` becomes ``--border-power 0.3333333333333333``):
    they are recorded in the checkpoint's ``training_command``, and parsing that command again
    gives the same configuration, which is how a shipped checkpoint's command is checked.
    """
    from probtheory._checks import check_int, check_interval, check_name, check_real
    from probtheory.pfn.recipes import get_recipe
    from probtheory.pfn.training import TARGETS

    recipe = get_recipe(args.recipe)
    checks = {
        "steps": lambda flag, value: check_int(flag, value, minimum=1),
        "lr": lambda flag, value: check_real(flag, value, positive=True),
        "batch_size": lambda flag, value: check_int(flag, value, minimum=1),
        "queries": lambda flag, value: check_int(flag, value, minimum=1),
        "buckets": lambda flag, value: check_int(flag, value, minimum=2),
        "emsize": lambda flag, value: check_int(flag, value, minimum=1),
        "nhid": lambda flag, value: check_int(flag, value, minimum=1),
        "border_power": lambda flag, value: check_interval(
            flag, value, 0.0, 1.0, meaning="an exponent of the density"
        ),
        "context_power": lambda flag, value: check_real(flag, value, positive=True),
        "targets": lambda flag, value: check_name(flag, value, TARGETS, meaning="a training loss"),
    }
    architecture = {"buckets": "num_buckets", "emsize": "emsize", "nhid": "nhid"}  # flag -> transformer field
    overrides, flags = {}, ""
    for field, check in checks.items():
        if (value := getattr(args, field)) is not None:
            flag = "--" + field.replace("_", "-")
            overrides[field] = check(flag, value)
            flags += f" {flag} {value if isinstance(value, str) else repr(value)}"
    if "steps" in overrides:  # the schedule ends earlier: the recipe's restarts past the end do not happen
        overrides["restarts"] = tuple(r for r in recipe.config.restarts if r < overrides["steps"])
    transformer = {architecture[key]: overrides.pop(key) for key in architecture if key in overrides}
    if transformer:  # TransformerConfig checks the combination (emsize divisible by the heads)
        overrides["transformer"] = dataclasses.replace(recipe.config.transformer, **transformer)
    return recipe, dataclasses.replace(recipe.config, **overrides), flags


def _train(args: argparse.Namespace) -> int:
    from probtheory.pfn.training import train_pfn

    recipe, config, flags = training_config(args)
    out = Path(args.out or f"pfn-runs/{recipe.name}")
    world = int(os.environ.get("WORLD_SIZE", "1"))  # under torchrun: each rank draws its own datasets
    launcher = f"torchrun --standalone --no-python --nproc_per_node {world} " if world > 1 else ""
    command = f"{launcher}probtheory pfn train {recipe.name}{flags}"
    result = train_pfn(
        recipe.prior,
        config,
        out_dir=out,
        resume=not args.restart,
        progress=not args.no_progress,
        metadata={**recipe.metadata(), "training_command": command},
    )
    import torch.distributed as dist

    if dist.is_initialized() and dist.get_rank() != 0:
        return 0  # under torchrun only rank 0 reports and installs
    print(
        f"trained {recipe.name}: {result.steps} steps in {result.seconds / 60:.1f} min; "
        f"model at {out}/model.*"
    )
    if args.install:
        target = Path(__file__).parent / "weights"
        for suffix in (".safetensors", ".json"):
            shutil.copy(out / f"model{suffix}", target / f"{recipe.name}{suffix}")
        print(f"installed as PFN.from_pretrained({recipe.name!r})")
    return 0


def _list(args: argparse.Namespace) -> int:
    from probtheory.pfn.model import pretrained_names
    from probtheory.pfn.recipes import recipes

    shipped = set(pretrained_names())
    if args.json:
        import json

        listing = [
            {"name": name, "shipped": name in shipped, "description": recipe.description}
            for name, recipe in recipes().items()
        ]
        print(json.dumps(listing, indent=2))
        return 0
    rows = [[name, "yes" if name in shipped else "no", r.description] for name, r in recipes().items()]
    print(text_table(["recipe", "shipped", "prior"], rows))
    return 0


def _rehash(args: argparse.Namespace) -> int:
    from probtheory.pfn.checkpoint import rehash_checkpoint

    for path in args.paths:
        digest, action = rehash_checkpoint(path, accept_changes=args.accept_changes)
        print(f"{path}: config_sha256 {digest} ({action})")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``pfn`` subcommand to the ``probtheory`` command line."""
    pfn = add_command(
        subparsers,
        "pfn",
        help="prior-data fitted networks: train, list, rehash",
        description="""Prior-data fitted networks (Mueller et al., ICLR 2022): train one from a named
        recipe (resumable, reproducible on CPU), list the recipes and shipped checkpoints, or
        record the configuration hash of an older checkpoint.""",
        examples=["probtheory pfn list", "probtheory pfn train gp-rbf-1d --steps 200 --out runs/gp"],
    )
    commands = pfn.add_subparsers(dest="pfn_command", metavar="COMMAND", required=True)
    train = add_command(
        commands,
        "train",
        help="train a PFN from a named recipe (resumes from its checkpoint)",
        description="""Train the recipe's PFN on datasets drawn from its prior, checkpointing to OUT
        as it goes; repeating the command resumes from the checkpoint. Several processes:
        torchrun --no-python --nproc_per_node N probtheory pfn train RECIPE (data parallel;
        --no-python because probtheory is a command, not a Python file).""",
        examples=[
            "probtheory pfn train gp-rbf-1d",
            "probtheory pfn train lcpfn --steps 1000 --out runs/lcpfn --install",
        ],
    )
    train.add_argument("recipe", help="recipe name (see `probtheory pfn list`)")
    train.add_argument("--out", help="run folder (default pfn-runs/RECIPE)")
    train.add_argument(
        "--steps",
        type=int,
        help="override the recipe's number of steps (its restarts from this step on are dropped)",
    )
    train.add_argument("--lr", type=float, help="override the recipe's peak learning rate")
    train.add_argument(
        "--batch-size", type=int, help="override the recipe's datasets per step (per process under torchrun)"
    )
    train.add_argument(
        "--queries", type=int, help="fixed queries per dataset (default: every point after the context)"
    )
    train.add_argument("--buckets", type=int, help="override the recipe's number of bar-distribution buckets")
    train.add_argument(
        "--border-power",
        type=_number_or_fraction,
        help="bucket borders follow the prior density of y to this power (1: quantiles; 1/3: finer tails)",
    )
    train.add_argument(
        "--context-power",
        type=_number_or_fraction,
        help="context sizes floor((max_context + 1) u^p), u uniform (1: uniform; > 1: small ones more often)",
    )
    train.add_argument(
        "--targets",
        help="the loss: sampled (the prior's y), gaussian (y's law given the latent) or posterior "
        "(the queries' law given the context and the hyperparameters)",
    )
    train.add_argument("--emsize", type=int, help="override the recipe's transformer width (embedding size)")
    train.add_argument("--nhid", type=int, help="override the recipe's feed-forward width")
    train.add_argument("--restart", action="store_true", help="ignore an existing checkpoint")
    train.add_argument("--install", action="store_true", help="copy the result into the package's weights")
    add_no_progress_argument(train)
    train.set_defaults(func=_train)
    listing = add_command(
        commands,
        "list",
        help="recipes and shipped checkpoints",
        description="""List the training recipes (from the probtheory.pfn_recipes entry points) and
        the checkpoints shipped in the package, with their sha256.""",
        examples=["probtheory pfn list", "probtheory pfn list --json"],
    )
    listing.add_argument(
        "--json", action="store_true", help="print one JSON document on stdout and nothing else"
    )
    listing.set_defaults(func=_list)
    rehash = add_command(
        commands,
        "rehash",
        help="record the config_sha256 of checkpoints saved before configurations were hashed",
        description="""Write the config_sha256 (over the canonical JSON configuration) into a
        checkpoint's JSON; a checkpoint whose stored hash no longer matches is refused unless
        --accept-changes says the configuration was edited on purpose.""",
        examples=["probtheory pfn rehash pfn-runs/gp-rbf-1d/model"],
    )
    rehash.add_argument(
        "paths", nargs="+", metavar="PATH", help="checkpoint (PATH, PATH.json or PATH.safetensors)"
    )
    rehash.add_argument(
        "--accept-changes",
        action="store_true",
        help="replace a config_sha256 that no longer matches (the configuration was edited on purpose)",
    )
    rehash.set_defaults(func=_rehash)
