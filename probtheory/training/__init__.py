"""Training-time methods: callbacks on the plug-in training loop, data policies, and convex reformulations.

* :class:`TrainedRankPruning` / :func:`decompose_low_rank` -- low-rank weights reached during
  training (Xu et al., IJCAI 2020);
* :class:`BasisTransform` / :class:`BackwardCompatibleLoss` -- backward-compatible embeddings
  through an orthogonal basis change with extra dimensions (BT², Zhou et al., ICCV 2023);
* :func:`fit_convex_relu` / :func:`fit_convex_relu_adversarial` -- two-layer ReLU networks
  trained to global optimality through their convex (group-lasso) reformulation (Pilanci &
  Ergen 2020; Bai et al. 2023);
* :class:`HardBatches` -- train each epoch on the top-delta share of minibatches by loss
  (Sahayam et al., 2023);
* :class:`LanczosLR` -- the SGD learning rate set to c / lambda_max of the mini-batch Hessian
  by Lanczos, and the lambda_inf + c/B law over batch sizes (Granziol et al., JMLR 2022);
* :class:`LLPBeliefPropagation` -- learning from label proportions: belief-propagation
  pseudo-labels and embedding refinement (Havaldar et al., ICLR 2024);
* :class:`SaRA` -- fine-tuning only the smallest-magnitude weights with a nuclear-norm penalty
  and progressive re-selection, saved as a sparse adapter (Hu et al., ICLR 2025);
* :class:`SelfTuning` / :class:`STNMLP` -- Self-Tuning Networks: hyperparameters (dropout,
  input noise) tuned online by structured best-response layers (MacKay et al., ICLR 2019);
* :class:`ScalingLaw` / :func:`fit_scaling_law` -- loss, steps and critical batch size laws
  fitted on small runs (Su et al., 2024).
"""

from probtheory.training.bt2 import (
    BackwardCompatibleLoss,
    BasisTransform,
    CompatibleEmbedder,
    Embeddings,
    old_class_means,
)
from probtheory.training.convex_relu import (
    ConvexReLUResult,
    activation_patterns,
    fit_convex_relu,
    fit_convex_relu_adversarial,
    rebuild_network,
    two_layer_objective,
)
from probtheory.training.hard_batches import HardBatches
from probtheory.training.label_proportions import LLPBeliefPropagation, bag_marginals, knn_edges
from probtheory.training.lanczos_lr import (
    BatchSizeLaw,
    LanczosLR,
    LanczosUpdate,
    batch_top_eigenvalues,
    fit_batch_size_law,
    hessian_matvec,
    hessian_top_eigenvalue,
    hessian_vector_product,
)
from probtheory.training.rank_pruning import (
    TrainedRankPruning,
    decompose_low_rank,
    energy_rank,
    low_rank_matrix,
    matricize,
)
from probtheory.training.retrieval import nearest_mean_accuracy, nearest_neighbour_accuracy
from probtheory.training.sara import (
    SaRA,
    ineffective_mask,
    load_state_delta,
    magnitude_threshold,
    masked_nuclear_norm,
)
from probtheory.training.scaling_laws import RunLog, ScalingLaw, fit_scaling_law
from probtheory.training.self_tuning import SelfTuning
from probtheory.training.self_tuning_hyperparameters import Hyperparameter, STNHyperparameters
from probtheory.training.self_tuning_networks import STNMLP, STNLinear

__all__ = [
    "Hyperparameter",
    "STNHyperparameters",
    "STNLinear",
    "STNMLP",
    "SelfTuning",
    "SaRA",
    "ineffective_mask",
    "load_state_delta",
    "magnitude_threshold",
    "masked_nuclear_norm",
    "BackwardCompatibleLoss",
    "BasisTransform",
    "CompatibleEmbedder",
    "Embeddings",
    "nearest_mean_accuracy",
    "nearest_neighbour_accuracy",
    "old_class_means",
    "BatchSizeLaw",
    "LanczosLR",
    "LanczosUpdate",
    "batch_top_eigenvalues",
    "fit_batch_size_law",
    "hessian_matvec",
    "hessian_top_eigenvalue",
    "hessian_vector_product",
    "ConvexReLUResult",
    "HardBatches",
    "LLPBeliefPropagation",
    "RunLog",
    "ScalingLaw",
    "TrainedRankPruning",
    "activation_patterns",
    "bag_marginals",
    "decompose_low_rank",
    "energy_rank",
    "fit_convex_relu",
    "fit_convex_relu_adversarial",
    "fit_scaling_law",
    "knn_edges",
    "low_rank_matrix",
    "matricize",
    "rebuild_network",
    "two_layer_objective",
]
