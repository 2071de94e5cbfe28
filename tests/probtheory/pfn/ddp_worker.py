"""Run by tests/probtheory/pfn/test_training.py under torchrun with 2 CPU processes."""

import json
import sys

import torch.distributed as dist

from probtheory.pfn import GPPrior, TrainConfig, TransformerConfig, train_pfn


def main(out: str, max_context: int) -> None:
    config = TrainConfig(
        steps=4,
        batch_size=4,
        seq_len=8,
        max_context=max_context,  # 0: every step has an empty context
        border_samples=2000,
        checkpoint_every=2,
        transformer=TransformerConfig(num_buckets=20, emsize=8, nhead=2, nhid=16, nlayers=1),
    )
    result = train_pfn(GPPrior(), config, out_dir=out, progress=False)
    rank = dist.get_rank()
    checksum = float(sum(p.double().sum() for p in result.model.parameters()))
    with open(f"{out}/rank{rank}.json", "w") as f:
        json.dump({"rank": rank, "world": dist.get_world_size(), "checksum": checksum}, f)
    # both ranks reach the end before either tears gloo down: a rank that destroys the group while
    # the other still talks to it can abort the other ("terminate called without an active exception")
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":  # importing this file (e.g. pytest --doctest-modules) runs nothing
    main(sys.argv[1], int(sys.argv[2]))
