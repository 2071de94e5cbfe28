"""Offline data for reproductions: scikit-learn's bundled digits, and a stochastic block model graph.

Nothing here downloads: ``load_digits`` ships inside scikit-learn (1797 8x8 images, 10 classes);
:func:`sbm_graph` draws a node-classification graph from a seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from probtheory._checks import check_int, check_real, require_module
from probtheory.errors import InputDataError
from probtheory.layers.graph import GraphBatch  # re-exported: the graph data of sbm_graph
from probtheory.training.minibatches import Minibatches  # re-exported: its former home

__all__ = ["ClassificationSplit", "GraphBatch", "Minibatches", "digits_split", "sbm_graph"]


@dataclass(frozen=True)
class ClassificationSplit:
    """A standardised train/test split of a classification data set.

    Attributes:
        x_train: An `n_train x d` float32 tensor, standardised with the training statistics.
        y_train: An `n_train` int64 tensor of class indices.
        x_test: An `n_test x d` float32 tensor, standardised with the *training* statistics.
        y_test: An `n_test` int64 tensor of class indices.
        num_classes: Number of classes.
    """

    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    num_classes: int

    @property
    def num_features(self) -> int:
        """The input dimension `d`."""
        return int(self.x_train.shape[-1])


def digits_split(seed: int = 0, test_fraction: float = 0.3) -> ClassificationSplit:
    """scikit-learn's digits, split stratified by class and standardised.

    Args:
        seed: Seed of the split.
        test_fraction: Share of the 1797 images held out for testing, in (0, 1).

    Returns:
        A :class:`ClassificationSplit` with `d = 64` features and 10 classes (with the default
        fraction 1257 training and 540 test images).
    """
    # imported here: the registry and the layers do not need scikit-learn
    require_module("sklearn", extra="datasets", purpose="the digits reproductions")
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    seed = check_int("seed", seed, minimum=0)
    test_fraction = check_real("test_fraction", test_fraction, positive=True)
    if test_fraction >= 1:
        raise InputDataError("test_fraction", "a number in (0, 1)", test_fraction)
    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=test_fraction, stratify=y, random_state=seed
    )
    scaler = StandardScaler().fit(x_train)  # constant border pixels get scale 1, not a division by 0
    return ClassificationSplit(
        x_train=torch.as_tensor(scaler.transform(x_train), dtype=torch.float32),
        y_train=torch.as_tensor(y_train, dtype=torch.int64),
        x_test=torch.as_tensor(scaler.transform(x_test), dtype=torch.float32),
        y_test=torch.as_tensor(y_test, dtype=torch.int64),
        num_classes=int(y.max()) + 1,
    )


def sbm_graph(
    n: int = 2000,
    classes: int = 4,
    p_in: float = 0.02,
    p_out: float = 0.002,
    noise: float = 1.0,
    seed: int = 0,
    *,
    features: int = 16,
    split: tuple[float, float] = (0.1, 0.1),
) -> GraphBatch:
    """A stochastic block model graph with noisy class-centroid features, for node classification.

    Node ``i`` gets a class ``y_i`` (balanced, shuffled); an undirected edge joins two nodes with
    probability ``p_in`` inside a class and ``p_out`` across classes (no self-loops). Features
    are ``mu_{y_i} + noise * N(0, I)``, with class centroids ``mu_c`` drawn as unit vectors, so
    ``noise`` sets how much a feature-only classifier (an MLP) can read, and the graph's homophily
    (``p_in`` against ``p_out``) how much a graph network gains over it. The masks split the
    nodes at random into ``split[0]`` training, ``split[1]`` validation and the rest test.

    Args:
        n: Number of nodes.
        classes: Number of classes (blocks), at least 2.
        p_in: Edge probability within a class, in [0, 1].
        p_out: Edge probability across classes, in [0, 1].
        noise: Standard deviation of the feature noise, positive.
        seed: Seed of everything drawn.
        features: Feature dimension `d`.
        split: Training and validation shares of the nodes, positive, summing below 1.

    Returns:
        A :class:`GraphBatch` with a sparse symmetric adjacency.

    Raises:
        InputDataError: If an argument is out of range, or a split share leaves a split empty.
    """
    n = check_int("n", n, minimum=4)
    classes = check_int("classes", classes, minimum=2)
    if classes > n:
        raise InputDataError("classes", f"at most n = {n} classes", classes)
    for name, p in (("p_in", p_in), ("p_out", p_out)):
        if not 0.0 <= check_real(name, p) <= 1.0:
            raise InputDataError(name, "a probability in [0, 1]", p)
    noise = check_real("noise", noise, positive=True)
    seed = check_int("seed", seed, minimum=0)
    features = check_int("features", features, minimum=1)
    if not isinstance(split, (tuple, list)) or len(split) != 2:
        raise InputDataError("split", "(train share, validation share)", split)
    train_share, val_share = (check_real("split", s, positive=True) for s in split)
    n_train, n_val = round(train_share * n), round(val_share * n)
    if n_train < 1 or n_val < 1 or n_train + n_val >= n:
        raise InputDataError("split", "shares leaving every split at least one node", split)
    generator = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % classes
    y = y[torch.randperm(n, generator=generator)]
    same = y[:, None] == y[None, :]
    probability = torch.where(same, torch.tensor(float(p_in)), torch.tensor(float(p_out)))
    upper = torch.triu(torch.rand(n, n, generator=generator) < probability, diagonal=1)
    edges = upper | upper.T
    adjacency = edges.float().to_sparse().coalesce()
    centroids = torch.randn(classes, features, generator=generator)
    centroids = centroids / centroids.norm(dim=1, keepdim=True)
    x = centroids[y] + noise * torch.randn(n, features, generator=generator)
    order = torch.randperm(n, generator=generator)
    masks = [torch.zeros(n, dtype=torch.bool) for _ in range(3)]
    masks[0][order[:n_train]] = True
    masks[1][order[n_train : n_train + n_val]] = True
    masks[2][order[n_train + n_val :]] = True
    return GraphBatch(
        x=x, adjacency=adjacency, y=y, train_mask=masks[0], val_mask=masks[1], test_mask=masks[2]
    )
