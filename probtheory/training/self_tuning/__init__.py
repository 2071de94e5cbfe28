"""Self-Tuning Networks (MacKay et al., ICLR 2019): hyperparameters tuned online by best-response layers.

* :mod:`~probtheory.training.self_tuning.hyperparameters` -- the tuned hyperparameters
  (:class:`Hyperparameter`, :class:`STNHyperparameters`) in their unconstrained parameterisation;
* :mod:`~probtheory.training.self_tuning.networks` -- the structured best-response layers
  (:class:`STNLinear`) and network (:class:`STNMLP`);
* :mod:`~probtheory.training.self_tuning.callback` -- :class:`SelfTuning`, the callback on
  :func:`probtheory.training.fit` that alternates weight and hyperparameter steps.
"""

from probtheory.training.self_tuning.callback import SelfTuning
from probtheory.training.self_tuning.hyperparameters import Hyperparameter, STNHyperparameters
from probtheory.training.self_tuning.networks import STNMLP, STNLinear

__all__ = ["Hyperparameter", "STNHyperparameters", "STNLinear", "STNMLP", "SelfTuning"]
