"""BoTorch surrogates built on probtheory: every one a ``botorch.models.model.Model``.

``Surrogate(train_X, train_Y, **options).fit()`` then ``posterior(X)``, for

* :class:`GP` -- BoTorch's ``SingleTaskGP`` baseline;
* :class:`IBNN` -- the infinite-width BNN, a GP with the NNGP kernel;
* :class:`DeepEnsemble` -- MAP-trained MLPs, a sample-based posterior;
* :class:`HMCBNN` -- a BNN sampled by NUTS chains started at MAP solutions;
* :class:`SVIBNN` -- a mean-field variational BNN (Pyro ``AutoNormal``);
* :class:`LaplaceBNN` -- last-layer Laplace, an exact joint Gaussian predictive;
* :class:`DKL` -- deep kernel learning, a GP on MLP features;
* :class:`StudentTP` -- the Student-t process (scale-mixture NNGP), heavy-tailed;
* :class:`PFNSurrogate` -- a prior-data fitted network's predictive distribution.

Every surrogate checks ``posterior``'s arguments alike: ``X`` must be a finite
`batch_shape x q x d` tensor, ``output_indices`` a non-empty list of indices in [0, m) (also
for one output: ``[1]`` is an error, not ignored), and inputs more than 0.1 (a tenth of the
cube's side, ``bo._validation.EXTRAPOLATION_TOLERANCE``) outside the unit cube the surrogate
was trained on get a ``botorch.exceptions.InputDataWarning`` naming it: the surrogate
extrapolates there, and inputs that far out are usually unnormalised ones.

New sample-based surrogates (HMC, SVI, ...) subclass :class:`SampleSurrogate`; others
subclass :class:`SurrogateModel`. :mod:`bo.testing` checks any of them against the contract.
"""

from bo.models.base import FitOnceMixin, SurrogateModel
from bo.models.bnn import BNNConfig, WeightSampleBNN
from bo.models.dkl import DKL, DKLConfig
from bo.models.ensemble import DeepEnsemble, DeepEnsembleConfig
from bo.models.gp import GP
from bo.models.hmc import HMCBNN, HMCBNNConfig
from bo.models.ibnn import IBNN, IBNNConfig
from bo.models.laplace import LaplaceBNN, LaplaceBNNConfig
from bo.models.pfn import PFNSurrogate, PFNSurrogateConfig
from bo.models.sample_based import SampleSurrogate
from bo.models.svi import SVIBNN, SVIBNNConfig
from bo.models.tp import StudentTP, StudentTPConfig
from probtheory.errors import AlreadyFittedError, NotFittedError

__all__ = [
    "DKL",
    "GP",
    "HMCBNN",
    "IBNN",
    "SVIBNN",
    "AlreadyFittedError",
    "BNNConfig",
    "DKLConfig",
    "DeepEnsemble",
    "DeepEnsembleConfig",
    "FitOnceMixin",
    "HMCBNNConfig",
    "IBNNConfig",
    "LaplaceBNN",
    "LaplaceBNNConfig",
    "NotFittedError",
    "PFNSurrogate",
    "PFNSurrogateConfig",
    "SVIBNNConfig",
    "SampleSurrogate",
    "StudentTP",
    "StudentTPConfig",
    "SurrogateModel",
    "WeightSampleBNN",
]
