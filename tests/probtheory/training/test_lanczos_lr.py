"""Lanczos learning rate: exact HVPs and top eigenvalues of tiny models, the lr update, the 1/B fit."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.func import functional_call

from probtheory.errors import InputDataError
from probtheory.training.lanczos_lr import (
    LanczosLR,
    batch_top_eigenvalues,
    fit_batch_size_law,
    hessian_matvec,
    hessian_top_eigenvalue,
    hessian_vector_product,
)
from probtheory.training.loop import classification_loss, fit


def _tiny(seed=0):
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 3)).double()  # P = 16 + 15 = 31
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(20, 3, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (20,), generator=g)
    return net, (x, y)


def _explicit_hessian(net, batch):
    names = [n for n, _ in net.named_parameters()]
    shapes = [p.shape for p in net.parameters()]
    sizes = [p.numel() for p in net.parameters()]
    flat = torch.cat([p.detach().reshape(-1) for p in net.parameters()])

    def loss(theta):
        pieces = torch.split(theta, sizes)
        params = {n: t.reshape(s) for n, t, s in zip(names, pieces, shapes, strict=True)}
        x, y = batch
        return nn.functional.cross_entropy(functional_call(net, params, (x,)), y)

    return torch.autograd.functional.hessian(loss, flat)


def test_hvp_equals_explicit_hessian_times_vector():
    net, batch = _tiny()
    hessian = _explicit_hessian(net, batch)
    matvec = hessian_matvec(net, classification_loss, batch)
    g = torch.Generator().manual_seed(1)
    for _ in range(3):
        v = torch.randn(hessian.shape[0], generator=g, dtype=torch.float64)
        torch.testing.assert_close(matvec(v), hessian @ v, rtol=1e-10, atol=1e-12)
    e = torch.zeros(hessian.shape[0], dtype=torch.float64)
    e[5] = 1.0
    torch.testing.assert_close(hessian_vector_product(net, classification_loss, batch, e), hessian[:, 5])


def test_hvp_leaves_parameter_gradients_untouched():
    net, batch = _tiny()
    hessian_vector_product(net, classification_loss, batch, torch.ones(31, dtype=torch.float64))
    assert all(p.grad is None for p in net.parameters())


def test_hvp_of_a_float32_model_matches_float64():
    net, batch = _tiny()
    v = torch.randn(31, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    exact = hessian_vector_product(net, classification_loss, batch, v)
    net32 = net.float()
    approx = hessian_vector_product(net32, classification_loss, (batch[0].float(), batch[1]), v)
    assert approx.dtype == torch.float64
    torch.testing.assert_close(approx, exact, rtol=1e-4, atol=1e-6)


def test_lanczos_with_full_krylov_space_equals_eigvalsh():
    net, batch = _tiny()
    exact = float(torch.linalg.eigvalsh(_explicit_hessian(net, batch))[-1])
    top = hessian_top_eigenvalue(net, classification_loss, batch, k=31, seed=0)
    assert top == pytest.approx(exact, rel=1e-9)


def test_ritz_values_never_exceed_and_converge_to_the_top_eigenvalue():
    net, batch = _tiny(seed=3)
    exact = float(torch.linalg.eigvalsh(_explicit_hessian(net, batch))[-1])
    ritz = [hessian_top_eigenvalue(net, classification_loss, batch, k=k, seed=7) for k in (2, 5, 10, 31)]
    assert all(r <= exact * (1 + 1e-10) for r in ritz)  # Cauchy interlacing
    assert all(
        a <= b + 1e-12 for a, b in zip(ritz[:-1], ritz[1:], strict=True)
    )  # same start vector: nested Krylov spaces
    assert ritz[-1] == pytest.approx(exact, rel=1e-9)


def _least_squares(d=4, n=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = x @ torch.randn(d, generator=g, dtype=torch.float64)
    net = nn.Linear(d, 1, bias=False).double()
    with torch.no_grad():
        net.weight.copy_(torch.randn(1, d, generator=g, dtype=torch.float64))

    def loss(model, batch):
        xb, yb = batch
        return ((model(xb)[:, 0] - yb) ** 2).mean()

    top = float(torch.linalg.eigvalsh(2 * x.T @ x / n)[-1])  # the loss's constant Hessian
    return net, (x, y), loss, top


def test_lr_update_sets_safety_over_top_eigenvalue_before_the_step():
    net, batch, loss, top = _least_squares()
    w0 = net.weight.detach().clone()
    grad = torch.autograd.grad(loss(net, batch), net.weight)[0]
    sgd = torch.optim.SGD(net.parameters(), lr=123.0)
    policy = LanczosLR(k=4, every=3, safety=0.7, loss=loss, seed=0)
    fit(net, [batch], epochs=1, loss=loss, optimizer=sgd, callbacks=[policy], progress=False)
    assert policy.history[0].top_eigenvalue == pytest.approx(top, rel=1e-10)
    assert sgd.param_groups[0]["lr"] == pytest.approx(0.7 / top, rel=1e-10)
    torch.testing.assert_close(net.weight.detach(), w0 - 0.7 / top * grad)  # step 0 used the new rate


def test_updates_every_n_steps_and_respects_max_lr():
    net, batch, loss, top = _least_squares()
    policy = LanczosLR(k=4, every=3, safety=1.0, loss=loss, max_lr=0.5 / top)
    sgd = torch.optim.SGD(net.parameters(), lr=0.0)
    fit(net, [batch] * 10, epochs=1, loss=loss, optimizer=sgd, callbacks=[policy], progress=False)
    assert [u.step for u in policy.history] == [0, 3, 6, 9]
    assert all(u.lr == pytest.approx(0.5 / top) for u in policy.history)


@pytest.mark.parametrize(("safety", "converges"), [(1.0, True), (1.9, True), (2.1, False)])
def test_stability_edge_on_a_quadratic(safety, converges):
    net, batch, loss, _ = _least_squares()
    start = float(loss(net, batch).detach())
    sgd = torch.optim.SGD(net.parameters(), lr=0.0)
    policy = LanczosLR(k=4, every=1000, safety=safety, loss=loss, seed=0)
    fit(net, [batch] * 200, epochs=1, loss=loss, optimizer=sgd, callbacks=[policy], progress=False)
    end = float(loss(net, batch).detach())
    assert (end < 1e-3 * start) is converges and (end > start) is (not converges)


def test_non_positive_curvature_keeps_the_learning_rate():
    net = nn.Linear(2, 1)
    batch = (torch.randn(8, 2), torch.zeros(8))
    policy = LanczosLR(k=3, every=1, loss=lambda m, b: m(b[0]).sum())  # linear loss: H = 0
    sgd = torch.optim.SGD(net.parameters(), lr=0.25)
    fit(net, [batch] * 2, epochs=1, loss=policy.loss, optimizer=sgd, callbacks=[policy], progress=False)
    assert [u.top_eigenvalue for u in policy.history] == [0.0, 0.0]
    assert sgd.param_groups[0]["lr"] == 0.25


def test_batch_size_law_recovers_an_exact_law_and_predicts_rates():
    sizes = [4, 8, 16, 64, 256]
    values = torch.tensor([2.5 + 30.0 / b for b in sizes], dtype=torch.float64)
    law = fit_batch_size_law(sizes, values[:, None].expand(-1, 3))
    assert law.lambda_inf == pytest.approx(2.5, rel=1e-12)
    assert law.coefficient == pytest.approx(30.0, rel=1e-12)
    assert law.r_squared == pytest.approx(1.0, abs=1e-12)
    assert law.learning_rate(10, safety=2.0) == pytest.approx(2.0 / 5.5)
    noisy = fit_batch_size_law(sizes, values + torch.tensor([0.3, -0.2, 0.1, -0.3, 0.2], dtype=torch.float64))
    assert 0.9 < noisy.r_squared < 1.0


def test_batch_top_eigenvalues_shrink_with_batch_size_and_full_batch_is_exact():
    net, (x, y) = _tiny()
    tops = batch_top_eigenvalues(net, classification_loss, x, y, [2, 20], 6, k=31, seed=0, progress=False)
    exact = float(torch.linalg.eigvalsh(_explicit_hessian(net, (x, y)))[-1])
    torch.testing.assert_close(tops[1], torch.full((6,), exact, dtype=torch.float64), rtol=1e-9, atol=0)
    assert tops[0].mean() > exact  # Jensen: E lambda_max(H_B) >= lambda_max(H_full)


def test_bad_input_raises():
    net, batch = _tiny()
    with pytest.raises(InputDataError, match="k"):
        hessian_top_eigenvalue(net, classification_loss, batch, k=0)
    with pytest.raises(InputDataError, match="model"):
        hessian_top_eigenvalue("net", classification_loss, batch)
    with pytest.raises(InputDataError, match="model"):
        hessian_top_eigenvalue(net.requires_grad_(False), classification_loss, batch)
    net.requires_grad_(True)
    with pytest.raises(InputDataError, match="loss_fn"):
        hessian_matvec(net, "ce", batch)
    with pytest.raises(InputDataError, match="loss_fn"):
        hessian_matvec(net, lambda m, b: m(b[0]), batch)  # not a scalar
    with pytest.raises(InputDataError, match="batch"):
        hessian_matvec(net, lambda m, b: m(b[0]).sum() * float("nan"), batch)
    with pytest.raises(InputDataError, match="vector"):
        hessian_vector_product(net, classification_loss, batch, torch.ones(5, dtype=torch.float64))
    for kwargs, name in (({"k": 0}, "k"), ({"every": 0}, "every"), ({"safety": 0.0}, "safety")):
        with pytest.raises(InputDataError, match=name):
            LanczosLR(**kwargs)
    with pytest.raises(InputDataError, match="max_lr"):
        LanczosLR(max_lr=-1.0)
    with pytest.raises(InputDataError, match="loss_fn"):
        LanczosLR(loss=3)
    with pytest.raises(InputDataError, match="batch_sizes"):
        fit_batch_size_law([8, 8], [1.0, 2.0])
    with pytest.raises(InputDataError, match="top_eigenvalues"):
        fit_batch_size_law([8, 16, 32], [1.0, 2.0])
    with pytest.raises(InputDataError, match="top_eigenvalues"):
        fit_batch_size_law([8, 16], [1.0, float("inf")])
    with pytest.raises(InputDataError, match="batch_size"):
        fit_batch_size_law([8, 16], [3.0, 1.0]).learning_rate(100.0)  # negative predicted curvature
    x, y = batch
    with pytest.raises(InputDataError, match="batch_sizes"):
        batch_top_eigenvalues(net, classification_loss, x, y, [21], 2, progress=False)
    with pytest.raises(InputDataError, match="targets"):
        batch_top_eigenvalues(net, classification_loss, x, y[:5], [4], 2, progress=False)
