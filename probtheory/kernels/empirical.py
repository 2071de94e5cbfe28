r"""Empirical (finite-width) NTK and NNGP of any PyTorch model.

* :func:`empirical_ntk`: :math:`\hat\Theta(x, x') = \sum_p \partial_p f(x)\,\partial_p f(x')^\top`,
  by per-example Jacobians (``torch.func.vmap(jacrev)``), contracted block by block so memory
  stays within a budget.
* :func:`empirical_nngp`: :math:`f(x) f(x')^\top` of one network (neural-tangents'
  ``empirical_nngp_fn`` convention), and :func:`monte_carlo_nngp`: its mean over freshly
  initialised networks, with a standard error, which converges to the NNGP kernel.

Outputs with several coordinates are averaged over them (the trace divided by the output
size), so every estimate targets the same per-output kernel as the analytic formulas.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.func import functional_call, jacrev, vmap
from tqdm.auto import tqdm

from probtheory._checks import check_finite, check_int, match_parameter_dtype
from probtheory.errors import InputDataError

__all__ = ["MonteCarloEstimate", "empirical_nngp", "empirical_ntk", "monte_carlo_nngp"]


@dataclass(frozen=True)
class MonteCarloEstimate:
    """A Monte-Carlo mean with its standard error (both `n x m` tensors)."""

    mean: Tensor
    standard_error: Tensor
    num_samples: int


def _check_pair(x1: Tensor, x2: Tensor | None) -> Tensor:
    check_finite("x1", x1)
    if x1.dim() < 1 or x1.shape[0] == 0:
        raise InputDataError("x1", "a non-empty batch of inputs `n x ...` (n >= 1)", tuple(x1.shape))
    if x2 is None:
        return x1
    check_finite("x2", x2)
    if x2.dim() < 1 or x2.shape[1:] != x1.shape[1:] or x2.shape[0] == 0:
        raise InputDataError("x2", f"inputs of shape `m x {tuple(x1.shape[1:])}` (m >= 1)", tuple(x2.shape))
    return x2


def _parameter_dtype(model: object) -> torch.dtype | None:
    """The dtype of a module's first floating parameter (None for a plain callable or no parameters)."""
    if not isinstance(model, nn.Module):
        return None
    return next((p.dtype for p in model.parameters() if p.is_floating_point()), None)


def _to_model_dtype(model: object, x1: Tensor, x2: Tensor) -> tuple[Tensor, Tensor]:
    """The dtype policy: inputs in the module's parameter dtype (results go back to `x1`'s)."""
    dtype = _parameter_dtype(model)
    if dtype is None:
        return x1, x2
    same = x2 is x1
    x1 = match_parameter_dtype("x1", x1, dtype)
    return x1, x1 if same else match_parameter_dtype("x2", x2, dtype)


def _jacobian_fn(model: nn.Module) -> Callable[[Tensor], Tensor]:
    """Return a function mapping a `b x ...` batch of inputs to its `b x o x P` Jacobian."""
    params = {k: v.detach() for k, v in model.named_parameters() if v.requires_grad}
    if not params:
        raise InputDataError("model", "a module with trainable parameters", "none")

    def single(p: dict[str, Tensor], x: Tensor) -> Tensor:
        return functional_call(model, p, (x.unsqueeze(0),)).reshape(-1)

    per_example = vmap(jacrev(single), in_dims=(None, 0))

    def jacobian(x: Tensor) -> Tensor:
        jac = per_example(params, x)
        return torch.cat([j.reshape(x.shape[0], j.shape[1], -1) for j in jac.values()], dim=-1)

    return jacobian


