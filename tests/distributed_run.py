"""One rank of a gloo training loop over FastDBCollateFN, for torchrun.

Run as ``torchrun --standalone --nproc_per_node=2 distributed_run.py OUT_DIR
[SPILL_DIR]``. With SPILL_DIR, every rank's collate uses a
``fastcollate.TargetCache`` that keeps no entries in memory and spills them
to that one directory, so the second epoch reads what either rank drew.
Each rank reads its share of 32 synthetic pages through a DistributedSampler
and a DataLoader with 2 forked workers, for 2 epochs, and all-reduces one
number per step, so a rank that stops receiving batches hangs the others.
Each rank writes ``OUT_DIR/rank_N.json`` with what it saw, creating OUT_DIR
and its parents if they are missing.
"""

import json
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler

import fastcollate
from fastcollate import FastDBCollateFN
from fastcollate.synthetic import make_batch

PAGES = 32
BATCH_SIZE = 4
EPOCHS = 2
LOADER_TIMEOUT_S = 60


def main():
    out_dir = Path(sys.argv[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    spill_dir = sys.argv[2] if len(sys.argv) > 2 else None
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    world_size = dist.get_world_size()

    samples = make_batch(31, 128, 15, PAGES)
    sampler = DistributedSampler(samples, num_replicas=world_size, rank=rank, shuffle=True, seed=0)
    if spill_dir is None:
        collate = FastDBCollateFN()
    else:
        collate = FastDBCollateFN(cache=fastcollate.TargetCache(max_bytes=0, spill_dir=spill_dir))
    loader = DataLoader(samples, batch_size=BATCH_SIZE, sampler=sampler, num_workers=2,
                        collate_fn=collate, multiprocessing_context="fork",
                        timeout=LOADER_TIMEOUT_S)
    serial = FastDBCollateFN(num_threads=1, reuse_buffers=False)
    by_name = {sample["image_filename"]: sample for sample in samples}

    reduced = []
    filenames = []
    maps_match = True
    for epoch in range(EPOCHS):
        sampler.set_epoch(epoch)
        epoch_filenames = []
        for batch in loader:
            expected = serial([by_name[name] for name in batch["image_filename"]])
            maps_match &= torch.equal(batch["thresh_maps"], expected["thresh_maps"])
            maps_match &= torch.equal(batch["prob_maps"], expected["prob_maps"])

            value = batch["prob_maps"].double().sum().reshape(1)
            dist.all_reduce(value)
            reduced.append(value.item())
            epoch_filenames.extend(batch["image_filename"])
        filenames.append(epoch_filenames)

    result = {"rank": rank, "world_size": world_size, "reduced": reduced, "filenames": filenames,
              "maps_match": bool(maps_match)}
    if spill_dir is not None:
        result["cache_counters"] = collate.cache.counters.snapshot()
    (out_dir / f"rank_{rank}.json").write_text(json.dumps(result))
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
