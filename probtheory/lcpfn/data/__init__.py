"""Real learning curves shipped with probtheory (JSON, see :mod:`probtheory.lcpfn.real_curves`)."""
