"""Saving and loading models: safetensors weights + a JSON configuration, both hashed.

``PATH.safetensors`` holds the tensors and ``PATH.json`` everything else (architecture, prior,
training command, ...). Nothing is unpickled. The JSON records two digests:

* ``sha256``: of the safetensors file's bytes (the weights);
* ``config_sha256``: of the configuration itself in canonical form — every entry except
  ``config_sha256``, the weights' ``sha256`` included, serialised by :func:`canonical_json`
  (sorted keys, fixed separators). The configuration decides the architecture and the
  behaviour (an edited ``nhead`` loads without a shape error and moves every prediction; an
  edited ``max_epochs`` rescales an LC-PFN's inputs), so it is checked like the weights.
  Whitespace, indentation and key order do not count: only the values do.

A checkpoint whose weights or configuration do not hash to what its JSON records is refused
with :class:`~probtheory.errors.CheckpointError`. Checkpoints written before configurations
were hashed carry only ``sha256``; :func:`rehash_checkpoint` (``probtheory pfn rehash PATH``)
adds ``config_sha256`` to them after the configuration has been checked.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_bytes
from safetensors.torch import save as save_bytes

from probtheory._checks import check_bool, check_instance, check_path
from probtheory.errors import CheckpointError, InputDataError, UnverifiedCheckpointWarning

__all__ = [
    "CONFIG_HASH_KEY",
    "CheckpointError",
    "canonical_json",
    "config_sha256",
    "read_checkpoint",
    "rehash_checkpoint",
    "sha256",
    "write_checkpoint",
]

#: The JSON entry holding the configuration's own digest (:func:`config_sha256`).
CONFIG_HASH_KEY = "config_sha256"
_WEIGHTS_HASH_KEY = "sha256"
_REHASH = "probtheory pfn rehash"


def sha256(data: bytes) -> str:
    """Hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def canonical_json(config: dict) -> str:
    """The canonical serialisation that :func:`config_sha256` hashes.

    ``json.dumps`` with sorted keys, separators ``(",", ":")`` and ASCII escapes: equal values
    give equal text, whatever the key order or layout of the file they were read from (floats
    are written by ``repr``, which round-trips exactly).

    Raises:
        InputDataError: If ``config`` holds something JSON cannot represent.
    """
    try:
        return json.dumps(config, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    except (TypeError, ValueError) as err:
        raise InputDataError(
            "config", "JSON-serialisable values (dicts, lists, str, numbers, bool)", err
        ) from err


def config_sha256(config: dict) -> str:
    """Hex sha256 of a configuration's canonical JSON, leaving out its own ``config_sha256`` entry."""
    return sha256(canonical_json({k: v for k, v in config.items() if k != CONFIG_HASH_KEY}).encode("ascii"))


def _files(path: object) -> tuple[Path, Path, Path]:
    """``(path without suffix, PATH.safetensors, PATH.json)``; ``path`` may name either file."""
    base = check_path("path", path)
    if base.suffix in (".json", ".safetensors"):
        base = base.with_suffix("")
    return base, base.with_name(base.name + ".safetensors"), base.with_name(base.name + ".json")


def _replace_atomically(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` through a temporary file: an interruption leaves the old file."""
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(target)


def _json_text(config: dict) -> str:
    return json.dumps(config, indent=2) + "\n"


def write_checkpoint(path: str | Path, tensors: dict[str, torch.Tensor], config: dict) -> str:
    """Write ``PATH.safetensors`` and ``PATH.json``; returns the weights' sha256.

    Args:
        path: Path without suffix (a ``.json`` or ``.safetensors`` suffix is dropped).
        tensors: Named tensors (made contiguous, stored as they are).
        config: JSON-serialisable configuration; ``sha256`` (of the weights) and
            ``config_sha256`` (of the configuration, :func:`config_sha256`) are added, replacing
            any such entries.

    Raises:
        InputDataError: If ``config`` is not a JSON-serialisable dict (nothing is written then).
    """
    base, weights, meta = _files(path)
    check_instance("config", config, dict, "a dict of JSON-serialisable values")
    check_instance("tensors", tensors, dict, "a dict of named tensors")
    canonical_json(config)  # refuse an unserialisable config before writing anything
    data = save_bytes({k: v.detach().contiguous().cpu() for k, v in tensors.items()})
    digest = sha256(data)
    record = {k: v for k, v in config.items() if k not in (_WEIGHTS_HASH_KEY, CONFIG_HASH_KEY)}
    record[_WEIGHTS_HASH_KEY] = digest
    record[CONFIG_HASH_KEY] = config_sha256(record)
    base.parent.mkdir(parents=True, exist_ok=True)
    _replace_atomically(weights, data)
    _replace_atomically(meta, _json_text(record).encode("ascii"))
    return digest


def _read_config(path: Path, meta: Path) -> dict:
    if not meta.exists():
        raise CheckpointError(path, f"expected its configuration {meta.name} beside it; it does not exist")
    try:
        config = json.loads(meta.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(path, f"{meta.name} is not valid JSON ({err})") from err
    if not isinstance(config, dict):
        raise CheckpointError(path, f"{meta.name} must hold a JSON object; found {type(config).__name__}")
    if not isinstance(config.get(_WEIGHTS_HASH_KEY), str):
        raise CheckpointError(
            path, f"{meta.name} records no `sha256` of the weights; found keys {sorted(config)}"
        )
    return config


def _check_config_hash(path: Path, meta: Path, config: dict) -> None:
    recorded = config[CONFIG_HASH_KEY]
    computed = config_sha256(config)
    if recorded != computed:
        raise CheckpointError(
            path,
            f"the configuration in {meta.name} does not match its recorded config_sha256 "
            f"(recorded {str(recorded)[:16]}..., computed {computed[:16]}...): an entry was edited, "
            "added or removed after saving (architecture, prior or metadata), which would change the "
            f"model; re-save it, or run `{_REHASH} {path} --accept-changes` if the edit is intended",
        )


def _read_weights(path: Path, weights: Path, config: dict) -> bytes:
    if not weights.exists():
        raise CheckpointError(path, f"expected its weights {weights.name} beside it; it does not exist")
    data = weights.read_bytes()
    if sha256(data) != config[_WEIGHTS_HASH_KEY]:
        raise CheckpointError(
            path,
            f"the weights in {weights.name} do not match the recorded sha256 (corrupted or tampered): "
            f"recorded {config[_WEIGHTS_HASH_KEY][:16]}..., computed {sha256(data)[:16]}...",
        )
    return data


def read_checkpoint(
    path: str | Path, *, require_config_hash: bool = False
) -> tuple[dict[str, torch.Tensor], dict]:
    """Read a checkpoint written by :func:`write_checkpoint`, verifying weights and configuration.

    Args:
        path: Path without suffix, or either file's path.
        require_config_hash: Refuse a checkpoint without ``config_sha256`` (one written before
            configurations were hashed). When False such a checkpoint loads with an
            :class:`~probtheory.errors.UnverifiedCheckpointWarning`; a ``config_sha256`` that
            is present but does not match is refused either way.

    Returns:
        The tensors, and the configuration (with the weights' ``sha256``, without
        ``config_sha256``).

    Raises:
        CheckpointError: If a file is missing, the JSON is malformed, or a hash differs.
    """
    base, weights, meta = _files(path)
    check_bool("require_config_hash", require_config_hash)
    config = _read_config(base, meta)
    if CONFIG_HASH_KEY in config:
        _check_config_hash(base, meta, config)
    elif require_config_hash:
        raise CheckpointError(
            base,
            f"{meta.name} records no config_sha256, so its configuration (architecture, prior) cannot "
            f"be verified (a checkpoint saved before configurations were hashed); check it, then run "
            f"`{_REHASH} {base}`",
        )
    else:
        warnings.warn(
            f"checkpoint {base}: {meta.name} records no config_sha256; its configuration is not verified "
            f"(run `{_REHASH} {base}` once it has been checked)",
            UnverifiedCheckpointWarning,
            stacklevel=2,
        )
    data = _read_weights(base, weights, config)
    try:
        tensors = load_bytes(data)
    except SafetensorError as err:
        raise CheckpointError(base, f"{weights.name} is not a safetensors file ({err})") from err
    return tensors, {k: v for k, v in config.items() if k != CONFIG_HASH_KEY}


def rehash_checkpoint(path: str | Path, *, accept_changes: bool = False) -> tuple[str, str]:
    """Record the ``config_sha256`` of a checkpoint's configuration as it now is.

    For checkpoints saved before configurations were hashed (``config_sha256`` absent), and
    for a configuration edited on purpose (``accept_changes``). The weights are never touched
    and must still match their recorded sha256; only the JSON file is rewritten (same values,
    ``config_sha256`` added or replaced). Check the configuration first: from then on it is
    what the checkpoint is verified against.

    Args:
        path: Path without suffix, or either file's path.
        accept_changes: Replace a ``config_sha256`` that no longer matches (an intended edit).

    Returns:
        The configuration's digest and what was done: ``"added"``, ``"replaced"`` or
        ``"unchanged"`` (already up to date: the file is not rewritten).

    Raises:
        CheckpointError: If the weights do not match their sha256, or the recorded
            ``config_sha256`` differs and ``accept_changes`` is False.
    """
    base, weights, meta = _files(path)
    check_bool("accept_changes", accept_changes)
    config = _read_config(base, meta)
    _read_weights(base, weights, config)
    digest = config_sha256(config)
    recorded = config.get(CONFIG_HASH_KEY)
    if recorded == digest:
        return digest, "unchanged"
    if recorded is not None and not accept_changes:
        _check_config_hash(base, meta, config)  # raises, naming both digests
    config[CONFIG_HASH_KEY] = digest
    _replace_atomically(meta, _json_text(config).encode("ascii"))
    return digest, "added" if recorded is None else "replaced"
