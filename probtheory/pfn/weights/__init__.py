"""Checkpoints of the PFNs shipped with probtheory (safetensors + JSON)."""
