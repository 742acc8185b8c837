"""Worker ring buffers: reused only after the trainer drops a batch, in real DataLoader workers."""

import collections
import gc
import os
import time

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from fastcollate import FastDBCollateFN
from fastcollate import worker_ring
from fastcollate.synthetic import make_batch
from fastcollate.worker_ring import BUSY, FREE, MAX_SHAPES, RING_BATCHES, WorkerRing

IMAGE_SIDE = 96
BATCH_SIZE = 2
BATCHES = 24
LOADER_TIMEOUT_S = 60

FORK_WARNING = pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")


class PageDataset(Dataset):
    def __init__(self, batches=BATCHES):
        self.samples = make_batch(11, IMAGE_SIDE, 12, BATCH_SIZE * batches)

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        return self.samples[index]


class RingReportingCollate:
    """Collate, then add how many ring slots and fresh buffers this worker has used."""

    def __init__(self):
        self.collate = FastDBCollateFN()

    def __call__(self, samples):
        batch = self.collate(samples)
        ring = worker_ring.worker_ring()
        batch["ring_slots"] = ring.next_slot
        batch["ring_fresh"] = ring.fresh
        return batch


@pytest.fixture(scope="module")
def dataset():
    return PageDataset()


@pytest.fixture(scope="module")
def expected(dataset):
    return expected_batches(dataset)


def expected_batches(dataset):
    collate = FastDBCollateFN(reference=True, reuse_buffers=False)
    batches = []
    for first in range(0, len(dataset), BATCH_SIZE):
        batch = collate([dataset[index] for index in range(first, first + BATCH_SIZE)])
        batches.append({key: batch[key].clone() for key in ("images", "prob_maps", "thresh_maps")})
    return batches


def loader(dataset, start_method="fork", collate=None, **options):
    return DataLoader(dataset, batch_size=BATCH_SIZE, num_workers=2, timeout=LOADER_TIMEOUT_S,
                      collate_fn=collate or FastDBCollateFN(), multiprocessing_context=start_method,
                      **options)


def assert_batch_equal(batch, expected_batch, index):
    for key in ("images", "prob_maps", "thresh_maps"):
        assert type(batch[key]) is torch.Tensor, f"batch {index}: {key}"
        assert torch.equal(batch[key], expected_batch[key]), f"batch {index}: {key} differs"


@FORK_WARNING
def test_dropped_batches_reuse_ring(dataset, expected):
    slots = []
    fresh = []
    for index, batch in enumerate(loader(dataset, collate=RingReportingCollate())):
        assert_batch_equal(batch, expected[index], index)
        slots.append(batch["ring_slots"])
        fresh.append(batch["ring_fresh"])
        del batch

    # Each worker built 12 batches of 3 tensors, in buffers for at most 6 batches.
    assert max(slots) <= 6 * 3
    assert max(fresh) == 0


@FORK_WARNING
def test_kept_batches_never_overwritten():
    # More batches than the ring holds, so the workers fall back to fresh buffers.
    dataset = PageDataset(batches=64)
    expected = expected_batches(dataset)

    received = list(loader(dataset, collate=RingReportingCollate()))

    for index, batch in enumerate(received):
        assert_batch_equal(batch, expected[index], index)
    assert max(batch["ring_fresh"] for batch in received) > 0
    # Images, prob maps and threshold maps: three buffers per batch in the ring.
    assert max(batch["ring_slots"] for batch in received) <= RING_BATCHES * 3


@FORK_WARNING
def test_main_process_holds_no_dropped_batch(dataset):
    for batch in loader(dataset):
        del batch

    assert worker_ring.release_dropped() == 0


@FORK_WARNING
def test_kept_views_never_overwritten(dataset, expected):
    views = {}
    for index, batch in enumerate(loader(dataset)):
        if index % 3 == 0:
            views[index] = (batch["thresh_maps"][1], batch["prob_maps"].numpy(), batch["images"][0, 0])
        del batch
        gc.collect()

    for index, (thresh_map, prob_maps, image_plane) in views.items():
        assert torch.equal(thresh_map, expected[index]["thresh_maps"][1]), f"batch {index}"
        assert np.array_equal(prob_maps, expected[index]["prob_maps"].numpy()), f"batch {index}"
        assert torch.equal(image_plane, expected[index]["images"][0, 0]), f"batch {index}"


