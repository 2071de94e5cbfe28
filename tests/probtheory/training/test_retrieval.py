"""Retrieval accuracies: hand-made embeddings, invariance to a common rotation, bad input."""

from __future__ import annotations

import pytest
import torch

from probtheory.errors import InputDataError
from probtheory.training.retrieval import nearest_mean_accuracy, nearest_neighbour_accuracy

DTYPE = torch.float64


def _randn(*shape, seed=0):
    return torch.randn(*shape, dtype=DTYPE, generator=torch.Generator().manual_seed(seed))


def test_retrieval_accuracies_on_hand_made_embeddings():
    gallery = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.1]], dtype=DTYPE)
    labels = torch.tensor([0, 1, 2])
    # nearest by cosine: [0.9, 0.2] -> 0, [0.1, 3] -> 1, [-1, -0.5] -> 2 (cos .89 vs 0 vs ...), [0.2, 1] -> 1
    query = torch.tensor([[0.9, 0.2], [0.1, 3.0], [-1.0, -0.5], [0.2, 1.0]], dtype=DTYPE)
    assert nearest_neighbour_accuracy(query, torch.tensor([0, 1, 2, 0]), gallery, labels) == 0.75
    assert nearest_neighbour_accuracy(gallery, labels, gallery, labels) == 1.0
    rotation = torch.linalg.qr(_randn(2, 2))[0]
    assert (
        nearest_neighbour_accuracy(query @ rotation, torch.tensor([0, 1, 2, 0]), gallery @ rotation, labels)
        == 0.75
    )
    # class means of two items of class 0 ([1,0] and [0,1] -> mean direction [1,1]) and one of class 1
    gallery = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]], dtype=DTYPE)
    query = torch.tensor([[1.0, 1.2], [-1.0, 0.9], [0.1, 1.0]], dtype=DTYPE)
    assert nearest_mean_accuracy(query, torch.tensor([0, 1, 1]), gallery, torch.tensor([0, 0, 1])) == 2 / 3


def test_bad_input_raises():
    with pytest.raises(InputDataError, match="gallery"):
        nearest_neighbour_accuracy(torch.randn(3, 2), torch.zeros(3, dtype=torch.long), torch.randn(4, 3),
                                   torch.zeros(4, dtype=torch.long))  # fmt: skip
    with pytest.raises(InputDataError, match="query_labels"):
        nearest_mean_accuracy(torch.randn(3, 2), torch.zeros(2, dtype=torch.long), torch.randn(4, 2),
                              torch.zeros(4, dtype=torch.long))  # fmt: skip
    with pytest.raises(InputDataError, match="non-negative"):
        nearest_neighbour_accuracy(torch.randn(3, 2), torch.tensor([0, 1, -1]), torch.randn(3, 2),
                                   torch.tensor([0, 1, 1]))  # fmt: skip
    with pytest.raises(InputDataError, match="gallery_labels"):
        nearest_mean_accuracy(torch.randn(3, 2), torch.tensor([0, 1, 1]), torch.randn(3, 2),
                              torch.tensor([0.0, 1.0, 1.0]))  # fmt: skip
