"""PROSE: one transformer that predicts an ODE's future and corrects its equations.

Liu, Zhang and Schaeffer, *PROSE: Predicting Multiple Operators and Symbolic Expressions using
Multimodal Transformers* (Neural Networks, 2024), Sec. 3. The inputs are two modalities: data
tokens ``(t_i, u(t_i))`` of the early part of a trajectory, and symbol tokens, the system's
equations in prefix (Polish) notation, possibly with wrong coefficients or missing and extra
terms. A data encoder and a symbol encoder embed them, a fusion encoder attends over both, and
two decoders read the fused features: the *operator decoder* answers queries at future times
``t`` (each query attends to the fused features independently, so permuting the queries
permutes the answers), and the *symbol decoder* writes the corrected equations
autoregressively (causal self-attention). Training minimises the data MSE plus the symbols'
cross-entropy.

:class:`SymbolTokenizer` maps sympy expressions to prefix tokens and back. Numbers are written
as the paper does (after Kamienny et al., 2022): a sign, a mantissa of ``precision`` digits and
a base-10 exponent, three tokens, so a constant round-trips to ``precision`` significant digits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sympy
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from probtheory._checks import check_int, check_interval, check_real, make_generator
from probtheory.errors import InputDataError, UnsupportedError

__all__ = ["PROSE", "SymbolTokenizer", "noisy_symbols", "prose_loss"]

_BINARY = {"add": sympy.Add, "mul": sympy.Mul}
_UNARY = {"neg": lambda a: -a, "sin": sympy.sin, "cos": sympy.cos, "exp": sympy.exp}
_SPECIAL = ("<pad>", "<bos>", "<eos>", "|", "C")


class SymbolTokenizer:
    """Prefix tokens of systems of equations in the variables ``x0, x1, ...``, and back.

    An equation becomes prefix tokens: ``add``/``mul`` (binary, n-ary sums and products are
    folded right), ``neg``, ``sin``/``cos``/``exp``, ``pow`` followed by the base and an integer
    exponent token (``N2``...), the variables ``x0``..., and numbers as three tokens (sign,
    mantissa, exponent: ``+ 314 E-2`` is 3.14). The equations of a system are joined by ``|``.

    Args:
        variables: Number of state variables d (names ``x0 .. x{d-1}``).
        precision: Significant digits of a number's mantissa.
        max_exponent: Largest |base-10 exponent| of a number.
        max_power: Largest integer power.

    Raises:
        InputDataError: If a setting is not a positive integer.
    """

    def __init__(self, variables: int, precision: int = 3, max_exponent: int = 6, max_power: int = 4) -> None:
        self.variables = check_int("variables", variables, minimum=1)
        self.precision = check_int("precision", precision, minimum=1)
        self.max_exponent = check_int("max_exponent", max_exponent, minimum=0)
        self.max_power = check_int("max_power", max_power, minimum=2)
        self.symbols = [sympy.Symbol(f"x{i}") for i in range(self.variables)]
        mantissas = [str(m) for m in range(10**self.precision)]
        exponents = [f"E{e}" for e in range(-self.max_exponent - self.precision, self.max_exponent + 1)]
        powers = [f"N{p}" for p in range(2, self.max_power + 1)]
        ops = [*_BINARY, *_UNARY, "pow", "+", "-"]
        self.vocabulary: list[str] = [*_SPECIAL, *ops, *(str(s) for s in self.symbols), *powers, *exponents]
        self.vocabulary += [m for m in mantissas if m not in self.vocabulary]
        self.index = {token: i for i, token in enumerate(self.vocabulary)}
        self.pad, self.bos, self.eos = (self.index[t] for t in ("<pad>", "<bos>", "<eos>"))

    # -- numbers -------------------------------------------------------------------------------

    def number_tokens(self, value: float) -> list[str]:
        """Sign, mantissa and exponent tokens of ``value`` rounded to ``precision`` digits."""
        value = check_real("value", value)
        if value == 0:
            return ["+", "0", "E0"]
        sign = "+" if value > 0 else "-"
        exponent = math.floor(math.log10(abs(value))) - self.precision + 1
        mantissa = round(abs(value) / 10.0**exponent)
        if mantissa >= 10**self.precision:  # 9.995 rounds up to a new digit
            mantissa, exponent = mantissa // 10, exponent + 1
        if abs(exponent + self.precision - 1) > self.max_exponent:
            raise UnsupportedError("value", f"a number with |log10| <= {self.max_exponent}", f"{value:g}")
        return [sign, str(mantissa), f"E{exponent}"]

    @staticmethod
    def _number_value(sign: str, mantissa: str, exponent: str) -> sympy.Float:
        value = int(mantissa) * sympy.Integer(10) ** int(exponent[1:])
        return sympy.Float(-value if sign == "-" else value)

    # -- expressions ---------------------------------------------------------------------------

    def encode(
        self, equations: Sequence[sympy.Expr] | sympy.Expr, values: dict[str, float] | None = None
    ) -> list[str]:
        """Prefix tokens of one equation or of a system (joined by ``|``).

        Args:
            equations: sympy expressions in ``x0, x1, ...``, numbers, and coefficient symbols.
            values: The value of each coefficient symbol, written as a number where the symbol
                stands. Keeping the coefficients symbolic until here fixes the order of terms
                (sympy orders numeric terms by value), so one family has one form.
        """
        if isinstance(equations, sympy.Basic):
            equations = [equations]
        tokens: list[str] = []
        for k, expression in enumerate(equations):
            if k:
                tokens.append("|")
            tokens += self._prefix(sympy.sympify(expression), values or {})
        return tokens

    def _prefix(self, e: sympy.Expr, values: dict[str, float]) -> list[str]:
        if e.is_Symbol:
            if str(e) in values:
                return self.number_tokens(values[str(e)])
            if e not in self.symbols:
                raise UnsupportedError(
                    "equations", f"expressions in {self.symbols}", f"the symbol {e} (no value)"
                )
            return [str(e)]
        if e.is_Number:
            return self.number_tokens(float(e))
        if isinstance(e, (sympy.Add, sympy.Mul)):
            name = "add" if isinstance(e, sympy.Add) else "mul"
            args = list(e.args)
            if name == "mul" and args[0] == -1:  # -expr: neg, not a multiplication by -1
                rest = sympy.Mul(*args[1:], evaluate=False) if len(args) > 2 else args[1]
                return ["neg", *self._prefix(rest, values)]
            head = self._prefix(args[0], values)
            rest = e.func(*args[1:], evaluate=False) if len(args) > 2 else args[1]
            return [name, *head, *self._prefix(rest, values)]
        if isinstance(e, sympy.Pow):
            base, power = e.args
            if not (power.is_Integer and 2 <= int(power) <= self.max_power):
                raise UnsupportedError("equations", f"integer powers 2..{self.max_power}", f"{e}")
            return ["pow", *self._prefix(base, values), f"N{int(power)}"]
        for name in ("sin", "cos", "exp"):
            if e.func == getattr(sympy, name):
                return [name, *self._prefix(e.args[0], values)]
        raise UnsupportedError(
            "equations", "sums, products, powers, sin, cos, exp of x_i and numbers", str(e)
        )

    def decode(self, tokens: Sequence[str]) -> list[sympy.Expr]:
        """The system of equations written by ``tokens`` (the inverse of :meth:`encode`).

        Raises:
            InputDataError: If a token is not in the vocabulary (naming ``tokens``) or the
                sequence is not a well-formed prefix expression.
        """
        tokens = list(tokens)
        for token in tokens:
            if token not in self.index:
                raise InputDataError(
                    "tokens", "tokens of the vocabulary", f"the unknown symbol token {token!r}"
                )
        equations, current = [], []
        for token in [*tokens, "|"]:
            if token == "|":
                expression, used = self._parse(current, 0)
                if used != len(current):
                    raise InputDataError(
                        "tokens", "one complete prefix expression per equation", " ".join(current)
                    )
                equations.append(expression)
                current = []
            else:
                current.append(token)
        return equations

    def _parse(self, tokens: list[str], i: int) -> tuple[sympy.Expr, int]:
        if i >= len(tokens):
            raise InputDataError("tokens", "a complete prefix expression", "a sequence that ends early")
        token = tokens[i]
        if token in _BINARY:
            left, i = self._parse(tokens, i + 1)
            right, i = self._parse(tokens, i)
            return _BINARY[token](left, right), i
        if token in _UNARY:
            argument, i = self._parse(tokens, i + 1)
            return _UNARY[token](argument), i
        if token == "pow":
            base, i = self._parse(tokens, i + 1)
            if i >= len(tokens) or not tokens[i].startswith("N"):
                raise InputDataError("tokens", "an integer power token after pow's base", tokens[i : i + 1])
            return base ** int(tokens[i][1:]), i + 1
        if token in ("+", "-"):
            if i + 2 >= len(tokens) or not tokens[i + 2].startswith("E"):
                raise InputDataError("tokens", "sign, mantissa and exponent tokens", tokens[i : i + 3])
            return self._number_value(*tokens[i : i + 3]), i + 3
        if token.startswith("x"):
            return sympy.Symbol(token), i + 1
        raise InputDataError("tokens", "an operator, variable or number token", repr(token))

    def skeleton(self, tokens: Sequence[str]) -> list[str]:
        """The tokens with every number replaced by ``C`` (the equations' form, constants aside)."""
        out, i = [], 0
        tokens = list(tokens)
        while i < len(tokens):
            if tokens[i] in ("+", "-"):
                out.append("C")
                i += 3
            else:
                out.append(tokens[i])
                i += 1
        return out

    def ids(self, tokens: Sequence[str], length: int) -> Tensor:
        """``<bos> tokens <eos>`` as vocabulary ids, padded to ``length``."""
        sequence = [self.bos, *(self.index[t] for t in tokens), self.eos]
        if len(sequence) > length:
            raise InputDataError("length", f"at least {len(sequence)} (the tokens with <bos>, <eos>)", length)
        return torch.tensor(sequence + [self.pad] * (length - len(sequence)), dtype=torch.int64)

    def tokens(self, ids: Sequence[int] | Tensor) -> list[str]:
        """The tokens of ``ids`` between ``<bos>`` and the first ``<eos>`` (padding dropped)."""
        out = []
        for i in [int(v) for v in ids]:
            if i == self.eos:
                break
            if i in (self.bos, self.pad):
                continue
            out.append(self.vocabulary[i])
        return out


@dataclass(frozen=True)
class ProseBatch:
    """One minibatch for :class:`PROSE`.

    Attributes:
        u_obs: `b x n x d` observed states at the observation times.
        symbols: `b x L` input symbol ids (noisy equations), ``<pad>``-padded.
        u_query: `b x m x d` states to predict at the query times.
        target: `b x L'` ids of the correct equations (``<bos> ... <eos>``, padded).
    """

    u_obs: Tensor
    symbols: Tensor
    u_query: Tensor
    target: Tensor


class PROSE(nn.Module):
    """The multimodal operator-and-symbol transformer.

    Args:
        tokenizer: The symbol vocabulary.
        t_obs: The `n` observation times (shared by every trajectory).
        d_model: Width of every transformer.
        heads: Attention heads.
        layers: Layers of each encoder and decoder.
        use_symbols: ``False`` builds the data-only baseline: no symbol encoder in the fusion
            and no symbol decoder, the same operator decoder.
        max_len: Longest symbol sequence.

    Raises:
        InputDataError: If ``d_model`` is not divisible by ``heads`` or ``t_obs`` is not a
            one-dimensional tensor of times.
    """

    def __init__(
        self,
        tokenizer: SymbolTokenizer,
        t_obs: Tensor,
        *,
        d_model: int = 64,
        heads: int = 4,
        layers: int = 2,
        use_symbols: bool = True,
        max_len: int = 96,
    ) -> None:
        super().__init__()
        if not isinstance(tokenizer, SymbolTokenizer):
            raise InputDataError("tokenizer", "a SymbolTokenizer", type(tokenizer).__name__)
        d_model, heads = check_int("d_model", d_model, minimum=1), check_int("heads", heads, minimum=1)
        if d_model % heads:
            raise InputDataError("d_model", f"a multiple of heads = {heads}", d_model)
        if not isinstance(t_obs, Tensor) or t_obs.dim() != 1 or t_obs.numel() == 0:
            raise InputDataError("t_obs", "a 1-D tensor of observation times", type(t_obs).__name__)
        self.tokenizer, self.use_symbols, self.max_len = tokenizer, bool(use_symbols), max_len
        self.register_buffer("t_obs", t_obs.float())
        d = tokenizer.variables

        def encoder(n: int) -> nn.TransformerEncoder:
            layer = nn.TransformerEncoderLayer(d_model, heads, 2 * d_model, dropout=0.0, batch_first=True)
            return nn.TransformerEncoder(layer, n, enable_nested_tensor=False)

        self.data_embed = nn.Linear(1 + d, d_model)
        self.data_encoder = encoder(layers)
        self.query_embed = nn.Sequential(nn.Linear(1, d_model), nn.GELU(), nn.Linear(d_model, d_model))
        self.cross = nn.ModuleList(
            nn.MultiheadAttention(d_model, heads, batch_first=True) for _ in range(layers)
        )
        self.cross_mlp = nn.ModuleList(
            nn.Sequential(
                nn.LayerNorm(d_model),
                nn.Linear(d_model, 2 * d_model),
                nn.GELU(),
                nn.Linear(2 * d_model, d_model),
            )
            for _ in range(layers)
        )
        self.readout = nn.Linear(d_model, d)
        if self.use_symbols:
            vocab = len(tokenizer.vocabulary)
            self.token_embed = nn.Embedding(vocab, d_model, padding_idx=tokenizer.pad)
            self.position = nn.Embedding(max_len, d_model)
            self.modality = nn.Embedding(2, d_model)
            self.symbol_encoder = encoder(layers)
            self.fusion = encoder(layers)
            layer = nn.TransformerDecoderLayer(d_model, heads, 2 * d_model, dropout=0.0, batch_first=True)
            self.symbol_decoder = nn.TransformerDecoder(layer, layers)
            self.symbol_head = nn.Linear(d_model, vocab)

    def _embed_tokens(self, ids: Tensor) -> Tensor:
        if ids.shape[1] > self.max_len:
            raise InputDataError("symbols", f"at most max_len = {self.max_len} tokens", ids.shape[1])
        positions = torch.arange(ids.shape[1], device=ids.device)
        return self.token_embed(ids) + self.position(positions)

    def encode(self, u_obs: Tensor, symbols: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """The fused features `b x (n + L) x d_model` and their padding mask (``None``: no padding)."""
        if (
            not isinstance(u_obs, Tensor)
            or u_obs.dim() != 3
            or u_obs.shape[1:]
            != (
                self.t_obs.numel(),
                self.tokenizer.variables,
            )
        ):
            shape = tuple(u_obs.shape) if isinstance(u_obs, Tensor) else type(u_obs).__name__
            expected = f"`b x {self.t_obs.numel()} x {self.tokenizer.variables}` observed states"
            raise InputDataError("u_obs", expected, shape)
        times = self.t_obs.expand(u_obs.shape[0], -1).unsqueeze(-1)
        data = self.data_encoder(self.data_embed(torch.cat([times, u_obs], dim=-1)))
        if not self.use_symbols:
            return data, None
        if symbols is None:
            raise InputDataError("symbols", "symbol ids (the model was built with use_symbols=True)", "None")
        padding = symbols == self.tokenizer.pad
        tokens = self.symbol_encoder(self._embed_tokens(symbols), src_key_padding_mask=padding)
        fused_in = torch.cat([data + self.modality.weight[0], tokens + self.modality.weight[1]], dim=1)
        mask = torch.cat(
            [torch.zeros(data.shape[:2], dtype=torch.bool, device=padding.device), padding], dim=1
        )
        return self.fusion(fused_in, src_key_padding_mask=mask), mask

    def predict(self, fused: Tensor, mask: Tensor | None, t_query: Tensor) -> Tensor:
        """The operator decoder: states at the `m` query times, `b x m x d`."""
        if not isinstance(t_query, Tensor) or t_query.dim() != 1:
            raise InputDataError("t_query", "a 1-D tensor of query times", type(t_query).__name__)
        q = self.query_embed(t_query.to(fused.dtype).view(1, -1, 1)).expand(fused.shape[0], -1, -1)
        for attention, mlp in zip(self.cross, self.cross_mlp, strict=True):
            q = q + attention(q, fused, fused, key_padding_mask=mask, need_weights=False)[0]
            q = q + mlp(q)
        return self.readout(q)

    def symbol_logits(self, fused: Tensor, mask: Tensor | None, target_in: Tensor) -> Tensor:
        """The symbol decoder's next-token logits for teacher-forced inputs ``target_in``, `b x L x V`."""
        if not self.use_symbols:
            raise UnsupportedError("use_symbols", "a model built with use_symbols=True", "a data-only model")
        length = target_in.shape[1]
        causal = torch.ones(length, length, dtype=torch.bool, device=target_in.device).triu(1)
        hidden = self.symbol_decoder(
            self._embed_tokens(target_in),
            fused,
            tgt_mask=causal,
            tgt_is_causal=True,
            tgt_key_padding_mask=target_in == self.tokenizer.pad,
            memory_key_padding_mask=mask,
        )
        return self.symbol_head(hidden)

    def forward(self, u_obs: Tensor, t_query: Tensor, symbols: Tensor | None = None) -> Tensor:
        """Predicted states at ``t_query`` (`b x m x d`) from the observations (and symbols)."""
        fused, mask = self.encode(u_obs, symbols)
        return self.predict(fused, mask, t_query)

    @torch.no_grad()
    def generate(self, u_obs: Tensor, symbols: Tensor, max_tokens: int = 64) -> list[list[str]]:
        """Greedy decoding of the corrected equations: one token list per trajectory."""
        fused, mask = self.encode(u_obs, symbols)
        ids = torch.full((u_obs.shape[0], 1), self.tokenizer.bos, dtype=torch.int64)
        done = torch.zeros(u_obs.shape[0], dtype=torch.bool)
        for _ in range(min(max_tokens, self.max_len - 1)):
            nxt = self.symbol_logits(fused, mask, ids)[:, -1].argmax(-1)
            nxt = torch.where(done, torch.full_like(nxt, self.tokenizer.pad), nxt)
            ids = torch.cat([ids, nxt[:, None]], dim=1)
            done |= nxt == self.tokenizer.eos
            if bool(done.all()):
                break
        return [self.tokenizer.tokens(row) for row in ids]


def prose_loss(t_query: Tensor, symbol_weight: float = 1.0) -> Any:
    """``loss(model, batch)`` for :func:`probtheory.training.fit`: data MSE + weighted symbol CE.

    Args:
        t_query: The `m` query times of every batch's ``u_query``.
        symbol_weight: Weight of the symbol decoder's cross-entropy (ignored by a data-only model).
    """
    symbol_weight = check_real("symbol_weight", symbol_weight, nonnegative=True)

    def loss(model: PROSE, batch: ProseBatch | Sequence[Tensor]) -> Tensor:
        if not isinstance(batch, ProseBatch):
            batch = ProseBatch(*batch)
        fused, mask = model.encode(batch.u_obs, batch.symbols if model.use_symbols else None)
        value = F.mse_loss(model.predict(fused, mask, t_query), batch.u_query)
        if model.use_symbols and symbol_weight > 0:
            logits = model.symbol_logits(fused, mask, batch.target[:, :-1])
            ce = F.cross_entropy(
                logits.reshape(-1, logits.shape[-1]),
                batch.target[:, 1:].reshape(-1),
                ignore_index=model.tokenizer.pad,
            )
            value = value + symbol_weight * ce
        return value

    return loss


def noisy_symbols(
    rhs: Sequence[sympy.Expr],
    values: dict[str, float],
    *,
    coefficient_noise: float = 0.2,
    term_change: float = 0.5,
    seed: int | None = None,
    generator: torch.Generator | None = None,
) -> tuple[list[sympy.Expr], dict[str, float]]:
    """A corrupted copy of a system's equations: the symbol input of PROSE (Sec. 4.2).

    Every coefficient is multiplied by a factor drawn uniformly from
    ``[1 - coefficient_noise, 1 + coefficient_noise]``; with probability ``term_change`` one
    equation is also changed in form, by dropping one of its terms or (equally likely) adding a
    term ``e * m`` with ``m`` a random monomial of degree 1 or 2 and ``e`` uniform in [-1, 1].

    Args:
        rhs: The right-hand sides, with coefficient symbols (``ODESystem.rhs``).
        values: The true coefficient values.
        coefficient_noise: Relative noise of the coefficients, in [0, 1).
        term_change: Probability of a changed form, in [0, 1].
        seed: Seed of the draws; or pass ``generator``.
        generator: A torch generator to draw from.

    Returns:
        ``(equations, values)`` to pass to :meth:`SymbolTokenizer.encode`.
    """
    noise = check_real("coefficient_noise", coefficient_noise, nonnegative=True)
    if noise >= 1:
        raise InputDataError("coefficient_noise", "a relative noise in [0, 1)", noise)
    change = check_interval("term_change", term_change, 0.0, 1.0)
    g = make_generator(seed, generator)

    def uniform(low: float, high: float) -> float:
        return low + (high - low) * float(torch.rand((), generator=g, dtype=torch.float64))

    noisy = {k: v * uniform(1 - noise, 1 + noise) for k, v in values.items()}
    equations = [sympy.sympify(e) for e in rhs]
    if uniform(0, 1) < change:
        k = int(torch.randint(len(equations), (), generator=g))
        terms = list(sympy.Add.make_args(equations[k]))
        if len(terms) > 1 and uniform(0, 1) < 0.5:
            terms.pop(int(torch.randint(len(terms), (), generator=g)))
        else:
            x = sorted({s for e in equations for s in e.free_symbols if str(s).startswith("x")}, key=str)
            monomials = [*x, *(a * b for i, a in enumerate(x) for b in x[i:])]
            extra = sympy.Symbol("_extra")
            terms.append(extra * monomials[int(torch.randint(len(monomials), (), generator=g))])
            noisy["_extra"] = uniform(-1, 1)
        equations[k] = sympy.Add(*terms)
    return equations, noisy
