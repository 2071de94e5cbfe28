"""The papers the built-in claims come from, one :class:`~probtheory.papers.Paper` each.

Papers that the plug-in registry already cites are taken from it (:func:`probtheory.plugins.get_method`),
so that a paper has one record in the project; the others are defined here.
"""

from __future__ import annotations

from probtheory.papers import Paper
from probtheory.plugins.registry import get_method

__all__ = [
    "ADJOINT_DPM",
    "ADRIAENSEN_LCPFN_2023",
    "AGLIARI_2023",
    "AHMADI_TANI_2019",
    "BAI_GAUTAM_SOJOUDI_2023",
    "BAIK_BEN_AROUS_PECHE_2005",
    "BALANDAT_BOTORCH_2020",
    "BT2",
    "DCDM",
    "DEVROYE_GYORFI_KRZYZAK_1998",
    "FAN_QUADRATIC_NETWORKS",
    "FENG_WINSTON_KOLTER_2023",
    "FONG_HOLMES_WALKER_2023",
    "FORWARD_FORWARD",
    "GRANZIOL_ZOHREN_ROBERTS_2022",
    "INDUCTIVE_BIAS_2024",
    "JACOT_GABRIEL_HONGLER_2018",
    "LABORIEUX_ZENKE_2024",
    "LEE_DNN_GP_2018",
    "LEE_LINEAR_MODELS_2019",
    "LEE_MPNP_2023",
    "LEE_SCALE_MIXTURES_2022",
    "LI_RUDNER_WILSON_2024",
    "LI_SONODA_2023",
    "MGNO",
    "MENG_SLTT_2023",
    "MIP_HYPERNETWORKS",
    "MULLER_PFN_2022",
    "PAUL_2007",
    "PDE_BEYOND_LINEARITY_2023",
    "PILANCI_ERGEN_2020",
    "RADHAKRISHNAN_BELKIN_UHLER_2023",
    "ROBERTS_YAIDA_HANIN_2022",
    "SARA",
    "SCALING_LAWS_PART1",
    "SHAH_WILSON_GHAHRAMANI_2014",
    "SHEN_POWERNORM_2020",
    "SHI_LIPSCHITZ_2022",
    "SNNK",
    "TPSGD",
    "TYURIN_2024",
    "WENG_FAST_LIN_2018",
    "XU_TRP_2020",
    "YANG_DKM_2023",
    "YANG_HU_TP4_2021",
    "ZHANG_RECURJAC_2019",
]

# ------------------------------------------------------------- cited by the plug-in registry too

ADJOINT_DPM = get_method("adjoint-dpm").paper
BT2 = get_method("bt2").paper
DCDM = get_method("dcdm").paper
FAN_QUADRATIC_NETWORKS = get_method("quadratic-relinear").paper
FORWARD_FORWARD = get_method("forward-forward").paper
GRANZIOL_ZOHREN_ROBERTS_2022 = get_method("lanczos-lr-batch").paper
INDUCTIVE_BIAS_2024 = get_method("inductive-bias").paper
MENG_SLTT_2023 = get_method("sltt").paper
MGNO = get_method("mgno").paper
MIP_HYPERNETWORKS = get_method("mip-hypernetwork").paper
PDE_BEYOND_LINEARITY_2023 = get_method("pde-beyond-linearity").paper
SARA = get_method("sara").paper
SCALING_LAWS_PART1 = get_method("scaling-laws-part1").paper
SNNK = get_method("snnk").paper
TPSGD = get_method("tpsgd").paper
XU_TRP_2020 = get_method("trained-rank-pruning").paper

# ------------------------------------------------------------------------ infinite-width theory

