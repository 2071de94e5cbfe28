"""Hypothesis profiles of the claim suite: ``ci`` (derandomised, small) and ``thorough``.

``ci`` extends Hypothesis' built-in ``ci`` profile (which it loads automatically when the
``CI`` environment variable is set). Select with ``HYPOTHESIS_PROFILE`` or
``probtheory check --profile``. The number of instances is set per claim
(:attr:`proofs_checks.Claim.examples`), since one instance may cost seconds.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

from probtheory._checks import check_name

__all__ = ["PROFILES", "active_profile", "check_profile", "register_profiles"]

PROFILES = ("ci", "thorough")


def register_profiles() -> None:
    """Register the ``ci`` and ``thorough`` profiles with Hypothesis (idempotent)."""
    slow_ok = [HealthCheck.too_slow, HealthCheck.data_too_large]
    settings.register_profile(
        "ci",
        settings.get_profile("ci"),
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
        "thorough",
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
    """The profile named by ``HYPOTHESIS_PROFILE`` if it is one of ours, else ``ci``."""
    name = os.environ.get("HYPOTHESIS_PROFILE", "ci")
    return name if name in PROFILES else "ci"
