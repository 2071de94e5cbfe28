"""probtheory: Bayesian deep learning you can trust.

Subpackages, by what they hold (docs/concepts.md gives their import layers):

* :mod:`probtheory.kernels` -- NNGP / NTK kernels of deep networks as GPyTorch kernels,
  empirical kernels, kernel gradient descent;
* :mod:`probtheory.networks` -- finite networks in NTK / standard / muP parameterisation and
  their exact finite-width laws;
* :mod:`probtheory.pfn` -- prior-data fitted networks: priors, the bar distribution, the
  transformer, training, checkpoints;
* :mod:`probtheory.lcpfn` -- learning-curve extrapolation with an LC-PFN, on :mod:`probtheory.pfn`;
* :mod:`probtheory.gp` -- Student-t processes, scale-mixture NNGPs, deep kernel machines;
* :mod:`probtheory.processes` -- neural processes and martingale posterior neural processes;
* :mod:`probtheory.energy` -- monotone deep Boltzmann machines, dense Hebbian networks,
  Hopfield networks, equilibrium propagation;
* :mod:`probtheory.recurrent` -- PV-RNN and its error regression;
* :mod:`probtheory.bounds` -- certified local Lipschitz bounds;
* :mod:`probtheory.theory` -- the numerical machinery behind the theory claims;
* :mod:`probtheory.layers` -- plug-in layers (``nn.Module`` drop-ins);
* :mod:`probtheory.training` -- the ``fit`` loop and the training-time methods on it;
* :mod:`probtheory.plugins` -- the registry of methods from papers, their reproductions, and
  ``probtheory list`` / ``reproduce``;
* :mod:`probtheory.papers` -- the bibliographic record of a paper;
* :mod:`probtheory.errors` -- the exceptions raised for bad input.

The theory checks live in the sibling package ``proofs_checks`` and the BoTorch integration in
``bo``; probtheory imports neither.

Library code reports what it did on its own (a solver fallback, ...) to the ``probtheory`` logger
(``logging.getLogger("probtheory")``), never by printing; it has a ``NullHandler``, so nothing is
shown unless the application configures logging. Command-line output is printed.
"""

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
