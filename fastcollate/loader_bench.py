"""Measure images per second through a real multi-process DataLoader.

Used by ``fastcollate loader-bench`` and ``bench/test_bench_loader.py``. Each
run builds a ``torch.utils.data.DataLoader`` over
:class:`fastcollate.augment.AugmentedTextImages` with
:class:`FastDBCollateFN` on one target path, and measures from the
consumer's side:

- images per second after the first batch, with a consumer that takes no
  time, and the time to the first batch (worker start included);
- the share of time a consumer that takes ``consumer_ms`` per batch spends
  waiting in ``next()``, after the first batch;
- per worker, how much longer its first batch took than its later ones
  (dataset reads plus collate, timed inside the worker).
"""

import hashlib
import math
import statistics
import time
from dataclasses import dataclass, field

from torch.utils.data import DataLoader, Dataset, get_worker_info
from tqdm import tqdm

from fastcollate.augment import AugmentedTextImages, single_thread_worker_init
from fastcollate.collate import FastDBCollateFN
from fastcollate.data import sample_dirs

# Seconds this worker process spent in dataset reads since its last batch.
_fetch_seconds = 0.0


class TimedDataset(Dataset):
    """Wrap a dataset and add the time of each read to a per-process total."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self):
        return len(self.dataset)

    def __getitem__(self, index):
        global _fetch_seconds
        start = time.perf_counter()
        sample = self.dataset[index]
        _fetch_seconds += time.perf_counter() - start
        return sample


class TimedCollate:
    """Wrap a collate and record, in the batch, the worker's time spent on it.

    Adds ``worker_seconds`` (dataset reads since the previous batch plus this
    collate) and ``worker_id`` (-1 in the main process) to the batch dict.
    """

    def __init__(self, collate):
        self.collate = collate

    def __call__(self, samples):
        global _fetch_seconds
        start = time.perf_counter()
        batch = self.collate(samples)
        batch["worker_seconds"] = _fetch_seconds + time.perf_counter() - start
        _fetch_seconds = 0.0
        info = get_worker_info()
        batch["worker_id"] = -1 if info is None else info.id
        return batch


@dataclass
class LoaderRun:
    """Measurements of one pass over the loader, with times in seconds."""

    path: str
    images: int
    steady_seconds: float
    first_batch_seconds: float
    wait_share: float = float("nan")
    first_batch_extra: list = field(default_factory=list)
    maps_digest: str = ""
    # Median seconds a worker spent on one batch (dataset reads and collate), after its first.
    worker_batch_seconds: float = float("nan")

    @property
    def images_per_second(self):
        return self.images / self.steady_seconds if self.steady_seconds > 0 else float("nan")


def make_loader(dataset, reference, num_workers, batch_size, start_method=None, persistent_workers=False,
                reuse_buffers=True):
    """Return a DataLoader with a timed :class:`FastDBCollateFN` on one path."""
    return DataLoader(
        TimedDataset(dataset),
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        collate_fn=TimedCollate(FastDBCollateFN(reference=reference, reuse_buffers=reuse_buffers)),
        worker_init_fn=single_thread_worker_init if num_workers else None,
        multiprocessing_context=start_method if num_workers else None,
        persistent_workers=persistent_workers and num_workers > 0,
    )


def digest_maps(batch):
    """Return a SHA-256 of a batch's prob maps and threshold maps."""
    digest = hashlib.sha256()
    digest.update(batch["prob_maps"].numpy().tobytes())
    digest.update(batch["thresh_maps"].numpy().tobytes())
    return digest.hexdigest()


