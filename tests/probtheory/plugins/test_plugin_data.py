import pytest
import torch
from torch import nn

from probtheory.errors import InputDataError
from probtheory.plugins.data import digits_split
from probtheory.plugins.evaluation import accuracy, accuracy_verdict, count_parameters, matched_width
from probtheory.training.minibatches import Minibatches


def test_digits_split_is_standardised_stratified_and_reproducible():
    split = digits_split(seed=0)
    assert split.x_train.shape == (1257, 64) and split.x_test.shape == (540, 64)
    assert split.num_classes == 10 and split.num_features == 64
    assert split.x_train.dtype == torch.float32 and split.y_train.dtype == torch.int64
    assert split.x_train.mean(0).abs().max() < 1e-5
    counts = torch.bincount(split.y_test, minlength=10)
    full = torch.bincount(torch.cat([split.y_train, split.y_test]), minlength=10)
    assert ((counts - 0.3 * full).abs() <= 1).all()  # stratified: each class's share, +-1 image
    assert torch.equal(digits_split(seed=0).x_test, split.x_test)
    assert not torch.equal(digits_split(seed=1).y_test, split.y_test)
    with pytest.raises(InputDataError, match="test_fraction"):
        digits_split(test_fraction=1.0)


def test_minibatches_cover_every_sample_once_per_epoch_in_a_seeded_order():
    x, y = torch.arange(10.0).unsqueeze(1), torch.arange(10)
    batches = Minibatches(x, y, batch_size=4, seed=0)
    assert len(batches) == 3
    epochs = [torch.cat([b[1] for b in batches]) for _ in range(2)]
    for order in epochs:
        assert sorted(order.tolist()) == list(range(10))
    assert not torch.equal(epochs[0], epochs[1])  # a fresh order every epoch
    again = Minibatches(x, y, batch_size=4, seed=0)
    assert torch.equal(torch.cat([b[1] for b in again]), epochs[0])
    assert all(torch.equal(bx[:, 0].long(), by) for bx, by in Minibatches(x, y, batch_size=3, seed=2))
    assert torch.equal(torch.cat([b[0] for b in Minibatches(x, batch_size=4, shuffle=False)])[:, 0], x[:, 0])


def test_minibatches_reject_bad_input():
    with pytest.raises(InputDataError, match="first dimension"):
        Minibatches(torch.zeros(3, 2), torch.zeros(4), batch_size=2)
    with pytest.raises(InputDataError, match="batch_size"):
        Minibatches(torch.zeros(3, 2), batch_size=0)
    with pytest.raises(InputDataError, match="tensors"):
        Minibatches(batch_size=2)


def test_accuracy_counts_argmax_hits_and_restores_the_mode():
    model = nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.eye(2))
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 3.0], [3.0, 2.0]])
    model.train()
    assert accuracy(model, x, torch.tensor([0, 1, 0, 0])) == 0.75
    assert model.training
    with pytest.raises(InputDataError, match="labels"):
        accuracy(model, x, torch.tensor([0, 1]))


def test_matched_width_finds_the_closest_parameter_count():
    def mlp(width):
        return nn.Sequential(nn.Linear(10, width), nn.Linear(width, 1))  # 12 w + 1 parameters

    assert count_parameters(mlp(5)) == 61
    assert matched_width(mlp, 61) == 5
    assert matched_width(mlp, 66) == 5 and matched_width(mlp, 68) == 6
    assert matched_width(mlp, 1) == 1


def test_accuracy_verdict_separates_gaps_from_noise():
    # p = 0.9 on 1000 points: SE of the difference ~ sqrt(2 * 0.09 / 1000) = 1.3 pts
    assert "no difference" in accuracy_verdict("A", 0.91, "B", 0.90, 1000)
    assert "A better" in accuracy_verdict("A", 0.95, "B", 0.90, 1000)
    assert "A worse" in accuracy_verdict("A", 0.85, "B", 0.90, 1000)
    assert accuracy_verdict("A", 0.91, "B", 0.90, 1000).startswith("A 91.0% vs B 90.0% (+1.0 pts")
    with pytest.raises(InputDataError, match="value"):
        accuracy_verdict("A", 1.5, "B", 0.9, 10)
    with pytest.raises(InputDataError, match="n_test"):
        accuracy_verdict("A", 0.5, "B", 0.9, 0)
