"""Training PFNs on a prior: ``train_pfn(prior, config)``, resumable and distributable.

Each step draws fresh datasets from the prior, splits each at a random number of context
points s (uniform on 0..max_context, the range the PFN is meant for), and minimises the
negative log-likelihood of the remaining points under the predicted bar distribution — the
prior-data NLL of Müller et al. (2022, eq. 2), whose minimiser is the posterior predictive.

* the loss on sampled targets (the default), or with ``targets="gaussian"`` its exact
  expectation over the observation noise given the prior's latent, or with
  ``targets="posterior"`` over the queries given the context and the prior's hyperparameters,
  for priors whose batches carry those Gaussians (:mod:`probtheory.pfn.soft_targets`: the same
  expected loss, less gradient noise);
* AdamW with linear warmup and cosine decay, optionally restarted (SGDR), gradient clipping,
  gradient accumulation;
* a tqdm bar with the running loss;
* checkpoints every ``checkpoint_every`` steps (model, optimizer, step: safetensors + JSON)
  from which a run resumes exactly — every step's randomness is derived from
  ``(seed, step, rank, micro-batch)``, so there is no RNG state to lose; a finished run is
  extended by a configuration that only adds steps after a warm restart of the schedule;
* under ``torchrun --nproc_per_node N`` the model is wrapped in DistributedDataParallel
  (gloo on CPU, nccl on GPU) and each process draws its own datasets.
"""

from __future__ import annotations

import bisect
import math
import os
import platform
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from probtheory._checks import (
    check_bool,
    check_instance,
    check_int,
    check_interval,
    check_path,
    check_real,
)
from probtheory.errors import ConfigurationError, InputDataError
from probtheory.pfn.bar_distribution import bucket_borders
from probtheory.pfn.checkpoint import read_checkpoint, write_checkpoint
from probtheory.pfn.model import PFN
from probtheory.pfn.priors import Batch, Prior
from probtheory.pfn.soft_targets import expected_nll
from probtheory.pfn.transformer import TransformerConfig

__all__ = ["TARGETS", "TrainConfig", "TrainResult", "initial_borders", "train_pfn"]

