"""Prior-data fitted networks (Müller et al., ICLR 2022).

Priors over datasets, the bar-distribution head, the PFN transformer, training (resumable,
distributable) and checkpoints (safetensors + JSON; the weights and the configuration are both
hashed and verified on loading; shipped inside the package).
"""

from probtheory.errors import CheckpointError
from probtheory.pfn.bar_distribution import BarDistribution, bucket_borders
from probtheory.pfn.checkpoint import read_checkpoint, rehash_checkpoint, write_checkpoint
from probtheory.pfn.model import PFN, pretrained_names
from probtheory.pfn.priors import (
    Batch,
    FunctionPrior,
    GPHyperPrior,
    GPPrior,
    Prior,
    PyroPrior,
    bnn_model,
    gp_sample,
)
from probtheory.pfn.training import TrainConfig, TrainResult, train_pfn
from probtheory.pfn.transformer import PFNTransformer, TransformerConfig

__all__ = [
    "PFN",
    "BarDistribution",
    "Batch",
    "CheckpointError",
    "FunctionPrior",
    "GPHyperPrior",
    "GPPrior",
    "PFNTransformer",
    "Prior",
    "PyroPrior",
    "TrainConfig",
    "TrainResult",
    "TransformerConfig",
    "bnn_model",
    "bucket_borders",
    "gp_sample",
    "pretrained_names",
    "read_checkpoint",
    "rehash_checkpoint",
    "train_pfn",
    "write_checkpoint",
]
