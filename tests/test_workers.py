"""FastDBCollateFN in real DataLoader workers: counts, start methods, persistence, pin_memory."""

import mmap
import platform
import sys

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from fastcollate import FastDBCollateFN
from fastcollate.buffers import prefault
from fastcollate.synthetic import make_batch

IMAGE_SIDE = 160
BATCH_SIZE = 4
BATCHES = 3
# Hard limit for one batch, so that a hung worker fails the test instead of the suite.
LOADER_TIMEOUT_S = 60

# Python 3.12+ warns when it forks a process that runs threads, as torch does.
FORK_WARNING = pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")


class PageDataset(Dataset):
    """Synthetic pages built once in the main process, picklable for spawned workers."""

    def __init__(self, seed=7, length=BATCH_SIZE * BATCHES):
        self.samples = make_batch(seed, IMAGE_SIDE, 25, length)

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        return self.samples[index]


@pytest.fixture(scope="module")
def dataset():
    return PageDataset()


@pytest.fixture(scope="module")
def expected_maps(dataset):
    """Prob maps and threshold maps of every batch, built serially on the reference path."""
    collate = FastDBCollateFN(reference=True, reuse_buffers=False)
    maps = []
    for first in range(0, len(dataset), BATCH_SIZE):
        batch = collate([dataset[index] for index in range(first, first + BATCH_SIZE)])
        maps.append((batch["prob_maps"], batch["thresh_maps"]))
    return maps


def assert_loader_matches(loader, expected_maps, epochs=1):
    """Iterate ``loader`` for ``epochs`` and compare every batch's maps bit for bit."""
    for epoch in range(epochs):
        batches = list(loader)
        assert len(batches) == len(expected_maps), f"epoch {epoch}"
        for index, (batch, (prob_maps, thresh_maps)) in enumerate(zip(batches, expected_maps)):
            assert batch["prob_maps"].dtype == torch.float32
            assert torch.equal(batch["prob_maps"], prob_maps), f"epoch {epoch}, batch {index}: prob maps differ"
            assert torch.equal(batch["thresh_maps"], thresh_maps), f"epoch {epoch}, batch {index}: thresh maps differ"


@FORK_WARNING
# torch warns when the workers outnumber the cores, as 4 do on a 2-core machine.
@pytest.mark.filterwarnings("ignore:This DataLoader will create .* worker processes:UserWarning")
@pytest.mark.parametrize("num_workers", [0, 1, 2, 4])
def test_worker_counts_fork(num_workers, dataset, expected_maps):
    loader = DataLoader(
        dataset, batch_size=BATCH_SIZE, num_workers=num_workers, collate_fn=FastDBCollateFN(),
        multiprocessing_context="fork" if num_workers else None,
        timeout=LOADER_TIMEOUT_S if num_workers else 0,
    )
    assert_loader_matches(loader, expected_maps)


# Spawned and forkserver workers each start a new Python that imports torch,
# which is slow, so those methods get one epoch when the workers are fresh.
@FORK_WARNING
@pytest.mark.parametrize(
    ("start_method", "persistent", "epochs"),
    [
        pytest.param("fork", False, 2, id="fork-fresh"),
        pytest.param("fork", True, 2, id="fork-persistent"),
        pytest.param("spawn", False, 1, id="spawn-fresh"),
        pytest.param("spawn", True, 2, id="spawn-persistent"),
        pytest.param("forkserver", False, 1, id="forkserver-fresh"),
        pytest.param("forkserver", True, 2, id="forkserver-persistent"),
    ],
)
def test_start_methods(start_method, persistent, epochs, dataset, expected_maps):
    loader = DataLoader(
        dataset, batch_size=BATCH_SIZE, num_workers=2, collate_fn=FastDBCollateFN(),
        multiprocessing_context=start_method, persistent_workers=persistent,
        timeout=LOADER_TIMEOUT_S,
    )
    assert_loader_matches(loader, expected_maps, epochs=epochs)


@FORK_WARNING
@pytest.mark.parametrize("num_workers", [0, 2])
def test_pin_memory_without_accelerator(num_workers, dataset, expected_maps):
    # torch 2.13 on a machine without an accelerator warns and returns the
    # batch unpinned: pinning itself needs CUDA (or another accelerator).
    loader = DataLoader(
        dataset, batch_size=BATCH_SIZE, num_workers=num_workers, collate_fn=FastDBCollateFN(),
        multiprocessing_context="fork" if num_workers else None, pin_memory=True,
        timeout=LOADER_TIMEOUT_S if num_workers else 0,
    )
    if torch.accelerator.is_available():
        pytest.skip("an accelerator is present; this test covers machines without one")

    with pytest.warns(UserWarning, match="no accelerator is found"):
        iterator = iter(loader)
    batches = list(iterator)

    assert len(batches) == len(expected_maps)
    for batch, (prob_maps, thresh_maps) in zip(batches, expected_maps):
        assert not batch["prob_maps"].is_pinned()
        assert torch.equal(batch["prob_maps"], prob_maps)
        assert torch.equal(batch["thresh_maps"], thresh_maps)


@FORK_WARNING
def test_worker_batches_in_shared_memory(dataset):
    loader = DataLoader(dataset, batch_size=BATCH_SIZE, num_workers=1, collate_fn=FastDBCollateFN(),
                        multiprocessing_context="fork", timeout=LOADER_TIMEOUT_S)

    batch = next(iter(loader))

    assert batch["images"].is_shared()
    assert batch["prob_maps"].is_shared()
    assert batch["thresh_maps"].is_shared()
    assert np.isfinite(batch["thresh_maps"].numpy()).all()


def test_prefault_of_shared_storage():
    storage = torch.UntypedStorage._new_shared(3 * mmap.PAGESIZE + 5)

    done = prefault(storage)

    # Linux 5.14 and later have MADV_POPULATE_WRITE; elsewhere the call is skipped.
    if sys.platform.startswith("linux") and tuple(map(int, platform.release().split(".")[:2])) >= (5, 14):
        assert done
    tensor = torch.empty(0, dtype=torch.uint8).set_(storage, 0, (storage.nbytes(),))
    assert int(tensor.sum()) == 0
    tensor.fill_(7)
    assert int(tensor.sum()) == 7 * storage.nbytes()


def test_prefault_of_empty_storage_skipped():
    assert not prefault(torch.UntypedStorage._new_shared(0))
