"""Scientific machine learning: solvers and operators that train through :func:`probtheory.training.fit`.

One module per concept: ``problems`` (PDE problems and data generators), ``linear`` (Krylov,
multigrid and learned linear solvers), ``pinn`` (physics-informed losses and collocation
samplers), ``operators`` (neural operators), ``diffusion`` (adjoint gradients through diffusion
samplers), ``prose`` (multimodal operator and symbol prediction).
"""
