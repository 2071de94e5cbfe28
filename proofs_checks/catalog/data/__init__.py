"""Package data of the claim catalog: cached instances too slow to recompute in a claim run.

``pvrnn_switching_w_{low,mid,high}.safetensors`` (+ ``.json``): the three PV-RNNs of the claim
``pvrnn.meta_prior_switching``, written by ``python -m proofs_checks.catalog.pvrnn``.
"""
