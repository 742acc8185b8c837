"""Background spill writes: pending reads, flushing at process exit, fork safety and DataLoader workers."""

import logging
import multiprocessing
import threading

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from fastcollate import FastDBCollateFN, TargetCache
from fastcollate.cache.spill import SpillDirectory
from fastcollate.cache.writer import BackgroundWriter
from fastcollate.synthetic import make_batch

SIDE = 128


def numbered_key(number):
    return f"{number:040x}"


def test_pending_entry_read_before_write(tmp_path):
    release = threading.Event()
    written = []

    def slow_write(key, entry):
        assert release.wait(timeout=30)
        written.append(key)

    writer = BackgroundWriter(slow_write, name="test writer")
    writer.put("a" * 40, b"entry")

    assert writer.pending("a" * 40) == b"entry"
    release.set()
    writer.flush()
    assert writer.pending("a" * 40) is None
    assert written == ["a" * 40]


def test_write_failure_logged_thread_continues(caplog):
    written = []

    def write(key, entry):
        if key == "bad":
            raise RuntimeError("disk on fire")
        written.append(key)

    writer = BackgroundWriter(write, name="test writer")
    with caplog.at_level(logging.ERROR, logger="fastcollate.cache.writer"):
        writer.put("bad", b"1")
        writer.put("good", b"2")
        writer.flush()

    assert written == ["good"]
    assert "Background write of cache entry bad failed" in caplog.text


def test_spill_read_sees_queued_entry(tmp_path):
    spill = SpillDirectory(tmp_path)

    spill.write_later(numbered_key(1), b"payload")
    # Either still queued or already on disk: both read the same.
    assert spill.read(numbered_key(1)) == b"payload"
    spill.flush()
    assert spill.path(numbered_key(1)).is_file()


def write_without_flush(spill, first, count):
    for number in range(first, first + count):
        spill.write_later(numbered_key(number), b"x" * 10_000)


# Python 3.12+ warns when it forks a process that runs threads.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_child_flushes_at_exit(tmp_path, method):
    spill = SpillDirectory(tmp_path)
    # The parent's writer thread runs when the child is forked.
    write_without_flush(spill, 0, 20)
    context = multiprocessing.get_context(method)

    child = context.Process(target=write_without_flush, args=(spill, 100, 50))
    child.start()
    child.join(timeout=120)
    spill.flush()

    assert child.exitcode == 0
    for number in list(range(20)) + list(range(100, 150)):
        assert spill.path(numbered_key(number)).is_file(), number
    assert spill.counters.snapshot()["disk_writes"] == 70


class FixedDataset(Dataset):
    def __init__(self, samples):
        self.samples = samples

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        return self.samples[index]


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_dataloader_workers_flush_every_entry(tmp_path):
    samples = make_batch(21, SIDE, 20, 16)
    collate = FastDBCollateFN(cache={"spill_dir": str(tmp_path)})
    loader = DataLoader(FixedDataset(samples), batch_size=2, num_workers=2,
                        persistent_workers=False, collate_fn=collate, timeout=120)
    uncached = FastDBCollateFN(reuse_buffers=False)

    epochs = [list(loader)]
    # No flush: the workers have exited, and each flushed its queue on the way out.
    assert len(list(tmp_path.rglob("*.fct"))) == len(samples)
    assert collate.cache.stats()["disk_writes"] == len(samples)

    for _ in range(2):
        collate.cache.reset_stats()
        epochs.append(list(loader))
        stats = collate.cache.stats()
        assert stats["disk_hits"] == len(samples)
        assert stats["hit_rate"] >= 0.99
    # The second epoch upgraded every recipe, so the third found full entries.
    assert stats["upgrades"] == 0

    for epoch in epochs:
        for index, batch in enumerate(epoch):
            expected = uncached(samples[2 * index:2 * index + 2])
            assert torch.equal(batch["prob_maps"], expected["prob_maps"])
            assert torch.equal(batch["thresh_maps"], expected["thresh_maps"])


def test_cache_without_spill_flush_is_noop():
    cache = TargetCache()

    cache.flush()

    assert cache.stats()["lookups"] == 0
