"""Scientific machine learning: solvers and operators that train through :func:`probtheory.training.fit`.

One module per concept:

* :mod:`~probtheory.sciml.problems` -- PDE problems on a box (:class:`PDEProblem`,
  :class:`Poisson1D`, :class:`Helmholtz2D`, :class:`TwoPeaksPoisson2D`), discretised operators
  (:func:`poisson2d_matrix`) and offline data (:func:`darcy_dataset`, :func:`ode_family_dataset`);
* :mod:`~probtheory.sciml.linear` -- linear solvers: :func:`conjugate_gradient`,
  :class:`MultigridPoisson`, and the learned :class:`DCDMSolver` with :func:`dcdm_loss` (Kaneda
  et al., ICML 2023);
* :mod:`~probtheory.sciml.pinn` -- physics-informed losses (:func:`pinn_loss`) and collocation
  samplers (:class:`UniformSampler`, :class:`ResidualSampler`); :mod:`~probtheory.sciml.aas`
  -- adversarial adaptive sampling (:class:`AdversarialSampler`, Tang et al., ICLR 2024) on a
  normalising flow on the box (:mod:`~probtheory.sciml.box_flow`);
* :mod:`~probtheory.sciml.diffusion` -- gradients through probability-flow samplers by the
  adjoint method (:class:`ProbabilityFlowSampler`, Pan et al., ICLR 2024);
* :mod:`~probtheory.sciml.prose` -- operators and symbols in one transformer (:class:`PROSE`,
  Liu, Zhang and Schaeffer, 2024).

The neural-operator and embedding layers (``MgNO``, ``VCycleConv``, ``GaussianEmbedding``) are in
:mod:`probtheory.layers`; the analyses (inductive bias, PDEs beyond linearity) in
:mod:`probtheory.theory`.
"""

from probtheory.sciml.aas import AdversarialSampler
from probtheory.sciml.diffusion import NoiseSchedule, ProbabilityFlowSampler, denoising_loss
from probtheory.sciml.linear import (
    DCDMSolver,
    DirectionCNN,
    LinearSolver,
    MultigridPoisson,
    RitzRightHandSides,
    SolveResult,
    conjugate_gradient,
    dcdm_loss,
)
from probtheory.sciml.pinn import CollocationSampler, ResidualSampler, UniformSampler, pinn_loss
from probtheory.sciml.problems import (
    Helmholtz2D,
    PDEProblem,
    Poisson1D,
    TwoPeaksPoisson2D,
    darcy_dataset,
    ode_family_dataset,
    poisson2d_matrix,
)
from probtheory.sciml.prose import PROSE, SymbolTokenizer, prose_loss

__all__ = [
    "PROSE",
    "AdversarialSampler",
    "CollocationSampler",
    "DCDMSolver",
    "DirectionCNN",
    "Helmholtz2D",
    "LinearSolver",
    "MultigridPoisson",
    "NoiseSchedule",
    "PDEProblem",
    "Poisson1D",
    "ProbabilityFlowSampler",
    "ResidualSampler",
    "RitzRightHandSides",
    "SolveResult",
    "SymbolTokenizer",
    "TwoPeaksPoisson2D",
    "UniformSampler",
    "conjugate_gradient",
    "darcy_dataset",
    "dcdm_loss",
    "denoising_loss",
    "ode_family_dataset",
    "pinn_loss",
    "poisson2d_matrix",
    "prose_loss",
]