JACOT_GABRIEL_HONGLER_2018 = Paper(
    title="Neural Tangent Kernel: Convergence and Generalization in Neural Networks",
    authors=("Arthur Jacot", "Franck Gabriel", "Clément Hongler"),
    venue="NeurIPS",
    year=2018,
    url="https://arxiv.org/abs/1806.07572",
    arxiv="1806.07572",
)
LEE_DNN_GP_2018 = Paper(
    title="Deep Neural Networks as Gaussian Processes",
    authors=(
        "Jaehoon Lee",
        "Yasaman Bahri",
        "Roman Novak",
        "Samuel S. Schoenholz",
        "Jeffrey Pennington",
        "Jascha Sohl-Dickstein",
    ),
    venue="ICLR",
    year=2018,
    url="https://arxiv.org/abs/1711.00165",
    arxiv="1711.00165",
)
LEE_LINEAR_MODELS_2019 = Paper(
    title="Wide Neural Networks of Any Depth Evolve as Linear Models Under Gradient Descent",
    authors=(
        "Jaehoon Lee",
        "Lechao Xiao",
        "Samuel S. Schoenholz",
        "Yasaman Bahri",
        "Roman Novak",
        "Jascha Sohl-Dickstein",
        "Jeffrey Pennington",
    ),
    venue="NeurIPS",
    year=2019,
    url="https://arxiv.org/abs/1902.06720",
    arxiv="1902.06720",
)
YANG_HU_TP4_2021 = Paper(
    title="Tensor Programs IV: Feature Learning in Infinite-Width Neural Networks",
    authors=("Greg Yang", "Edward J. Hu"),
    venue="ICML",
    year=2021,
    url="https://arxiv.org/abs/2011.14522",
    arxiv="2011.14522",
)
ROBERTS_YAIDA_HANIN_2022 = Paper(
    title="The Principles of Deep Learning Theory",
    authors=("Daniel A. Roberts", "Sho Yaida", "Boris Hanin"),
    venue="Cambridge University Press",
    year=2022,
    url="https://arxiv.org/abs/2106.10165",
    arxiv="2106.10165",
)
RADHAKRISHNAN_BELKIN_UHLER_2023 = Paper(
    title="Wide and deep neural networks achieve consistency for classification",
    authors=("Adityanarayanan Radhakrishnan", "Mikhail Belkin", "Caroline Uhler"),
    venue="PNAS",
    year=2023,
    url="https://arxiv.org/abs/2204.14126",
    arxiv="2204.14126",
)
DEVROYE_GYORFI_KRZYZAK_1998 = Paper(
    title="The Hilbert kernel regression estimate",
    authors=("Luc Devroye", "László Györfi", "Adam Krzyżak"),
    venue="Journal of Multivariate Analysis",
    year=1998,
    url="https://doi.org/10.1006/jmva.1997.1725",
)
LI_SONODA_2023 = Paper(
    title="How Powerful are Shallow Neural Networks with Bandlimited Random Weights?",
    authors=("Ming Li", "Sho Sonoda", "Feilong Cao", "Yu Guang Wang", "Jiye Liang"),
    venue="ICML",
    year=2023,
    url="https://arxiv.org/abs/2008.08427",
    arxiv="2008.08427",
)

# -------------------------------------------------------------------- Bayesian and kernel models

