"""Assertions with informative failure messages, for users' test suites and our claims.

A property that does not hold raises ``AssertionError``; a call that cannot be checked (not a
square matrix, a negative tolerance, shapes that do not broadcast) raises
:class:`probtheory.errors.InputDataError` instead, so a test never passes or fails for the
wrong reason.
"""

from __future__ import annotations

import torch
from torch import Tensor

from probtheory._checks import check_real
from probtheory.errors import InputDataError
from proofs_checks.statistics import Z

__all__ = [
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
