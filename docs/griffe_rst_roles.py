"""Griffe extension: the reST roles of every docstring become cross-references when loaded.

mkdocstrings loads this file (``extensions`` in mkdocs.yml) and griffe calls
:meth:`RstRoles.on_package` once a package's object tree is complete. Each docstring is then
rewritten by ``rst_roles.convert_roles`` with names resolved the way a reader of the source
would: ``:meth:`fit``` in a class is that class's (or an inherited) ``fit``, ``:class:`Claim``` in
a module is the module's own or imported ``Claim``, and a dotted name is absolute unless its
first component is a name of the scope. The source files stay reST; only the rendered page
changes.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable
from pathlib import Path

import griffe

# This file is loaded by path (not as part of a package), so its sibling is too.
_spec = importlib.util.spec_from_file_location("docs_rst_roles", Path(__file__).with_name("rst_roles.py"))
rst_roles = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rst_roles)

_logger = logging.getLogger("mkdocs.plugins.griffe_rst_roles")
_UNRESOLVABLE = (griffe.AliasResolutionError, griffe.CyclicAliasError, KeyError, ValueError)


def _members(scope: griffe.Object) -> dict[str, griffe.Object | griffe.Alias]:
    """The names visible as members of ``scope``: a class's inherited members included."""
    if scope.is_class:
        try:
            return scope.all_members
        except _UNRESOLVABLE:  # a base griffe cannot follow (an inconsistent MRO, a cycle)
            pass
    return scope.members


def _exists(path: str, collection: griffe.ModulesCollection) -> bool:
    """Whether ``path`` names a loaded object, or lies in a package that is not loaded."""
    if path.partition(".")[0] not in collection.members:
        return True  # torch, gpytorch, or one of ours loaded later: autorefs decides
    try:
        collection.get_member(path)
    except KeyError:
        return False
    except (griffe.AliasResolutionError, griffe.CyclicAliasError):
        return True  # reached through an import griffe has not followed: it exists
    return True


def scope_resolver(obj: griffe.Object, collection: griffe.ModulesCollection) -> Callable[[str], str | None]:
    """A ``resolve`` for ``rst_roles.convert_roles`` that looks names up from ``obj`` outwards.

    Args:
        obj: The object whose docstring holds the roles.
        collection: The loaded modules, to check that a resolved path exists.

    Returns:
        A function from a name as written in a role to its full identifier (the path of the
        object it was imported from, for an import), or ``None`` when it names nothing.
    """

    def resolve(name: str) -> str | None:
        head, _, rest = name.partition(".")
        path = None
        scope: griffe.Object | None = obj
        while scope is not None and path is None:
            member = _members(scope).get(head)
            if member is not None:
                path = member.target_path if member.is_alias else member.path
            elif scope.parent is not None and head == scope.parent.name and not scope.parent.is_module:
                path = scope.parent.path  # a method naming its own class
            scope = scope.parent
        if path is None:
            if not rest and head not in collection.members and importlib.util.find_spec(head) is None:
                return None  # a bare name that is nothing in scope, nor a package
            path = head  # an absolute dotted name, or a top-level package
        full = f"{path}.{rest}" if rest else path
        return full if _exists(full, collection) else None

    return resolve


def _documented(obj: griffe.Object):
    """``obj`` and every object defined (not imported) under it."""
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from _documented(member)


def _convert_docstring(obj: griffe.Object, collection: griffe.ModulesCollection) -> tuple[int, int]:
    """Rewrite the roles of ``obj``'s docstring; the number of roles and of cross-references."""
    resolve = scope_resolver(obj, collection)
    identifiers: list[str | None] = []

    def recorded(name: str) -> str | None:
        identifiers.append(identifier := resolve(name))
        return identifier

    roles = rst_roles.count_roles(obj.docstring.value)
    obj.docstring.value = rst_roles.convert_roles(obj.docstring.value, recorded)
    obj.docstring.__dict__.pop("parsed", None)  # parsed lazily: drop a parse of the old text
    return roles, sum(i is not None for i in identifiers)


class RstRoles(griffe.Extension):
    """Rewrite the cross-reference roles of a package's docstrings once it is loaded."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs) -> None:
        """Convert the roles of every docstring under ``pkg``."""
        roles = linked = 0
        for obj in _documented(pkg):
            if obj.docstring is not None:
                counts = _convert_docstring(obj, loader.modules_collection)
                roles, linked = roles + counts[0], linked + counts[1]
        _logger.info(
            "%s: %d reST roles, %d to cross-references, %d to code", pkg.path, roles, linked, roles - linked
        )