#: What the loss is computed on: sampled targets, their Gaussian law given the prior's latent,
#: or their Gaussian law given the context and the prior's hyperparameters.
TARGETS = ("sampled", "gaussian", "posterior")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings of :func:`train_pfn`.

    ``targets`` is ``"sampled"`` (the NLL of the prior's sampled ``target_y``), ``"gaussian"`` (its
    expectation over ``target_y``'s Gaussian law given the latent, which the prior's batches must
    carry as ``target_loc`` / ``target_scale``) or ``"posterior"`` (its expectation over the
    queries' Gaussian law given the context and the prior's hyperparameters, the function values
    integrated out: the batches' ``posterior``; see :mod:`probtheory.pfn.soft_targets`). Queries per
    dataset are ``seq_len - s`` for a context size ``s`` uniform on ``0..max_context``: a larger
    ``seq_len`` trains on more queries per dataset at a cost linear in their number. ``queries``
    fixes their number instead (the points ``s .. s + queries - 1`` of each drawn sequence; the
    datasets are still drawn with ``seq_len`` points, since a prior's law may depend on the length,
    as the learning-curve prior's does): a step with a small context is then cheaper, and every
    context size gets the same number of loss terms, as in the PFNs library's
    ``fixed_num_test_instances`` (Müller et al.). The bucket borders come from ``border_samples``
    prior draws of y, with ``border_power`` as in
    :func:`~probtheory.pfn.bar_distribution.bucket_borders` (1: quantile borders; 1/3: more buckets
    in the tails, a lower floor of the attainable NLL at the GP recipes' 500 buckets).
    ``context_power`` p > 1 draws small contexts more often: ``s = floor((max_context + 1) u^p)``
    with u uniform on [0, 1), so P(s <= k) = ((k + 1) / (max_context + 1))^(1/p); p = 1 is the
    uniform law. The network's optimum at each context size is the same posterior predictive
    whatever the law of ``s`` (the law only weighs the sizes against each other), so this moves
    training effort, not the target.

    The learning rate warms up linearly over ``warmup_fraction`` of the steps and then decays
    along a cosine to zero. ``restarts`` (step numbers) start the schedule anew at each of them,
    as in SGDR (Loshchilov & Hutter, ICLR 2017): every cycle warms up over ``warmup_fraction``
    of its own length and decays to zero by its end, and the k-th restart peaks at
    ``lr * restart_lr_factor**k``. The first cycle is then exactly the schedule of a run of
    ``restarts[0]`` steps, so a finished run is extended by resuming it under a configuration
    that adds a restart at its last step (see :func:`train_pfn`).
    """

    steps: int = 20_000
    batch_size: int = 64
    seq_len: int = 60
    max_context: int = 50
    lr: float = 3e-4
    weight_decay: float = 0.0
    warmup_fraction: float = 0.05
    accumulation: int = 1
    clip_norm: float = 1.0
    border_samples: int = 100_000
    border_power: float = 1.0
    checkpoint_every: int = 500
    log_every: int = 100
    seed: int = 0
    transformer: TransformerConfig = field(default_factory=TransformerConfig)
    targets: str = "sampled"
    queries: int | None = None
    context_power: float = 1.0
    restarts: tuple[int, ...] = ()
    restart_lr_factor: float = 1.0

    def __post_init__(self) -> None:
        for name in (
            "steps",
            "batch_size",
            "seq_len",
            "accumulation",
            "border_samples",
            "checkpoint_every",
            "log_every",
        ):
            check_int(name, getattr(self, name), minimum=1)
        check_int("max_context", self.max_context, minimum=0)
        check_int("seed", self.seed, minimum=0)
        check_real("lr", self.lr, positive=True)
        check_real("weight_decay", self.weight_decay, nonnegative=True)
        check_real("clip_norm", self.clip_norm, positive=True)
        check_interval("warmup_fraction", self.warmup_fraction, 0.0, 1.0, meaning="a fraction of the steps")
        check_interval("border_power", self.border_power, 0.0, 1.0, meaning="an exponent of the density")
        check_real("context_power", self.context_power, positive=True)
        check_real("restart_lr_factor", self.restart_lr_factor, positive=True)
        if not isinstance(self.restarts, (tuple, list)):
            raise InputDataError("restarts", "a tuple of step numbers", repr(self.restarts))
        object.__setattr__(self, "restarts", tuple(self.restarts))  # a JSON list reads back as a tuple
        for index, restart in enumerate(self.restarts):
            check_int(f"restarts[{index}]", restart, minimum=1)
        if list(self.restarts) != sorted(set(self.restarts)) or (
            self.restarts and self.restarts[-1] >= self.steps
        ):
            raise InputDataError(
                "restarts",
                f"strictly increasing step numbers between 1 and steps - 1 = {self.steps - 1}",
                list(self.restarts),
            )
        check_instance("transformer", self.transformer, TransformerConfig, "a TransformerConfig")
        if self.targets not in TARGETS:
            raise InputDataError("targets", f"one of {TARGETS}", repr(self.targets))
        if self.queries is not None:
            check_int("queries", self.queries, minimum=1)
            if self.max_context + self.queries > self.seq_len:
                raise ConfigurationError(
                    f"max_context + queries ({self.max_context} + {self.queries}) must be <= seq_len "
                    f"({self.seq_len}): the queries follow the context in each drawn sequence"
                )
        if self.max_context >= self.seq_len:
            raise ConfigurationError(
                f"max_context ({self.max_context}) must be < seq_len ({self.seq_len}): every dataset "
                "needs at least one query point"
            )

    def to_dict(self) -> dict:
        """Plain-dict form (for JSON)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        """Inverse of :meth:`to_dict`."""
        check_instance("data", data, dict, "a dict as written by TrainConfig.to_dict")
        data = dict(data)
        try:
            data["transformer"] = TransformerConfig(**data["transformer"])
            return cls(**data)
        except (KeyError, TypeError) as err:
            raise InputDataError("data", "the fields of TrainConfig.to_dict()", err) from err


@dataclass
class TrainResult:
    """The trained model and its loss history (mean loss per logging window)."""

    model: PFN
    losses: list[float]
    steps: int
    seconds: float


def _step_generator(seed: int, step: int, rank: int, micro: int) -> torch.Generator:
    return torch.Generator().manual_seed(((seed * 1_000_003 + step) * 1_009 + rank) * 101 + micro)


def _context_size(config: TrainConfig, g: torch.Generator) -> int:
    """The step's context size ``s`` on ``0..max_context`` (see :class:`TrainConfig`)."""
    if config.context_power == 1.0:  # the draw of checkpoints trained before context_power existed
        return int(torch.randint(0, config.max_context + 1, (), generator=g))
    u = float(torch.rand((), generator=g, dtype=torch.float64))
    return min(config.max_context, int((config.max_context + 1) * u**config.context_power))


def _lr_factor(step: int, config: TrainConfig) -> float:
    """The learning rate of ``step`` relative to ``config.lr``: warmup and cosine decay in its cycle."""
    bounds = (0, *config.restarts, config.steps)
    cycle = min(bisect.bisect_right(bounds, step) - 1, len(bounds) - 2)
    start, length = bounds[cycle], bounds[cycle + 1] - bounds[cycle]
    warmup = max(1, int(config.warmup_fraction * length))
    if step - start < warmup:
        factor = (step - start + 1) / warmup
    else:
        progress = (step - start - warmup) / max(1, length - warmup)
        factor = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return factor * config.restart_lr_factor**cycle


def _continues(saved: TrainConfig, config: TrainConfig, step: int) -> bool:
    """Whether ``config`` takes the same ``step`` first steps as ``saved``, which wrote the checkpoint.

    True for the same configuration, and for one that differs only in its schedule's length and
    restarts while giving every step already taken the same learning rate (a run extended by a
    warm restart).
    """
    if saved == config:
        return True
    schedule = {
        "steps": config.steps,
        "restarts": config.restarts,
        "restart_lr_factor": config.restart_lr_factor,
    }
    if replace(saved, **schedule) != config or step > config.steps:
        return False
    return all(_lr_factor(t, saved) == _lr_factor(t, config) for t in range(step))


def initial_borders(prior: Prior, config: TrainConfig) -> torch.Tensor:
    """The bucket borders a run of ``config`` on ``prior`` starts from (and keeps).

    Drawn from ``config.border_samples`` prior values of y with a generator of their own, so a
    run's borders depend on its configuration only, with ``config.border_power`` as in
    :func:`~probtheory.pfn.bar_distribution.bucket_borders`.

    Raises:
        InputDataError: If ``prior`` is not a Prior or ``config`` not a TrainConfig.
    """
    check_instance("prior", prior, Prior, "a Prior (a `num_features` attribute and a `sample` method)")
    check_instance("config", config, TrainConfig, "a TrainConfig")
    g = _step_generator(config.seed, -1, 0, 0)
    per_batch = max(1, 4096 // config.seq_len)
    ys = []
    while sum(y.numel() for y in ys) < config.border_samples:
        ys.append(prior.sample(per_batch, config.seq_len, g).y.flatten())
    samples = torch.cat(ys)[: config.border_samples]
    return bucket_borders(config.transformer.num_buckets, samples, power=config.border_power)


def _optimizer_tensors(optimizer: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    out = {}
    for index, state in optimizer.state_dict()["state"].items():
        for key, value in state.items():
            out[f"optim.{index}.{key}"] = torch.as_tensor(value)
    return out


def _restore_optimizer(optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor]) -> None:
    state_dict = optimizer.state_dict()
    state: dict[int, dict] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, index, key = name.split(".", 2)
            state.setdefault(int(index), {})[key] = value
    state_dict["state"] = state
    optimizer.load_state_dict(state_dict)


def _loss(distribution, batch: Batch, s: int, end: int, targets: str) -> torch.Tensor:
    """The per-query loss of the predicted bar distribution for the queries ``s:end`` of ``batch``."""
    if targets == "gaussian":
        if not batch.has_conditional:
            raise ConfigurationError(
                'targets="gaussian" needs a prior whose batches carry target_loc and target_scale '
                "(the Gaussian law of target_y given the latent); this prior's do not"
            )
        return expected_nll(distribution, batch.target_loc[:, s:end], batch.target_scale[:, s:end])
    if targets == "posterior":
        return expected_nll(distribution, *batch.posterior_targets(s, end))
    # rounded through float32 as the inputs are: the shipped models were trained on these values
    return -distribution.log_prob(batch.target_y[:, s:end].float().double())


def _distributed() -> tuple[int, int]:
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def train_pfn(
    prior: Prior,
    config: TrainConfig | None = None,
    *,
    out_dir: str | Path | None = None,
    resume: bool = True,
    progress: bool = True,
    metadata: dict | None = None,
) -> TrainResult:
    """Train a PFN on ``prior``.

    Args:
        prior: A :class:`~probtheory.pfn.priors.Prior`.
        config: Optimisation and architecture settings.
        out_dir: Folder for ``checkpoint.safetensors/.json`` (periodic) and ``model.*`` (final);
            None keeps everything in memory.
        resume: Continue from ``out_dir/checkpoint`` if it exists. Its configuration must be
            ``config``, or differ only in ``steps``, ``restarts`` and ``restart_lr_factor`` with
            the same learning rate at every step it has taken: a finished run of N steps goes on
            under a configuration with a restart at step N.
        progress: Show a progress bar (rank 0 only).
        metadata: Extra JSON-serialisable entries for the final model's config.

    Returns:
        The trained model (on rank 0; other ranks get theirs too) and the loss history.
    """
    config = TrainConfig() if config is None else config
    check_instance("prior", prior, Prior, "a Prior (a `num_features` attribute and a `sample` method)")
    check_instance("config", config, TrainConfig, "a TrainConfig or None")
    check_bool("resume", resume)
    check_bool("progress", progress)
    if metadata is not None:
        check_instance("metadata", metadata, dict, "a dict of JSON-serialisable entries, or None")
    if config.transformer.num_features != prior.num_features:
        raise ConfigurationError(
            f"transformer.num_features ({config.transformer.num_features}) != prior.num_features "
            f"({prior.num_features})"
        )
    rank, world = _distributed()
    out = None if out_dir is None else check_path("out_dir", out_dir)
    start_step, losses, elapsed = 0, [], 0.0
    window: list[float] = []  # losses of the steps since the last logged mean
    state = None
    if out is not None and resume and out.joinpath("checkpoint.json").exists():
        state, saved = read_checkpoint(out / "checkpoint", require_config_hash=True)
        # filled with the defaults of fields added since the checkpoint was written
        if not _continues(TrainConfig.from_dict(saved["train_config"]), config, saved["step"]):
            raise ConfigurationError(
                f"{out}/checkpoint was written with a different TrainConfig (a run goes on only under "
                "its own, or one that adds steps after a restart at its last step); "
                "use another out_dir or resume=False"
            )
        if saved.get("world_size", 1) != world:  # each rank draws its own datasets: the runs would differ
            raise ConfigurationError(
                f"{out}/checkpoint was written by {saved.get('world_size', 1)} process(es), this run has "
                f"{world}: resume with the same number of processes, or use another out_dir"
            )
        start_step, losses, elapsed = saved["step"], saved["losses"], saved["seconds"]
        window = saved.get("window", [])  # absent in checkpoints written before it was saved
        borders = state["model.borders"]
    else:
        borders = initial_borders(prior, config)
    if borders.numel() != config.transformer.num_buckets + 1:
        raise ConfigurationError(
            f"the prior's samples gave only {borders.numel() - 1} distinct buckets; lower num_buckets"
        )
    torch.manual_seed(config.seed)  # parameter initialisation
    model = PFN(config.transformer, borders, metadata)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    if state is not None:
        model.load_state_dict({k[len("model.") :]: v for k, v in state.items() if k.startswith("model.")})
        _restore_optimizer(optimizer, state)
    # Every parameter takes part in every step (an empty context is given the zero term below), so
    # DDP needs no search for unused parameters, which costs an extra autograd traversal per step.
    network = DistributedDataParallel(model.transformer) if world > 1 else model.transformer

    def save_checkpoint(step: int) -> None:
        if out is None or rank != 0:
            return
        tensors = {f"model.{k}": v for k, v in model.state_dict().items()} | _optimizer_tensors(optimizer)
        write_checkpoint(
            out / "checkpoint",
            tensors,
            {
                "train_config": config.to_dict(),
                "step": step,
                "losses": losses,
                "seconds": elapsed,
                "window": window,
                "world_size": world,
            },
        )

    bar = tqdm(total=config.steps, initial=start_step, disable=not progress or rank != 0, desc="train_pfn")
    tick = time.perf_counter()
    model.train()
    for step in range(start_step, config.steps):
        lr = config.lr * _lr_factor(step, config)  # set per step: resumes exactly, no scheduler state
        for group in optimizer.param_groups:
            group["lr"] = lr
        optimizer.zero_grad(set_to_none=True)
        total = 0.0
        for micro in range(config.accumulation):
            g = _step_generator(config.seed, step, rank, micro)
            batch = prior.sample(config.batch_size, config.seq_len, g)
            s = _context_size(config, g)
            end = config.seq_len if config.queries is None else s + config.queries
            x, y = batch.x.float(), batch.y.float()
            logits = network(x[:, :s], y[:, :s], x[:, s:end])
            loss = _loss(model.distribution(logits), batch, s, end, config.targets).mean()
            objective = loss / config.accumulation
            if world > 1 and s == 0:
                # no context leaves the y-encoder and the key/value projections out of the graph;
                # a zero term puts them in, so that DDP's reduction sees every parameter (the
                # other ranks' gradients are unchanged: this rank contributes zeros, as DDP's
                # unused-parameter search would have)
                objective = objective + 0.0 * sum(p.sum() for p in model.transformer.parameters())
            objective.backward()
            total += loss.item() / config.accumulation
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip_norm)
        optimizer.step()
        window.append(total)
        bar.update(1)
        if len(window) == config.log_every:
            losses.append(sum(window) / len(window))
            bar.set_postfix(loss=f"{losses[-1]:.4f}", lr=f"{lr:.2e}")
            window = []
        if (step + 1) % config.checkpoint_every == 0 or step + 1 == config.steps:
            now = time.perf_counter()
            elapsed, tick = elapsed + now - tick, now
            save_checkpoint(step + 1)
    bar.close()
    elapsed += time.perf_counter() - tick
    model.eval()
    if out is not None and rank == 0:
        model.save(
            out / "model",
            train_config=config.to_dict(),
            losses=losses,
            training_seconds=elapsed,
            machine=f"{platform.machine()}, {torch.get_num_threads()} threads x {world} processes",
        )
    return TrainResult(model, losses, config.steps, elapsed)