LEE_SCALE_MIXTURES_2022 = Paper(
    title="Scale Mixtures of Neural Network Gaussian Processes",
    authors=("Hyungi Lee", "Eunggu Yun", "Hongseok Yang", "Juho Lee"),
    venue="ICLR",
    year=2022,
    url="https://arxiv.org/abs/2107.01408",
    arxiv="2107.01408",
)
YANG_DKM_2023 = Paper(
    title="A theory of representation learning gives a deep generalisation of kernel methods",
    authors=(
        "Adam X. Yang",
        "Maxime Robeyns",
        "Edward Milsom",
        "Ben Anson",
        "Nandi Schoots",
        "Laurence Aitchison",
    ),
    venue="ICML",
    year=2023,
    url="https://arxiv.org/abs/2108.13097",
    arxiv="2108.13097",
)
LEE_MPNP_2023 = Paper(
    title="Martingale Posterior Neural Processes",
    authors=("Hyungi Lee", "Eunggu Yun", "Giung Nam", "Edwin Fong", "Juho Lee"),
    venue="ICLR",
    year=2023,
    url="https://arxiv.org/abs/2304.09431",
    arxiv="2304.09431",
)
FONG_HOLMES_WALKER_2023 = Paper(
    title="Martingale posterior distributions",
    authors=("Edwin Fong", "Chris Holmes", "Stephen G. Walker"),
    venue="JRSS-B",
    year=2023,
    url="https://arxiv.org/abs/2103.15671",
    arxiv="2103.15671",
)
AHMADI_TANI_2019 = Paper(
    title="A Novel Predictive-Coding-Inspired Variational RNN Model for Online Prediction and Recognition",
    authors=("Ahmadreza Ahmadi", "Jun Tani"),
    venue="Neural Computation",
    year=2019,
    url="https://arxiv.org/abs/1811.01339",
    arxiv="1811.01339",
)
FENG_WINSTON_KOLTER_2023 = Paper(
    title="Monotone deep Boltzmann machines",
    authors=("Zhili Feng", "Ezra Winston", "J. Zico Kolter"),
    venue="TMLR",
    year=2023,
    url="https://arxiv.org/abs/2307.04990",
    arxiv="2307.04990",
)
AGLIARI_2023 = Paper(
    title="Dense Hebbian neural networks: a replica symmetric picture of supervised learning",
    authors=(
        "Elena Agliari",
        "Linda Albanese",
        "Francesco Alemanno",
        "Andrea Alessandrelli",
        "Adriano Barra",
        "Fosca Giannotti",
        "Daniele Lotito",
        "Dino Pedreschi",
    ),
    venue="Physica A",
    year=2023,
    url="https://arxiv.org/abs/2212.00606",
    arxiv="2212.00606",
)
LABORIEUX_ZENKE_2024 = Paper(
    title="Improving equilibrium propagation without weight symmetry through Jacobian homeostasis",
    authors=("Axel Laborieux", "Friedemann Zenke"),
    venue="ICLR",
    year=2024,
    url="https://arxiv.org/abs/2309.02214",
    arxiv="2309.02214",
)

# --------------------------------------------------------------- optimisation and normalisation

SHEN_POWERNORM_2020 = Paper(
    title="PowerNorm: Rethinking Batch Normalization in Transformers",
    authors=("Sheng Shen", "Zhewei Yao", "Amir Gholami", "Michael W. Mahoney", "Kurt Keutzer"),
    venue="ICML",
    year=2020,
    url="https://arxiv.org/abs/2003.07845",
    arxiv="2003.07845",
)
TYURIN_2024 = Paper(
    title="From Logistic Regression to the Perceptron Algorithm: Exploring Gradient Descent with Large "
    "Step Sizes",
    authors=("Alexander Tyurin",),
    venue="arXiv preprint",
    year=2024,
    url="https://arxiv.org/abs/2412.08424",
    arxiv="2412.08424",
)
PILANCI_ERGEN_2020 = Paper(
    title="Neural Networks are Convex Regularizers: Exact Polynomial-time Convex Optimization "
    "Formulations for Two-layer Networks",
    authors=("Mert Pilanci", "Tolga Ergen"),
    venue="ICML",
    year=2020,
    url="https://arxiv.org/abs/2002.10553",
    arxiv="2002.10553",
)
BAI_GAUTAM_SOJOUDI_2023 = Paper(
    title="Efficient Global Optimization of Two-Layer ReLU Networks: Quadratic-Time Algorithms and "
    "Adversarial Training",
    authors=("Yatong Bai", "Tanmay Gautam", "Somayeh Sojoudi"),
    venue="SIAM J. Math. Data Sci.",
    year=2023,
    url="https://arxiv.org/abs/2201.01965",
    arxiv="2201.01965",
)
BAIK_BEN_AROUS_PECHE_2005 = Paper(
    title="Phase transition of the largest eigenvalue for nonnull complex sample covariance matrices",
    authors=("Jinho Baik", "Gérard Ben Arous", "Sandrine Péché"),
    venue="Annals of Probability",
    year=2005,
    url="https://arxiv.org/abs/math/0403022",
    arxiv="math/0403022",
)
PAUL_2007 = Paper(
    title="Asymptotics of sample eigenstructure for a large dimensional spiked covariance model",
    authors=("Debashis Paul",),
    venue="Statistica Sinica",
    year=2007,
    url="https://www3.stat.sinica.edu.tw/statistica/J17N4/J17N418/J17N418.html",
)

