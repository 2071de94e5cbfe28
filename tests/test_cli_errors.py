"""One error path for the whole command line: a user error is one line on stderr and exit 2.

Every subcommand's mistakes go through ``probtheory.cli.main``: ``probtheory: error: <message>``
naming the problem, no traceback, exit status 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from probtheory.cli import main
from probtheory.errors import CheckpointError, InputDataError
from probtheory.lcpfn import CurvePrior

SHIPPED = "probtheory/pfn/weights"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """CSV curves and checkpoints with the mistakes the cases make."""
    root = tmp_path_factory.mktemp("cli")
    texts = {
        "curve.csv": "epoch,accuracy\n1,0.20\n2,0.31\n3,0.38\n4,0.44\n",
        "percent.csv": "epoch,accuracy\n1,20\n2,31\n3,38\n4,44\n",
        "row.csv": "epoch,accuracy\n1,0.20\n2;0.31\n3,0.38\n",
        "word.csv": "epoch,accuracy\n1,0.20\n2,high\n",
        "header.csv": "epoch,accuracy\n",
        "empty.csv": "",
        "zero.csv": "0,0.2\n1,0.3\n",
        "order.csv": "1,0.2\n3,0.3\n2,0.4\n",
        "nan.csv": "0.2\nnan\n",
    }
    for name, text in texts.items():
        (root / name).write_text(text)
    edited = root / "edited"
    for suffix in (".safetensors", ".json"):
        shutil.copy(f"{SHIPPED}/lcpfn{suffix}", edited.with_suffix(suffix))
    config = json.loads(edited.with_suffix(".json").read_text())
    config["prior"]["max_epochs"] = 50
    edited.with_suffix(".json").write_text(json.dumps(config, indent=2))
    return root


# (arguments with {d} for the files' folder, a fragment the message must contain)
CASES = [
    (["pfn", "train", "nope"], "`recipe`: expected one of"),
    (["pfn", "train", "gp-rbf-1d", "--steps", "0"], "`--steps`: expected an integer >= 1"),
    (["pfn", "train", "gp-rbf-1d", "--steps", "x"], "argument --steps: invalid int value"),
    (["pfn", "train", "gp-rbf-1d", "--lr", "0"], "`--lr`: expected a number > 0"),
    (["pfn", "train", "gp-rbf-1d", "--lr", "nan"], "`--lr`: expected a finite number"),
    (["pfn", "train", "gp-rbf-1d", "--batch-size", "0"], "`--batch-size`: expected an integer >= 1"),
    (["pfn", "train", "gp-rbf-1d", "--queries", "0"], "`--queries`: expected an integer >= 1"),
    (["pfn", "train", "gp-rbf-1d", "--buckets", "1"], "`--buckets`: expected an integer >= 2"),
    (["pfn", "train", "gp-rbf-1d", "--emsize", "30"], "emsize (30) must be divisible by nhead (4)"),
    (
        ["pfn", "train", "gp-rbf-1d", "--border-power", "2"],
        "`--border-power`: expected an exponent of the density in [0, 1]",
    ),
    (["pfn", "train", "gp-rbf-1d", "--border-power", "1/0"], "a fraction such as 1/3, got '1/0'"),
    (["pfn", "train", "gp-rbf-1d", "--border-power", "1e400"], "a fraction such as 1/3, got '1e400'"),
    (["pfn", "train", "gp-rbf-1d", "--queries", "11"], "max_context + queries (50 + 11) must be <= seq_len"),
    (["pfn", "rehash", "{d}/missing"], "missing.json beside it; it does not exist"),
    (["pfn", "rehash", "{d}/edited"], "does not match its recorded config_sha256"),
    (["lcpfn", "{d}/missing.csv"], "`curve`: expected a readable CSV file"),
    (["lcpfn", "{d}/curve.csv", "--qs", "5", "50", "95"], "percentages? give 0.05 0.5 0.95"),
    (["lcpfn", "{d}/curve.csv", "--qs", "0", "0.5"], "`--qs`: expected quantile levels strictly between"),
    (["lcpfn", "{d}/curve.csv", "--qs", "nan"], "`--qs`"),
    (["lcpfn", "{d}/curve.csv", "--horizon", "500"], "at most the model's longest curve (100)"),
    (["lcpfn", "{d}/curve.csv", "--horizon", "3"], "an epoch after the last observed one (4)"),
    (["lcpfn", "{d}/percent.csv"], "a curve in percent? divide the values by 100"),
    (["lcpfn", "{d}/row.csv"], "row 3 of .*row.csv: ['2;0.31']"),
    (["lcpfn", "{d}/word.csv"], "row 3 of .*word.csv: ['2', 'high']"),
    (["lcpfn", "{d}/header.csv"], "only a header row"),
    (["lcpfn", "{d}/empty.csv"], "an empty file"),
    (["lcpfn", "{d}/zero.csv"], "epochs 1, 2, ... up to the model's longest curve"),
    (["lcpfn", "{d}/order.csv"], "strictly increasing epochs"),
    (["lcpfn", "{d}/nan.csv"], "finite numbers"),
    (["lcpfn", "{d}/curve.csv", "--lower", "1", "--upper", "0"], "`--lower, --upper`"),
    (["lcpfn", "{d}/curve.csv", "--model", "{d}/nope"], "nope.json beside it; it does not exist"),
    (["lcpfn", "{d}/curve.csv", "--model", "{d}/edited"], "does not match its recorded config_sha256"),
    (["lcpfn", "{d}/curve.csv", "--plot", "{d}/no/such/folder/fan.png"], "No such file or directory"),
    (["check", "--claims", "nope", "--no-progress"], "`ids`: expected a claim id"),
    (["reproduce"], "method names or --all"),
    (["reproduce", "no-such-method"], "no-such-method"),
]


def _matches(fragment: str, line: str) -> bool:
    if ".*" not in fragment:
        return fragment in line
    head, tail = fragment.split(".*")
    return head in line and tail in line.split(head, 1)[1]


@pytest.mark.parametrize(("argv", "fragment"), CASES, ids=[" ".join(a) for a, _ in CASES])
def test_user_error_is_one_line_and_exit_2(argv, fragment, files, capsys):
    code = main([a.format(d=files) for a in argv])
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert code == 2
    assert len(lines) == 1, err
    assert lines[0].startswith("probtheory: error: ")
    assert "Traceback" not in err
    assert _matches(fragment, lines[0]), lines[0]


def test_bo_user_error_is_one_line_and_exit_2(tmp_path, capsys):
    code = main(["bo", "--problem", "branin", "--out", str(tmp_path), "--seeds", "0", "--no-progress"])
    lines = capsys.readouterr().err.splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("probtheory: error: `--seeds`")


def test_debug_shows_the_traceback(files, capsys):
    with pytest.raises(InputDataError, match="percentages"):
        main(["--debug", "lcpfn", str(files / "curve.csv"), "--qs", "5", "50", "95"])
    with pytest.raises(CheckpointError, match="config_sha256"):
        main(["--debug", "lcpfn", str(files / "curve.csv"), "--model", str(files / "edited")])
    with pytest.raises(FileNotFoundError):
        main(["--debug", "lcpfn", str(files / "curve.csv"), "--plot", str(files / "no/such/folder/fan.png")])
    assert "probtheory: error" not in capsys.readouterr().err


def test_a_noisy_curve_of_the_prior_outside_0_1_is_extrapolated(tmp_path, capsys):
    """The prior's own observations leave [0, 1] (noise after the range constraint): accepted."""
    batch = CurvePrior().sample(200, 100, torch.Generator().manual_seed(3))
    outside = ((batch.y < 0) | (batch.y > 1)).any(-1).nonzero()[0, 0]
    curve = batch.y[outside, :30]
    assert ((curve < 0) | (curve > 1)).any()
    (tmp_path / "c.csv").write_text("\n".join(f"{v:.17g}" for v in curve.tolist()))
    assert main(["lcpfn", str(tmp_path / "c.csv"), "--horizon", "40"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "epoch,q0.05,q0.25,q0.5,q0.75,q0.95"
