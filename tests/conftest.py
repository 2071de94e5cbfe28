"""Test configuration: hypothesis profiles from proofs_checks, selected by HYPOTHESIS_PROFILE."""

import os

from hypothesis import settings

from proofs_checks.profiles import active_profile, hypothesis_profile, register_profiles

register_profiles()
settings.load_profile(hypothesis_profile(active_profile()))
os.environ.setdefault("PYTHONHASHSEED", "0")
