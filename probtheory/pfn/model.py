"""A trained PFN: transformer + bucket borders + prediction API + checkpoints."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from probtheory._checks import check_finite, check_instance, check_path
from probtheory.errors import CheckpointError, InputDataError
from probtheory.pfn.bar_distribution import BarDistribution
from probtheory.pfn.checkpoint import CONFIG_HASH_KEY, read_checkpoint, write_checkpoint
from probtheory.pfn.transformer import PFNTransformer, TransformerConfig

__all__ = ["PFN", "pretrained_names"]

_WEIGHTS = "probtheory.pfn.weights"


def pretrained_names() -> list[str]:
    """Names of the PFNs shipped inside the package."""
    folder = resources.files(_WEIGHTS)
    return sorted(p.name[: -len(".safetensors")] for p in folder.iterdir() if p.name.endswith(".safetensors"))


class PFN(nn.Module):
    """A prior-data fitted network: one forward pass gives the posterior predictive.

    Inputs are used as they are, on the scale of the prior the network was trained on (for
    the shipped GP PFNs: x in [0, 1], y on the GP's scale); inputs outside the prior's support
    raise a warning, since the network has never seen such data.

    Example:
        ```python
        pfn = PFN.from_pretrained("gp-rbf-1d")
        dist = pfn.predict(x_train, y_train, x_test)   # BarDistribution per query
        dist.mean, dist.icdf(torch.tensor(0.9)), dist.log_prob(y_test)
        ```
    """

    def __init__(self, config: TransformerConfig, borders: Tensor, metadata: dict | None = None) -> None:
        """Create an (untrained) PFN.

        Args:
            config: Transformer architecture (``num_buckets`` must equal ``len(borders) - 1``).
            borders: The bar distribution's bucket borders.
            metadata: Free-form JSON-serialisable description (prior, training, support).
        """
        super().__init__()
        check_instance("config", config, TransformerConfig, "a TransformerConfig")
        check_finite("borders", borders)
        if metadata is not None:
            check_instance("metadata", metadata, dict, "a dict of JSON-serialisable values, or None")
        if borders.dim() != 1 or borders.numel() != config.num_buckets + 1:
            expected = f"a 1-d tensor of num_buckets + 1 = {config.num_buckets + 1} borders"
            raise InputDataError("borders", expected, f"shape {tuple(borders.shape)}")
        if not (borders[1:] > borders[:-1]).all():
            raise InputDataError("borders", "strictly increasing values", borders.tolist()[:8])
        self.config = config
        self.transformer = PFNTransformer(config)
        self.register_buffer("borders", borders.to(torch.float64))
        self.metadata = dict(metadata or {})

    def distribution(self, logits: Tensor) -> BarDistribution:
        """The full-support bar distribution of ``logits`` (float64)."""
        return BarDistribution(self.borders, logits.to(torch.float64), full_support=True)

    def _prepare(
        self, x_train: Tensor, y_train: Tensor, x_test: Tensor
    ) -> tuple[Tensor, Tensor, Tensor, bool]:
        for name, t in (("x_train", x_train), ("y_train", y_train), ("x_test", x_test)):
            check_finite(name, t)
        batched = x_test.dim() == 3
        if not batched:
            x_train, y_train, x_test = x_train.unsqueeze(0), y_train.unsqueeze(0), x_test.unsqueeze(0)
        f = self.config.num_features
        if x_train.dim() != 3 or x_train.shape[-1] != f:
            raise InputDataError("x_train", f"a `[B x] S x {f}` tensor", tuple(x_train.shape))
        if x_test.dim() != 3 or x_test.shape[-1] != f:
            raise InputDataError("x_test", f"a `[B x] Q x {f}` tensor", tuple(x_test.shape))
        if y_train.shape != x_train.shape[:2]:
            raise InputDataError(
                "y_train", f"shape {tuple(x_train.shape[:2])} (one y per x_train row)", tuple(y_train.shape)
            )
        if x_test.shape[0] != x_train.shape[0]:
            raise InputDataError("x_test", f"batch size {x_train.shape[0]}", x_test.shape[0])
        support = self.metadata.get("x_support")
        if support is not None:
            lo, hi = support
            if (x_train.numel() and (x_train.min() < lo or x_train.max() > hi)) or (
                x_test.numel() and (x_test.min() < lo or x_test.max() > hi)
            ):
                warnings.warn(
                    f"inputs outside the prior's support [{lo}, {hi}]: the PFN was never trained on such x",
                    stacklevel=3,
                )
        dtype = next(self.parameters()).dtype
        return x_train.to(dtype), y_train.to(dtype), x_test.to(dtype), batched

    @torch.no_grad()
    def predict(self, x_train: Tensor, y_train: Tensor, x_test: Tensor) -> BarDistribution:
        """Posterior predictive distribution of y at each query.

        Args:
            x_train: A `B x S x F` (or `S x F`) tensor of context inputs; S may be 0.
            y_train: A `B x S` (or `S`) tensor of context observations.
            x_test: A `B x Q x F` (or `Q x F`) tensor of queries.

        Returns:
            A :class:`BarDistribution` of batch shape `B x Q` (or `Q`), in float64.
        """
        x_train, y_train, x_test, batched = self._prepare(x_train, y_train, x_test)
        logits = self.transformer(x_train, y_train, x_test)
        return self.distribution(logits if batched else logits[0])

    @torch.no_grad()
    def condition(self, x_train: Tensor, y_train: Tensor) -> Callable[[Tensor], BarDistribution]:
        """Encode a context once; the returned function predicts any number of query batches.

        The training rows' per-layer keys and values are cached (they never depend on the
        queries), so each later call costs only the queries' forward pass.

        Args:
            x_train: A `B x S x F` (or `S x F`) tensor of context inputs.
            y_train: A `B x S` (or `S`) tensor of context observations.

        Returns:
            ``predict(x_test)`` for `B x Q x F` (or `Q x F`) queries, returning a BarDistribution.
        """
        check_finite("x_train", x_train)
        if x_train.dim() not in (2, 3):
            f = self.config.num_features
            raise InputDataError("x_train", f"a `[B x] S x {f}` tensor", tuple(x_train.shape))
        probe = x_train[..., :1, :] if x_train.shape[-2] else torch.zeros_like(x_train[..., :0, :])
        x_train, y_train, _, batched = self._prepare(x_train, y_train, probe)
        cache = self.transformer.encode_context(x_train, y_train)

        @torch.no_grad()
        def predict(x_test: Tensor) -> BarDistribution:
            check_finite("x_test", x_test)
            queries = x_test if batched else x_test.unsqueeze(0)
            f = self.config.num_features
            if queries.dim() != 3 or queries.shape[-1] != f or queries.shape[0] != x_train.shape[0]:
                raise InputDataError(
                    "x_test", f"a `{x_train.shape[0]} x Q x {f}` tensor", tuple(x_test.shape)
                )
            logits = self.transformer.predict_logits(cache, queries.to(x_train.dtype))
            return self.distribution(logits if batched else logits[0])

        return predict

    # ------------------------------------------------------------------ persistence

    def save(self, path: str | Path, **metadata: Any) -> str:
        """Write ``PATH.safetensors`` + ``PATH.json``; returns the sha256 of the weights.

        The JSON records the architecture, the metadata and two digests: of the weights
        (``sha256``) and of the configuration itself (``config_sha256``), both verified by
        :meth:`load`.

        Args:
            path: Path without suffix.
            **metadata: Extra JSON-serialisable entries (they override the model's metadata).
        """
        tensors = {f"model.{k}": v for k, v in self.state_dict().items()}
        config = {"transformer": self.config.to_dict(), **self.metadata, **metadata}
        return write_checkpoint(path, tensors, config)

    @classmethod
    def load(cls, path: str | Path) -> PFN:
        """Load a checkpoint written by :meth:`save` (nothing unpickled).

        Both the weights and the configuration must hash to the digests the JSON records: a
        copy whose architecture or prior was edited (say ``nhead``) is refused, since it would
        load and predict differently. A checkpoint saved before configurations were hashed is
        refused too, with the command that re-hashes it (``probtheory pfn rehash PATH``).

        Args:
            path: Path without suffix (or either file's path).

        Raises:
            CheckpointError: If a file is missing or malformed, a digest differs, or the
                checkpoint does not describe a PFN.
        """
        check_path("path", path)
        tensors, config = read_checkpoint(path, require_config_hash=True)
        try:
            transformer = TransformerConfig(**config["transformer"])
            state = {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}
            meta = {k: v for k, v in config.items() if k not in ("transformer", "sha256", CONFIG_HASH_KEY)}
            model = cls(transformer, state["borders"], meta)
            model.load_state_dict(state)
        except (KeyError, TypeError, ValueError, RuntimeError) as err:
            raise CheckpointError(path, f"does not describe a PFN ({type(err).__name__}: {err})") from err
        return model.eval()

    @classmethod
    def from_pretrained(cls, name: str) -> PFN:
        """Load a PFN shipped inside the package (offline; see :func:`pretrained_names`)."""
        names = pretrained_names()
        if name not in names:
            raise InputDataError("name", f"one of {names}", repr(name))
        with resources.as_file(resources.files(_WEIGHTS) / f"{name}.safetensors") as weights:
            return cls.load(weights.with_suffix(""))
