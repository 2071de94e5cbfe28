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
