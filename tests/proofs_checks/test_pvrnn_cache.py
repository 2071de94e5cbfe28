"""The cached PV-RNN instance of ``pvrnn.meta_prior_switching``: package data, verified, exact."""

import hashlib
import json
from importlib import resources

import pytest
import torch

from probtheory.errors import InputDataError
from probtheory.pfn.checkpoint import CheckpointError, read_checkpoint, sha256
from proofs_checks.catalog import pvrnn

#: sha256 of the little-endian float32 weights, concatenated in parameter order, as the claim
#: module stored them (base64 in the source) before they became package data: the checkpoints
#: must hold exactly those bits.
FLAT_FLOAT32_SHA256 = {
    1e-4: "7a630e6bcd8090925e6bf1e778216af17dfe166a058df82e7cb048345e4b23db",
    1e-2: "ca96747b70dba548b93c2816880466740b161660e942391c55c126d9eda37f01",
    1.0: "3e4f6ba29bddf963ab941422d4f8a1f6f163a432e389a9d2416ec9c6a70cbc6a",
}


def _checkpoint(name):
    with resources.as_file(resources.files("proofs_checks.catalog.data") / f"{name}.safetensors") as path:
        return read_checkpoint(path.with_suffix(""))


@pytest.mark.parametrize("w", sorted(pvrnn.CHECKPOINTS))
def test_checkpoints_hold_the_original_float32_weights(w):
    tensors, config = _checkpoint(pvrnn.CHECKPOINTS[w])
    model = pvrnn.PVRNN(2, pvrnn.switching_layers(w), seed=pvrnn.MODEL_SEED)
    names = [n for n, _ in model.named_parameters() if not n.startswith("posterior_A")]
    assert sorted(tensors) == sorted(names)
    assert all(t.dtype == torch.float32 for t in tensors.values())
    flat = torch.cat([tensors[n].reshape(-1) for n in names]).numpy().astype("<f4").tobytes()
    assert hashlib.sha256(flat).hexdigest() == FLAT_FLOAT32_SHA256[w]
    assert config["w"] == w and config["training_command"] == "python -m proofs_checks.catalog.pvrnn"
    assert config == {**pvrnn.switching_checkpoint_config(w), "sha256": config["sha256"]}


@pytest.mark.parametrize("w", sorted(pvrnn.CHECKPOINTS))
def test_cached_model_is_the_exact_float64_upcast(w):
    tensors, _ = _checkpoint(pvrnn.CHECKPOINTS[w])
    model = pvrnn.cached_switching_model(w)
    for name, param in model.named_parameters():
        if name in tensors:
            assert param.dtype == torch.float64
            assert torch.equal(param.detach(), tensors[name].to(torch.float64)), name


def test_unknown_meta_prior_and_corrupted_weights_are_refused(tmp_path):
    with pytest.raises(InputDataError, match="w"):
        pvrnn.cached_switching_model(0.5)
    tensors, _ = _checkpoint(pvrnn.CHECKPOINTS[1.0])
    digest = pvrnn.write_switching_checkpoint(tmp_path / "copy", 1.0, tensors)
    data = (tmp_path / "copy.safetensors").read_bytes()
    assert sha256(data) == digest == json.loads((tmp_path / "copy.json").read_text())["sha256"]
    (tmp_path / "copy.safetensors").write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(CheckpointError, match="sha256"):
        read_checkpoint(tmp_path / "copy")
