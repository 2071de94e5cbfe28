r"""BT²: backward-compatible embeddings with a basis transformation and extra dimensions.

Zhou, Li, Shrivastava, Zhao, Torralba, Tian & Lim, "BT²: Backward-compatible Training with Basis
Transformation" (ICCV 2023; code YifeiZhou02/BT-2). A retrieval gallery embedded by an *old*
model should stay searchable with a *new* model's queries without re-embedding it
("backward compatibility"). Pulling the new embedding onto the old one (BCT's influence loss, an
L2/cosine penalty) costs the new model accuracy; BT² adds ``k`` extra dimensions and routes the
compatibility through orthogonal maps, which lose no information.

With a backbone giving a new feature :math:`f \in \mathbb R^{d}` and extra features
:math:`g \in \mathbb R^{k}`, both normalised (:math:`\hat f, \hat g`), the basis transformation is

.. math::
    z = \bigl[\hat g,\; O_1 (C \hat f)\bigr] \in \mathbb R^{k + d}, \qquad
    z_{\mathrm{bct}} = O_2\, z_{1:d_{\mathrm{old}}}, \qquad
    z_{\mathrm{new}} = \bigl[z_{\mathrm{bct}},\; z_{d_{\mathrm{old}}+1:k+d}\bigr],

with :math:`O_1 \in O(d)` and :math:`O_2 \in O(d_{\mathrm{old}})` learnt orthogonal matrices
(``torch.nn.utils.parametrizations.orthogonal``) and :math:`C \approx 3`. :math:`z_{\mathrm{bct}}`
is compared with old embeddings (new query vs old gallery), :math:`z_{\mathrm{new}}` with new
ones. Since :math:`z_{\mathrm{new}} = \operatorname{diag}(O_2, I)\, z`, the map is an isometry:
:math:`\lVert z_{\mathrm{new}}\rVert^2 = 1 + C^2` and :math:`\hat f`, :math:`\hat g` are recovered
exactly from :math:`z_{\mathrm{new}}` (:meth:`BasisTransform.invert`). The training loss
(``trainers/transfer_trainer.py`` of the reference code) is

.. math::
    \mathcal L = \mathrm{CE}(W \hat f, y)
      + \lambda_{\mathrm{old}} \bigl(1 - \cos(z_{\mathrm{bct}}, \phi_{\mathrm{old}}(x))\bigr)
      + \lambda_{\mathrm{new}} \bigl(1 - \cos(\hat f, \phi_{\mathrm{new'}}(x))\bigr)
      + \lambda_{\mathrm{infl}}\, \mathrm{CE}\bigl(P\, \widehat{z_{\mathrm{bct}}}, y\bigr),

with :math:`\phi_{\mathrm{new'}}` an independently trained new model, :math:`P` the "pseudo
classifier" of class means of old embeddings (BCT's influence loss, :func:`old_class_means`), and
weights 10, 1, 10 in the reference code. :class:`BackwardCompatibleLoss` adds the last three terms
in the ``on_loss`` hook of :func:`probtheory.plugins.fit`; with the basis transformation left out
(``transform=None``) the same callback gives the BCT and L2-compatibility baselines (for unit
vectors :math:`\lVert a - b\rVert^2 = 2(1 - \cos(a, b))`).

Example:
    >>> import torch
    >>> from torch import nn
    >>> from probtheory.plugins import fit
    >>> g = torch.Generator().manual_seed(0)
    >>> x, y = torch.randn(64, 5, generator=g), torch.randint(0, 3, (64,), generator=g)
    >>> old = CompatibleEmbedder(nn.Linear(5, 4), num_classes=3, new_dim=4)
    >>> new = CompatibleEmbedder(nn.Linear(5, 6 + 2), num_classes=3, new_dim=6,
    ...                          transform=BasisTransform(old_dim=4, new_dim=6, extra_dim=2, seed=0))
    >>> callback = BackwardCompatibleLoss(old, transfer_weight=0.0, influence_weight=0.0)
    >>> _ = fit(new, [(x, y)] * 4, epochs=2, callbacks=[callback], progress=False)
    >>> out = new.embed(x)
    >>> out.compatible.shape, out.embedding.shape  # old space (4) and new space (6 + 2)
    (torch.Size([64, 4]), torch.Size([64, 8]))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import orthogonal

from probtheory._checks import (
    check_class_labels,
    check_finite,
    check_inputs,
    check_int,
    check_logit_labels,
    check_real,
)
from probtheory.errors import ConfigurationError, InputDataError, UnsupportedError
from probtheory.training.loop import TrainingCallback, TrainState

__all__ = [
    "BackwardCompatibleLoss",
    "BasisTransform",
    "CompatibleEmbedder",
    "Embeddings",
    "old_class_means",
]


class Embeddings(NamedTuple):
    r"""The three views of a batch that a backward-compatible model produces.

    Attributes:
        compatible: `b x d_old`, compared with the old model's embeddings (:math:`z_{bct}`).
        embedding: `b x e`, compared with the new model's own embeddings (:math:`z_{new}`).
        feature: `b x d`, the normalised new feature :math:`\hat f` (input of the classifier).
    """

    compatible: Tensor
    embedding: Tensor
    feature: Tensor


class BasisTransform(nn.Module):
    r"""The BT² head: :math:`z = [\hat g, O_1 C \hat f]`, :math:`z_{bct} = O_2 z_{1:d_{old}}`.

    Args:
        old_dim: Dimension :math:`d_{old}` of the old embedding space.
        new_dim: Dimension :math:`d` of the new feature :math:`f`.
        extra_dim: Number :math:`k \ge 0` of extra dimensions :math:`g`; ``old_dim <= new_dim + extra_dim``.
        scale: :math:`C > 0`, the weight of :math:`f` against :math:`g` in :math:`z` (paper: 3).
        seed: Seeds the random orthogonal initialisation of :math:`O_1, O_2`.
        dtype: Parameter dtype (``torch.float64`` for exact checks); default the torch default.
    """

    def __init__(
        self,
        old_dim: int,
        new_dim: int,
        extra_dim: int,
        scale: float = 3.0,
        *,
        seed: int | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.old_dim = check_int("old_dim", old_dim, minimum=1)
        self.new_dim = check_int("new_dim", new_dim, minimum=1)
        self.extra_dim = check_int("extra_dim", extra_dim, minimum=0)
        self.scale = check_real("scale", scale, positive=True)
        if self.old_dim > self.new_dim + self.extra_dim:
            raise ConfigurationError(
                f"`old_dim` ({old_dim}) must be at most `new_dim + extra_dim` ({new_dim} + {extra_dim}): "
                "the compatible embedding is an orthogonal image of the first old_dim coordinates of z."
            )
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(check_int("seed", seed, minimum=0))
            # created in the final dtype: the orthogonal parametrization keeps a base matrix that is
            # orthogonal only to the precision it was made in (``.double()`` later would not fix it)
            self.rotate_feature = orthogonal(nn.Linear(self.new_dim, self.new_dim, bias=False, dtype=dtype))
            self.rotate_compatible = orthogonal(
                nn.Linear(self.old_dim, self.old_dim, bias=False, dtype=dtype)
            )

    @property
    def embedding_dim(self) -> int:
        """Dimension ``new_dim + extra_dim`` of :math:`z_{new}`."""
        return self.new_dim + self.extra_dim

    def forward(self, feature: Tensor, extra: Tensor) -> Embeddings:
        r"""Transform a batch of new features and extra features.

        Args:
            feature: A `b x new_dim` tensor :math:`f` (normalised here).
            extra: A `b x extra_dim` tensor :math:`g` (normalised here; `b x 0` when ``extra_dim = 0``).

        Returns:
            :class:`Embeddings` with `compatible` `b x old_dim`, `embedding` `b x (extra_dim + new_dim)`
            and `feature` :math:`\hat f`, `b x new_dim`.
        """
        check_inputs("feature", feature, feature_dim=self.new_dim)
        check_inputs("extra", extra, feature_dim=self.extra_dim)
        if extra.shape[:-1] != feature.shape[:-1]:
            raise InputDataError("extra", f"batch shape {tuple(feature.shape[:-1])}", tuple(extra.shape))
        f = F.normalize(feature, dim=-1)
        g = F.normalize(extra, dim=-1) if self.extra_dim else extra
        z = torch.cat([g, self.rotate_feature(self.scale * f)], dim=-1)
        compatible = self.rotate_compatible(z[..., : self.old_dim])
        return Embeddings(compatible, torch.cat([compatible, z[..., self.old_dim :]], dim=-1), f)

    def invert(self, embedding: Tensor) -> tuple[Tensor, Tensor]:
        r"""Recover :math:`(\hat f, \hat g)` from :math:`z_{new}` (the transformation loses nothing).

        Args:
            embedding: A `b x (new_dim + extra_dim)` tensor of :math:`z_{new}` (from :meth:`forward`).

        Returns:
            ``(feature, extra)``: `b x new_dim` :math:`\hat f` and `b x extra_dim` :math:`\hat g`.
        """
        check_inputs("embedding", embedding, feature_dim=self.embedding_dim)
        head = embedding[..., : self.old_dim] @ self.rotate_compatible.weight  # O2^T z_bct (row form)
        z = torch.cat([head, embedding[..., self.old_dim :]], dim=-1)
        feature = z[..., self.extra_dim :] @ self.rotate_feature.weight / self.scale
        return feature, z[..., : self.extra_dim]


class CompatibleEmbedder(nn.Module):
    r"""A classifier whose features are embeddings: backbone, optional BT² head, linear classifier.

    Without a transform, the backbone's output is the feature :math:`f` and all three
    :class:`Embeddings` are :math:`\hat f` (an old model, an independent new model, or the BCT / L2
    baselines). With a :class:`BasisTransform`, the backbone outputs ``new_dim + extra_dim``
    columns, split into :math:`f` and :math:`g`. The classifier is a bias-free linear map of
    :math:`\hat f`, as in the reference code.

    ``forward`` returns logits, so :func:`probtheory.training.loop.classification_loss` trains
    it, and keeps the batch's :class:`Embeddings` in :attr:`last_embeddings` for
    :class:`BackwardCompatibleLoss` (one forward pass serves both losses).

    Args:
        backbone: Maps `b x ...` inputs to `b x (new_dim + extra_dim)` features.
        num_classes: Number of classes of the classifier.
        new_dim: Dimension :math:`d` of :math:`f`.
        transform: The BT² head, or ``None``.

    Attributes:
        last_embeddings: The :class:`Embeddings` of the last ``forward`` call (``None`` before).
    """

    def __init__(
        self, backbone: nn.Module, num_classes: int, new_dim: int, transform: BasisTransform | None = None
    ) -> None:
        super().__init__()
        if not isinstance(backbone, nn.Module):
            raise InputDataError("backbone", "an nn.Module", type(backbone).__name__)
        if transform is not None and not isinstance(transform, BasisTransform):
            raise InputDataError("transform", "a BasisTransform or None", type(transform).__name__)
        self.new_dim = check_int("new_dim", new_dim, minimum=1)
        if transform is not None and transform.new_dim != self.new_dim:
            raise ConfigurationError(
                f"`transform.new_dim` ({transform.new_dim}) must equal `new_dim` ({self.new_dim})."
            )
        self.backbone = backbone
        self.transform = transform
        self.classifier = nn.Linear(
            self.new_dim, check_int("num_classes", num_classes, minimum=2), bias=False
        )
        self.last_embeddings: Embeddings | None = None

    @property
    def backbone_dim(self) -> int:
        """Columns the backbone must output: ``new_dim`` (+ ``extra_dim`` with a transform)."""
        return self.new_dim + (self.transform.extra_dim if self.transform is not None else 0)

    def embed(self, x: Tensor) -> Embeddings:
        """The :class:`Embeddings` of a batch (in the module's current mode, with gradients).

        Args:
            x: A `b x ...` tensor of inputs.
        """
        raw = self.backbone(x)
        if raw.dim() != 2 or raw.shape[-1] != self.backbone_dim:
            raise InputDataError("backbone", f"`b x {self.backbone_dim}` outputs", tuple(raw.shape))
        if self.transform is None:
            f = F.normalize(raw, dim=-1)
            return Embeddings(f, f, f)
        return self.transform(raw[:, : self.new_dim], raw[:, self.new_dim :])

    def forward(self, x: Tensor) -> Tensor:
        r"""`b x num_classes` logits :math:`W \hat f`; the embeddings go to :attr:`last_embeddings`."""
        self.last_embeddings = self.embed(x)
        return self.classifier(self.last_embeddings.feature)


#: ``embedder(x) -> b x d`` embeddings of a frozen model (e.g. ``lambda x: old.embed(x).embedding``).
Embedder = Callable[[Tensor], Tensor]


def _frozen_embedding(model: nn.Module | Embedder, x: Tensor, view: str = "embedding") -> Tensor:
    """A frozen model's embeddings (``view`` of a :class:`CompatibleEmbedder`), in eval mode, no gradients."""
    is_module = isinstance(model, nn.Module)
    was_training = model.training if is_module else False
    if is_module:
        model.eval()
    try:
        with torch.no_grad():
            if isinstance(model, CompatibleEmbedder):
                return getattr(model.embed(x), view)
            return model(x)
    finally:
        if is_module:
            model.train(was_training)


def old_class_means(old_model: nn.Module | Embedder, x: Tensor, y: Tensor, num_classes: int) -> Tensor:
    """BCT's pseudo classifier: the mean normalised old embedding of each class of the new data.

    New classes unseen by the old model get a row too (the mean of their old embeddings), as in
    the reference code (``train_feature_transfer.py``).

    Args:
        old_model: A :class:`CompatibleEmbedder` (its ``embedding`` is used) or ``x -> b x d_old``.
        x: An `n x ...` tensor of training inputs.
        y: An `n` tensor of class indices in ``[0, num_classes)``; every class must occur.
        num_classes: Number of classes `c` of the new model.

    Returns:
        A `c x d_old` tensor.
    """
    num_classes = check_int("num_classes", num_classes, minimum=1)
    y = check_class_labels("y", y, x.shape[0], num_classes)
    counts = torch.bincount(y, minlength=num_classes)
    if (counts == 0).any():
        missing = torch.nonzero(counts == 0).flatten().tolist()
        raise InputDataError("y", f"every class in [0, {num_classes}) present", f"no samples of {missing}")
    old = F.normalize(_frozen_embedding(old_model, x), dim=-1)
    sums = torch.zeros(num_classes, old.shape[-1], dtype=old.dtype).index_add_(0, y, old)
    return sums / counts[:, None].to(old.dtype)


class BackwardCompatibleLoss(TrainingCallback):
    r"""Adds BT²'s compatibility losses to the classification loss, in the ``on_loss`` hook.

    .. math::
        \lambda_{old}(1 - \cos(z_{bct}, \phi_{old}(x))) + \lambda_{new}(1 - \cos(\hat f, \phi_{new'}(x)))
        + \lambda_{infl}\, \mathrm{CE}(P \widehat{z_{bct}}, y)

    (batch means). The model trained must be a :class:`CompatibleEmbedder` and the loss of
    :func:`probtheory.plugins.fit` must call its ``forward`` on the batch's inputs (the default
    :func:`~probtheory.training.loop.classification_loss` does), since the terms are computed
    from the embeddings of that forward pass. Batches are ``(x, y)``. Setting weights to zero
    gives the baselines: BCT is ``compatibility_weight=0, transfer_weight=0`` with the influence
    loss; L2 compatibility is the first term alone on a model without transform.

    Args:
        old_model: The frozen old model: a :class:`CompatibleEmbedder` or ``x -> b x d_old``.
        new_model: The independently trained new model :math:`\phi_{new'}` (``x -> b x d``, or a
            :class:`CompatibleEmbedder`, whose ``feature`` is used); needed if ``transfer_weight > 0``.
        old_classifier: `c x d_old` pseudo classifier :math:`P` (:func:`old_class_means`); needed if
            ``influence_weight > 0``.
        compatibility_weight: :math:`\lambda_{old} \ge 0` (reference: 10).
        transfer_weight: :math:`\lambda_{new} \ge 0` (reference: 1).
        influence_weight: :math:`\lambda_{infl} \ge 0` (reference: 10).

    Attributes:
        weights: The terms with a positive weight, ``{"compatibility": 10.0, ...}``.
        history: Per epoch, the batch mean of each of those terms (unweighted).
    """

    def __init__(
        self,
        old_model: nn.Module | Embedder,
        *,
        new_model: nn.Module | Embedder | None = None,
        old_classifier: Tensor | None = None,
        compatibility_weight: float = 10.0,
        transfer_weight: float = 1.0,
        influence_weight: float = 10.0,
    ) -> None:
        for name, model in (("old_model", old_model), ("new_model", new_model)):
            if model is not None and not callable(model):
                raise InputDataError(name, "an nn.Module or a callable x -> embeddings", type(model).__name__)
        self.compatibility_weight = check_real("compatibility_weight", compatibility_weight, nonnegative=True)
        self.transfer_weight = check_real("transfer_weight", transfer_weight, nonnegative=True)
        self.influence_weight = check_real("influence_weight", influence_weight, nonnegative=True)
        if self.transfer_weight > 0 and new_model is None:
            raise ConfigurationError("`transfer_weight` > 0 needs `new_model` (the independent new model).")
        if self.influence_weight > 0 and old_classifier is None:
            raise ConfigurationError("`influence_weight` > 0 needs `old_classifier` (see old_class_means).")
        if old_classifier is not None:
            check_finite("old_classifier", old_classifier)
            if old_classifier.dim() != 2:
                raise InputDataError("old_classifier", "a `c x d_old` tensor", tuple(old_classifier.shape))
        self.old_model, self.new_model, self.old_classifier = old_model, new_model, old_classifier
        self.weights = {
            name: weight
            for name, weight in (
                ("compatibility", self.compatibility_weight),
                ("transfer", self.transfer_weight),
                ("influence", self.influence_weight),
            )
            if weight > 0
        }
        self.history: dict[str, list[float]] = {name: [] for name in self.weights}
        self._batch: tuple[Tensor, Tensor] | None = None
        self._sums: dict[str, float] = {}
        self._count = 0

    def on_fit_start(self, state: TrainState) -> None:
        """Require a :class:`CompatibleEmbedder`."""
        if not isinstance(state.model, CompatibleEmbedder):
            raise UnsupportedError("model", "a CompatibleEmbedder", type(state.model).__name__)

    def on_epoch_start(self, state: TrainState) -> None:
        """Reset the per-epoch sums of the terms."""
        self._sums, self._count = dict.fromkeys(self.history, 0.0), 0

    def on_batch_start(self, state: TrainState, batch: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        """Keep the batch: its inputs give the frozen models' targets."""
        if not isinstance(batch, tuple | list) or len(batch) != 2:
            raise InputDataError("batch", "a pair (x, y)", type(batch).__name__)
        self._batch = (batch[0], batch[1])
        return batch

    def on_loss(self, state: TrainState, loss: Tensor) -> Tensor:
        """Return ``loss`` plus the weighted compatibility terms of this batch."""
        terms = self.terms(state.model, *self._batch)
        for name, value in terms.items():
            self._sums[name] += float(value.detach())
        self._count += 1
        return loss + sum(self.weights[name] * value for name, value in terms.items())

    def terms(self, model: CompatibleEmbedder, x: Tensor, y: Tensor) -> dict[str, Tensor]:
        """The unweighted terms with a positive weight, from ``model``'s last forward pass on ``x``.

        Args:
            model: The model, whose ``forward`` was just called on ``x``.
            x: The batch's `b x ...` inputs.
            y: The batch's `b` class indices.
        """
        out = model.last_embeddings
        if out is None or out.compatible.shape[0] != x.shape[0]:
            raise ConfigurationError(
                "BackwardCompatibleLoss needs the loss to call the model's forward on the batch inputs "
                "(e.g. classification_loss); no matching embeddings were found."
            )
        terms: dict[str, Tensor] = {}
        if self.compatibility_weight > 0:
            old = _frozen_embedding(self.old_model, x)
            _check_width("old_model", old, out.compatible.shape[-1])
            terms["compatibility"] = 1 - F.cosine_similarity(out.compatible, old, dim=-1).mean()
        if self.transfer_weight > 0:
            target = _frozen_embedding(self.new_model, x, "feature")
            _check_width("new_model", target, out.feature.shape[-1])
            terms["transfer"] = 1 - F.cosine_similarity(out.feature, target, dim=-1).mean()
        if self.influence_weight > 0:
            _check_width("old_classifier", self.old_classifier, out.compatible.shape[-1])
            logits = F.normalize(out.compatible, dim=-1) @ self.old_classifier.to(out.compatible.dtype).T
            terms["influence"] = F.cross_entropy(logits, check_logit_labels("y", y, logits))
        return terms

    def on_epoch_end(self, state: TrainState) -> None:
        """Append each term's mean over the epoch's batches to :attr:`history`."""
        for name in self.history:
            self.history[name].append(self._sums[name] / self._count if self._count else float("nan"))


def _check_width(name: str, tensor: Tensor, width: int) -> None:
    if tensor.shape[-1] != width:
        raise InputDataError(name, f"embeddings of width {width}", f"shape {tuple(tensor.shape)}")
