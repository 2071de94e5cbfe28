"""The plug-in interface: a registry of methods from papers, their reproductions and their CLI.

* :func:`methods` / :func:`get_method`: the registry. Each :class:`PluginEntry` records the
  method's :class:`Paper`, its kind (``layer``, ``training-method``, ``learning-rule``,
  ``solver``, ``analysis``), its status, the import paths of its implementation, and runs its
  reproduction (``entry.reproduce(quick=True, seed=0)`` returns a :class:`ReproductionResult`).
* :func:`fit` with :class:`TrainingCallback`: the training loop that training-time methods hook
  into lives in :mod:`probtheory.training`; it is re-exported here, its former home.
* ``probtheory list`` and ``probtheory reproduce NAME`` (:mod:`probtheory.plugins.cli`).

Layers themselves live in :mod:`probtheory.layers`.
"""

from probtheory.plugins.entry import KINDS, STATUSES, Paper, PluginEntry, ReproductionResult
from probtheory.plugins.registry import get_method, methods
from probtheory.training.loop import ClipGradNorm, TrainingCallback, TrainState, classification_loss, fit

__all__ = [
    "KINDS",
    "STATUSES",
    "ClipGradNorm",
    "Paper",
    "PluginEntry",
    "ReproductionResult",
    "TrainState",
    "TrainingCallback",
    "classification_loss",
    "fit",
    "get_method",
    "methods",
]