# ------------------------------------------------------------------------- Lipschitz constants

SHI_LIPSCHITZ_2022 = Paper(
    title="Efficiently Computing Local Lipschitz Constants of Neural Networks via Bound Propagation",
    authors=("Zhouxing Shi", "Yihan Wang", "Huan Zhang", "J. Zico Kolter", "Cho-Jui Hsieh"),
    venue="NeurIPS",
    year=2022,
    url="https://arxiv.org/abs/2210.07394",
    arxiv="2210.07394",
)
WENG_FAST_LIN_2018 = Paper(
    title="Towards Fast Computation of Certified Robustness for ReLU Networks",
    authors=(
        "Tsui-Wei Weng",
        "Huan Zhang",
        "Hongge Chen",
        "Zhao Song",
        "Cho-Jui Hsieh",
        "Duane Boning",
        "Inderjit S. Dhillon",
        "Luca Daniel",
    ),
    venue="ICML",
    year=2018,
    url="https://arxiv.org/abs/1804.09699",
    arxiv="1804.09699",
)
ZHANG_RECURJAC_2019 = Paper(
    title="RecurJac: An Efficient Recursive Algorithm for Bounding Jacobian Matrix of Neural Networks "
    "and Its Applications",
    authors=("Huan Zhang", "Pengchuan Zhang", "Cho-Jui Hsieh"),
    venue="AAAI",
    year=2019,
    url="https://arxiv.org/abs/1810.11783",
    arxiv="1810.11783",
)

# ------------------------------------------------------------------ Bayesian components

MULLER_PFN_2022 = Paper(
    title="Transformers Can Do Bayesian Inference",
    authors=("Samuel Müller", "Noah Hollmann", "Sebastian Pineda Arango", "Josif Grabocka", "Frank Hutter"),
    venue="ICLR",
    year=2022,
    url="https://arxiv.org/abs/2112.10510",
    arxiv="2112.10510",
)
ADRIAENSEN_LCPFN_2023 = Paper(
    title="Efficient Bayesian Learning Curve Extrapolation using Prior-Data Fitted Networks",
    authors=("Steven Adriaensen", "Herilalaina Rakotoarison", "Samuel Müller", "Frank Hutter"),
    venue="NeurIPS",
    year=2023,
    url="https://arxiv.org/abs/2310.20447",
    arxiv="2310.20447",
)
SHAH_WILSON_GHAHRAMANI_2014 = Paper(
    title="Student-t Processes as Alternatives to Gaussian Processes",
    authors=("Amar Shah", "Andrew Gordon Wilson", "Zoubin Ghahramani"),
    venue="AISTATS",
    year=2014,
    url="https://arxiv.org/abs/1402.4306",
    arxiv="1402.4306",
)
LI_RUDNER_WILSON_2024 = Paper(
    title="A Study of Bayesian Neural Network Surrogates for Bayesian Optimization",
    authors=("Yucen Lily Li", "Tim G. J. Rudner", "Andrew Gordon Wilson"),
    venue="ICLR",
    year=2024,
    url="https://arxiv.org/abs/2305.20028",
    arxiv="2305.20028",
)
BALANDAT_BOTORCH_2020 = Paper(
    title="BoTorch: A Framework for Efficient Monte-Carlo Bayesian Optimization",
    authors=(
        "Maximilian Balandat",
        "Brian Karrer",
        "Daniel R. Jiang",
        "Samuel Daulton",
        "Benjamin Letham",
        "Andrew Gordon Wilson",
        "Eytan Bakshy",
    ),
    venue="NeurIPS",
    year=2020,
    url="https://arxiv.org/abs/1910.06403",
    arxiv="1910.06403",
)
