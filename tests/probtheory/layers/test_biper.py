import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from probtheory.errors import InputDataError
from probtheory.layers import BiPerConv2d, BiPerLinear, approx_sign, set_biper_stage, square_wave

OMEGA = 20.0


def _analytic_square_wave(w, omega):
    # +1 on the first half of each period 2 pi / omega, -1 on the second half
    phase = torch.remainder(omega * w, 2 * math.pi)
    return torch.where(phase < math.pi, 1.0, -1.0).to(w.dtype)


def _away_from_jumps(w, omega, margin=1e-6):
    phase = torch.remainder(omega * w, math.pi)
    return (phase > margin) & (phase < math.pi - margin)


def test_square_wave_forward_is_exactly_the_binary_square_wave():
    w = torch.linspace(-1.0, 1.0, 20001, dtype=torch.float64)
    keep = _away_from_jumps(w, OMEGA)
    out = square_wave(w, OMEGA)
    assert set(out.unique().tolist()) == {-1.0, 1.0}
    assert torch.equal(out[keep], _analytic_square_wave(w, OMEGA)[keep])
    assert torch.equal(out, torch.where(torch.sin(OMEGA * w) >= 0, 1.0, -1.0).double())
    assert square_wave(torch.zeros(3, dtype=torch.float64), OMEGA).tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("omega", [1.0, 5.0, 20.0, 50.0])
def test_square_wave_gradient_is_the_sine_surrogate(omega):
    generator = torch.Generator().manual_seed(0)
    w = torch.randn(50, dtype=torch.float64, generator=generator).requires_grad_()
    upstream = torch.randn(50, dtype=torch.float64, generator=generator)
    (grad,) = torch.autograd.grad(square_wave(w, omega), w, upstream)
    hand = upstream * omega * torch.cos(omega * w.detach())
    (sine_autograd,) = torch.autograd.grad(torch.sin(omega * w), w, upstream)
    assert torch.allclose(grad, hand, rtol=1e-14, atol=1e-14)
    assert torch.allclose(grad, sine_autograd, rtol=1e-14, atol=1e-14)


def test_approx_sign_forward_and_gradient():
    a = torch.tensor([-2.0, -0.75, -0.25, 0.0, 0.25, 0.75, 2.0], dtype=torch.float64, requires_grad=True)
    out = approx_sign(a)
    assert out.tolist() == [-1.0, -1.0, -1.0, 1.0, 1.0, 1.0, 1.0]
    out.backward(torch.ones_like(out))
    # Bi-Real Net ApproxSign: d/da = max(0, 2 - 2|a|)
    assert a.grad.tolist() == [0.0, 0.5, 1.5, 2.0, 1.5, 0.5, 0.0]


def _linear(stage=2, **kwargs):
    torch.manual_seed(0)
    return BiPerLinear(6, 4, omega=OMEGA, stage=stage, **kwargs).double()


