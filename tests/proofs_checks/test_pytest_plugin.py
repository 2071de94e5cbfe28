"""A user's own pytest session checks a claim on their own code through the installed plugin."""

import subprocess
import sys
import textwrap

import pytest
from hypothesis import settings

import proofs_checks
from probtheory import errors as proofs_checks_errors
from proofs_checks.profiles import register_profiles

USER_TESTS = textwrap.dedent(
    """
    import pytest
    from hypothesis import settings

    from probtheory.kernels import nngp_and_ntk
    from proofs_checks import assert_claim

    settings.register_profile("ci", max_examples=7)  # the user's own profile
    settings.load_profile("ci")


    def my_kernels(x, depth, activation, weight_variance, bias_variance):
        return nngp_and_ntk(x, depth=depth, activation=activation,
                            weight_variance=weight_variance, bias_variance=bias_variance)


    def my_buggy_kernels(x, depth, activation, weight_variance, bias_variance):
        nngp, ntk = my_kernels(x, depth, activation, weight_variance, bias_variance)
        return nngp, nngp - ntk  # a sign slip in the NTK recursion


    def test_helper_passes_on_a_correct_module():
        assert_claim("kernels.psd", subject=my_kernels, max_examples=3)


    @pytest.mark.claim("kernels.psd", max_examples=3)
    def test_marker_passes_on_a_correct_module(check_claim):
        check_claim(my_kernels)


    @pytest.mark.claim("kernels.psd", max_examples=3)
    def test_marker_fails_on_a_planted_bug(check_claim):
        check_claim(my_buggy_kernels)


    def test_the_users_profile_is_untouched():
        assert_claim("kernels.psd", subject=my_kernels, max_examples=1)
        assert settings.get_profile("ci").max_examples == 7
    """
)


def test_a_users_suite_passes_on_a_correct_module_and_fails_with_evidence_on_a_bug(tmp_path):
    (tmp_path / "test_user.py").write_text(USER_TESTS)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "test_user.py", "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    out = result.stdout
    assert "1 failed, 3 passed" in out, out[-3000:]
    assert "test_marker_fails_on_a_planted_bug" in out
    failure = out[out.index("test_marker_fails_on_a_planted_bug") :]
    assert "claim 'kernels.psd'" in failure and "violated on instance" in failure
    assert "quantity" in failure and "lambda_min/||K|| of NTK" in failure and "margin" in failure


def test_the_fixture_without_a_marker_is_a_usage_error(tmp_path):
    (tmp_path / "test_user.py").write_text("def test_x(check_claim):\n    check_claim(None)\n")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "test_user.py", "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode != 0 and "needs @pytest.mark.claim" in result.stdout + result.stderr


def test_profiles_are_namespaced_and_leave_a_users_ci_profile_alone():
    settings.register_profile("ci", max_examples=11)
    register_profiles()
    assert settings.get_profile("ci").max_examples == 11
    assert settings.get_profile("probtheory-ci").derandomize
    assert not settings.get_profile("probtheory-thorough").derandomize


def test_assert_claim_raises_the_evidence_table_in_process():
    with pytest.raises(proofs_checks.ClaimAssertionError, match=r"(?s)violated on instance.*margin"):
        proofs_checks.assert_claim("pdlt.relu_kurtosis", subject=lambda *a, **k: 0.0, max_examples=2)


def test_strategies_build_a_users_own_module():
    from hypothesis import given
    from torch import nn

    from proofs_checks.strategies import mlps

    def my_net(in_features, hidden_widths, seed, **_):
        return nn.Sequential(
            nn.Linear(in_features, hidden_widths[0]), nn.Tanh(), nn.Linear(hidden_widths[0], 1)
        )

    @given(mlps(width=8, factory=my_net))
    def draws(net):
        assert isinstance(net, nn.Sequential) and net[0].out_features == 8

    draws()
    with pytest.raises(proofs_checks_errors.InputDataError, match="`factory`"):
        mlps(factory="not callable")