def empirical_ntk(
    model: nn.Module,
    x1: Tensor,
    x2: Tensor | None = None,
    *,
    max_memory_bytes: int = 2**28,
) -> Tensor:
    """Empirical neural tangent kernel of ``model`` at its current parameters.

    Args:
        model: Any module mapping a `b x ...` batch to `b x ...` outputs.
        x1: An `n x ...` batch of inputs.
        x2: An `m x ...` batch of inputs (default: `x1`).
        max_memory_bytes: Budget for the Jacobian blocks held at once.

    Returns:
        The `n x m` kernel, averaged over output coordinates, in the dtype of `x1`. (dtype
        policy: the Jacobians are taken in the model's parameter dtype, to which floating
        inputs of another dtype are converted.)

    Raises:
        InputDataError: for a model that is not an ``nn.Module`` or has no trainable parameters,
            empty, non-floating or non-finite inputs, or `x2` of another per-point shape.
    """
    if not isinstance(model, nn.Module):
        raise InputDataError("model", "a torch.nn.Module", type(model).__name__)
    x2 = _check_pair(x1, x2)
    max_memory_bytes = check_int("max_memory_bytes", max_memory_bytes, minimum=1)
    out_dtype = x1.dtype
    x1, x2 = _to_model_dtype(model, x1, x2)
    jacobian = _jacobian_fn(model)
    probe = jacobian(x1[:1])
    bytes_per_row = probe.numel() * probe.element_size()
    rows = max(1, int(max_memory_bytes // (2 * bytes_per_row)))
    outputs = probe.shape[1]
    same = x2 is x1
    out = probe.new_empty(x1.shape[0], x2.shape[0])
    j2_all = jacobian(x2) if x2.shape[0] <= rows else None
    for i in range(0, x1.shape[0], rows):
        j1 = jacobian(x1[i : i + rows])
        if j2_all is not None:
            out[i : i + rows] = torch.einsum("aop,bop->ab", j1, j2_all)
            continue
        for j in range(0, x2.shape[0], rows):
            j2 = j1 if same and i == j else jacobian(x2[j : j + rows])
            out[i : i + rows, j : j + rows] = torch.einsum("aop,bop->ab", j1, j2)
    return (out / outputs).to(out_dtype)


def empirical_nngp(model: Callable[[Tensor], Tensor], x1: Tensor, x2: Tensor | None = None) -> Tensor:
    """``f(x1) f(x2)^T`` averaged over output coordinates and over leading network dims.

    For an ensemble (outputs `E x n x o`, e.g. :class:`~probtheory.networks.MLP` with
    ``num_networks=E``) the products are averaged over the ``E`` networks too.

    Args:
        model: A callable mapping `n x d` inputs to `... x n x o` outputs.
        x1: An `n x d` tensor.
        x2: An `m x d` tensor (default: `x1`).

    Returns:
        The `n x m` estimate, in the dtype of `x1` (an ``nn.Module`` model gets its inputs in
        its parameter dtype, the package's dtype policy).
    """
    if not callable(model):
        raise InputDataError("model", "a callable mapping inputs to outputs", type(model).__name__)
    x2 = _check_pair(x1, x2)
    out_dtype = x1.dtype
    x1, x2 = _to_model_dtype(model, x1, x2)
    with torch.no_grad():
        f1 = _outputs("model", model(x1), x1.shape[0])
        f2 = f1 if x2 is x1 else _outputs("model", model(x2), x2.shape[0])
    products = torch.einsum("...ao,...bo->...ab", f1, f2) / f1.shape[-1]
    return products.reshape(-1, *products.shape[-2:]).mean(0).to(out_dtype)


def _outputs(name: str, f: object, n: int) -> Tensor:
    """Network outputs `... x n x o` (floating, one row per input), else an error naming ``name``."""
    if not isinstance(f, Tensor) or not f.is_floating_point() or f.dim() < 2 or f.shape[-2] != n:
        got = f"shape {tuple(f.shape)}" if isinstance(f, Tensor) else type(f).__name__
        raise InputDataError(name, f"a network returning floating `... x {n} x o` outputs", got)
    return f


def monte_carlo_nngp(
    make_networks: Callable[[int, torch.Generator], Callable[[Tensor], Tensor]],
    x1: Tensor,
    x2: Tensor | None = None,
    *,
    num_samples: int = 1000,
    batch_size: int = 256,
    seed: int | None = None,
    progress: bool = False,
) -> MonteCarloEstimate:
    """Monte-Carlo estimate of the NNGP kernel over random initialisations.

    Args:
        make_networks: ``make_networks(k, generator)`` returns ``k`` independent networks as
            one callable mapping `n x d` inputs to `k x n x o` outputs (e.g.
            ``lambda k, g: MLP(d, [512], num_networks=k, generator=g)``).
        x1: An `n x d` tensor.
        x2: An `m x d` tensor (default: `x1`).
        num_samples: Number of networks drawn.
        batch_size: Networks evaluated together.
        seed: Seed of the draws.
        progress: Show a progress bar.

    Returns:
        The mean of ``f(x1) f(x2)^T`` (averaged over outputs) and its standard error, computed
        from the per-network values (networks are the independent units).
    """
    num_samples = check_int("num_samples", num_samples, minimum=2)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    if not callable(make_networks):
        raise InputDataError(
            "make_networks", "a callable (k, generator) -> networks", type(make_networks).__name__
        )
    x2 = _check_pair(x1, x2)
    # seed None draws the seed from the global generator (reproducible under torch.manual_seed)
    seed = int(torch.randint(2**62, ())) if seed is None else check_int("seed", seed, minimum=0)
    generator = torch.Generator().manual_seed(seed)
    out_dtype = x1.dtype
    total = sum_sq = None
    done = 0
    with tqdm(total=num_samples, disable=not progress, desc="monte_carlo_nngp") as bar:
        while done < num_samples:
            k = min(batch_size, num_samples - done)
            nets = make_networks(k, generator)
            if not callable(nets):
                raise InputDataError("make_networks", "to return a callable network", type(nets).__name__)
            n1, n2 = _to_model_dtype(nets, x1, x2)
            with torch.no_grad():
                f1 = _outputs("make_networks", nets(n1), x1.shape[0])
                f2 = f1 if x2 is x1 else _outputs("make_networks", nets(n2), x2.shape[0])
            if f1.dim() != 3 or f1.shape[0] != k:
                raise InputDataError(
                    "make_networks", f"networks returning `{k} x n x o` outputs", tuple(f1.shape)
                )
            values = torch.einsum("kao,kbo->kab", f1, f2) / f1.shape[-1]
            total = values.sum(0) if total is None else total + values.sum(0)
            sum_sq = (values**2).sum(0) if sum_sq is None else sum_sq + (values**2).sum(0)
            done += k
            bar.update(k)
    mean = total / done
    variance = (sum_sq / done - mean**2).clamp_min(0.0) * done / (done - 1)
    return MonteCarloEstimate(mean.to(out_dtype), torch.sqrt(variance / done).to(out_dtype), done)