def time_pass(loader, path, consumer_seconds=0.0, progress=False):
    """Iterate ``loader`` once; return a :class:`LoaderRun`.

    With ``consumer_seconds`` above 0 the pass sleeps that long after each
    batch, so its ``wait_share`` is the one to report and its throughput is not.
    """
    start = time.perf_counter()
    iterator = iter(loader)
    first = next(iterator)
    first_arrival = time.perf_counter()
    maps_digest = digest_maps(first)
    worker_times = {first["worker_id"]: [first["worker_seconds"]]}
    images = 0
    waited = 0.0
    del first

    bar = tqdm(total=len(loader) - 1, desc=f"{path} path", unit="batch", disable=not progress, leave=False)
    while True:
        if consumer_seconds:
            time.sleep(consumer_seconds)
        before = time.perf_counter()
        try:
            batch = next(iterator)
        except StopIteration:
            break
        waited += time.perf_counter() - before
        images += len(batch["image_filename"])
        worker_times.setdefault(batch["worker_id"], []).append(batch["worker_seconds"])
        del batch
        bar.update()
    bar.close()
    end = time.perf_counter()
    del iterator

    extras = []
    later_times = []
    for times in worker_times.values():
        if len(times) >= 2:
            extras.append(times[0] - statistics.median(times[1:]))
            later_times.extend(times[1:])
    run = LoaderRun(path=path, images=images, steady_seconds=end - first_arrival,
                    first_batch_seconds=first_arrival - start, first_batch_extra=extras,
                    maps_digest=maps_digest)
    if later_times:
        run.worker_batch_seconds = statistics.median(later_times)
    # With a consumer of 0 ms the share is still defined, and close to 100%.
    if end > first_arrival:
        run.wait_share = waited / (end - first_arrival)
    return run


def run_loader_bench(size=640, batch_size=16, batches=20, num_workers=2, consumer_ms=20.0,
                     start_method=None, paths=("reference", "fast"), progress=True, seed=0,
                     preload=False, reuse_buffers=True):
    """Time each target path through the same DataLoader setup; return ``{path: LoaderRun}``.

    Each path gets a pass without a consumer (throughput) and one with a
    consumer of ``consumer_ms`` per batch (waiting share). Workers are new
    processes for each pass, so every pass includes their start. ``preload``
    keeps the decoded images in memory; see :class:`AugmentedTextImages`.
    ``reuse_buffers`` is passed to :class:`FastDBCollateFN`.
    """
    dataset = AugmentedTextImages(sample_dirs(), size=size, length=batch_size * batches, seed=seed,
                                  preload=preload)
    results = {}
    for path in paths:
        reference = path == "reference"
        loader = make_loader(dataset, reference, num_workers, batch_size, start_method,
                             reuse_buffers=reuse_buffers)
        run = time_pass(loader, path, progress=progress)
        waiting = time_pass(loader, path, consumer_seconds=consumer_ms / 1000.0, progress=progress)
        run.wait_share = waiting.wait_share
        results[path] = run
    return results


def format_results(results, size, batch_size, num_workers, consumer_ms, preload=False):
    """Return a plain-text table of :func:`run_loader_bench` results."""
    decode = "images decoded once, in memory" if preload else "decode"
    lines = [
        f"DataLoader, {num_workers} workers, batch {batch_size}, {size} x {size}, "
        f"{decode} + rotate/scale + pad per sample",
        f"{'path':<10} {'images/s':>9} {'first batch s':>14} {'wait share':>11} {'1st batch extra s':>18} "
        f"{'worker s/batch':>15}",
    ]
    for run in results.values():
        # A worker needs 2 batches in a pass for the difference to exist.
        extra = f"{max(run.first_batch_extra):.3f}" if run.first_batch_extra else "n/a"
        worker = "n/a" if math.isnan(run.worker_batch_seconds) else f"{run.worker_batch_seconds:.3f}"
        lines.append(
            f"{run.path:<10} {run.images_per_second:>9.1f} {run.first_batch_seconds:>14.2f} "
            f"{run.wait_share:>10.1%} {extra:>18} {worker:>15}"
        )
    if "reference" in results and "fast" in results:
        ratio = results["fast"].images_per_second / results["reference"].images_per_second
        lines.append(f"fast / reference throughput: {ratio:.1f}x")
        same = results["fast"].maps_digest == results["reference"].maps_digest
        lines.append(f"first batch maps identical on both paths: {'yes' if same else 'NO'}")
    lines.append(f"wait share: time in next() / total, for a consumer taking {consumer_ms:g} ms per batch")
    lines.append("worker s/batch: median time a worker spent reading and collating one batch, "
                 "after its first")
    lines.append("1st batch extra s: max over workers of (first batch time - median of later ones); "
                 "n/a when no worker built 2 or more batches, so raise --batches")
    return "\n".join(lines)
