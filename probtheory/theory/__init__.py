"""Numerical machinery behind the theory claims: exact surrogates, limits and recursions of papers.

One module per paper; import from the module:

* :mod:`probtheory.theory.bandlimited` -- shallow random nets with bandlimited weights (Li et al.,
  ICML 2023): the exact Fourier-domain surrogate of the approximation lower bound;
* :mod:`probtheory.theory.logistic` -- logistic regression with large step sizes and its batch
  perceptron limit (Tyurin 2024), separability by linear programming;
* :mod:`probtheory.theory.batch_hessian` -- mini-batch Hessians and their top eigenvalues against
  spiked random-matrix predictions (Granziol et al., JMLR 2022);
* :mod:`probtheory.theory.wide_deep` -- limits of very deep NTK/NNGP classifiers (1-NN, majority
  vote, singular kernels) by a numerically stable dual recursion;
* :mod:`probtheory.theory.inductive_bias` -- the inductive bias, in nats, needed to reach a test
  error with a GPyTorch kernel's hypothesis space (Boopathy et al., IJCAI 2024);
* :mod:`probtheory.theory.pde_beyond_linearity` -- unrolled preconditioned gradient descent on a
  nonlinear variational PDE on the torus and the Barron norms of its iterates (Marwah et al.,
  ICML 2023).
"""
