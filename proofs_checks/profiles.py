"""Hypothesis profiles of the claim suite: ``ci`` (derandomised, small) and ``thorough``.

They are registered with Hypothesis under namespaced names, ``probtheory-ci`` and
``probtheory-thorough`` (:func:`hypothesis_profile`), so that running the claims never replaces a
user's own ``ci`` profile. Select with ``probtheory check --profile ci`` or
``HYPOTHESIS_PROFILE`` (``ci``, ``thorough`` or the namespaced names). The number of instances is
set per claim (:attr:`proofs_checks.Claim.examples`), since one instance may cost seconds.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

from probtheory._checks import check_name

__all__ = ["PROFILES", "active_profile", "check_profile", "hypothesis_profile", "register_profiles"]

PROFILES = ("ci", "thorough")
_NAMESPACE = "probtheory-"


def hypothesis_profile(profile: str) -> str:
    """The name under which the claim-suite profile ``profile`` is registered with Hypothesis."""
    return _NAMESPACE + check_profile(profile)


def register_profiles() -> None:
    """Register ``probtheory-ci`` and ``probtheory-thorough`` with Hypothesis (idempotent).

    Neither reads nor replaces another profile: a user's own ``ci`` stays as it is.
    """
    slow_ok = [HealthCheck.too_slow, HealthCheck.data_too_large]
    settings.register_profile(
        _NAMESPACE + "ci",
        deadline=None,
        derandomize=True,
        database=None,
        print_blob=True,
        suppress_health_check=slow_ok,
        # no shrinking: an instance costs up to seconds and a failure is reported with its
        # full evidence anyway
        phases=(Phase.explicit, Phase.generate),
    )
    settings.register_profile(
        _NAMESPACE + "thorough",
        deadline=None,
        derandomize=False,
        suppress_health_check=slow_ok,
        phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink),
    )


def check_profile(profile: str) -> str:
    """Return ``profile`` if it is one of :data:`PROFILES`.

    Raises:
        UnknownNameError: Otherwise (an ``InputDataError`` and a ``KeyError``), naming
            ``profile`` and suggesting the closest profile.
    """
    return check_name("profile", profile, PROFILES, meaning="a hypothesis profile of the claim suite")


def active_profile() -> str:
    """The claim-suite profile named by ``HYPOTHESIS_PROFILE``, if one of ours, else ``ci``.

    ``thorough`` and ``probtheory-thorough`` both name the thorough profile.
    """
    name = os.environ.get("HYPOTHESIS_PROFILE", "ci").removeprefix(_NAMESPACE)
    return name if name in PROFILES else "ci"
