r"""Claims ``powernorm.*``: PowerNorm's gradients (Shen, Yao, Gholami, Mahoney, Keutzer, ICML 2020).

Shen, Yao, Gholami, Mahoney, Keutzer, *PowerNorm: Rethinking Batch Normalization in
Transformers* (ICML 2020; arXiv 2003.07845). The gradient identities are derived in
docs/derivations.md, §3 (the BatchNorm one is Theorem 4.1 of Santurkar et al., NeurIPS 2018):

* ``powernorm.gradient_identities``: the closed-form input gradients of batch normalisation
  and of PN-V (batch quadratic mean) agree with central finite differences of the forward
  passes (float64), and their squared norms are the projected energies of the identities;
* ``powernorm.smaller_gradient_norm``: PN's loss-gradient norm is below BN's exactly when the
  projected-energy condition (the paper's comparison of the two gradient norms) holds, and the
  fraction of cases where it holds rises with the batch mean shift (Monte Carlo, z = 5
  standard errors);
* ``powernorm.approximate_backward``: the layer's training-mode forward/backward follow
  Algorithm 1 (to 1e-12 against an independent recursion) and :math:`\nu` stays below the
  horizon-free bound max_t |Lambda_t| / Gamma_t over a long run (10^4 steps in the
  ``thorough`` profile, 10^3 in ``ci``): the paper's approximate backward stays bounded.

The claims live one module each in this package (their order in the claim list is the order of
:data:`proofs_checks.registry.BUILTIN_CLAIMS`), with what they share in ``_norm_formulas``.
"""
