"""Training: the one training loop, its data policies, and the training-time methods built on it.

The loop (:mod:`probtheory.training.loop`, :mod:`probtheory.training.minibatches`):

* :func:`fit` with :class:`TrainingCallback` / :class:`TrainState` -- the ordinary PyTorch loop
  that training-time methods hook into instead of writing their own; :func:`classification_loss`
  and :class:`ClipGradNorm` are its stock loss and callback; :class:`Minibatches` its usual data;
* :class:`UpdateStrategy` -- a batch's own forward/backward passes in place of one loss, and
  :class:`LocalUpdate` (:mod:`probtheory.training.local`), the strategy of the local learning
  rules: each block learns from its own objective on a detached input, with the objectives of
  forward-forward (:class:`FFGoodness`, :class:`LabelOverlay`; Hinton, 2022), tpSGD
  (:class:`TargetProjection`; Lomnitz et al., AAAI 2023), AugLocal
  (:func:`auglocal_update`; Ma et al., ICLR 2024), ForwardGNN (:class:`VirtualNodeGNN`; Park et
  al., ICLR 2024) and PhyLL (:class:`CosineGoodness`; Momeni et al., Science 2023);
* :class:`SLTT` -- spiking networks trained with a backward pass per time step, memory
  independent of T (Meng et al., ICCV 2023); :func:`bptt_loss` is its baseline.

The methods, one module (or package) each; this namespace holds each method's headline object,
its helpers stay importable from the method's module:

* :class:`TrainedRankPruning` / :func:`decompose_low_rank` -- low-rank weights reached during
  training (Xu et al., IJCAI 2020);
* :class:`BasisTransform` / :class:`BackwardCompatibleLoss` -- backward-compatible embeddings
  through an orthogonal basis change with extra dimensions (BT², Zhou et al., ICCV 2023);
* :func:`fit_convex_relu` / :func:`fit_convex_relu_adversarial` -- two-layer ReLU networks
  trained to global optimality through their convex (group-lasso) reformulation (Pilanci &
  Ergen, ICML 2020; Bai et al., 2023), checked by :func:`two_layer_objective`;
* :class:`HardBatches` -- train each epoch on the top-delta share of minibatches by loss
  (Sahayam et al., 2023);
* :class:`LanczosLR` / :func:`fit_batch_size_law` -- the SGD learning rate set to c / lambda_max
  of the mini-batch Hessian by Lanczos, and the lambda_inf + c/B law over batch sizes
  (Granziol et al., JMLR 2022);
* :class:`LLPBeliefPropagation` -- learning from label proportions: belief-propagation
  pseudo-labels and embedding refinement (Havaldar et al., ICLR 2024);
* :class:`SaRA` -- fine-tuning only the smallest-magnitude weights with a nuclear-norm penalty
  and progressive re-selection, saved as a sparse adapter (Hu et al., ICLR 2025);
* :class:`SelfTuning` / :class:`STNMLP` -- Self-Tuning Networks: hyperparameters (dropout,
  input noise) tuned online by structured best-response layers (MacKay et al., ICLR 2019);
* :class:`ScalingLaw` / :func:`fit_scaling_law` -- loss, steps and critical batch size laws
  fitted on small runs (Su et al., 2024).
"""

from probtheory.training.auglocal import AugmentedAuxiliary, auglocal_update
from probtheory.training.bt2 import BackwardCompatibleLoss, BasisTransform
from probtheory.training.convex_relu import fit_convex_relu, fit_convex_relu_adversarial, two_layer_objective
from probtheory.training.forward_gnn import VirtualNodeGNN, VirtualNodeObjective
from probtheory.training.hard_batches import HardBatches
from probtheory.training.label_proportions import LLPBeliefPropagation
from probtheory.training.lanczos_lr import LanczosLR, fit_batch_size_law
from probtheory.training.local import (
    FFGoodness,
    LabelOverlay,
    LengthNormalization,
    LocalUpdate,
    TargetProjection,
    predict_by_goodness,
)
from probtheory.training.loop import (
    ClipGradNorm,
    LossFn,
    TrainingCallback,
    TrainState,
    UpdateStrategy,
    classification_loss,
    fit,
)
from probtheory.training.minibatches import Minibatches
from probtheory.training.phyll import CosineGoodness
from probtheory.training.rank_pruning import TrainedRankPruning, decompose_low_rank
from probtheory.training.sara import SaRA
from probtheory.training.scaling_laws import ScalingLaw, fit_scaling_law
from probtheory.training.self_tuning import STNMLP, SelfTuning
from probtheory.training.sltt import SLTT, bptt_loss

__all__ = [
    "AugmentedAuxiliary",
    "BackwardCompatibleLoss",
    "BasisTransform",
    "ClipGradNorm",
    "CosineGoodness",
    "FFGoodness",
    "HardBatches",
    "LLPBeliefPropagation",
    "LabelOverlay",
    "LanczosLR",
    "LengthNormalization",
    "LocalUpdate",
    "LossFn",
    "Minibatches",
    "SLTT",
    "STNMLP",
    "SaRA",
    "ScalingLaw",
    "SelfTuning",
    "TargetProjection",
    "TrainState",
    "TrainedRankPruning",
    "TrainingCallback",
    "UpdateStrategy",
    "VirtualNodeGNN",
    "VirtualNodeObjective",
    "auglocal_update",
    "bptt_loss",
    "classification_loss",
    "decompose_low_rank",
    "fit",
    "fit_batch_size_law",
    "fit_convex_relu",
    "fit_convex_relu_adversarial",
    "fit_scaling_law",
    "predict_by_goodness",
    "two_layer_objective",
]
