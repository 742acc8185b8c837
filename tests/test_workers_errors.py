"""Errors in DataLoader workers reach the trainer; shutdown leaves no process or shm file."""

import gc
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
from torch.utils.data import DataLoader

from fastcollate import FastDBCollateFN
from fastcollate.synthetic import make_batch

FORK_WARNING = pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
BATCH_SIZE = 4
LOADER_TIMEOUT_S = 60
# Workers get this long to exit after the loader is shut down. torch may
# wait 5 s per worker before ending it.
EXIT_WAIT_S = 30
SHM = Path("/dev/shm")


def pages(length=3 * BATCH_SIZE):
    return make_batch(21, 128, 12, length)


# Helper processes that multiprocessing keeps for the life of the parent.
LONG_LIVED_HELPERS = ("multiprocessing.resource_tracker", "multiprocessing.forkserver")


def child_pids():
    """Return the pids of this process's children, less multiprocessing's long-lived helpers."""
    pids = set()
    for child in psutil.Process().children(recursive=True):
        try:
            command = " ".join(child.cmdline())
        except psutil.NoSuchProcess:
            continue
        if not any(helper in command for helper in LONG_LIVED_HELPERS):
            pids.add(child.pid)
    return pids


def wait_for_exit(pids):
    """Return the pids among ``pids`` still running after ``EXIT_WAIT_S``."""
    _, alive = psutil.wait_procs([psutil.Process(pid) for pid in pids if psutil.pid_exists(pid)],
                                 timeout=EXIT_WAIT_S)
    return {process.pid for process in alive}


def shm_entries_of(pids):
    """Return /dev/shm names that torch tags with one of ``pids``."""
    if not SHM.is_dir():
        return set()
    prefixes = tuple(f"torch_{pid}_" for pid in pids)
    return {entry.name for entry in SHM.iterdir() if entry.name.startswith(prefixes)}


# The DataLoader sends a worker's exception to the trainer through the same
# pickling queue with every start method, so fork alone covers the message.
@FORK_WARNING
@pytest.mark.parametrize("start_method", ["fork"])
def test_worker_error_names_sample(start_method):
    samples = pages()
    samples[6]["image_filename"] = "bad_page.jpg"
    samples[6]["polygons"] = [np.zeros((3, 3), dtype=np.float32)]
    samples[6].pop("ignore_tags", None)
    loader = DataLoader(samples, batch_size=BATCH_SIZE, num_workers=2, collate_fn=FastDBCollateFN(),
                        multiprocessing_context=start_method, timeout=LOADER_TIMEOUT_S)

    with pytest.raises(ValueError) as error:
        list(loader)

    message = str(error.value)
    # The collate names the sample by its position in the batch and its file.
    assert "sample 2 of the batch ('bad_page.jpg')" in message
    assert "key 'polygons'[0] has shape (3, 3)" in message
    # torch adds which worker raised and the worker's traceback.
    assert "Caught ValueError in DataLoader worker process" in message


@FORK_WARNING
def test_unusable_polygons_skipped_in_worker():
    samples = pages()
    samples[1]["polygons"] = [np.array([[np.nan, 1.0], [5.0, 1.0], [5.0, 9.0]], dtype=np.float32)]
    samples[5]["polygons"] = [np.array([[3.0, 3.0], [3.0, 3.0], [3.0, 3.0]], dtype=np.float32)]
    for sample in (samples[1], samples[5]):
        sample.pop("ignore_tags", None)
    loader = DataLoader(samples, batch_size=BATCH_SIZE, num_workers=2, collate_fn=FastDBCollateFN(),
                        multiprocessing_context="fork", timeout=LOADER_TIMEOUT_S)

    batches = list(loader)

    assert len(batches) == 3
    for batch in batches:
        assert np.isfinite(batch["prob_maps"].numpy()).all()
        assert np.isfinite(batch["thresh_maps"].numpy()).all()
    assert not batches[0]["prob_maps"][1].any()


@FORK_WARNING
@pytest.mark.parametrize(
    ("start_method", "persistent"),
    [
        pytest.param("fork", False, id="fork-fresh"),
        pytest.param("fork", True, id="fork-persistent"),
        # Spawned workers are slow to start, so one case covers spawn.
        pytest.param("spawn", True, id="spawn-persistent"),
    ],
)
def test_shutdown_leaves_nothing(start_method, persistent):
    before = child_pids()
    loader = DataLoader(pages(6 * BATCH_SIZE), batch_size=BATCH_SIZE, num_workers=2,
                        collate_fn=FastDBCollateFN(), multiprocessing_context=start_method,
                        persistent_workers=persistent, timeout=LOADER_TIMEOUT_S)

    # Stop in the middle of an epoch, with batches still in flight.
    iterator = iter(loader)
    batch = next(iterator)
    workers = child_pids() - before
    shm_in_use = shm_entries_of(workers)
    del batch, iterator, loader

    assert len(workers) >= 2
    assert wait_for_exit(workers) == set()
    assert shm_entries_of(workers) == set(), f"left in {SHM}; in use before: {sorted(shm_in_use)}"


@FORK_WARNING
def test_shutdown_after_worker_error():
    before = child_pids()
    samples = pages()
    samples[0]["polygons"] = [np.zeros((2, 5), dtype=np.float32)]
    loader = DataLoader(samples, batch_size=BATCH_SIZE, num_workers=2, collate_fn=FastDBCollateFN(),
                        multiprocessing_context="fork", timeout=LOADER_TIMEOUT_S)

    start = time.monotonic()
    iterator = iter(loader)
    workers = child_pids() - before
    message = first_error(iterator)
    # The exception's traceback refers to the iterator, so the workers stop
    # once it is gone, as they would when the trainer drops the exception.
    # torch 2.13 then waits 5 s per worker before it ends them, with any
    # collate that raised.
    del iterator, loader
    gc.collect()

    assert "sample 0" in message
    assert time.monotonic() - start < LOADER_TIMEOUT_S
    assert wait_for_exit(workers) == set()


def first_error(iterator):
    """Iterate until the loader raises ``ValueError``; return its message without keeping it."""
    try:
        for _ in iterator:
            pass
    except ValueError as error:
        return str(error)
    return ""
