"""Training: learning, exact resume, checkpoints, distributed training, prediction API."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from probtheory.errors import ConfigurationError, InputDataError
from probtheory.pfn import PFN, CheckpointError, GPPrior, TrainConfig, TransformerConfig, train_pfn

TINY = TransformerConfig(num_buckets=20, emsize=16, nhead=2, nhid=32, nlayers=1)


def _config(steps=6, **kw):
    return TrainConfig(
        steps=steps,
        batch_size=8,
        seq_len=12,
        max_context=8,
        border_samples=4000,
        checkpoint_every=3,
        transformer=TINY,
        **kw,
    )


def _params(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def _held_out_nll(model, prior):
    batch = prior.sample(512, 12, torch.Generator().manual_seed(123))
    x, y = batch.x.float(), batch.y.float()
    with torch.no_grad():
        nll = -model.distribution(model.transformer(x[:, :8], y[:, :8], x[:, 8:])).log_prob(batch.y[:, 8:])
    return nll.mean(1)  # per dataset


def test_training_lowers_the_held_out_prior_nll():
    """150 steps of a tiny PFN beat its initialisation on 512 fresh datasets by > 5 SE."""
    prior = GPPrior()
    config = TrainConfig(
        steps=150,
        batch_size=16,
        seq_len=20,
        max_context=15,
        border_samples=4000,
        lr=3e-3,
        checkpoint_every=1000,
        log_every=25,
        transformer=TINY,
    )
    before = _held_out_nll(train_pfn(prior, _config(steps=1, lr=1e-12), progress=False).model, prior)
    after = _held_out_nll(train_pfn(prior, config, progress=False).model, prior)
    gain = before - after
    assert gain.mean() > 5 * gain.std() / len(gain) ** 0.5, (before.mean(), after.mean())


def test_resume_refuses_a_different_config(tmp_path):
    train_pfn(GPPrior(), _config(steps=3), out_dir=tmp_path, progress=False)  # "interrupted" at step 3
    saved = json.loads((tmp_path / "checkpoint.json").read_text())
    assert saved["step"] == 3
    # same out_dir with the full schedule must refuse (config differs) ...
    with pytest.raises(ConfigurationError, match="different TrainConfig"):
        train_pfn(GPPrior(), _config(steps=6), out_dir=tmp_path, progress=False)


def test_resume_continues_from_checkpoint(tmp_path):
    # losses are logged every 2 steps and the checkpoint falls mid-window, after step 3
    straight = train_pfn(GPPrior(), _config(log_every=2), progress=False)
    config = _config(log_every=2)
    # run the full config but stop early by simulating an interruption after the first checkpoint
    import probtheory.pfn.training as training

    original = training.write_checkpoint
    calls = {"n": 0}

    def interrupt(*args, **kwargs):
        original(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 1:
            raise KeyboardInterrupt

    training.write_checkpoint = interrupt
    try:
        with pytest.raises(KeyboardInterrupt):
            train_pfn(GPPrior(), config, out_dir=tmp_path, progress=False)
    finally:
        training.write_checkpoint = original
    resumed = train_pfn(GPPrior(), config, out_dir=tmp_path, progress=False)
    assert torch.allclose(_params(resumed.model), _params(straight.model), atol=1e-6)
    assert len(resumed.losses) == 3 and resumed.losses == pytest.approx(straight.losses, abs=1e-5)
    assert (tmp_path / "model.safetensors").exists()


def test_restarts_repeat_the_schedule_per_cycle():
    """Each cycle is a warmup + cosine schedule of its own length, peaking at lr * factor**k."""
    from probtheory.pfn.training import _lr_factor

    config = TrainConfig(steps=300, warmup_fraction=0.1, restarts=(100, 160), restart_lr_factor=0.5)
    for start, end, k in ((0, 100, 0), (100, 160, 1), (160, 300, 2)):
        alone = TrainConfig(steps=end - start, warmup_fraction=0.1)
        for t in range(start, end):
            assert _lr_factor(t, config) == pytest.approx(_lr_factor(t - start, alone) * 0.5**k, rel=1e-12)
    # the peak of each cycle, right after its warmup, and the end of each cycle near zero
    assert [_lr_factor(t, config) for t in (9, 105, 173)] == pytest.approx([1.0, 0.5, 0.25])
    assert max(_lr_factor(t, config) for t in (99, 159, 299)) < 1e-3
    # no restarts: the single schedule of earlier checkpoints
    plain = TrainConfig(steps=300, warmup_fraction=0.1)
    assert [_lr_factor(t, plain) for t in (0, 29, 30, 299)] == pytest.approx(
        [1 / 30, 1.0, 1.0, 0.5 * (1 + math.cos(math.pi * 269 / 270))]
    )


def test_a_finished_run_is_extended_by_a_restart_exactly(tmp_path):
    """Resuming a finished N-step run under restarts=(N,) equals training the longer run straight."""
    short = _config(steps=4, log_every=2)
    longer = _config(steps=7, log_every=2, restarts=(4,), restart_lr_factor=0.5)
    straight = train_pfn(GPPrior(), longer, out_dir=tmp_path / "straight", progress=False)
    train_pfn(GPPrior(), short, out_dir=tmp_path / "extended", progress=False)
    extended = train_pfn(GPPrior(), longer, out_dir=tmp_path / "extended", progress=False)
    assert torch.allclose(_params(extended.model), _params(straight.model), atol=1e-6)
    assert extended.losses == pytest.approx(straight.losses, abs=1e-5)
    saved = json.loads((tmp_path / "extended" / "model.json").read_text())
    assert saved["train_config"]["restarts"] == [4] and saved["train_config"]["steps"] == 7
    # the reloaded configuration equals the one it was written from (a JSON list reads back as a tuple)
    assert TrainConfig.from_dict(saved["train_config"]) == longer


@pytest.mark.parametrize(
    "change",
    [
        {"steps": 7},  # no restart: the first 4 steps would have had another learning rate
        {"steps": 7, "restarts": (3,)},  # a restart inside the steps already taken
        {"steps": 7, "restarts": (4,), "lr": 1e-3},  # another setting than the schedule's
        {"steps": 3},  # fewer steps than were taken
    ],
)
def test_a_run_is_not_extended_under_another_schedule(tmp_path, change):
    train_pfn(GPPrior(), _config(steps=4), out_dir=tmp_path, progress=False)
    with pytest.raises(ConfigurationError, match="different TrainConfig"):
        train_pfn(GPPrior(), _config(**change), out_dir=tmp_path, progress=False)


def test_checkpoint_roundtrip_and_tamper_detection(tmp_path):
    model = train_pfn(GPPrior(), _config(steps=2), progress=False).model
    model.save(tmp_path / "pfn", note="test")
    loaded = PFN.load(tmp_path / "pfn")
    assert torch.equal(_params(loaded), _params(model)) and loaded.metadata["note"] == "test"
    data = bytearray((tmp_path / "pfn.safetensors").read_bytes())
    data[-3] ^= 0xFF
    (tmp_path / "pfn.safetensors").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="sha256"):
        PFN.load(tmp_path / "pfn")
    with pytest.raises(CheckpointError, match="expected"):
        PFN.load(tmp_path / "missing")


def test_predict_api_shapes_and_validation():
    model = train_pfn(GPPrior(), _config(steps=2), progress=False, metadata={"x_support": [0.0, 1.0]}).model
    g = torch.Generator().manual_seed(0)
    x, y, xq = (
        torch.rand(3, 5, 1, generator=g),
        torch.randn(3, 5, generator=g),
        torch.rand(3, 4, 1, generator=g),
    )
    dist = model.predict(x, y, xq)
    assert dist.batch_shape == (3, 4) and dist.mean.dtype == torch.float64
    assert model.predict(x[0], y[0], xq[0]).batch_shape == (4,)
    assert model.predict(x[:, :0], y[:, :0], xq).batch_shape == (3, 4)  # no context
    with pytest.raises(InputDataError, match="y_train"):
        model.predict(x, y[:, :4], xq)
    with pytest.raises(InputDataError, match="x_test"):
        model.predict(x, y, torch.rand(3, 4, 2))
    bad = y.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(InputDataError, match="y_train"):
        model.predict(x, bad, xq)
    with pytest.warns(UserWarning, match="support"):
        model.predict(x + 2.0, y, xq)


def test_condition_caches_the_context():
    model = train_pfn(GPPrior(), _config(steps=2), progress=False).model
    g = torch.Generator().manual_seed(0)
    x, y, xq = (
        torch.rand(3, 5, 1, generator=g),
        torch.randn(3, 5, generator=g),
        torch.rand(3, 4, 1, generator=g),
    )
    predict = model.condition(x, y)
    assert torch.allclose(predict(xq).mean, model.predict(x, y, xq).mean, atol=1e-6)
    assert torch.allclose(predict(xq[:, :1]).mean, model.predict(x, y, xq).mean[:, :1], atol=1e-6)
    single = model.condition(x[0], y[0])
    assert single(xq[0]).batch_shape == (4,)
    with pytest.raises(InputDataError, match="x_test"):
        predict(torch.rand(2, 4, 1))


def test_config_validation():
    with pytest.raises(ConfigurationError, match="max_context"):
        TrainConfig(seq_len=10, max_context=10)
    with pytest.raises(ConfigurationError, match="num_features"):
        train_pfn(GPPrior(num_features=2), _config(), progress=False)
    with pytest.raises(InputDataError, match="name"):
        PFN.from_pretrained("no-such-model")


@pytest.mark.parametrize("max_context", [5, 0])
def test_distributed_training_with_two_cpu_processes(tmp_path, max_context):
    # max_context = 0: the y-encoder and key/value projections only enter through the zero term,
    # which DDP (built without the unused-parameter search) needs to see every parameter
    worker = Path(__file__).with_name("ddp_worker.py")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",  # a free rendezvous port: no clash with other runs on the machine
            "--nproc_per_node",
            "2",
            str(worker),
            str(tmp_path),
            str(max_context),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[:3000] + "\n...\n" + result.stderr[-2000:]
    assert "find_unused_parameters" not in result.stderr  # no DDP warning about the search
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    assert [r["world"] for r in ranks] == [2, 2]
    assert ranks[0]["checksum"] == pytest.approx(ranks[1]["checksum"], rel=1e-12)  # DDP kept them in sync
    assert (tmp_path / "model.safetensors").exists()


def test_documented_torchrun_command_trains_a_recipe_and_only_rank_zero_reports(tmp_path):
    # the command of `probtheory pfn train --help` and docs/pfn.md, as a user types it
    command = Path(sys.executable).with_name("probtheory")
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--no-python"]
        + ["--nproc_per_node", "2", str(command), "pfn", "train", "gp-rbf-1d", "--steps", "2"]
        + ["--out", str(tmp_path), "--no-progress"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("trained gp-rbf-1d: 2 steps") == 1, result.stdout
    meta = json.loads((tmp_path / "model.json").read_text())
    assert meta["train_config"]["steps"] == 2
    # the recorded command reproduces the run: each rank draws its own datasets
    launcher = "torchrun --standalone --no-python --nproc_per_node 2"
    assert meta["training_command"] == f"{launcher} probtheory pfn train gp-rbf-1d --steps 2"
    # ... and one process may not resume the two processes' checkpoint
    from probtheory.cli import main

    with pytest.raises(ConfigurationError, match="2 process\\(es\\), this run has 1"):
        main(["--debug", "pfn", "train", "gp-rbf-1d", "--steps", "2", "--out", str(tmp_path)])


def test_command_line_trains_a_recipe_and_lists_it(tmp_path, capsys):
    from probtheory.cli import main

    assert main(["pfn", "train", "gp-rbf-1d", "--steps", "2", "--out", str(tmp_path), "--no-progress"]) == 0
    meta = json.loads((tmp_path / "model.json").read_text())
    assert meta["training_command"] == "probtheory pfn train gp-rbf-1d --steps 2"
    assert meta["recipe"] == "gp-rbf-1d" and meta["train_config"]["steps"] == 2
    out = tmp_path / "lr"
    flags = ["--steps", "2", "--lr", "2e-3", "--batch-size", "4", "--queries", "10", "--buckets", "40"]
    flags += ["--emsize", "16", "--nhid", "24", "--border-power", "1/2"]  # recorded as its value
    assert main(["pfn", "train", "gp-rbf-1d", *flags, "--out", str(out), "--no-progress"]) == 0
    meta = json.loads((out / "model.json").read_text())
    command = "probtheory pfn train gp-rbf-1d --steps 2 --lr 0.002 --batch-size 4 --queries 10 --buckets 40"
    assert meta["training_command"] == command + " --emsize 16 --nhid 24 --border-power 0.5"
    assert meta["train_config"]["border_power"] == 0.5
    trained = PFN.load(out / "model")
    assert trained.borders.numel() == 41
    assert (trained.config.emsize, trained.config.nhid) == (16, 24)
    assert {k: meta["train_config"][k] for k in ("steps", "lr", "batch_size", "queries")} == {
        "steps": 2,
        "lr": 0.002,
        "batch_size": 4,
        "queries": 10,
    }
    assert main(["pfn", "list"]) == 0
    assert "gp-rbf-1d" in capsys.readouterr().out
    assert main(["pfn", "train", "no-such-recipe", "--out", str(tmp_path / "x")]) == 2
    assert "`recipe`" in capsys.readouterr().err
    with pytest.raises(InputDataError, match="recipe"):
        main(["--debug", "pfn", "train", "no-such-recipe", "--out", str(tmp_path / "x")])


def test_fixed_queries_train_on_the_points_right_after_the_context(monkeypatch):
    """queries=q: every step's queries are the q points after its context, for any context size."""
    from probtheory.pfn.transformer import PFNTransformer

    batches, calls = [], []
    sample, forward = GPPrior.sample, PFNTransformer.forward
    monkeypatch.setattr(GPPrior, "sample", lambda self, *a: batches.append(sample(self, *a)) or batches[-1])
    monkeypatch.setattr(
        PFNTransformer, "forward", lambda self, *a: calls.append([t.detach() for t in a]) or forward(self, *a)
    )
    train_pfn(GPPrior(), _config(steps=8, queries=3), progress=False)
    training = batches[-8:]  # the earlier draws fit the bucket borders
    assert len(calls) == 8
    for batch, (x_train, _, x_test) in zip(training, calls, strict=True):
        s = x_train.shape[1]
        assert x_test.shape[1] == 3
        assert torch.equal(x_test, batch.x[:, s : s + 3].float())
    assert len({c[0].shape[1] for c in calls}) > 1  # several context sizes were drawn


