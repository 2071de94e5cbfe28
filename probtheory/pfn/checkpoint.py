"""Saving and loading PFNs: safetensors weights + a JSON config with the weights' sha256.

Nothing is unpickled: tensors come from safetensors, everything else from JSON. A checkpoint
whose weights do not hash to the recorded sha256 is refused.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from safetensors.torch import load as load_bytes
from safetensors.torch import save as save_bytes

from probtheory.errors import InputDataError, ProbtheoryError

__all__ = ["CheckpointError", "read_checkpoint", "sha256", "write_checkpoint"]


class CheckpointError(ProbtheoryError):
    """A checkpoint is missing, malformed, or does not match its recorded sha256."""


def sha256(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def write_checkpoint(path: str | Path, tensors: dict[str, torch.Tensor], config: dict) -> str:
    """Write ``PATH.safetensors`` and ``PATH.json``; returns the weights' sha256.

    Args:
        path: Path without suffix.
        tensors: Named tensors (made contiguous, stored as they are).
        config: JSON-serialisable configuration; ``sha256`` is added.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = save_bytes({k: v.detach().contiguous().cpu() for k, v in tensors.items()})
    digest = sha256(data)
    tmp = path.with_suffix(".safetensors.tmp")
    tmp.write_bytes(data)
    tmp.replace(path.with_suffix(".safetensors"))  # atomic: an interrupted save leaves the old file
    path.with_suffix(".json").write_text(json.dumps({**config, "sha256": digest}, indent=2) + "\n")
    return digest


def read_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    """Read a checkpoint written by :func:`write_checkpoint`, verifying its sha256.

    Raises:
        CheckpointError: if a file is missing, the JSON is malformed, or the hash differs.
    """
    path = Path(path)
    weights, meta = path.with_suffix(".safetensors"), path.with_suffix(".json")
    if not weights.exists() or not meta.exists():
        raise CheckpointError(f"checkpoint {path}: expected {weights.name} and {meta.name}")
    try:
        config = json.loads(meta.read_text())
    except json.JSONDecodeError as err:
        raise CheckpointError(f"checkpoint {path}: malformed JSON config ({err})") from err
    data = weights.read_bytes()
    if "sha256" not in config:
        raise InputDataError("config", "a `sha256` entry", sorted(config))
    if sha256(data) != config["sha256"]:
        raise CheckpointError(
            f"checkpoint {path}: weights do not match the recorded sha256 (corrupted or tampered); "
            f"expected {config['sha256'][:16]}..., got {sha256(data)[:16]}..."
        )
    return load_bytes(data), config
