"""Replacing modules inside an existing network, e.g. every ``nn.GELU`` by a ``PolyNorm``."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from probtheory.errors import InputDataError

__all__ = ["swap_modules"]


def swap_modules(
    model: nn.Module,
    match: type[nn.Module] | tuple[type[nn.Module], ...] | Callable[[nn.Module], bool],
    factory: Callable[[nn.Module], nn.Module],
) -> int:
    """Replace, in place, every submodule that ``match`` selects by ``factory(old_module)``.

    Replaced modules are not searched further (a match's own children are left alone), and
    ``model`` itself is never replaced.

    Args:
        model: The network to edit.
        match: A module class (or tuple of classes) to replace, or a predicate on modules.
        factory: Builds the replacement from the module it replaces, e.g.
            ``lambda old: PolyNorm()`` or ``lambda old: BiPerLinear(old.in_features, old.out_features)``.

    Returns:
        The number of modules replaced.

    Example:
        >>> net = nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.Linear(8, 1))
        >>> swap_modules(net, nn.GELU, lambda old: nn.ReLU())
        1
    """
    if not isinstance(model, nn.Module):
        raise InputDataError("model", "a torch.nn.Module to edit", type(model).__name__)
    if isinstance(match, nn.Module):
        raise InputDataError(
            "match",
            "a module class such as nn.GELU (not an instance), a tuple of classes or a predicate",
            f"the instance {match!r}; pass type(module) or the class",
        )
    if isinstance(match, type) or isinstance(match, tuple):
        classes = match
        members = classes if isinstance(classes, tuple) else (classes,)
        if not members or not all(isinstance(c, type) and issubclass(c, nn.Module) for c in members):
            raise InputDataError(
                "match", "a subclass of torch.nn.Module or a non-empty tuple of them", repr(match)
            )

        def selects(module: nn.Module) -> bool:
            return isinstance(module, classes)

    elif callable(match):
        selects = match
    else:
        raise InputDataError(
            "match", "a module class, a tuple of classes or a predicate", type(match).__name__
        )
    if not callable(factory):
        raise InputDataError("factory", "a callable building the replacement module", type(factory).__name__)
    return _swap(model, selects, factory)


def _swap(
    parent: nn.Module, selects: Callable[[nn.Module], bool], factory: Callable[[nn.Module], nn.Module]
) -> int:
    count = 0
    for name, child in list(parent.named_children()):
        if selects(child):
            replacement = factory(child)
            if not isinstance(replacement, nn.Module):
                raise InputDataError("factory", "to return an nn.Module", type(replacement).__name__)
            setattr(parent, name, replacement)
            count += 1
        else:
            count += _swap(child, selects, factory)
    return count