def test_border_power_sets_the_bucket_layout():
    """border_power=1/3 spreads the same number of buckets over the same range towards the tails,
    and a run trains on those borders."""
    from probtheory.pfn.training import initial_borders

    config = _config(steps=1, border_power=1 / 3)
    spread = initial_borders(GPPrior(), config)
    assert torch.equal(train_pfn(GPPrior(), config, progress=False).model.borders, spread)
    quantile = initial_borders(GPPrior(), _config(steps=1))
    assert spread.numel() == quantile.numel() == TINY.num_buckets + 1
    assert spread[0] == quantile[0] and spread[-1] == quantile[-1]
    widths, quantile_widths = spread[1:] - spread[:-1], quantile[1:] - quantile[:-1]
    assert widths.max() < quantile_widths.max() and widths.min() > quantile_widths.min()


@pytest.mark.parametrize("power", [2.0, 0.5])
def test_context_power_draws_the_stated_law(power):
    """P(s <= k) = ((k + 1) / (max_context + 1))^(1/p), checked at every k within 4 binomial
    standard errors over 20,000 seeded draws (p = 2 favours small contexts, p = 1/2 large ones)."""
    from probtheory.pfn.training import _context_size

    config = TrainConfig(max_context=50, context_power=power)
    draws = torch.tensor([_context_size(config, torch.Generator().manual_seed(i)) for i in range(20_000)])
    assert draws.min() >= 0 and draws.max() <= 50
    k = torch.arange(51)
    expected = ((k + 1) / 51.0) ** (1 / power)
    observed = (draws[:, None] <= k).double().mean(0)
    se = (expected * (1 - expected) / draws.numel()).sqrt()
    assert ((observed - expected).abs() <= 4 * se + 1e-12).all()


