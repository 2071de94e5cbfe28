"""Small reproductions of each implemented method's qualitative claim, on offline data.

Each module exposes ``reproduce(quick: bool, seed: int, out_dir: Path | None) ->
ReproductionResult`` and is registered by import path in :mod:`probtheory.plugins.registry`.
"""
