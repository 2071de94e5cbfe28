"""The registry: one explicit :class:`PluginEntry` per plug-in method, in the order they are listed.

Adding a method means adding an entry here (and, once built, its implementation and its
reproduction module); ``tests/probtheory/plugins`` checks that every entry is complete and that
every import path resolves.
"""

from __future__ import annotations

from probtheory._checks import check_name
from probtheory.plugins.entry import KINDS, STATUSES, Paper, PluginEntry

__all__ = ["get_method", "methods"]

_REPRODUCTIONS = "probtheory.plugins.reproductions"

_ENTRIES: tuple[PluginEntry, ...] = (
    PluginEntry(
        name="polycom",
        paper=Paper(
            title="Polynomial Composition Activations: Unleashing the Dynamics of Large Language Models",
            authors=("Zhijian Zhuo", "Ya Wang", "Yutao Zeng", "Xiaoqing Li", "Xun Zhou", "Jinwen Ma"),
            venue="ICLR",
            year=2025,
            url="https://arxiv.org/abs/2411.03884",
            arxiv="2411.03884",
        ),
        kind="layer",
        status="implemented",
        summary="PolyReLU / PolyNorm activations: a learnable cubic composed with ReLU or RMS normalisation",
        implementation=("probtheory.layers.PolyReLU", "probtheory.layers.PolyNorm"),
        reproduction=f"{_REPRODUCTIONS}.polycom:reproduce",
    ),
    PluginEntry(
        name="biper",
        paper=Paper(
            title="BiPer: Binary Neural Networks using a Periodic Function",
            authors=("Edwin Vargas", "Claudia V. Correa", "Carlos Hinojosa", "Henry Arguello"),
            venue="CVPR",
            year=2024,
            url="https://arxiv.org/abs/2404.01278",
            arxiv="2404.01278",
        ),
        kind="layer",
        status="implemented",
        summary="binary weights by a square wave, trained through the sine of the same period",
        implementation=(
            "probtheory.layers.BiPerLinear",
            "probtheory.layers.BiPerConv2d",
            "probtheory.layers.set_biper_stage",
        ),
        reproduction=f"{_REPRODUCTIONS}.biper:reproduce",
    ),
    PluginEntry(
        name="quadratic-relinear",
        paper=Paper(
            title="On Expressivity and Trainability of Quadratic Networks",
            authors=("Feng-Lei Fan", "Mengzhou Li", "Fei Wang", "Rongjie Lai", "Ge Wang"),
            venue="IEEE TNNLS",
            year=2023,
            url="https://arxiv.org/abs/2110.06081",
            arxiv="2110.06081",
        ),
        kind="layer",
        status="implemented",
        summary="quadratic neurons (Wr x + br)(Wg x + bg) + Wb x^2 + bb; ReLinear init and learning rates",
        implementation=("probtheory.layers.QuadraticLinear", "probtheory.layers.relinear_param_groups"),
        reproduction=f"{_REPRODUCTIONS}.quadratic:reproduce",
    ),
    PluginEntry(
        name="snnk",
        paper=Paper(
            title="Scalable Neural Network Kernels",
            authors=(
                "Arijit Sehanobish",
                "Krzysztof Choromanski",
                "Yunfan Zhao",
                "Avinava Dubey",
                "Valerii Likhosherstov",
            ),
            venue="ICLR",
            year=2024,
            url="https://openreview.net/forum?id=4iPw1klFWa",
            arxiv="2310.13225",
        ),
        kind="layer",
        status="implemented",
        summary="feed-forward layers replaced by random-feature kernels that disentangle inputs and weights",
        implementation=(
            "probtheory.layers.SNNKLinear",
            "probtheory.layers.URFDecomposition",
            "probtheory.layers.arccos_kernel",
        ),
        reproduction=f"{_REPRODUCTIONS}.snnk:reproduce",
    ),
    PluginEntry(
        name="mip-hypernetwork",
        paper=Paper(
            title="Magnitude Invariant Parametrizations Improve Hypernetwork Learning",
            authors=("Jose Javier Gonzalez Ortiz", "John Guttag", "Adrian V. Dalca"),
            venue="ICLR",
            year=2024,
            url="https://arxiv.org/abs/2304.07645",
            arxiv="2304.07645",
            first_surname="Gonzalez Ortiz",
        ),
        kind="layer",
        status="implemented",
        summary="hypernetworks with constant-norm input encoding and residual weights (MIP)",
        implementation=("probtheory.layers.HyperNetwork", "probtheory.layers.encode_input"),
        reproduction=f"{_REPRODUCTIONS}.mip:reproduce",
    ),
    PluginEntry(
        name="self-tuning-networks",
        paper=Paper(
            title="Self-Tuning Networks: Bilevel Optimization of Hyperparameters using Structured "
            "Best-Response Functions",
            authors=("Matthew MacKay", "Paul Vicol", "Jon Lorraine", "David Duvenaud", "Roger Grosse"),
            venue="ICLR",
            year=2019,
            url="https://arxiv.org/abs/1903.03088",
            arxiv="1903.03088",
        ),
        kind="training-method",
        status="implemented",
        summary="online hyperparameter schedules from a best-response approximation, in one training run",
        implementation=(
            "probtheory.training.SelfTuning",
            "probtheory.training.STNMLP",
            "probtheory.training.self_tuning.networks.STNLinear",
            "probtheory.training.self_tuning.hyperparameters.STNHyperparameters",
            "probtheory.training.self_tuning.hyperparameters.Hyperparameter",
        ),
        reproduction=f"{_REPRODUCTIONS}.stn:reproduce",
    ),
    PluginEntry(
        name="trained-rank-pruning",
        paper=Paper(
            title="TRP: Trained Rank Pruning for Efficient Deep Neural Networks",
            authors=(
                "Yuhui Xu",
                "Yuxi Li",
                "Shuai Zhang",
                "Wei Wen",
                "Botao Wang",
                "Yingyong Qi",
                "Yiran Chen",
                "Weiyao Lin",
                "Hongkai Xiong",
            ),
            venue="IJCAI",
            year=2020,
            url="https://arxiv.org/abs/2004.14566",
            arxiv="2004.14566",
        ),
        kind="training-method",
        status="implemented",
        summary="low-rank truncation of the weights during training plus a nuclear-norm regulariser",
        implementation=(
            "probtheory.training.TrainedRankPruning",
            "probtheory.training.decompose_low_rank",
        ),
        reproduction=f"{_REPRODUCTIONS}.trp:reproduce",
    ),
    PluginEntry(
        name="hard-sample-batches",
        paper=Paper(
            title="Can we learn better with hard samples?",
            authors=("Subin Sahayam", "John Zakkam", "Umarani Jayaraman"),
            venue="arXiv preprint",
            year=2023,
            url="https://arxiv.org/abs/2304.03486",
            arxiv="2304.03486",
        ),
        kind="training-method",
        status="implemented",
        summary="train each epoch only on the top-delta share of minibatches by loss",
        implementation=("probtheory.training.HardBatches",),
        reproduction=f"{_REPRODUCTIONS}.hard_samples:reproduce",
    ),
    PluginEntry(
        name="lanczos-lr-batch",
        paper=Paper(
            title="Learning Rates as a Function of Batch Size: A Random Matrix Theory Approach to "
            "Neural Network Training",
            authors=("Diego Granziol", "Stefan Zohren", "Stephen Roberts"),
            venue="JMLR",
            year=2022,
            url="https://arxiv.org/abs/2006.09092",
            arxiv="2006.09092",
        ),
        kind="training-method",
        status="implemented",
        summary="learning rate set from batch-Hessian curvature by stochastic Lanczos quadrature",
        implementation=(
            "probtheory.training.LanczosLR",
            "probtheory.training.lanczos_lr.hessian_top_eigenvalue",
            "probtheory.training.fit_batch_size_law",
            "probtheory.training.lanczos_lr.batch_top_eigenvalues",
        ),
        reproduction=f"{_REPRODUCTIONS}.lanczos_lr:reproduce",
    ),
    PluginEntry(
        name="sara",
        paper=Paper(
            title="SaRA: High-Efficient Diffusion Model Fine-tuning with Progressive Sparse Low-Rank "
            "Adaptation",
            authors=("Teng Hu", "Jiangning Zhang", "Ran Yi", "Hongrui Huang", "Yabiao Wang", "Lizhuang Ma"),
            venue="ICLR",
            year=2025,
            url="https://arxiv.org/abs/2409.06633",
            arxiv="2409.06633",
        ),
        kind="training-method",
        status="implemented",
        summary="fine-tune only the smallest-magnitude weights, sparse and nuclear-norm regularised",
        implementation=(
            "probtheory.training.SaRA",
            "probtheory.training.sara.load_state_delta",
            "probtheory.training.sara.magnitude_threshold",
            "probtheory.training.sara.ineffective_mask",
            "probtheory.training.sara.masked_nuclear_norm",
        ),
        reproduction=f"{_REPRODUCTIONS}.sara:reproduce",
    ),
    PluginEntry(
        name="bt2",
        paper=Paper(
            title="BT^2: Backward-compatible Training with Basis Transformation",
            authors=(
                "Yifei Zhou",
                "Zilu Li",
                "Abhinav Shrivastava",
                "Hengshuang Zhao",
                "Antonio Torralba",
                "Taipeng Tian",
                "Ser-Nam Lim",
            ),
            venue="ICCV",
            year=2023,
            url="https://arxiv.org/abs/2211.03989",
            arxiv="2211.03989",
        ),
        kind="training-method",
        status="implemented",
        summary="new embeddings compatible with the old ones through an orthonormal basis transformation",
        implementation=(
            "probtheory.training.BasisTransform",
            "probtheory.training.bt2.CompatibleEmbedder",
            "probtheory.training.BackwardCompatibleLoss",
            "probtheory.training.bt2.old_class_means",
            "probtheory.training.retrieval.nearest_neighbour_accuracy",
            "probtheory.training.retrieval.nearest_mean_accuracy",
        ),
        reproduction=f"{_REPRODUCTIONS}.bt2:reproduce",
    ),
    PluginEntry(
        name="llp-bp",
        paper=Paper(
            title="Learning from Label Proportions: Bootstrapping Supervised Learners via Belief Propagation",
            authors=(
                "Shreyas Havaldar",
                "Navodita Sharma",
                "Shubhi Sareen",
                "Karthikeyan Shanmugam",
                "Aravindan Raghuveer",
            ),
            venue="ICLR",
            year=2024,
            url="https://arxiv.org/abs/2310.08056",
            arxiv="2310.08056",
        ),
        kind="training-method",
        status="implemented",
        summary="pseudo-labels from bag label proportions by belief propagation, then supervised training",
        implementation=(
            "probtheory.training.LLPBeliefPropagation",
            "probtheory.training.label_proportions.bag_marginals",
            "probtheory.training.label_proportions.knn_edges",
        ),
        reproduction=f"{_REPRODUCTIONS}.llp:reproduce",
    ),
    PluginEntry(
        name="scaling-laws-part1",
        paper=Paper(
            title="Unraveling the Mystery of Scaling Laws: Part I",
            authors=("Hui Su", "Zhi Tian", "Xiaoyu Shen", "Xunliang Cai"),
            venue="arXiv preprint",
            year=2024,
            url="https://arxiv.org/abs/2403.06563",
            arxiv="2403.06563",
        ),
        kind="analysis",
        status="implemented",
        summary="fit the scaling-law constants from small runs; predict loss, steps and critical batch size",
        implementation=(
            "probtheory.training.ScalingLaw",
            "probtheory.training.fit_scaling_law",
            "probtheory.training.scaling_laws.RunLog",
        ),
        reproduction=f"{_REPRODUCTIONS}.scaling_laws:reproduce",
    ),
    PluginEntry(
        name="mgno",
        paper=Paper(
            title="MgNO: Efficient Parameterization of Linear Operators via Multigrid",
            authors=("Juncai He", "Xinliang Liu", "Jinchao Xu"),
            venue="ICLR",
            year=2024,
            url="https://arxiv.org/abs/2310.19809",
            arxiv="2310.19809",
        ),
        kind="solver",
        status="implemented",
        summary="neural operator whose linear maps are multigrid V-cycles of convolutions (Darcy flow)",
        implementation=(
            "probtheory.layers.MgNO",
            "probtheory.layers.VCycleConv",
            "probtheory.sciml.problems.darcy_dataset",
        ),
        reproduction=f"{_REPRODUCTIONS}.mgno:reproduce",
    ),
    PluginEntry(
        name="sltt",
        paper=Paper(
            title="Towards Memory- and Time-Efficient Backpropagation for Training Spiking Neural Networks",
            authors=(
                "Qingyan Meng",
                "Mingqing Xiao",
                "Shen Yan",
                "Yisen Wang",
                "Zhouchen Lin",
                "Zhi-Quan Luo",
            ),
            venue="ICCV",
            year=2023,
            url="https://arxiv.org/abs/2302.14311",
            arxiv="2302.14311",
        ),
        kind="training-method",
        status="implemented",
        summary=(
            "spiking networks trained by a backward pass per time step: memory independent of T "
            "(SLTT, SLTT-K)"
        ),
        implementation=(
            "probtheory.training.sltt.SLTT",
            "probtheory.training.sltt.bptt_loss",
            "probtheory.layers.LIFNeuron",
            "probtheory.layers.TemporalSum",
            "probtheory.layers.rate_code",
        ),
        reproduction=f"{_REPRODUCTIONS}.sltt:reproduce",
    ),
    PluginEntry(
        name="auglocal",
        paper=Paper(
            title="Scaling Supervised Local Learning with Augmented Auxiliary Networks",
            authors=("Chenxiang Ma", "Jibin Wu", "Chenyang Si", "Kay Chen Tan"),
            venue="ICLR",
            year=2024,
            url="https://arxiv.org/abs/2402.17318",
            arxiv="2402.17318",
        ),
        kind="learning-rule",
        status="implemented",
        summary=(
            "local learning with auxiliary nets made of fresh copies of sampled later layers (pyramid depth)"
        ),
        implementation=(
            "probtheory.training.auglocal.auglocal_update",
            "probtheory.training.auglocal.AugmentedAuxiliary",
            "probtheory.training.auglocal.pyramid_depths",
        ),
        reproduction=f"{_REPRODUCTIONS}.auglocal:reproduce",
    ),
    PluginEntry(
        name="forwardgnn",
        paper=Paper(
            title="Forward Learning of Graph Neural Networks",
            authors=(
                "Namyong Park",
                "Xing Wang",
                "Antoine Simoulin",
                "Shuai Yang",
                "Grey Yang",
                "Ryan A. Rossi",
                "Puja Trivedi",
                "Nesreen K. Ahmed",
            ),
            venue="ICLR",
            year=2024,
            url="https://arxiv.org/abs/2403.11004",
            arxiv="2403.11004",
        ),
        kind="learning-rule",
        status="implemented",
        summary="graph networks trained layer by layer against virtual class nodes (single-forward, FF)",
        implementation=(
            "probtheory.training.forward_gnn.VirtualNodeGNN",
            "probtheory.training.forward_gnn.VirtualNodeObjective",
            "probtheory.layers.graph.GCNConv",
            "probtheory.plugins.data.sbm_graph",
        ),
        reproduction=f"{_REPRODUCTIONS}.forwardgnn:reproduce",
    ),
    PluginEntry(
        name="dcdm",
        paper=Paper(
            title="A Deep Conjugate Direction Method for Iteratively Solving Linear Systems",
            authors=(
                "Ayano Kaneda",
                "Osman Akar",
                "Jingyu Chen",
                "Victoria Alicia Trevino Kala",
                "David Hyde",
                "Joseph Teran",
            ),
            venue="ICML",
            year=2023,
            url="https://openreview.net/forum?id=TvILWDB5ke",
        ),
        kind="solver",
        status="implemented",
        summary=(
            "conjugate directions from a CNN, A-orthogonalised against the last two (vs CG and multigrid)"
        ),
        implementation=(
            "probtheory.sciml.linear.DCDMSolver",
            "probtheory.sciml.linear.dcdm_loss",
            "probtheory.sciml.linear.RitzRightHandSides",
            "probtheory.sciml.linear.DirectionCNN",
            "probtheory.sciml.linear.conjugate_gradient",
            "probtheory.sciml.linear.MultigridPoisson",
            "probtheory.sciml.problems.poisson2d_matrix",
        ),
        reproduction=f"{_REPRODUCTIONS}.dcdm:reproduce",
    ),
    PluginEntry(
        name="inductive-bias",
        paper=Paper(
            title="Towards Exact Computation of Inductive Bias",
            authors=("Akhilan Boopathy", "William Yue", "Jaedong Hwang", "Abhiram Iyer", "Ila Fiete"),
            venue="IJCAI",
            year=2024,
            url="https://arxiv.org/abs/2406.15941",
            arxiv="2406.15941",
        ),
        kind="analysis",
        status="implemented",
        summary=(
            "inductive bias in nats, -log P(test error <= eps), over a GPyTorch kernel's hypothesis space"
        ),
        implementation=(
            "probtheory.theory.inductive_bias.inductive_bias",
            "probtheory.theory.inductive_bias.hypothesis_test_errors",
            "probtheory.theory.inductive_bias.fit_scaled_noncentral_chi2",
        ),
        reproduction=f"{_REPRODUCTIONS}.inductive_bias:reproduce",
    ),
    PluginEntry(
        name="pde-beyond-linearity",
        paper=Paper(
            title="Neural Network Approximations of PDEs Beyond Linearity: A Representational Perspective",
            authors=("Tanya Marwah", "Zachary C. Lipton", "Jianfeng Lu", "Andrej Risteski"),
            venue="ICML",
            year=2023,
            url="https://arxiv.org/abs/2210.12101",
            arxiv="2210.12101",
        ),
        kind="analysis",
        status="implemented",
        summary=(
            "unrolled preconditioned gradient descent on a nonlinear variational PDE, and its Barron norms"
        ),
        implementation=(
            "probtheory.theory.pde_beyond_linearity.unrolled_preconditioned_gd",
            "probtheory.theory.pde_beyond_linearity.barron_norm",
            "probtheory.theory.pde_beyond_linearity.barron_step_bound",
        ),
        reproduction=f"{_REPRODUCTIONS}.pde_beyond_linearity:reproduce",
    ),
    PluginEntry(
        name="forward-forward",
        paper=Paper(
            title="The Forward-Forward Algorithm: Some Preliminary Investigations",
            authors=("Geoffrey Hinton",),
            venue="arXiv preprint",
            year=2022,
            url="https://arxiv.org/abs/2212.13345",
            arxiv="2212.13345",
        ),
        kind="learning-rule",
        status="implemented",
        summary="the local rules' baseline: each layer tells labelled positives from negatives by goodness",
        implementation=(
            "probtheory.training.local.FFGoodness",
            "probtheory.training.local.LabelOverlay",
            "probtheory.training.local.LengthNormalization",
            "probtheory.training.local.predict_by_goodness",
            "probtheory.training.local.LocalUpdate",
        ),
        reproduction=f"{_REPRODUCTIONS}.forward_forward:reproduce",
    ),
    PluginEntry(
        name="tpsgd",
        paper=Paper(
            title="Learning with Local Gradients at the Edge",
            authors=("Michael Lomnitz", "Zachary Daniels", "David Zhang", "Michael Piacentino"),
            venue="AAAI",
            year=2023,
            url="https://arxiv.org/abs/2208.08503",
            arxiv="2208.08503",
        ),
        kind="learning-rule",
        status="implemented",
        summary="each hidden layer regresses onto a fixed random projection of the one-hot label (l2 or l1)",
        implementation=(
            "probtheory.training.local.TargetProjection",
            "probtheory.training.local.LocalUpdate",
        ),
        reproduction=f"{_REPRODUCTIONS}.tpsgd:reproduce",
    ),
    PluginEntry(
        name="phyll",
        paper=Paper(
            title="Backpropagation-free training of deep physical neural networks",
            authors=(
                "Ali Momeni",
                "Babak Rahmani",
                "Matthieu Mallejac",
                "Philipp del Hougne",
                "Romain Fleury",
            ),
            venue="Science",
            year=2023,
            url="https://arxiv.org/abs/2304.11042",
            arxiv="2304.11042",
        ),
        kind="learning-rule",
        status="implemented",
        summary="physical layers run as black boxes; digital adapters between them learn by cosine goodness",
        implementation=(
            "probtheory.training.phyll.CosineGoodness",
            "probtheory.layers.physical.BlackBoxLayer",
            "probtheory.layers.physical.IntensityTransmission",
            "probtheory.training.local.predict_by_goodness",
        ),
        reproduction=f"{_REPRODUCTIONS}.phyll:reproduce",
    ),
    PluginEntry(
        name="prose",
        paper=Paper(
            title=(
                "PROSE: Predicting Multiple Operators and Symbolic Expressions using Multimodal Transformers"
            ),
            authors=("Yuxuan Liu", "Zecheng Zhang", "Hayden Schaeffer"),
            venue="Neural Networks",
            year=2024,
            url="https://arxiv.org/abs/2309.16816",
            arxiv="2309.16816",
        ),
        kind="solver",
        status="implemented",
        summary=(
            "one transformer for data and equations: predicts an ODE's future and writes its "
            "corrected equations"
        ),
        implementation=(
            "probtheory.sciml.prose.PROSE",
            "probtheory.sciml.prose.SymbolTokenizer",
            "probtheory.sciml.prose.prose_loss",
            "probtheory.sciml.problems.ode_family_dataset",
        ),
        reproduction=f"{_REPRODUCTIONS}.prose:reproduce",
    ),
    PluginEntry(
        name="adjoint-dpm",
        paper=Paper(
            title="AdjointDPM: Adjoint Sensitivity Method for Gradient Backpropagation of Diffusion "
            "Probabilistic Models",
            authors=("Jiachun Pan", "Jun Hao Liew", "Vincent Y. F. Tan", "Jiashi Feng", "Hanshu Yan"),
            venue="ICLR",
            year=2024,
            url="https://arxiv.org/abs/2307.10711",
            arxiv="2307.10711",
        ),
        kind="solver",
        status="implemented",
        summary="gradients through a diffusion sampler by the adjoint ODE: memory flat in the step count",
        implementation=(
            "probtheory.sciml.diffusion.ProbabilityFlowSampler",
            "probtheory.sciml.diffusion.NoiseSchedule",
            "probtheory.sciml.diffusion.denoising_loss",
        ),
        reproduction=f"{_REPRODUCTIONS}.adjoint_dpm:reproduce",
    ),
    PluginEntry(
        name="pig",
        paper=Paper(
            title="PIG: Physics-Informed Gaussians as Adaptive Parametric Mesh Representations",
            authors=("Namgyu Kang", "Jaemin Oh", "Youngjoon Hong", "Eunbyung Park"),
            venue="ICLR",
            year=2025,
            url="https://arxiv.org/abs/2412.05994",
            arxiv="2412.05994",
        ),
        kind="solver",
        status="implemented",
        summary="PINNs on trainable Gaussians (means, covariances, features) + a tiny MLP: an adaptive mesh",
        implementation=(
            "probtheory.layers.GaussianEmbedding",
            "probtheory.layers.PhysicsInformedGaussians",
        ),
        reproduction=f"{_REPRODUCTIONS}.pig:reproduce",
    ),
    PluginEntry(
        name="aas",
        paper=Paper(
            title=(
                "Adversarial Adaptive Sampling: Unify PINN and Optimal Transport for the "
                "Approximation of PDEs"
            ),
            authors=("Kejun Tang", "Jiayu Zhai", "Xiaoliang Wan", "Chao Yang"),
            venue="ICLR",
            year=2024,
            url="https://arxiv.org/abs/2305.18702",
            arxiv="2305.18702",
        ),
        kind="solver",
        status="implemented",
        summary="PINN collocation points from a flow on the box trained by ascent on the residual (min-max)",
        implementation=(
            "probtheory.sciml.aas.AdversarialSampler",
            "probtheory.sciml.box_flow.BoxFlow",
            "probtheory.sciml.pinn.pinn_loss",
            "probtheory.sciml.pinn.UniformSampler",
            "probtheory.sciml.pinn.ResidualSampler",
        ),
        reproduction=f"{_REPRODUCTIONS}.aas:reproduce",
    ),
)

_BY_NAME = {entry.name: entry for entry in _ENTRIES}
if len(_BY_NAME) != len(_ENTRIES):  # pragma: no cover - guards edits of the table above
    raise RuntimeError("duplicate plug-in names in probtheory.plugins.registry")


def methods(*, kind: str | None = None, status: str | None = None) -> list[PluginEntry]:
    """The registered methods, optionally only those of one kind and/or status.

    Args:
        kind: One of :data:`probtheory.plugins.entry.KINDS`, or ``None`` for all.
        status: ``"implemented"``, ``"planned"`` or ``None`` for all.
    """
    if kind is not None:
        check_name("kind", kind, KINDS, meaning="a method kind")
    if status is not None:
        check_name("status", status, STATUSES, meaning="a status")
    return [
        e for e in _ENTRIES if (kind is None or e.kind == kind) and (status is None or e.status == status)
    ]


def get_method(name: str) -> PluginEntry:
    """The entry registered under ``name``.

    Raises:
        UnknownNameError: If no method has that name (an ``InputDataError``; the message lists the
            registered names and suggests the closest).
    """
    return _BY_NAME[check_name("name", name, _BY_NAME, meaning="a registered method")]
