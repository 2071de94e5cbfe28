"""BT²: the basis transformation is an exact isometry, the compatibility losses, errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from probtheory.errors import ConfigurationError, InputDataError, UnsupportedError
from probtheory.plugins import fit
from probtheory.training.bt2 import (
    BackwardCompatibleLoss,
    BasisTransform,
    CompatibleEmbedder,
    old_class_means,
)

DTYPE = torch.float64
TOL = {"rtol": 1e-12, "atol": 1e-12}  # orthogonal maps in float64: only round-off


def _randn(*shape, seed=0):
    return torch.randn(*shape, dtype=DTYPE, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(("old_dim", "new_dim", "extra_dim"), [(16, 16, 8), (6, 4, 3), (3, 5, 2), (4, 4, 0)])
def test_transform_is_an_isometry_and_invertible(old_dim, new_dim, extra_dim):
    head = BasisTransform(old_dim, new_dim, extra_dim, scale=3.0, seed=1, dtype=DTYPE)
    f, g = _randn(7, new_dim, seed=2), _randn(7, extra_dim, seed=3)
    out = head(f, g)
    assert out.compatible.shape == (7, old_dim) and out.embedding.shape == (7, new_dim + extra_dim)
    f_hat, g_hat = F.normalize(f, dim=-1), F.normalize(g, dim=-1)
    torch.testing.assert_close(out.feature, f_hat, **TOL)
    # z_new = diag(O2, I) [g, O1 C f]: its Gram matrix is that of [g, C f]
    gram = g_hat @ g_hat.T + 9.0 * f_hat @ f_hat.T
    torch.testing.assert_close(out.embedding @ out.embedding.T, gram, **TOL)
    # the compatible embedding is the first old_dim coordinates of z_new: an old gallery stays searchable
    torch.testing.assert_close(out.embedding[:, :old_dim], out.compatible, **TOL)
    f_back, g_back = head.invert(out.embedding)
    torch.testing.assert_close(f_back, f_hat, **TOL)
    torch.testing.assert_close(g_back, g_hat, **TOL)


def test_norm_of_new_embedding_is_sqrt_one_plus_c_squared():
    head = BasisTransform(16, 16, 8, scale=3.0, seed=0, dtype=DTYPE)
    out = head(_randn(5, 16), _randn(5, 8, seed=1))
    torch.testing.assert_close(out.embedding.norm(dim=-1), torch.full((5,), 10.0**0.5, dtype=DTYPE), **TOL)


def _embedder(seed=0, transform=None, out=4, num_classes=3):
    torch.manual_seed(seed)
    return CompatibleEmbedder(nn.Linear(5, out, dtype=DTYPE), num_classes, 4, transform=transform).double()


def test_compatibility_loss_is_zero_for_a_model_equal_to_the_old_one():
    old = _embedder()
    x, y = _randn(9, 5), torch.arange(9) % 3
    # a transform-free copy of the old model
    same = _embedder()
    same(x)
    assert (
        BackwardCompatibleLoss(old, transfer_weight=0, influence_weight=0)
        .terms(same, x, y)["compatibility"]
        .abs()
        < 1e-12
    )
    # a BT² head with k = 0 and O2 = O1^T gives z_bct = C f: still exactly compatible
    head = BasisTransform(4, 4, 0, seed=3, dtype=DTYPE)
    head.rotate_compatible.weight = head.rotate_feature.weight.detach().T
    bt2 = _embedder(transform=head)
    bt2(x)
    terms = BackwardCompatibleLoss(old, new_model=old, transfer_weight=1.0, influence_weight=0).terms(
        bt2, x, y
    )
    assert terms["compatibility"].abs() < 1e-12 and terms["transfer"].abs() < 1e-12
    # and a different model is not
    other = _embedder(seed=5)
    other(x)
    assert (
        BackwardCompatibleLoss(old, transfer_weight=0, influence_weight=0).terms(other, x, y)["compatibility"]
        > 0.05
    )


def test_on_loss_adds_the_weighted_terms_computed_by_hand():
    old = _embedder(seed=1)
    independent = _embedder(seed=2)
    x, y = _randn(12, 5, seed=4), torch.arange(12) % 3
    classifier = old_class_means(old, x, y, 3)
    head = BasisTransform(4, 4, 2, seed=0, dtype=DTYPE)
    model = _embedder(seed=3, transform=head, out=6)
    with torch.no_grad():
        out = model.embed(x)
        phi_old = F.normalize(old.backbone(x), dim=-1)
        phi_new = F.normalize(independent.backbone(x), dim=-1)
        expected = (
            F.cross_entropy(model.classifier(out.feature), y)
            + 10 * (1 - F.cosine_similarity(out.compatible, phi_old).mean())
            + 0.5 * (1 - F.cosine_similarity(out.feature, phi_new).mean())
            + 2 * F.cross_entropy(F.normalize(out.compatible, dim=-1) @ classifier.T, y)
        )
    callback = BackwardCompatibleLoss(
        old, new_model=independent, old_classifier=classifier, transfer_weight=0.5, influence_weight=2.0
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    state = fit(model, [(x, y)], epochs=1, optimizer=optimizer, callbacks=[callback], progress=False)
    assert state.epoch_losses[0] == pytest.approx(expected.item(), rel=1e-12)
    assert set(callback.history) == {"compatibility", "transfer", "influence"}
    # class means: the mean normalised old embedding of each class
    torch.testing.assert_close(classifier[1], phi_old[y == 1].mean(0), **TOL)


def test_training_makes_the_new_model_compatible_and_keeps_rotations_orthogonal():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(120, 5, dtype=DTYPE, generator=g)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    old = _embedder(seed=1)
    head = BasisTransform(4, 4, 2, seed=0, dtype=DTYPE)
    model = CompatibleEmbedder(
        nn.Sequential(nn.Linear(5, 16, dtype=DTYPE), nn.ReLU(), nn.Linear(16, 6, dtype=DTYPE)), 3, 4, head
    ).double()
    callback = BackwardCompatibleLoss(old, transfer_weight=0.0, influence_weight=0.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    fit(model, [(x[i : i + 30], y[i : i + 30]) for i in range(0, 120, 30)], epochs=30, optimizer=optimizer,
        callbacks=[callback], seed=0, progress=False)  # fmt: skip
    history = callback.history["compatibility"]
    assert len(history) == 30 and history[-1] < 0.2 * history[0]
    for rotation in (head.rotate_feature.weight, head.rotate_compatible.weight):
        eye = torch.eye(rotation.shape[0], dtype=DTYPE)
        torch.testing.assert_close(rotation @ rotation.T, eye, rtol=0, atol=1e-10)


def test_bad_input_raises():
    with pytest.raises(ConfigurationError, match="old_dim"):
        BasisTransform(10, 4, 2)
    with pytest.raises(InputDataError, match="extra_dim"):
        BasisTransform(4, 4, -1)
    with pytest.raises(InputDataError, match="scale"):
        BasisTransform(4, 4, 2, scale=0.0)
    head = BasisTransform(4, 4, 2)
    with pytest.raises(InputDataError, match="feature"):
        head(torch.randn(3, 5), torch.randn(3, 2))
    with pytest.raises(InputDataError, match="extra"):
        head(torch.randn(3, 4), torch.randn(2, 2))
    with pytest.raises(InputDataError, match="embedding"):
        head.invert(torch.randn(3, 4))
    with pytest.raises(ConfigurationError, match="new_dim"):
        CompatibleEmbedder(nn.Linear(5, 8), 3, 6, transform=head)
    with pytest.raises(InputDataError, match="backbone"):
        CompatibleEmbedder(nn.Linear(5, 5), 3, 4, transform=head)(torch.randn(2, 5))
    with pytest.raises(InputDataError, match="num_classes"):
        CompatibleEmbedder(nn.Linear(5, 4), 1, 4)
    old = CompatibleEmbedder(nn.Linear(5, 4), 3, 4)
    with pytest.raises(ConfigurationError, match="new_model"):
        BackwardCompatibleLoss(old, influence_weight=0.0)
    with pytest.raises(ConfigurationError, match="old_classifier"):
        BackwardCompatibleLoss(old, transfer_weight=0.0)
    with pytest.raises(InputDataError, match="compatibility_weight"):
        BackwardCompatibleLoss(old, compatibility_weight=-1.0, transfer_weight=0.0, influence_weight=0.0)
    with pytest.raises(InputDataError, match="old_model"):
        BackwardCompatibleLoss("old", transfer_weight=0.0, influence_weight=0.0)
    only_compat = BackwardCompatibleLoss(old, transfer_weight=0.0, influence_weight=0.0)
    data = [(torch.randn(4, 5), torch.zeros(4, dtype=torch.long))]
    with pytest.raises(UnsupportedError, match="model"):
        fit(nn.Linear(5, 3), data, epochs=1, callbacks=[only_compat], progress=False)
    with pytest.raises(ConfigurationError, match="forward"):
        no_forward = lambda model, batch: model.classifier.weight.sum()  # noqa: E731
        model = CompatibleEmbedder(nn.Linear(5, 4), 3, 4)
        fit(model, data, epochs=1, loss=no_forward, callbacks=[only_compat], progress=False)
    with pytest.raises(InputDataError, match="old_model"):
        fit(
            CompatibleEmbedder(nn.Linear(5, 6), 3, 6), data, epochs=1, callbacks=[only_compat], progress=False
        )
    with pytest.raises(InputDataError, match="y"):
        old_class_means(old, torch.randn(4, 5), torch.tensor([0, 0, 1, 1]), 3)