def test_context_power_one_keeps_the_uniform_draw_of_earlier_checkpoints():
    """The default draws s exactly as before the option existed, so resumed runs are unchanged."""
    from probtheory.pfn.training import _context_size

    for seed in range(20):
        expected = int(torch.randint(0, 51, (), generator=torch.Generator().manual_seed(seed)))
        assert _context_size(TrainConfig(max_context=50), torch.Generator().manual_seed(seed)) == expected


@pytest.mark.parametrize("power", [0.0, -1.0, float("nan")])
def test_context_power_must_be_positive(power):
    with pytest.raises(InputDataError, match="context_power"):
        TrainConfig(context_power=power)


def test_context_power_reaches_training_and_the_recorded_command(monkeypatch):
    """A run with context_power=4 trains on small contexts (mean s about 1.3 of 0..8), and
    `--context-power` is parsed, checked and recorded like the other flags."""
    from probtheory.cli import build_parser
    from probtheory.pfn.cli import training_config
    from probtheory.pfn.transformer import PFNTransformer

    sizes, forward = [], PFNTransformer.forward
    monkeypatch.setattr(
        PFNTransformer, "forward", lambda self, *a: sizes.append(a[0].shape[1]) or forward(self, *a)
    )
    train_pfn(GPPrior(), _config(steps=40, context_power=4.0), progress=False)
    assert len(sizes) == 40 and sum(sizes) / len(sizes) < 2.5  # uniform would average 4
    args = build_parser().parse_args(["pfn", "train", "gp-rbf-1d", "--context-power", "3/2", "--out", "x"])
    _, config, flags = training_config(args)
    assert config.context_power == 1.5 and flags == " --context-power 1.5"
    bad = build_parser().parse_args(["pfn", "train", "gp-rbf-1d", "--context-power", "0", "--out", "x"])
    with pytest.raises(InputDataError, match="--context-power"):
        training_config(bad)


