"""Test configuration: hypothesis profiles from proofs_checks, selected by HYPOTHESIS_PROFILE."""

import os

from hypothesis import settings

from proofs_checks.profiles import active_profile, hypothesis_profile, register_profiles

register_profiles()
settings.load_profile(hypothesis_profile(active_profile()))
os.environ.setdefault("PYTHONHASHSEED", "0")

# Under pytest-xdist each worker is one process on its own core: one torch thread per worker, so
# that `pytest -n 2` on two cores does not run four threads (small-tensor code is many times
# slower oversubscribed).
if os.environ.get("PYTEST_XDIST_WORKER"):
    import torch

    torch.set_num_threads(1)
