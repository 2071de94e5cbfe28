"""Check a paper's claim on your own code inside your own pytest suite.

Installed with probtheory (the ``pytest11`` entry point ``probtheory``), so nothing needs to be
configured. Two ways, the same check:

```python
import pytest
from proofs_checks import assert_claim

def my_kernels(x, depth, activation, weight_variance, bias_variance):
    ...  # your NNGP / NTK implementation: returns (nngp, ntk) Gram matrices

def test_my_kernels_are_psd():
    assert_claim("kernels.psd", subject=my_kernels)

@pytest.mark.claim("kernels.psd")
def test_my_kernels_are_psd_too(check_claim):
    check_claim(my_kernels)
```

The subject replaces the claim's own (``probtheory check --list`` and the claim's docstring say
what a subject is: a kernel function for ``kernels.psd``, a bound for ``lipschitz.soundness``,
...). On a violation the test fails with an :class:`AssertionError` whose message holds the
instance and the claim's evidence table (quantity, measured, what the theory says, margin, and
why the tolerance); an exception inside the check is re-raised with the instance named.

Runs use the namespaced Hypothesis profile ``probtheory-ci`` (``profile="thorough"`` for the
heavy one), whatever profile the rest of the suite loads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from proofs_checks.assertions import assert_claim
from proofs_checks.runner import Verdict

__all__ = ["check_claim", "pytest_configure"]


@pytest.fixture
def check_claim(request: pytest.FixtureRequest) -> Callable[..., Verdict]:
    """``check_claim(subject)`` checks the claim named by the test's ``@pytest.mark.claim(ID)``."""
    marker = request.node.get_closest_marker("claim")
    if marker is None or not marker.args:
        raise pytest.UsageError(
            f"{request.node.nodeid}: the check_claim fixture needs @pytest.mark.claim('CLAIM_ID')"
        )
    options = dict(marker.kwargs)

    def check(subject: Any = None, **overrides: Any) -> Verdict:
        return assert_claim(marker.args[0], subject, **{**options, **overrides})

    return check


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``claim`` marker."""
    config.addinivalue_line(
        "markers",
        "claim(id, profile='ci', max_examples=None): the probtheory claim the check_claim fixture checks",
    )
