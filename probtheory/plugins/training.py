"""Former home of the training loop, kept so that old imports keep working.

The loop now lives in :mod:`probtheory.training.loop` (import it as ``probtheory.training.fit``);
this module only re-exports it.
"""

from probtheory.training.loop import (
    ClipGradNorm,
    LossFn,
    TrainingCallback,
    TrainState,
    classification_loss,
    fit,
)

__all__ = ["ClipGradNorm", "LossFn", "TrainState", "TrainingCallback", "classification_loss", "fit"]
