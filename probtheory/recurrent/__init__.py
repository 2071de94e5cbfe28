"""Recurrent Bayesian models: PV-RNN, the predictive-coding-inspired variational RNN.

* :class:`PVRNN` -- multi-layer, multiple-timescale variational RNN with adaptive posterior
  vectors and a per-layer meta-prior w (Ahmadi & Tani, Neural Computation 2019);
  :mod:`probtheory.recurrent.pvrnn`, its layer configuration in
  :mod:`probtheory.recurrent.pvrnn_layer_config` and the Gaussian KL of its loss in
  :mod:`probtheory.recurrent.gaussian_kl`.
* :class:`ErrorRegression` -- online recognition and one-step prediction by optimising the
  adaptive vectors over a sliding window with the weights frozen;
  :mod:`probtheory.recurrent.error_regression`.
* :func:`pattern_switching_sequences` -- the synthetic pattern-switching data;
  :mod:`probtheory.recurrent.data`.
"""

from probtheory.recurrent.data import pattern_switching_sequences
from probtheory.recurrent.error_regression import ErrorRegression
from probtheory.recurrent.pvrnn import PVRNN
from probtheory.recurrent.pvrnn_layer_config import PVRNNLayerConfig

__all__ = ["PVRNN", "ErrorRegression", "PVRNNLayerConfig", "pattern_switching_sequences"]
