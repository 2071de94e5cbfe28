"""BoTorch posteriors of the non-Gaussian surrogates, one per module, all sampled from normal base samples.

* :class:`SampleEnsemblePosterior` (:mod:`bo.posteriors.sample_ensemble`) -- the uniform
  mixture over S function draws of the BNN surrogates (ensembles, HMC, SVI);
* :class:`MarginalPosterior` (:mod:`bo.posteriors.marginal`) -- independent marginal
  predictive distributions, sampled by their quantile functions (the PFN surrogate);
* :class:`ScaleMixtureNormalPosterior` (:mod:`bo.posteriors.student_t`) -- the Student-t
  process posterior, a Gaussian scale mixture with an inverse-gamma scale.

Each maps standard normals to samples by an inverse-cdf trick, so BoTorch's
``get_sampler`` returns its ``SobolQMCNormalSampler`` for all of them (one registration, in
``bo.posteriors._base_samples``).
"""

from bo.posteriors.marginal import MarginalPosterior
from bo.posteriors.sample_ensemble import SampleEnsemblePosterior
from bo.posteriors.student_t import ScaleMixtureNormalPosterior

__all__ = ["MarginalPosterior", "SampleEnsemblePosterior", "ScaleMixtureNormalPosterior"]
