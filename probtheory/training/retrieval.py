"""Retrieval accuracy of embeddings: 1-nearest-neighbour and nearest class mean, by cosine similarity.

The measures of backward-compatible training (:mod:`probtheory.training.bt2`): a query embedded
by one model is matched against a gallery embedded by the same or another model.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from probtheory._checks import check_class_labels, check_inputs
from probtheory.errors import InputDataError

__all__ = ["nearest_mean_accuracy", "nearest_neighbour_accuracy"]


def nearest_neighbour_accuracy(
    query: Tensor, query_labels: Tensor, gallery: Tensor, gallery_labels: Tensor
) -> float:
    """1-NN retrieval accuracy (cosine): share of queries whose nearest gallery item has their label.

    Cross-model retrieval uses one model's embeddings for the queries and another's for the
    gallery (new query vs old gallery: ``compatible`` vs the old ``embedding``). Ties go to the
    first gallery item.

    Args:
        query: An `m x e` tensor of query embeddings.
        query_labels: An `m` tensor of their class indices.
        gallery: An `n x e` tensor of gallery embeddings.
        gallery_labels: An `n` tensor of their class indices.

    Returns:
        The accuracy in [0, 1].
    """
    query, gallery = _check_retrieval(query, query_labels, gallery, gallery_labels)
    nearest = (F.normalize(query, dim=-1) @ F.normalize(gallery, dim=-1).T).argmax(dim=-1)
    return float((gallery_labels[nearest] == query_labels).double().mean())


def nearest_mean_accuracy(
    query: Tensor, query_labels: Tensor, gallery: Tensor, gallery_labels: Tensor
) -> float:
    """Classification by the nearest class mean of the (normalised) gallery, by cosine similarity.

    Classes absent from the gallery are never predicted.

    Args:
        query: An `m x e` tensor of query embeddings.
        query_labels: An `m` tensor of their class indices.
        gallery: An `n x e` tensor of gallery embeddings, whose class means are the prototypes.
        gallery_labels: An `n` tensor of their class indices.

    Returns:
        The accuracy in [0, 1].
    """
    query, gallery = _check_retrieval(query, query_labels, gallery, gallery_labels)
    classes = torch.unique(gallery_labels)
    unit = F.normalize(gallery, dim=-1)
    means = torch.stack([unit[gallery_labels == c].mean(0) for c in classes])
    predicted = classes[(F.normalize(query, dim=-1) @ F.normalize(means, dim=-1).T).argmax(dim=-1)]
    return float((predicted == query_labels).double().mean())


def _check_retrieval(query: Tensor, query_labels: Tensor, gallery: Tensor, gallery_labels: Tensor):
    check_inputs("query", query)
    check_inputs("gallery", gallery)
    if query.dim() != 2 or gallery.dim() != 2:
        raise InputDataError(
            "query", "2-d `m x e` and `n x e` tensors", (tuple(query.shape), tuple(gallery.shape))
        )
    if query.shape[-1] != gallery.shape[-1]:
        raise InputDataError(
            "gallery", f"the query's embedding width {query.shape[-1]}", f"shape {tuple(gallery.shape)}"
        )
    if gallery.shape[0] == 0 or query.shape[0] == 0:
        raise InputDataError("gallery", "at least one query and one gallery item", "an empty tensor")
    check_class_labels("query_labels", query_labels, query.shape[0])
    check_class_labels("gallery_labels", gallery_labels, gallery.shape[0])
    return query, gallery.to(query.dtype)
