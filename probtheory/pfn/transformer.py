"""The PFN transformer (Müller et al., ICLR 2022, §4 and Fig. 2).

Training rows are tokens ``enc_x(x) + enc_y(y)``; query rows are ``enc_x(x)`` only. In every
layer, training rows attend to training rows and query rows attend *only* to training rows,
so queries never see each other (each prediction is the marginal posterior predictive of its
own query) and, with no positional encoding, the output is invariant to permutations of the
training set. Layers are post-LayerNorm with GELU feed-forward blocks whose output
projections are zero-initialised (each residual block starts as the identity).

Because training rows never attend to queries, their per-layer keys and values can be
computed once (:meth:`PFNTransformer.encode_context`) and reused for any number of query
batches (:meth:`PFNTransformer.predict_logits`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from probtheory._checks import check_floating, check_instance, check_int
from probtheory.errors import InputDataError

__all__ = ["ContextCache", "PFNTransformer", "TransformerConfig"]


@dataclass(frozen=True)
class TransformerConfig:
    """Architecture of a PFN transformer."""

    num_features: int = 1
    num_buckets: int = 1000
    emsize: int = 128
    nhead: int = 4
    nhid: int = 256
    nlayers: int = 4

    def __post_init__(self) -> None:
        for name, minimum in (
            ("num_features", 1),
            ("num_buckets", 2),
            ("emsize", 1),
            ("nhead", 1),
            ("nhid", 1),
            ("nlayers", 1),
        ):
            check_int(name, getattr(self, name), minimum=minimum)
        if self.emsize % self.nhead:
            from probtheory.errors import ConfigurationError

            raise ConfigurationError(f"emsize ({self.emsize}) must be divisible by nhead ({self.nhead})")

    def to_dict(self) -> dict:
        """Plain-dict form (for JSON configs)."""
        return asdict(self)


@dataclass
class ContextCache:
    """Per-layer keys and values of the training rows (each `B x nhead x S x head_dim`)."""

    keys: list[Tensor]
    values: list[Tensor]
    num_context: int


class _Layer(nn.Module):
    def __init__(self, emsize: int, nhead: int, nhid: int) -> None:
        super().__init__()
        self.nhead = nhead
        self.qkv = nn.Linear(emsize, 3 * emsize)
        self.out = nn.Linear(emsize, emsize)
        self.norm1 = nn.LayerNorm(emsize)
        self.ff1 = nn.Linear(emsize, nhid)
        self.ff2 = nn.Linear(nhid, emsize)
        self.norm2 = nn.LayerNorm(emsize)
        for zero in (self.out, self.ff2):
            nn.init.zeros_(zero.weight)
            nn.init.zeros_(zero.bias)

    def _split(self, t: Tensor) -> Tensor:
        b, n, e = t.shape
        return t.reshape(b, n, self.nhead, e // self.nhead).transpose(1, 2)

    def keys_values(self, h_context: Tensor) -> tuple[Tensor, Tensor]:
        # rows e: of the fused projection: only the context needs keys and values
        e = h_context.shape[-1]
        k, v = F.linear(h_context, self.qkv.weight[e:], self.qkv.bias[e:]).chunk(2, dim=-1)
        return self._split(k), self._split(v)

    def forward(self, h: Tensor, keys: Tensor, values: Tensor) -> Tensor:
        """Rows ``h`` (`B x N x E`) attend to the context keys/values; then feed-forward."""
        if keys.shape[-2] == 0:  # no context: attention contributes nothing
            attended = torch.zeros_like(h)
        else:
            e = h.shape[-1]
            q = self._split(F.linear(h, self.qkv.weight[:e], self.qkv.bias[:e]))  # queries only
            a = F.scaled_dot_product_attention(q, keys, values)
            attended = self.out(a.transpose(1, 2).reshape(h.shape))
        h = self.norm1(h + attended)
        return self.norm2(h + self.ff2(F.gelu(self.ff1(h))))


class PFNTransformer(nn.Module):
    """Transformer mapping (context, queries) to bar-distribution logits per query."""

    def __init__(self, config: TransformerConfig) -> None:
        """Create the network from its configuration."""
        super().__init__()
        check_instance("config", config, TransformerConfig, "a TransformerConfig")
        self.config = config
        self.encode_x = nn.Linear(config.num_features, config.emsize)
        self.encode_y = nn.Linear(1, config.emsize)
        self.layers = nn.ModuleList(
            _Layer(config.emsize, config.nhead, config.nhid) for _ in range(config.nlayers)
        )
        self.decoder = nn.Sequential(
            nn.Linear(config.emsize, config.nhid), nn.GELU(), nn.Linear(config.nhid, config.num_buckets)
        )

    def encode_context(self, x_train: Tensor, y_train: Tensor) -> ContextCache:
        """Run the training rows through every layer and keep their keys and values.

        Args:
            x_train: A `B x S x F` tensor (S may be 0).
            y_train: A `B x S` tensor.
        """
        self._check(x_train, y_train, None)
        h = self.encode_x(x_train) + self.encode_y(y_train.unsqueeze(-1))
        keys, values = [], []
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            k, v = layer.keys_values(h)
            keys.append(k)
            values.append(v)
            if i < last:  # the last layer's context outputs feed nothing
                h = layer(h, k, v)
        return ContextCache(keys, values, x_train.shape[1])

    def predict_logits(self, cache: ContextCache, x_test: Tensor) -> Tensor:
        """Logits (`B x Q x num_buckets`) of the queries ``x_test`` (`B x Q x F`) given a context."""
        h = self.encode_x(x_test)
        for layer, k, v in zip(self.layers, cache.keys, cache.values, strict=True):
            h = layer(h, k, v)
        return self.decoder(h)

    def _check(self, x_train: Tensor, y_train: Tensor, x_test: Tensor | None) -> None:
        """Shapes and dtypes only (no device synchronisation: this runs in every training step)."""
        f, b = self.config.num_features, x_train.shape[0] if isinstance(x_train, Tensor) else None
        check_floating("x_train", x_train)
        check_floating("y_train", y_train)
        if x_train.dim() != 3 or x_train.shape[-1] != f:
            raise InputDataError("x_train", f"a `B x S x {f}` tensor", f"shape {tuple(x_train.shape)}")
        if y_train.shape != x_train.shape[:2]:
            expected = f"a `B x S` tensor, {tuple(x_train.shape[:2])}"
            raise InputDataError("y_train", expected, f"shape {tuple(y_train.shape)}")
        if x_test is None:
            return
        check_floating("x_test", x_test)
        if x_test.dim() != 3 or x_test.shape[-1] != f or x_test.shape[0] != b:
            raise InputDataError("x_test", f"a `{b} x Q x {f}` tensor", f"shape {tuple(x_test.shape)}")

    def forward(self, x_train: Tensor, y_train: Tensor, x_test: Tensor) -> Tensor:
        """Logits for the queries; one pass for context and queries together (training path)."""
        self._check(x_train, y_train, x_test)
        s = x_train.shape[1]
        h = torch.cat(
            [self.encode_x(x_train) + self.encode_y(y_train.unsqueeze(-1)), self.encode_x(x_test)], 1
        )
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            k, v = layer.keys_values(h[:, :s])
            # the last layer's context outputs would feed nothing: only the queries go on (to the
            # decoder), which saves about a tenth of a training step
            h = layer(h[:, s:] if i == last else h, k, v)
        return self.decoder(h)
