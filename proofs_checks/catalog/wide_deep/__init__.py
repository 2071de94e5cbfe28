"""Claims ``wide_deep.*``: the limits of very deep NTK/NNGP classifiers (Radhakrishnan et al., PNAS 2023).

Radhakrishnan, Belkin, Uhler, *Wide and deep neural networks achieve consistency for
classification* (PNAS 2023; arXiv 2204.14126); the classification by the dual activation and
the exponents below are derived in docs/derivations.md, §6. Infinitely wide, then deep,
bias-free networks on the sphere become, depending on the dual activation:

* 1-nearest neighbour when dual'(0) = 0 (xi^k): the kernel row concentrates on the nearest
  training point (second-to-first kernel ratio -> 0), and the classifier agrees with 1-NN;
* majority vote for ReLU (dual'(1) = 1): K_L(xi)/K_L(1) -> 1/4 for every xi, i.e. the kernel
  c I + b 11^T whose interpolant predicts the majority label;
* a singular kernel eps^-alpha near xi = 1 - eps, alpha = ln(1/dual'(0))/ln dual'(1) for the
  NNGP and alpha + 1 for the NTK, when 0 < dual'(0) < 1 < dual'(1); its classifier is the
  Devroye-type ||x - z||^(-2 alpha) vote.

All kernels come from the stable recursion of :mod:`probtheory.theory.wide_deep` (exact
diagonal tracking, complement form near xi = 1). Mutants include two numerical traps
(docs/derivations.md, §6): rescaling K by its maximum inside the loop, and an un-normalised dual.

The claims ``wide_deep.nearest_neighbour``, ``wide_deep.majority_vote``,
``wide_deep.singular_kernel`` and ``wide_deep.hilbert_classifier`` (the singular-kernel
designs' classifiers are those votes) live one module each in this package, with what they
share in ``_kernel_subjects``.
"""
