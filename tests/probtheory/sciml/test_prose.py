"""PROSE: prefix tokens round-trip, numbers to their precision, queries permute, decoding is causal."""

from __future__ import annotations

import math

import pytest
import sympy
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from probtheory.sciml.problems import ODE_SYSTEMS, ode_family_dataset
from probtheory.sciml.prose import PROSE, ProseBatch, SymbolTokenizer, noisy_symbols, prose_loss

X0, X1 = sympy.symbols("x0 x1")
TOKENIZER = SymbolTokenizer(2, precision=3)


@pytest.mark.parametrize(
    "system",
    [
        [X1, -4 * X0 - sympy.Rational(1, 2) * X1],
        [X0 * (1 - X0**2) - X1 / 4, sympy.sin(X0) + sympy.exp(-X1) * 2],
        [-(X0**3) + 2.5 * X0 * X1 - 7, sympy.cos(X0 * X1)],
    ],
)
def test_sympy_to_prefix_to_sympy(system):
    decoded = TOKENIZER.decode(TOKENIZER.encode(system))
    for original, back in zip(system, decoded, strict=True):
        assert sympy.simplify(sympy.nsimplify(back) - sympy.nsimplify(original)) == 0


@pytest.mark.parametrize("name", list(ODE_SYSTEMS))
def test_family_equations_round_trip_with_their_coefficients(name):
    family = ODE_SYSTEMS[name]
    values = {k: v * 1.1 for k, v in family.coefficients.items()}
    decoded = TOKENIZER.decode(TOKENIZER.encode(family.rhs, values))
    for original, back in zip(family.equations(values), decoded, strict=True):
        difference = sympy.expand(back - original)
        assert all(abs(float(c)) <= 5e-3 * 2 for c in sympy.Poly(difference, X0, X1).coeffs())


@settings(max_examples=60, deadline=None)
@given(st.floats(1e-5, 1e5) | st.floats(-1e5, -1e-5))
def test_numbers_round_trip_to_the_stated_precision(value):
    sign, mantissa, exponent = TOKENIZER.number_tokens(value)
    back = float(TOKENIZER.decode([sign, mantissa, exponent])[0])
    # rounding to 3 significant digits: relative error at most half a unit of the last digit
    assert abs(back - value) <= 0.5 * 10 ** (math.floor(math.log10(abs(value))) - 2) * (1 + 1e-9)
    assert len(mantissa) <= 3


def test_one_family_has_one_form_whatever_its_coefficients():
    data = ode_family_dataset(12, seed=1)
    forms = {}
    for i in range(12):
        family = data.systems[int(data.system[i])]
        skeleton = TOKENIZER.skeleton(TOKENIZER.encode(family.rhs, data.coefficients[i]))
        assert forms.setdefault(family.name, skeleton) == skeleton


def test_noisy_symbols_keep_coefficients_within_the_noise():
    family = ODE_SYSTEMS["lotka-volterra"]
    equations, values = noisy_symbols(
        family.rhs, family.coefficients, coefficient_noise=0.2, term_change=0.0, seed=3
    )
    assert equations == list(family.rhs)
    for k, v in family.coefficients.items():
        assert abs(values[k] / v - 1) <= 0.2


def _model(seed: int = 0, use_symbols: bool = True) -> PROSE:
    torch.manual_seed(seed)
    return PROSE(
        TOKENIZER, torch.linspace(0, 2, 8), d_model=16, heads=2, layers=1, use_symbols=use_symbols
    ).eval()


def _inputs(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    u_obs = torch.randn(3, 8, 2, generator=g)
    family = ODE_SYSTEMS["damped-oscillator"]
    symbols = torch.stack([TOKENIZER.ids(TOKENIZER.encode(family.rhs, family.coefficients), 24)] * 3)
    return u_obs, symbols


def test_permuting_query_times_permutes_the_predictions():
    model = _model()
    u_obs, symbols = _inputs()
    t = torch.linspace(2, 4, 9)
    permutation = torch.randperm(9, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out = model(u_obs, t, symbols)
        permuted = model(u_obs, t[permutation], symbols)
    torch.testing.assert_close(permuted, out[:, permutation], rtol=1e-5, atol=1e-6)


def test_symbol_decoder_is_causal():
    model = _model()
    u_obs, symbols = _inputs()
    with torch.no_grad():
        fused, mask = model.encode(u_obs, symbols)
        target = symbols.clone()
        logits = model.symbol_logits(fused, mask, target)
        target[:, 6:] = TOKENIZER.index["x0"]
        changed = model.symbol_logits(fused, mask, target)
    torch.testing.assert_close(changed[:, :6], logits[:, :6], rtol=1e-5, atol=1e-6)
    assert not torch.allclose(changed[:, 6:], logits[:, 6:])


def test_data_only_model_ignores_symbols_and_trains():
    model = _model(use_symbols=False).train()
    u_obs, symbols = _inputs()
    t = torch.linspace(2, 4, 5)
    batch = ProseBatch(u_obs, symbols, torch.randn(3, 5, 2), symbols)
    loss = prose_loss(t)(model, batch)
    loss.backward()
    assert loss.ndim == 0 and model.readout.weight.grad is not None
