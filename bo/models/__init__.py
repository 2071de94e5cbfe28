"""BoTorch surrogates built on probtheory: every one a ``botorch.models.model.Model``.

``Surrogate(train_X, train_Y, **options).fit()`` then ``posterior(X)``, for

* :class:`GP` -- BoTorch's ``SingleTaskGP`` baseline;
* :class:`IBNN` -- the infinite-width BNN, a GP with the NNGP kernel;
* :class:`DeepEnsemble` -- MAP-trained MLPs, a sample-based posterior.

New sample-based surrogates (HMC, SVI, ...) subclass :class:`SampleSurrogate`; others
subclass :class:`SurrogateModel`. :mod:`bo.testing` checks any of them against the contract.
"""

from bo._validation import AlreadyFittedError, NotFittedError
from bo.models.base import FitOnceMixin, SurrogateModel
from bo.models.ensemble import DeepEnsemble, DeepEnsembleConfig
from bo.models.gp import GP
from bo.models.ibnn import IBNN, IBNNConfig
from bo.models.sample_based import SampleSurrogate

__all__ = [
    "GP",
    "IBNN",
    "AlreadyFittedError",
    "DeepEnsemble",
    "DeepEnsembleConfig",
    "FitOnceMixin",
    "IBNNConfig",
    "NotFittedError",
    "SampleSurrogate",
    "SurrogateModel",
]