@pytest.mark.parametrize("start_method", ["spawn", "forkserver"])
def test_ring_with_start_method(dataset, expected, start_method):
    for index, batch in enumerate(loader(dataset, start_method, persistent_workers=True)):
        assert_batch_equal(batch, expected[index], index)


def test_ring_reuses_only_free_slots():
    ring = WorkerRing()

    first = ring.tensor((2, 3), torch.float32)
    second = ring.tensor((2, 3), torch.float32).data_ptr()
    ring.abandon_pending()
    third = ring.tensor((2, 3), torch.float32)
    ring.flags[1] = BUSY
    fourth = ring.tensor((2, 3), torch.float32)

    # Both flags were free, but this test still uses the first buffer.
    assert third.data_ptr() == second
    assert fourth.data_ptr() not in (first.data_ptr(), second)
    assert ring.flags[1] == BUSY


def test_ring_retires_old_shapes_until_released():
    ring = WorkerRing()
    for side in range(1, MAX_SHAPES + 2):
        ring.tensor((side,), torch.uint8)
        ring.pending.clear()

    assert len(ring.buffers) == MAX_SHAPES
    assert ring.retired == [0]
    ring.tensor((99,), torch.uint8)
    assert ring.next_slot == MAX_SHAPES + 2
    ring.pending.clear()

    ring.flags[0] = FREE
    ring.tensor((100,), torch.uint8)
    assert ring.next_slot == MAX_SHAPES + 2
    assert 0 not in ring.retired



class MixingCollate:
    """Keep recent batches in the worker, as batch-mixing augmentations do, and check them."""

    def __init__(self, recent_batches=6):
        self.collate = FastDBCollateFN()
        self.recent = collections.deque(maxlen=recent_batches)

    def __call__(self, samples):
        batch = self.collate(samples)
        for recent, copy in self.recent:
            if not torch.equal(recent, copy):
                raise AssertionError("a threshold map kept in the worker was overwritten")
        self.recent.append((batch["thresh_maps"], batch["thresh_maps"].clone()))
        return batch


@FORK_WARNING
def test_batch_kept_in_worker_not_reused(dataset, expected):
    for index, batch in enumerate(loader(dataset, collate=MixingCollate())):
        assert_batch_equal(batch, expected[index], index)


class ResendCollate:
    """Send the previous batch's prob maps again with the next batch, as they are or as a view."""

    def __init__(self, as_view):
        self.collate = FastDBCollateFN()
        self.as_view = as_view
        self.previous = None

    def __call__(self, samples):
        batch = self.collate(samples)
        if self.previous is not None:
            batch["previous_prob_maps"] = self.previous[:] if self.as_view else self.previous
        self.previous = batch["prob_maps"]
        return batch


@FORK_WARNING
@pytest.mark.parametrize("as_view", [False, True], ids=["same_tensor", "view"])
def test_batch_sent_again_not_reused(dataset, as_view):
    resent = collections.deque(maxlen=2)
    for batch in loader(dataset, collate=ResendCollate(as_view)):
        # A consumer slower than the workers, so that releases reach them in time to reuse.
        time.sleep(0.02)
        for index, (tensor, copy) in enumerate(resent):
            assert torch.equal(tensor, copy), f"a re-sent tensor held for {len(resent) - index} batches changed"
        if "previous_prob_maps" in batch:
            resent.append((batch["previous_prob_maps"], batch["previous_prob_maps"].clone()))
        del batch


def torch_shm_files():
    return sorted(name for name in os.listdir("/dev/shm") if name.startswith("torch_"))


@FORK_WARNING
@pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="needs /dev/shm")
def test_ring_freed_when_workers_exit_file_system_strategy(dataset):
    previous = torch.multiprocessing.get_sharing_strategy()
    torch.multiprocessing.set_sharing_strategy("file_system")
    try:
        before = torch_shm_files()
        for _ in range(3):
            for batch in loader(dataset):
                del batch
            gc.collect()
        worker_ring.release_dropped()
        left = [name for name in torch_shm_files() if name not in before]
    finally:
        torch.multiprocessing.set_sharing_strategy(previous)

    assert left == []