def test_the_steps_flag_keeps_the_recipes_restarts_that_still_happen(monkeypatch):
    """A shorter run of a recipe with warm restarts drops the restarts past its end (and only those)."""
    from dataclasses import replace

    from probtheory.cli import build_parser
    from probtheory.pfn import recipes
    from probtheory.pfn.cli import training_config

    recipe = replace(
        recipes.GP_HYPER_1D, config=replace(recipes.GP_HYPER_1D.config, steps=3000, restarts=(1000, 2000))
    )
    monkeypatch.setattr(recipes, "get_recipe", lambda name: recipe)

    def restarts(*flags):
        args = build_parser().parse_args(["pfn", "train", "gp-hyper-1d", *flags, "--out", "x"])
        return training_config(args)[1].restarts

    assert restarts() == (1000, 2000)
    assert restarts("--steps", "2500") == (1000, 2000)
    assert restarts("--steps", "1500") == (1000,)
    assert restarts("--steps", "1000") == ()
    assert restarts("--steps", "200") == ()


def test_the_targets_flag_is_parsed_checked_and_recorded():
    from probtheory.cli import build_parser
    from probtheory.pfn.cli import training_config
    from probtheory.pfn.recipes import get_recipe

    args = build_parser().parse_args(["pfn", "train", "gp-rbf-1d", "--targets", "sampled", "--out", "x"])
    _, config, flags = training_config(args)
    assert config.targets == "sampled" and flags == " --targets sampled"
    recipe_default = training_config(build_parser().parse_args(["pfn", "train", "gp-rbf-1d"]))[1].targets
    assert recipe_default == get_recipe("gp-rbf-1d").config.targets == "posterior"
    bad = build_parser().parse_args(["pfn", "train", "gp-rbf-1d", "--targets", "Posterior", "--out", "x"])
    with pytest.raises(InputDataError, match="--targets.*did you mean 'posterior'"):
        training_config(bad)
