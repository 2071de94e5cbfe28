"""``probtheory lcpfn CURVE.csv``: CSV layouts, the printed quantiles, the plot, bad files."""

import pytest
import torch

from probtheory.cli import main
from probtheory.errors import InputDataError
from probtheory.lcpfn import CurvePrior
from probtheory.lcpfn.cli import read_curve
from probtheory.pfn import PFN, TransformerConfig, bucket_borders


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    borders = bucket_borders(20, CurvePrior().sample(50, 100, torch.Generator().manual_seed(0)).y.flatten())
    config = TransformerConfig(num_buckets=20, emsize=16, nhead=2, nhid=16, nlayers=1)
    path = tmp_path_factory.mktemp("model") / "tiny"
    PFN(config, borders, {"prior": {"max_epochs": 100}}).save(path)
    return str(path)


def test_reads_both_layouts(tmp_path):
    (tmp_path / "two.csv").write_text("epoch,accuracy\n1,0.2\n2,0.3\n4,0.5\n")
    (tmp_path / "one.csv").write_text("0.2\n0.3\n\n0.5\n")
    assert read_curve(tmp_path / "two.csv") == ([1.0, 2.0, 4.0], [0.2, 0.3, 0.5])
    assert read_curve(tmp_path / "one.csv") == ([1.0, 2.0, 3.0], [0.2, 0.3, 0.5])


@pytest.mark.parametrize(
    "text, match",
    [
        ("", "empty file"),
        ("acc\n", "only a header row"),
        ("a\nb\n", r"numeric rows .* row 2 of .*\['b'\]"),
        ("epoch,acc\n1,0.2\nx,0.3\n", r"row 3 of .*\['x', '0.3'\]"),
        ("1,0.2\n0.3\n", r"2 columns in every row, as in row 1, .* row 2 of .*\['0.3'\]"),
        ("1,0.2,0.1\n", r"one column .* or two .* row 1"),
        ("0.2\nnan\n", r"finite numbers, .* row 2"),
    ],
)
def test_bad_files(tmp_path, text, match):
    (tmp_path / "bad.csv").write_text(text)
    with pytest.raises(InputDataError, match=match):
        read_curve(tmp_path / "bad.csv")


def test_prints_quantiles_and_plots(tmp_path, checkpoint, capsys):
    (tmp_path / "c.csv").write_text("\n".join(str(0.1 + 0.01 * i) for i in range(10)))
    plot = tmp_path / "fan.png"
    code = main(
        ["lcpfn", str(tmp_path / "c.csv"), "--model", checkpoint, "--horizon", "30", "--plot", str(plot)]
    )
    out = capsys.readouterr().out.splitlines()
    assert code == 0 and out[0] == "epoch,q0.05,q0.25,q0.5,q0.75,q0.95"
    rows = [list(map(float, line.split(","))) for line in out[1:21]]
    assert [r[0] for r in rows] == list(range(11, 31))
    assert all(r[1:] == sorted(r[1:]) for r in rows)
    assert plot.stat().st_size > 1000


def test_loss_curves_with_minimize(tmp_path, checkpoint, capsys):
    (tmp_path / "loss.csv").write_text("\n".join(str(2.0 - 0.1 * i) for i in range(10)))
    args = [
        "lcpfn",
        str(tmp_path / "loss.csv"),
        "--model",
        checkpoint,
        "--minimize",
        "--upper",
        "3",
        "--qs",
        "0.1",
        "0.9",
    ]
    assert main(args) == 0
    rows = [list(map(float, line.split(","))) for line in capsys.readouterr().out.splitlines()[1:]]
    assert all(0 <= r[1] <= r[2] <= 3 for r in rows)
