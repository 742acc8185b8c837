"""Use threads and OpenCV in a parent process, then start DataLoader workers from it.

Run as ``python fork_safety_run.py START_METHOD REPETITIONS``. Before every
repetition the parent builds a batch on the threaded fast path, whose pool
threads stay alive, and one on the reference path (``cv2.fillPoly``). It
also warps an image with OpenCV's own threads. Then it iterates a DataLoader
with 2 workers started by START_METHOD. The script prints ``finished N
repetitions`` and exits with 0. A deadlocked worker shows up as the caller's
timeout.
"""

import sys

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader

from fastcollate import FastDBCollateFN
from fastcollate.synthetic import make_batch

BATCH_SIZE = 4
# A DataLoader timeout well under the caller's, so that a stuck worker is
# reported by torch with its own message first.
LOADER_TIMEOUT_S = 30


def use_threads_in_parent(samples, image):
    FastDBCollateFN(num_threads=2)(samples)
    FastDBCollateFN(reference=True)(samples)
    cv2.warpAffine(image, np.array([[0.9, 0.1, 5.0], [-0.1, 0.9, 7.0]]), (1024, 1024))
    torch.ones(256, 256) @ torch.ones(256, 256)


def main():
    start_method = sys.argv[1]
    repetitions = int(sys.argv[2])
    samples = make_batch(5, 192, 30, 2 * BATCH_SIZE)
    expected = FastDBCollateFN(num_threads=1, reuse_buffers=False)(samples[:BATCH_SIZE])
    image = np.random.default_rng(0).integers(0, 255, (1024, 1024, 3), dtype=np.uint8)

    for repetition in range(repetitions):
        use_threads_in_parent(samples, image)
        # Workers with 2 threads check that a forked child starts its own pool.
        worker_threads = 1 + repetition % 2
        loader = DataLoader(
            samples, batch_size=BATCH_SIZE, num_workers=2, multiprocessing_context=start_method,
            collate_fn=FastDBCollateFN(num_threads=worker_threads), timeout=LOADER_TIMEOUT_S,
        )
        batches = list(loader)
        if len(batches) != 2:
            raise SystemExit(f"repetition {repetition}: expected 2 batches, got {len(batches)}")
        if not torch.equal(batches[0]["thresh_maps"], expected["thresh_maps"]):
            raise SystemExit(f"repetition {repetition}: threshold maps differ from the serial path")
    print(f"finished {repetitions} repetitions")


if __name__ == "__main__":
    main()
