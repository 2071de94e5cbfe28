import pytest
import sympy
import torch
from torch import nn

from probtheory.errors import InputDataError
from probtheory.layers import QuadraticLinear, relinear_param_groups
from probtheory.plugins import fit


def _set(layer, r_w, r_b, g_w, g_b, b_w, b_b):
    with torch.no_grad():
        for linear, w, b in ((layer.r, r_w, r_b), (layer.g, g_w, g_b), (layer.b, b_w, b_b)):
            linear.weight.copy_(torch.as_tensor(w, dtype=linear.weight.dtype))
            linear.bias.copy_(torch.as_tensor(b, dtype=linear.bias.dtype))
    return layer


def test_a_single_quadratic_neuron_computes_x1_times_x2_exactly():
    neuron = _set(QuadraticLinear(2, 1).double(), [[1, 0]], [0], [[0, 1]], [0], [[0, 0]], [0])
    x = torch.randn(100, 2, dtype=torch.float64)
    assert torch.equal(neuron(x)[:, 0], x[:, 0] * x[:, 1])


def test_a_single_quadratic_neuron_computes_xor_exactly():
    # x1 (1 - 2 x2) + x2^2 = x1 + x2 - 2 x1 x2 on {0, 1}^2, which is XOR
    neuron = _set(QuadraticLinear(2, 1).double(), [[1, 0]], [0], [[0, -2]], [1], [[0, 1]], [0])
    x = torch.tensor([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=torch.float64)
    assert neuron(x)[:, 0].tolist() == [0.0, 1.0, 1.0, 0.0]


def _bce(model, batch):
    x, y = batch
    return nn.functional.binary_cross_entropy_with_logits(model(x).squeeze(-1), y)


def _train_on_xor(model, seed):
    x = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = torch.tensor([0.0, 1.0, 1.0, 0.0])
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    fit(model, [(x, y)], epochs=300, loss=_bce, optimizer=optimizer, seed=seed, progress=False)
    return ((model(x).squeeze(-1) > 0).float() == y).all().item()


@pytest.mark.parametrize("relinear_init", [True, False])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_one_neuron_quadratic_network_learns_xor(relinear_init, seed):
    torch.manual_seed(seed)
    assert _train_on_xor(QuadraticLinear(2, 1, relinear_init=relinear_init), seed)
    torch.manual_seed(seed)
    assert not _train_on_xor(nn.Linear(2, 1), seed)  # a conventional neuron cannot: XOR is not separable


def test_relinear_init_makes_the_layer_its_linear_part():
    torch.manual_seed(0)
    layer = QuadraticLinear(5, 3).double()
    x = torch.randn(10, 5, dtype=torch.float64)
    assert torch.equal(layer(x), layer.r(x) * 1.0 + 0.0)
    assert torch.equal(layer.g.weight, torch.zeros(3, 5, dtype=torch.float64))
    assert torch.equal(layer.g.bias, torch.ones(3, dtype=torch.float64))
    assert not layer.b.weight.any() and not layer.b.bias.any()
    random = QuadraticLinear(5, 3, relinear_init=False)
    assert random.g.weight.abs().sum() > 0 and random.b.weight.abs().sum() > 0


def _symbolic(layer, inputs):
    """The layer's outputs as exact sympy expressions of ``inputs`` (weights read as rationals)."""

    def affine(linear):
        w = sympy.Matrix(linear.weight.detach().tolist()).applyfunc(sympy.nsimplify)
        b = sympy.Matrix(linear.bias.detach().tolist()).applyfunc(sympy.nsimplify)
        return w, b

    x = sympy.Matrix(inputs)
    (wr, br), (wg, bg), (wb, bb) = affine(layer.r), affine(layer.g), affine(layer.b)
    r, g = wr * x + br, wg * x + bg
    square = wb * x.applyfunc(lambda e: e**2) + bb
    return [sympy.expand(r[i] * g[i] + square[i]) for i in range(layer.out_features)]


def _integer_weights(net, seed):
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randint(-3, 4, p.shape, generator=generator, dtype=torch.float64))


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_an_l_layer_quadratic_network_is_a_polynomial_of_degree_two_to_the_l(depth):
    net = nn.Sequential(*(QuadraticLinear(2, 2) for _ in range(depth - 1)), QuadraticLinear(2, 1)).double()
    _integer_weights(net, seed=depth)
    symbols = sympy.symbols("x1 x2")
    expressions = list(symbols)
    for layer in net:
        expressions = _symbolic(layer, expressions)
    polynomial = sympy.Poly(expressions[0], *symbols)
    assert polynomial.total_degree() == 2**depth
    # the symbolic polynomial is the module: same values at random points
    points = torch.randn(20, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    evaluate = sympy.lambdify(symbols, expressions[0])
    symbolic = torch.tensor([float(evaluate(*p.tolist())) for p in points], dtype=torch.float64)
    assert torch.allclose(net(points)[:, 0], symbolic, rtol=1e-9, atol=1e-9)


def test_a_relinear_initialised_network_is_still_linear():
    # the mutant of the degree claim: with W_g = W_b = 0 every layer is affine, so degree 1
    torch.manual_seed(0)
    net = nn.Sequential(QuadraticLinear(2, 2), QuadraticLinear(2, 1)).double()
    symbols = sympy.symbols("x1 x2")
    expressions = list(symbols)
    for layer in net:
        expressions = _symbolic(layer, expressions)
    assert sympy.Poly(expressions[0], *symbols).total_degree() == 1


def test_relinear_param_groups_split_linear_and_quadratic_terms():
    model = nn.Sequential(QuadraticLinear(4, 3), nn.ReLU(), QuadraticLinear(3, 3), nn.Linear(3, 2))
    linear, quadratic = relinear_param_groups(model, 0.1, 1e-5, weight_decay=1e-4)
    assert linear["lr"] == 0.1 and quadratic["lr"] == 1e-5
    assert linear["weight_decay"] == quadratic["weight_decay"] == 1e-4
    expected_quadratic = {id(p) for i in (0, 2) for m in (model[i].g, model[i].b) for p in m.parameters()}
    assert {id(p) for p in quadratic["params"]} == expected_quadratic
    assert {id(p) for p in linear["params"]} == {id(p) for p in model.parameters()} - expected_quadratic
    optimizer = torch.optim.SGD(relinear_param_groups(model, 0.1, 0.0), lr=0.1)
    model(torch.randn(8, 4)).pow(2).sum().backward()
    before = model[0].g.weight.detach().clone()
    optimizer.step()
    assert torch.equal(model[0].g.weight, before)  # learning rate 0 freezes the quadratic terms


def test_parameter_count_is_three_linear_layers():
    layer = QuadraticLinear(7, 5)
    assert sum(p.numel() for p in layer.parameters()) == 3 * (7 * 5 + 5)
    assert (layer.in_features, layer.out_features) == (7, 5)


def test_bad_inputs_are_rejected():
    layer = QuadraticLinear(3, 2)
    with pytest.raises(InputDataError, match="`... x 3`"):
        layer(torch.randn(4, 2))
    with pytest.raises(InputDataError, match="floating-point"):
        layer(torch.ones(4, 3, dtype=torch.int32))
    with pytest.raises(InputDataError, match="QuadraticLinear"):
        relinear_param_groups(nn.Linear(3, 2), 0.1, 1e-5)
    with pytest.raises(InputDataError, match="lr"):
        relinear_param_groups(nn.Sequential(layer), 0.0, 1e-5)
    with pytest.raises(InputDataError, match="lr_quadratic"):
        relinear_param_groups(nn.Sequential(layer), 0.1, -1.0)
