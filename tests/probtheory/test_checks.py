import math

import pytest
import torch

from probtheory._checks import (
    check_floating,
    check_int_or_inf,
    check_interval,
    check_real,
    check_spins,
    make_generator,
)
from probtheory.errors import InputDataError


@pytest.mark.parametrize(
    ("value", "closed", "ok"),
    [
        (0.0, (True, True), True),
        (1.0, (True, True), True),
        (0.0, (False, True), False),
        (1.0, (True, False), False),
        (0.5, (False, False), True),
        (1.5, (True, True), False),
        (math.nan, (True, True), False),  # NaN fails every comparison: it must not slip through
        (math.inf, (True, True), False),
    ],
)
def test_check_interval_honours_its_ends_and_refuses_nan(value, closed, ok):
    if ok:
        assert check_interval("q", value, 0.0, 1.0, closed=closed) == value
    else:
        with pytest.raises(InputDataError, match="`q`"):
            check_interval("q", value, 0.0, 1.0, closed=closed, meaning="a level")


def test_check_interval_says_which_interval():
    with pytest.raises(InputDataError, match=r"a fraction in \(0, 1\]"):
        check_interval("energy", 0.0, 0.0, 1.0, closed=(False, True), meaning="a fraction")


def test_infinity_is_accepted_only_where_asked_for():
    assert check_real("beta", math.inf, allow_inf=True) == math.inf
    for bad in (math.inf, -math.inf, math.nan):
        with pytest.raises(InputDataError, match="`beta`"):
            check_real("beta", bad)
    assert check_real("lower", -math.inf, allow_inf=True) == -math.inf  # an open bound
    for bad in (-math.inf, math.nan):  # -inf is negative: the sign requirement refuses it
        with pytest.raises(InputDataError, match="`beta`"):
            check_real("beta", bad, nonnegative=True, allow_inf=True)
    with pytest.raises(InputDataError, match="`beta`"):
        check_real("beta", math.nan, allow_inf=True)
    assert check_int_or_inf("M", math.inf, minimum=1) == math.inf
    assert check_int_or_inf("M", 5, minimum=1) == 5
    for bad in (0, 2.5, -math.inf, math.nan):
        with pytest.raises(InputDataError, match="`M`"):
            check_int_or_inf("M", bad, minimum=1)


def test_check_spins_and_check_floating():
    spins = check_spins("x", torch.tensor([[1.0, -1.0]]), shape=(None, 2))
    assert spins.dtype == torch.int8 and spins.tolist() == [[1, -1]]
    for bad in (
        torch.tensor([[1.0, 0.0]]),
        torch.ones(2, 3),
        torch.ones(0, 2),
        torch.ones(1, 2, dtype=torch.bool),
        [1],
    ):
        with pytest.raises(InputDataError, match="`x`"):
            check_spins("x", bad, shape=(None, 2))
    assert check_floating("x", torch.ones(2)).dtype == torch.float32
    for bad in (torch.ones(2, dtype=torch.int64), [1.0]):
        with pytest.raises(InputDataError, match="`x`"):
            check_floating("x", bad)


def test_make_generator_prefers_the_generator_and_seeds_reproducibly():
    given = torch.Generator().manual_seed(3)
    assert make_generator(0, given) is given
    first, second = make_generator(7), make_generator(7)
    assert torch.equal(torch.rand(4, generator=first), torch.rand(4, generator=second))
    state = torch.random.get_rng_state()
    make_generator(None)
    assert torch.equal(state, torch.random.get_rng_state())  # the global generator is untouched
    with pytest.raises(InputDataError, match="`seed`"):
        make_generator(-1)
    with pytest.raises(InputDataError, match="`generator`"):
        make_generator(0, generator=7)
