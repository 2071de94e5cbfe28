"""The catalog of built-in claims, one module each (a package for a paper with several claims).

A claim module defines its :class:`~proofs_checks.claim.Claim` objects and registers nothing:
:data:`proofs_checks.registry.BUILTIN_CLAIMS` names each one by import path, and the registry
imports a module the first time one of its claims is asked for.
"""
