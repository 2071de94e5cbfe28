"""Assertions with informative failure messages, for users' test suites and our claims.

A property that does not hold raises ``AssertionError``; a call that cannot be checked (not a
square matrix, a negative tolerance, shapes that do not broadcast) raises
:class:`probtheory.errors.InputDataError` instead, so a test never passes or fails for the
wrong reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from probtheory._checks import check_real
from probtheory.errors import InputDataError
from proofs_checks.claim import Claim, Evidence
from proofs_checks.statistics import Z

if TYPE_CHECKING:
    from proofs_checks.runner import Verdict

__all__ = [
    "ClaimAssertionError",
    "assert_claim",
    "assert_psd",
    "assert_symmetric",
    "assert_within_standard_errors",
    "min_eigenvalue_ratio",
]


def min_eigenvalue_ratio(matrix: Tensor) -> float:
    """Smallest eigenvalue of the symmetric part over its largest |eigenvalue| (scale-free).

    1 for a multiple of the identity, 0 for a singular PSD matrix, negative when not PSD.
    """
    _check_square("matrix", matrix)
    sym = 0.5 * (matrix + matrix.transpose(-2, -1)).detach()
    eig = torch.linalg.eigvalsh(sym)
    scale = eig.abs().amax(-1).clamp_min(torch.finfo(sym.dtype).tiny)
    return float((eig[..., 0] / scale).min())


def assert_symmetric(matrix: Tensor, rtol: float = 1e-12, name: str = "matrix") -> None:
    """Assert ``||K - K^T|| <= rtol ||K||`` (Frobenius norms)."""
    _check_square("matrix", matrix)
    rtol = check_real("rtol", rtol, nonnegative=True)
    asym = float(torch.linalg.norm(matrix - matrix.transpose(-2, -1)))
    scale = float(torch.linalg.norm(matrix))
    if asym > rtol * scale:
        raise AssertionError(
            f"{name} is not symmetric: ||K - K^T|| = {asym:.3e} > {rtol:.1e} * ||K|| = {rtol * scale:.3e}"
        )


def assert_psd(matrix: Tensor, rtol: float = 1e-10, name: str = "matrix") -> None:
    """Assert symmetry and ``lambda_min(K) >= -rtol * max|lambda(K)|``.

    The relative tolerance absorbs round-off only: ``eigvalsh`` is backward stable, so a PSD
    matrix's computed eigenvalues are >= -O(eps * ||K||).
    """
    _check_square("matrix", matrix)
    rtol = check_real("rtol", rtol, nonnegative=True)
    if not torch.isfinite(matrix).all():
        raise AssertionError(f"{name} has non-finite entries")
    assert_symmetric(matrix, rtol=max(rtol, 1e-12), name=name)
    ratio = min_eigenvalue_ratio(matrix)
    if ratio < -rtol:
        eig = torch.linalg.eigvalsh(0.5 * (matrix + matrix.transpose(-2, -1)))
        raise AssertionError(
            f"{name} is not positive semi-definite: lambda_min / max|lambda| = {ratio:.3e} < -{rtol:.1e}"
            f" (smallest eigenvalues {eig.flatten()[:3].tolist()})"
        )


def assert_within_standard_errors(
    estimate: Tensor, reference: Tensor, standard_error: Tensor, z: float = Z, atol: float = 1e-9,
    name: str = "estimate",
) -> None:  # fmt: skip
    """Assert ``|estimate - reference| <= z * SE + atol`` entrywise (z = 5 by default).

    ``estimate``, ``reference`` and ``standard_error`` are floating tensors whose shapes
    broadcast together; standard errors are finite and >= 0.
    """
    for argument, value in (
        ("estimate", estimate),
        ("reference", reference),
        ("standard_error", standard_error),
    ):
        if not isinstance(value, Tensor) or not value.is_floating_point():
            received = f"dtype {value.dtype}" if isinstance(value, Tensor) else type(value).__name__
            raise InputDataError(argument, "a floating-point torch.Tensor", received)
    try:
        torch.broadcast_shapes(estimate.shape, reference.shape, standard_error.shape)
    except RuntimeError:
        shapes = f"{tuple(estimate.shape)}, {tuple(reference.shape)}, {tuple(standard_error.shape)}"
        raise InputDataError(
            "reference", "shapes that broadcast with `estimate` and `standard_error`", shapes
        ) from None
    if not torch.isfinite(standard_error).all() or (standard_error < 0).any():
        raise InputDataError(
            "standard_error",
            "finite standard errors >= 0",
            f"values in [{standard_error.min()}, {standard_error.max()}]",
        )
    z = check_real("z", z, positive=True)
    atol = check_real("atol", atol, nonnegative=True)
    gap = (estimate - reference).abs()
    allowed = z * standard_error + atol
    if (gap > allowed).any():
        worst = int(torch.argmax(gap / allowed))
        raise AssertionError(
            f"{name} differs from the reference by {float(gap.flatten()[worst]):.4g} = "
            f"{float((gap / standard_error.clamp_min(1e-300)).flatten()[worst]):.2f} standard errors "
            f"(allowed {z} SE + {atol:g}) at flat index {worst}"
        )


class ClaimAssertionError(AssertionError):
    """A claim failed on a user's subject; the message holds the instance and the evidence table.

    Attributes:
        verdict: The :class:`~proofs_checks.runner.Verdict` of the run.
    """

    def __init__(self, claim: Claim, verdict: Verdict) -> None:  # noqa: D107
        self.verdict = verdict
        violation = verdict.failure
        rows = [_row(e) for e in violation.failed] if violation is not None else []
        header = ["quantity", "measured", "theory", "margin", "tolerance (why)"]
        from probtheory._cli_options import text_table  # the terminal tables of `probtheory check`

        table = text_table(header, rows)
        super().__init__(
            f"claim {claim.id!r} ({claim.title}; {claim.citation()}) is violated on instance\n"
            f"  {violation.instance!r}\n\n{table}"
        )


def _row(evidence: Evidence) -> list[str]:
    return [
        evidence.quantity,
        f"{evidence.measured:.6g}",
        evidence.reference,
        f"{evidence.margin:.3g}",
        evidence.tolerance_reason,
    ]


def assert_claim(
    claim: str | Claim, subject: Any = None, *, profile: str = "ci", max_examples: int | None = None
) -> Verdict:
    """Check ``claim`` on ``subject`` (default: the claim's own) and fail the test if it does not hold.

    Args:
        claim: A claim id (``"kernels.psd"``) or a :class:`~proofs_checks.Claim`.
        subject: Your implementation, in place of the claim's subject.
        profile: ``"ci"`` (fast, derandomised) or ``"thorough"``.
        max_examples: Instances to draw (default: the claim's count for the profile).

    Returns:
        The passing :class:`~proofs_checks.runner.Verdict` (its records hold the evidence).

    Raises:
        ClaimAssertionError: If an instance violates the claim (the message has the evidence).
        Exception: What the check raised, if it raised (with the instance in a note).
    """
    from proofs_checks.runner import select_claims, verify  # the runner imports the claims' modules

    (claim,) = select_claims(claim)
    verdict = verify(claim, subject, profile=profile, max_examples=max_examples, label="user subject")
    if verdict.error is not None:
        error = verdict.error.exception
        note = f"raised while checking claim {claim.id!r} on instance {verdict.error.instance!r}"
        if hasattr(error, "add_note"):  # Python >= 3.11
            error.add_note(note)
        raise error
    if not verdict.passed:
        raise ClaimAssertionError(claim, verdict)
    return verdict


def _check_square(argument: str, matrix: object) -> None:
    """Require a floating `... x n x n` tensor."""
    if not isinstance(matrix, Tensor):
        raise InputDataError(argument, "a torch.Tensor `... x n x n`", type(matrix).__name__)
    if matrix.dim() < 2 or matrix.shape[-1] != matrix.shape[-2] or matrix.shape[-1] == 0:
        raise InputDataError(
            argument, "a square `... x n x n` matrix, n >= 1", f"shape {tuple(matrix.shape)}"
        )
    if not matrix.is_floating_point():
        raise InputDataError(argument, "a floating-point matrix", f"dtype {matrix.dtype}")