@pytest.mark.parametrize("training", [True, False])
def test_biper_linear_forward_uses_binary_input_and_binary_weights(training):
    layer = _linear()
    layer.train(training)
    x = torch.randn(5, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    weights = layer.binary_weight()
    assert set(weights.unique().tolist()) <= {-1.0, 1.0}
    sign_x = torch.where(x >= 0, 1.0, -1.0).double()
    expected = F.linear(sign_x, torch.where(torch.sin(OMEGA * layer.weight) >= 0, 1.0, -1.0).double())
    expected = expected * layer.alpha + layer.bias
    assert torch.allclose(layer(x), expected, rtol=0, atol=1e-13)


def test_biper_linear_weight_gradient_is_the_hand_formula():
    layer = _linear(bias=False)
    layer.eval()  # no per-sample rescaling: the input's binarisation is then a plain sign
    x = torch.randn(5, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    upstream = torch.randn(5, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    layer(x).backward(upstream)
    sign_x = torch.where(x >= 0, 1.0, -1.0).double()
    grad_binary_weight = (upstream * layer.alpha.detach()).T @ sign_x  # dL/dW_b
    hand = grad_binary_weight * OMEGA * torch.cos(OMEGA * layer.weight.detach())
    assert torch.allclose(layer.weight.grad, hand, rtol=1e-12, atol=1e-12)


def test_stage_one_uses_sine_weights_and_set_biper_stage_switches_every_layer():
    model = nn.Sequential(_linear(stage=1), nn.ReLU(), BiPerLinear(4, 4, stage=1).double(), nn.Linear(4, 2))
    assert torch.equal(model[0].binary_weight(), torch.sin(OMEGA * model[0].weight))
    assert set_biper_stage(model, 2) == 2
    assert model[0].stage == 2 and model[2].stage == 2
    assert set(model[0].binary_weight().unique().tolist()) <= {-1.0, 1.0}


def test_quantization_error_over_a_full_period_is_one_minus_two_over_pi():
    layer = _linear()
    with torch.no_grad():
        period = 2 * math.pi / OMEGA
        layer.weight.copy_(torch.linspace(0, period, 24 + 1, dtype=torch.float64)[:-1].reshape(4, 6))
    # mean of |sin| - 1 over a period: 2/pi - 1; on 24 equispaced points the error is O(1/24^2)
    assert layer.quantization_error() == pytest.approx(1 - 2 / math.pi, abs=5e-3)


def test_real_valued_inputs_when_input_binarisation_is_off():
    layer = _linear(binarize_input=False)
    x = torch.randn(3, 6, dtype=torch.float64)
    expected = F.linear(x, layer.binary_weight()) * layer.alpha + layer.bias
    assert torch.allclose(layer(x), expected, rtol=0, atol=1e-13)


def test_alpha_is_a_per_output_scale_initialised_in_the_unit_interval():
    layer = BiPerLinear(8, 32)
    assert layer.alpha.shape == (32,) and ((layer.alpha > 0) & (layer.alpha < 1)).all()


def test_biper_conv2d_forward_and_gradient():
    torch.manual_seed(0)
    conv = BiPerConv2d(3, 5, kernel_size=3, padding=1, omega=OMEGA).double().eval()
    x = torch.randn(2, 3, 6, 6, dtype=torch.float64)
    sign_x = torch.where(x >= 0, 1.0, -1.0).double()
    binary = torch.where(torch.sin(OMEGA * conv.weight) >= 0, 1.0, -1.0).double()
    expected = F.conv2d(sign_x, binary, padding=1) * conv.alpha.view(-1, 1, 1)
    out = conv(x)
    assert out.shape == (2, 5, 6, 6)
    assert torch.allclose(out, expected, rtol=0, atol=1e-12)
    out.sum().backward()
    weight = conv.weight.detach().requires_grad_()
    surrogate = F.conv2d(sign_x, torch.sin(OMEGA * weight), padding=1) * conv.alpha.detach().view(-1, 1, 1)
    (expected_grad,) = torch.autograd.grad(surrogate.sum(), weight)
    assert torch.allclose(conv.weight.grad, expected_grad, rtol=1e-12, atol=1e-12)


def test_training_mode_rescales_only_the_gradient_window_not_the_forward():
    conv = BiPerConv2d(2, 3, kernel_size=1).double()
    x = 10.0 * torch.randn(4, 2, 3, 3, dtype=torch.float64)
    assert torch.equal(conv.train()(x), conv.eval()(x))


def test_bad_inputs_are_rejected():
    with pytest.raises(InputDataError, match="omega"):
        BiPerLinear(3, 2, omega=0.0)
    with pytest.raises(InputDataError, match="stage"):
        BiPerLinear(3, 2, stage=3)
    layer = BiPerLinear(3, 2)
    with pytest.raises(InputDataError, match="stage"):
        layer.stage = 0
    with pytest.raises(InputDataError, match="stage"):
        set_biper_stage(nn.Sequential(layer), True)
    with pytest.raises(InputDataError, match="`... x 3`"):
        layer(torch.randn(4, 5))
    with pytest.raises(InputDataError, match="floating-point"):
        layer(torch.ones(4, 3, dtype=torch.int64))
    with pytest.raises(InputDataError, match="omega"):
        square_wave(torch.randn(3), -1.0)
    with pytest.raises(InputDataError, match="b x 3 x h x w"):
        BiPerConv2d(3, 4, 3)(torch.randn(2, 4, 5, 5))
