"""Checkpoints verify their configuration as well as their weights.

The JSON beside the weights sets the architecture and the behaviour (an edited ``nhead`` loads
without a shape error and moves the predictions; an edited ``max_epochs`` rescales an LC-PFN's
inputs), so every entry of it is covered by ``config_sha256``: any edit is refused.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import pytest
import torch

from probtheory.errors import CheckpointError, InputDataError, UnverifiedCheckpointWarning
from probtheory.lcpfn import LCPFN
from probtheory.pfn import PFN, TransformerConfig, pretrained_names
from probtheory.pfn.checkpoint import (
    CONFIG_HASH_KEY,
    config_sha256,
    read_checkpoint,
    rehash_checkpoint,
    sha256,
    write_checkpoint,
)

WEIGHTS = Path(__file__).resolve().parents[3] / "probtheory" / "pfn" / "weights"


def _copy(name: str, folder: Path) -> Path:
    for suffix in (".safetensors", ".json"):
        shutil.copy(WEIGHTS / f"{name}{suffix}", folder / f"{name}{suffix}")
    return folder / name


def _paths(value, prefix=()):
    """Every entry of a JSON value: dict keys and list items, nested ones included; of a long
    list (a training run's hundreds of logged losses) its first, middle and last three items."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        n, middle = len(value), len(value) // 2
        indices = range(n) if n <= 9 else [0, 1, 2, middle - 1, middle, middle + 1, n - 3, n - 2, n - 1]
        for index in indices:
            yield (*prefix, index)
            yield from _paths(value[index], (*prefix, index))


def _altered(value):
    """A different JSON value of the same kind (a realistic edit)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + 1 if abs(value) < 1e15 else value * 2
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, list):
        return [*value, 0]
    if isinstance(value, dict):
        return {**value, "extra": 1}
    return 0


def _edit(config: dict, path: tuple, *, delete: bool = False) -> dict:
    config = json.loads(json.dumps(config))
    parent = config
    for key in path[:-1]:
        parent = parent[key]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = _altered(parent[path[-1]])
    return config


def _inputs(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(3, 12, 1, generator=g, dtype=torch.float64)
    y = 0.5 + 0.3 * torch.sin(6 * x[..., 0])
    return x[:, :8], y[:, :8], x[:, 8:]


def test_every_shipped_checkpoint_records_its_configuration_hash():
    assert pretrained_names() == ["gp-hyper-1d", "gp-rbf-1d", "lcpfn"]
    for name in pretrained_names():
        config = json.loads((WEIGHTS / f"{name}.json").read_text())
        assert config[CONFIG_HASH_KEY] == config_sha256(config)
        assert config["sha256"] == sha256((WEIGHTS / f"{name}.safetensors").read_bytes())
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # verified: no UnverifiedCheckpointWarning
            read_checkpoint(WEIGHTS / name, require_config_hash=True)


@pytest.mark.parametrize("name", ["gp-rbf-1d", "gp-hyper-1d", "lcpfn"])
def test_editing_any_entry_of_a_shipped_configuration_is_refused(name, tmp_path):
    path = _copy(name, tmp_path)
    original = json.loads(path.with_suffix(".json").read_text())
    x_train, y_train, x_test = _inputs()
    reference = PFN.from_pretrained(name).predict(x_train, y_train, x_test).logits
    copy = PFN.load(path)  # the unmodified copy loads and predicts exactly as the shipped model
    assert torch.equal(copy.predict(x_train, y_train, x_test).logits, reference)
    entries = list(_paths(original))
    assert len(entries) > 50 and ("transformer", "nhead") in entries and ("prior", "class") in entries
    assert name != "lcpfn" or ("prior", "max_epochs") in entries
    refused = 0
    for entry in entries:
        for delete in (False, True) if not isinstance(entry[-1], int) else (False,):
            path.with_suffix(".json").write_text(json.dumps(_edit(original, entry, delete=delete), indent=2))
            with pytest.raises(CheckpointError, match=CONFIG_HASH_KEY) as info:
                PFN.load(path)
            assert str(path) in str(info.value)
            refused += 1
    assert refused > len(entries)
    # layout and key order are not the configuration: the same values in another layout load
    reordered = dict(reversed(list(original.items())))
    path.with_suffix(".json").write_text(json.dumps(reordered, separators=(", ", ": ")))
    assert torch.equal(PFN.load(path).predict(x_train, y_train, x_test).logits, reference)


def test_an_edited_nhead_would_change_the_predictions(tmp_path):
    """Why the configuration is hashed: nhead 4 -> 2 loads without a shape error and predicts
    differently. Refused as it is; accepted only when re-hashed on purpose."""
    path = _copy("gp-rbf-1d", tmp_path)
    config = json.loads(path.with_suffix(".json").read_text())
    config["transformer"]["nhead"] = 2
    path.with_suffix(".json").write_text(json.dumps(config, indent=2))
    with pytest.raises(CheckpointError, match="does not match its recorded config_sha256"):
        PFN.load(path)
    with pytest.raises(CheckpointError, match="--accept-changes"):
        rehash_checkpoint(path)
    assert rehash_checkpoint(path, accept_changes=True)[1] == "replaced"
    edited = PFN.load(path)
    x_train, y_train, x_test = _inputs()
    shipped = PFN.from_pretrained("gp-rbf-1d").predict(x_train, y_train, x_test).mean
    moved = (edited.predict(x_train, y_train, x_test).mean - shipped).abs().max()
    assert edited.config.nhead == 2 and moved > 1e-3


def test_an_lcpfn_with_an_edited_max_epochs_is_refused(tmp_path):
    path = _copy("lcpfn", tmp_path)
    assert LCPFN.load(path).max_epochs == 100
    config = json.loads(path.with_suffix(".json").read_text())
    config["prior"]["max_epochs"] = 50
    path.with_suffix(".json").write_text(json.dumps(config, indent=2))
    with pytest.raises(CheckpointError, match="config_sha256"):
        LCPFN.load(path)


def test_checkpoints_saved_before_configurations_were_hashed(tmp_path):
    """Refused by PFN.load (with the command that re-hashes them), loaded with a warning by the
    generic reader; ``rehash_checkpoint`` adds the hash once, then does nothing."""
    path = _copy("gp-rbf-1d", tmp_path)
    config = json.loads(path.with_suffix(".json").read_text())
    del config[CONFIG_HASH_KEY]
    path.with_suffix(".json").write_text(json.dumps(config, indent=2))
    with pytest.raises(CheckpointError, match="probtheory pfn rehash"):
        PFN.load(path)
    with pytest.warns(UnverifiedCheckpointWarning, match="no config_sha256"):
        read_checkpoint(path)
    digest, action = rehash_checkpoint(path.with_suffix(".json"))
    assert action == "added" and rehash_checkpoint(path) == (digest, "unchanged")
    assert PFN.load(path).config.nhead == 4


def test_rehash_never_blesses_corrupted_weights(tmp_path):
    path = _copy("gp-rbf-1d", tmp_path)
    data = bytearray(path.with_suffix(".safetensors").read_bytes())
    data[-5] ^= 0x01
    path.with_suffix(".safetensors").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="sha256"):
        rehash_checkpoint(path, accept_changes=True)
    with pytest.raises(CheckpointError, match="do not match the recorded sha256"):
        PFN.load(path)


def test_written_checkpoints_hash_their_configuration(tmp_path):
    model = PFN(
        TransformerConfig(num_buckets=4, emsize=8, nhead=2, nhid=8, nlayers=1), torch.linspace(-2, 2, 5)
    )
    digest = model.save(tmp_path / "m", note="x")
    config = json.loads((tmp_path / "m.json").read_text())
    assert config["sha256"] == digest and config[CONFIG_HASH_KEY] == config_sha256(config)
    tensors, loaded = read_checkpoint(tmp_path / "m", require_config_hash=True)
    assert CONFIG_HASH_KEY not in loaded and loaded["note"] == "x"
    # re-saving a loaded model replaces both digests instead of keeping stale ones
    write_checkpoint(tmp_path / "m2", tensors, {**loaded, CONFIG_HASH_KEY: "stale"})
    assert PFN.load(tmp_path / "m2").metadata["note"] == "x"
    with pytest.raises(InputDataError, match="config"):  # refused before anything is written
        model.save(tmp_path / "bad", note=object())
    assert not (tmp_path / "bad.safetensors").exists()
    with pytest.raises(CheckpointError, match="not valid JSON"):
        (tmp_path / "m.json").write_text("{")
        PFN.load(tmp_path / "m")
