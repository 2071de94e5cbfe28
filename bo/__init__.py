"""BoTorch integration of probtheory: surrogate models, the optimisation loop, early stopping.

* :mod:`bo.models` — Bayesian surrogates that are BoTorch ``Model``s (GP, IBNN, HMC / SVI /
  Laplace BNNs, deep ensembles, deep kernel learning);
* :mod:`bo.posteriors` — the non-Gaussian posteriors (function-draw ensembles of the BNN surrogates,
  per-point marginals of the PFN, the Student-t process scale mixture), one per module;
* :mod:`bo.testing` — the contract every surrogate passes, reusable in your own tests;
* :mod:`bo.loop`, :mod:`bo.problems`, :mod:`bo.results` — ``run(problem, surrogate, ...)``;
* :mod:`bo.early_stopping`, :mod:`bo.hpo` — LC-PFN predictive early stopping in HPO loops.
"""

from bo.loop import run
from bo.models import DKL, GP, HMCBNN, IBNN, SVIBNN, DeepEnsemble, LaplaceBNN, StudentTP, SurrogateModel
from bo.posteriors import SampleEnsemblePosterior
from bo.problems import Problem, get_problem
from bo.results import BOResult

__all__ = [
    "DKL",
    "GP",
    "HMCBNN",
    "IBNN",
    "SVIBNN",
    "BOResult",
    "DeepEnsemble",
    "LaplaceBNN",
    "Problem",
    "SampleEnsemblePosterior",
    "StudentTP",
    "SurrogateModel",
    "get_problem",
    "run",
]
