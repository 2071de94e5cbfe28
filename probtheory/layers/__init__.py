"""Drop-in layers from recent papers, each a plain ``nn.Module``.

* :class:`PolyReLU`, :class:`PolyNorm`: polynomial composition activations (Zhuo et al., ICLR 2025).
* :class:`BiPerLinear`, :class:`BiPerConv2d`: binary weights by a square wave with a sine
  surrogate gradient (Vargas et al., CVPR 2024); :func:`set_biper_stage` switches the two
  training stages.
* :class:`QuadraticLinear`: quadratic neurons, with ReLinear initialisation and
  :func:`relinear_param_groups` (Fan et al., IEEE TNNLS 2023).
* :class:`HyperNetwork`: hypernetworks with magnitude invariant parametrizations (Ortiz et
  al., ICLR 2024).
* :class:`PowerNorm`: power normalisation for transformers, a drop-in for BatchNorm/LayerNorm
  (Shen et al., ICML 2020).
* :class:`LIFNeuron`, :class:`TemporalSum`, :func:`rate_code`: leaky integrate-and-fire
  neurons with surrogate gradients, their temporal edge optionally cut for SLTT (Meng et al.,
  ICCV 2023).
* :class:`SNNKLinear`: scalable neural network kernels, ``Linear`` + activation as a product of
  random-feature maps (Sehanobish et al., ICLR 2024).
* :class:`GaussianEmbedding`, :class:`PhysicsInformedGaussians`: trainable Gaussian feature
  embeddings for physics-informed networks (Kang et al., ICLR 2025).
* :class:`VCycleConv`, :class:`MgNO`: a multigrid V-cycle of convolutions and the neural operator
  built from it (He, Liu and Xu, ICLR 2024).
* :class:`GCNConv`, :class:`GraphBatch`: graph convolution with the normalised adjacency
  D^-1/2 (A + I) D^-1/2 (Kipf and Welling, ICLR 2017) and a graph with its node split, without
  torch_geometric.
* :class:`BlackBoxLayer`, :class:`IntensityTransmission`: a physical system run forward only
  (backpropagation through it is refused), and a simulated optical medium |Tx|^2 (Momeni et
  al., Science 2023).
* :func:`swap_modules`: put any of them into an existing network.
"""

from probtheory.layers.biper import BiPerConv2d, BiPerLinear, approx_sign, set_biper_stage, square_wave
from probtheory.layers.gaussian_embedding import GaussianEmbedding, PhysicsInformedGaussians
from probtheory.layers.graph import GCNConv, GraphBatch, gcn_normalized_adjacency
from probtheory.layers.hypernetwork import HyperNetwork, encode_input
from probtheory.layers.mgno import MgNO, VCycleConv
from probtheory.layers.physical import BlackBoxLayer, IntensityTransmission
from probtheory.layers.polycom import PolyNorm, PolyReLU
from probtheory.layers.powernorm import PowerNorm
from probtheory.layers.quadratic import QuadraticLinear, relinear_param_groups
from probtheory.layers.snnk import SNNKLinear, URFDecomposition, arccos_kernel
from probtheory.layers.spiking import LIFNeuron, TemporalSum, rate_code
from probtheory.layers.swap import swap_modules

__all__ = [
    "BiPerConv2d",
    "BiPerLinear",
    "BlackBoxLayer",
    "GCNConv",
    "GaussianEmbedding",
    "GraphBatch",
    "HyperNetwork",
    "IntensityTransmission",
    "LIFNeuron",
    "MgNO",
    "PhysicsInformedGaussians",
    "PolyNorm",
    "PolyReLU",
    "PowerNorm",
    "QuadraticLinear",
    "SNNKLinear",
    "TemporalSum",
    "URFDecomposition",
    "VCycleConv",
    "approx_sign",
    "arccos_kernel",
    "encode_input",
    "gcn_normalized_adjacency",
    "rate_code",
    "relinear_param_groups",
    "set_biper_stage",
    "square_wave",
    "swap_modules",
]
