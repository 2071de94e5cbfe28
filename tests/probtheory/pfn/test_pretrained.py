"""The PFNs shipped inside the package: they load offline, verified, and predict sensibly."""

import re
import shlex

import pytest
import torch

from probtheory.cli import build_parser
from probtheory.pfn import PFN, GPPrior, pretrained_names
from probtheory.pfn.cli import training_config
from probtheory.pfn.evaluation import exact_gp_predictive
from probtheory.pfn.training import TrainConfig


@pytest.mark.parametrize("name", pretrained_names())
def test_shipped_with_provenance(name):
    assert name in pretrained_names()
    pfn = PFN.from_pretrained(name)
    meta = pfn.metadata
    assert meta["recipe"] == name
    launcher = r"(torchrun --standalone --no-python --nproc_per_node \d+ )?"
    assert re.fullmatch(rf"{launcher}probtheory pfn train {name}( .*)?", meta["training_command"])
    assert meta["training_seconds"] > 0 and meta["machine"]
    windows = meta["train_config"]["steps"] // meta["train_config"]["log_every"]
    assert len(meta["losses"]) == windows  # one mean loss per log_every steps


def _configuration_of(command: str) -> tuple[str, TrainConfig, str]:
    """The recipe name, configuration and model flags that ``probtheory pfn train ...`` sets."""
    words = shlex.split(command)
    words = words[words.index("probtheory") :]  # after torchrun's own options, if any
    assert words[:3] == ["probtheory", "pfn", "train"]
    recipe, config, flags = training_config(build_parser().parse_args([*words[1:], "--out", "unused"]))
    return recipe.name, config, flags


@pytest.mark.parametrize("name", pretrained_names())
def test_recorded_command_gives_the_shipped_configuration(name):
    """Parsing the checkpoint's training command against today's recipe gives the configuration
    the model was trained with: the command reproduces it (a recipe edited since would fail)."""
    meta = PFN.from_pretrained(name).metadata
    recipe, config, _ = _configuration_of(meta["training_command"])
    assert recipe == name
    # from_dict: fields added to TrainConfig since then take their defaults, as on resuming
    assert config.to_dict() == TrainConfig.from_dict(meta["train_config"]).to_dict()


def test_recorded_flags_parse_back_to_the_same_configuration():
    # values no recipe has, in another order than the recorded one, behind a launcher
    command = (
        "torchrun --nproc_per_node 2 probtheory pfn train gp-hyper-1d --border-power 1/2 --lr 1e-3 --nhid 64"
    )
    recipe, config, flags = _configuration_of(command)
    assert flags == " --lr 0.001 --nhid 64 --border-power 0.5"
    assert (config.border_power, config.lr, config.transformer.nhid) == (0.5, 1e-3, 64)
    assert _configuration_of(f"probtheory pfn train {recipe}{flags}") == (recipe, config, flags)


def test_gp_rbf_1d_tracks_the_exact_posterior_on_fresh_datasets():
    """NLL gap to the exact GP over 400 fresh datasets (10 context points) is small.

    The benchmark (benchmarks/pfn_gp.py) measures the full bar; this is a fast guard that the
    shipped weights are the trained ones: an untrained PFN's gap here is > 1 nat.
    """
    pfn = PFN.from_pretrained("gp-rbf-1d")
    batch = GPPrior().sample(400, 11, torch.Generator().manual_seed(11))
    x, y = batch.x, batch.y
    pfn_nll = -pfn.predict(x[:, :10], y[:, :10], x[:, 10:]).log_prob(y[:, 10:])
    gp_nll = -exact_gp_predictive(x[:, :10], y[:, :10], x[:, 10:], 0.2, 1.0, 0.01).log_prob(y[:, 10:])
    gap = (pfn_nll - gp_nll).flatten()
    assert gap.mean() < 0.15 + 5 * gap.std() / len(gap) ** 0.5
