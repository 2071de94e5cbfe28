"""Neural processes: CNP, NP and martingale posterior neural processes (MPNP).

* :class:`MPNP` -- martingale posterior neural processes: a generator of pseudo-contexts in
  representation space, K pseudo-context sets, the three-term loss (Lee, Yun, Nam, Fong & Lee,
  ICLR 2023); :mod:`probtheory.processes.mpnp`.
* :class:`CNP`, :class:`NP` -- the conditional and latent neural processes it is measured
  against, sharing the encoder/decoder code; :mod:`probtheory.processes.neural_process`.
* :class:`GPTaskSampler` -- 1-D GP regression tasks (RBF, Matérn-5/2, periodic kernels,
  optionally Student-t noise) and the exact-GP reference; :mod:`probtheory.processes.tasks`.
* :func:`meta_train` -- meta-training on a task sampler; :mod:`probtheory.processes.training`.
"""

from probtheory.processes.mpnp import MPNP, MPNPConfig
from probtheory.processes.neural_process import CNP, NP, NeuralProcessConfig, NPConfig
from probtheory.processes.tasks import GPTaskSampler, exact_gp_log_likelihood
from probtheory.processes.training import meta_train

__all__ = [
    "CNP",
    "MPNP",
    "NP",
    "GPTaskSampler",
    "MPNPConfig",
    "NPConfig",
    "NeuralProcessConfig",
    "exact_gp_log_likelihood",
    "meta_train",
]
