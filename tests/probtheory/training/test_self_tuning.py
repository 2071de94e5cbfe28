"""Self-Tuning Networks: the best-response layer, the perturbed hyperparameters, the alternating steps."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from probtheory.errors import ConfigurationError, InputDataError
from probtheory.plugins import fit
from probtheory.training.loop import classification_loss
from probtheory.training.minibatches import Minibatches
from probtheory.training.self_tuning import SelfTuning
from probtheory.training.self_tuning.hyperparameters import Hyperparameter, STNHyperparameters
from probtheory.training.self_tuning.networks import STNMLP, STNLinear, _dropout


def _layer(n_h=3, seed=0):
    torch.manual_seed(seed)
    return STNLinear(4, 5, n_h, hnet_std=0.3).double()


def _data(n=64, d=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g)
    return x, (x[:, 0] + x[:, 1] > 0).long()


def _hp():
    return STNHyperparameters(
        [Hyperparameter("a", 0.0, 1.0, 0.2), Hyperparameter("b", -2.0, 3.0, 1.5)], perturb_scale=0.7
    )


def test_layer_matches_the_best_response_formula():
    layer = _layer()
    x, h = torch.randn(6, 4, dtype=torch.float64), torch.randn(6, 3, dtype=torch.float64)
    scales = h @ layer.hnet.weight.T
    expected = (
        x @ layer.elementary.weight.T
        + layer.elementary.bias
        + scales[:, :5] * (x @ layer.response.weight.T)
        + scales[:, 5:] * layer.response.bias
    )
    torch.testing.assert_close(layer(x, h), expected, rtol=1e-12, atol=1e-12)
    # a shared `n_h` input is the same as repeating it for every example
    torch.testing.assert_close(layer(x, h[0]), layer(x, h[0].expand(6, 3)), rtol=1e-12, atol=1e-12)


def test_layer_is_affine_in_the_hyperparameter_embedding_and_plain_linear_without_hypernet():
    layer = _layer()
    x = torch.randn(6, 4, dtype=torch.float64)
    h1, h2 = torch.randn(6, 3, dtype=torch.float64), torch.randn(6, 3, dtype=torch.float64)
    zero = layer(x, torch.zeros(6, 3, dtype=torch.float64))
    torch.testing.assert_close(zero, layer.elementary(x), rtol=1e-12, atol=1e-12)
    combined = layer(x, 0.3 * h1 - 1.7 * h2)
    torch.testing.assert_close(combined - zero, 0.3 * (layer(x, h1) - zero) - 1.7 * (layer(x, h2) - zero))
    with torch.no_grad():
        layer.hnet.weight.zero_()
    torch.testing.assert_close(layer(x, h1), layer.elementary(x), rtol=1e-12, atol=1e-12)


def test_hypernet_initialisation_has_the_requested_scale():
    torch.manual_seed(0)
    layer = STNLinear(8, 200, 10, hnet_std=0.01)
    # 4000 Gaussian draws: the sample std is within 5 standard errors (0.01 / sqrt(2 * 4000)) of 0.01
    assert abs(layer.hnet.weight.std().item() - 0.01) < 5 * 0.01 / math.sqrt(8000)


def test_hyperparameters_start_at_their_initial_values_and_stay_in_range():
    hp = _hp()
    values = hp.values()
    assert values["a"] == pytest.approx(0.2, abs=1e-6) and values["b"] == pytest.approx(1.5, abs=1e-6)
    assert hp.scales() == pytest.approx({"a": 0.7, "b": 0.7}, abs=1e-6)
    mapped = hp.constrain(torch.tensor([[-40.0, 40.0], [40.0, -40.0], [0.0, 0.0]]))
    torch.testing.assert_close(mapped, torch.tensor([[0.0, 3.0], [1.0, -2.0], [0.5, 0.5]]))


def test_entropy_is_the_gaussian_entropy_of_the_perturbation():
    hp = _hp()
    with torch.no_grad():
        hp.raw_scale.copy_(torch.tensor([-1.0, 2.0]))
    expected = torch.distributions.Normal(torch.zeros(2), hp.scale()).entropy().sum()
    torch.testing.assert_close(hp.entropy(), expected)


def test_training_draws_are_detached_perturbations_with_the_learned_scale():
    hp = _hp()
    torch.manual_seed(0)
    n = 20_000
    draws = hp.sample(n)
    assert not draws.requires_grad and draws.shape == (n, 2)
    # mean and std of n Gaussian draws: within 5 standard errors (s / sqrt(n) and s / sqrt(2n))
    s = 0.7
    assert (draws.mean(0) - hp.unconstrained.detach()).abs().max() < 5 * s / math.sqrt(n)
    assert (draws.std(0) - s).abs().max() < 5 * s / math.sqrt(2 * n)


def test_hyper_stage_draws_are_differentiable_and_eval_draws_unperturbed():
    hp = _hp()
    hp.stage = "hyper"
    draws = hp.sample(5)
    draws.sum().backward()
    torch.testing.assert_close(hp.unconstrained.grad, torch.full((2,), 5.0))
    assert hp.raw_scale.grad is not None and hp.raw_scale.grad.abs().sum() > 0
    hp.perturb_hyper = False
    torch.testing.assert_close(hp.sample(3), hp.unconstrained.detach().expand(3, 2))
    hp.eval()
    hp.stage = "train"
    torch.testing.assert_close(hp.sample(3), hp.unconstrained.detach().expand(3, 2))


def test_validation_gradient_reaches_h_only_through_the_hypernet():
    x, y = _data()
    net = STNMLP(4, (8, 8), 2, seed=0)
    hp = net.hyperparameters
    # training stage: the loss does not depend on h at all (draws are detached)
    classification_loss(net, (x, y)).backward()
    assert hp.unconstrained.grad is None
    net.zero_grad(set_to_none=True)
    hp.stage = "hyper"
    classification_loss(net, (x, y)).backward()
    assert hp.unconstrained.grad.abs().sum() > 0
    net.zero_grad(set_to_none=True)
    with torch.no_grad():
        for layer in net.layers:
            layer.hnet.weight.zero_()
    classification_loss(net, (x, y)).backward()
    assert torch.count_nonzero(hp.unconstrained.grad) == 0  # dropout and noise are off: no other path


def test_regularisers_act_only_in_the_training_stage():
    x, _ = _data()
    net = STNMLP(4, (16,), 2, dropout=0.9, input_noise=0.5, seed=0)
    hp = net.hyperparameters
    hp.perturb_hyper = False
    hp.stage = "hyper"
    torch.testing.assert_close(net(x), net(x))
    net.eval()
    hyper_out = net(x)
    hp.stage = "train"
    torch.testing.assert_close(net(x), hyper_out)  # eval mode = hyper stage without perturbation
    net.train()
    assert not torch.allclose(net(x), net(x))


def test_per_example_dropout_zeroes_at_its_rate_and_keeps_the_mean():
    torch.manual_seed(0)
    z = torch.ones(3, 40_000)
    out = _dropout(z, torch.tensor([0.0, 0.5, 0.8]))
    torch.testing.assert_close(out[0], z[0])
    zeros = (out == 0).float().mean(1)
    # Bernoulli frequencies over 40000 units: within 5 standard errors sqrt(p (1 - p) / n)
    for p, frac in ((0.5, zeros[1]), (0.8, zeros[2])):
        assert abs(frac - p) < 5 * math.sqrt(p * (1 - p) / 40_000)
    assert set(out[1].unique().tolist()) == {0.0, 2.0} and out[2].max() == pytest.approx(5.0)


def test_callback_alternates_steps_and_records_the_schedule():
    x, y = _data(96)
    net = STNMLP(4, (8,), 2, seed=0)
    hp = net.hyperparameters
    data = Minibatches(x[:64], y[:64], batch_size=8, seed=0)  # 8 weight steps per epoch
    stn = SelfTuning(
        hp, Minibatches(x[64:], y[64:], batch_size=8), train_steps=3, val_steps=2, warmup_steps=4
    )
    state = fit(net, data, epochs=3, callbacks=[stn], seed=0, progress=False)
    # weight steps 7, 10, ..., 22 (past the warm-up of 4, every 3rd): 6 phases of 2 hyper steps
    assert stn.hyper_steps == 12 and stn.history["step"] == [
        s for s in (7, 10, 13, 16, 19, 22) for _ in (0, 1)
    ]
    assert all(len(stn.history[k]) == 12 for k in ("val_loss", "dropout_0", "input_noise", "scale dropout_0"))
    assert len(state.logs["stn dropout_0"]) == 3 and hp.stage == "train"
    assert stn.history["dropout_0"][-1] != pytest.approx(0.05, abs=1e-6)


def test_hyper_step_moves_only_the_hyperparameters_and_descends_the_validation_objective():
    x, y = _data()
    net = STNMLP(4, (8,), 2, hnet_std=0.5, seed=0)
    hp = net.hyperparameters
    stn = SelfTuning(hp, [(x, y)], hyper_lr=1e-3, tune_scales=False)
    fit(net, [(x, y)], epochs=1, callbacks=[stn], progress=False)  # start the validation stream
    weights = {n: p.detach().clone() for n, p in net.named_parameters() if not n.startswith("hyperp")}
    scale = hp.raw_scale.detach().clone()
    hp.stage = "hyper"
    before = classification_loss(net, (x, y)).item()
    hp.stage = "train"
    stn.hyper_step(net)
    hp.stage = "hyper"
    after = classification_loss(net, (x, y)).item()
    assert after < before
    for name, p in net.named_parameters():
        if name in weights:
            assert torch.equal(p, weights[name]) and p.grad is None
    torch.testing.assert_close(hp.raw_scale.detach(), scale)  # tune_scales=False leaves s alone


def test_weight_steps_never_move_the_hyperparameters():
    x, y = _data()
    net = STNMLP(4, (8,), 2, seed=0)
    h, rho = (
        net.hyperparameters.unconstrained.detach().clone(),
        net.hyperparameters.raw_scale.detach().clone(),
    )
    fit(net, [(x, y)] * 5, epochs=2, seed=0, progress=False)  # default Adam over *all* parameters
    assert torch.equal(net.hyperparameters.unconstrained, h) and torch.equal(
        net.hyperparameters.raw_scale, rho
    )


def test_bad_input_raises():
    layer = _layer()
    with pytest.raises(InputDataError, match="`x`"):
        layer(torch.randn(5, 3, dtype=torch.float64), torch.randn(5, 3, dtype=torch.float64))
    with pytest.raises(InputDataError, match="`h`"):
        layer(torch.randn(5, 4, dtype=torch.float64), torch.randn(5, 2, dtype=torch.float64))
    with pytest.raises(InputDataError, match="`h`"):
        layer(torch.randn(5, 4, dtype=torch.float64), torch.randn(4, 3, dtype=torch.float64))
    with pytest.raises(InputDataError, match="`h`"):
        layer(torch.randn(5, 4, dtype=torch.float64), torch.full((3,), math.nan, dtype=torch.float64))
    with pytest.raises(InputDataError, match="num_hyperparameters"):
        STNLinear(3, 4, 0)
    with pytest.raises(InputDataError, match="high"):
        Hyperparameter("p", 1.0, 1.0, 1.0)
    with pytest.raises(InputDataError, match="init"):
        Hyperparameter("p", 0.0, 1.0, 1.0)
    with pytest.raises(InputDataError, match="specs"):
        STNHyperparameters([])
    with pytest.raises(InputDataError, match="specs"):
        STNHyperparameters([Hyperparameter("p", 0, 1, 0.5)] * 2)
    with pytest.raises(InputDataError, match="specs"):
        STNHyperparameters([("p", 0, 1, 0.5)])
    with pytest.raises(InputDataError, match="perturb_scale"):
        STNHyperparameters([Hyperparameter("p", 0, 1, 0.5)], perturb_scale=0.0)
    hp = _hp()
    hp.stage = "validation"
    with pytest.raises(InputDataError, match="stage"):
        hp.sample(2)
    with pytest.raises(InputDataError, match="hidden_sizes"):
        STNMLP(4, (), 2)
    with pytest.raises(ConfigurationError, match="dropout or input_noise"):
        STNMLP(4, (8,), 2, dropout=None, input_noise=None)
    with pytest.raises(InputDataError, match="`dropout`"):
        STNMLP(4, (8,), 2, dropout=1.5)
    net = STNMLP(4, (8,), 2)
    with pytest.raises(InputDataError, match="`x`"):
        net(torch.randn(5, 3))
    with pytest.raises(InputDataError, match="hyperparameters"):
        SelfTuning(net, [])
    for kwargs, name in (
        ({"train_steps": 0}, "train_steps"),
        ({"val_steps": 0}, "val_steps"),
        ({"hyper_lr": 0.0}, "hyper_lr"),
        ({"scale_lr": -1.0}, "scale_lr"),
        ({"entropy_weight": -1e-5}, "entropy_weight"),
        ({"warmup_steps": -1}, "warmup_steps"),
        ({"loss": "ce"}, "loss"),
    ):
        with pytest.raises(InputDataError, match=name):
            SelfTuning(net.hyperparameters, [(torch.randn(2, 4), torch.tensor([0, 1]))], **kwargs)
    with pytest.raises(InputDataError, match="`val_data`"):
        SelfTuning(net.hyperparameters, [])
    x, y = _data()
    with pytest.raises(ConfigurationError, match="submodule"):
        fit(nn.Linear(4, 2), [(x, y)], epochs=1, callbacks=[SelfTuning(_hp(), [(x, y)])], progress=False)
    with pytest.raises(InputDataError, match="val_data"):
        fit(net, [(x, y)] * 2, epochs=1, callbacks=[SelfTuning(net.hyperparameters, [])], progress=False)
