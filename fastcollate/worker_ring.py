"""Shared-memory batch tensors that a DataLoader worker reuses once the trainer releases them.

A fresh shared-memory batch costs a page fault per 4 KB page in the worker,
which took longer than building the maps (docs/performance-workers.md). So
each worker process keeps a small ring of shared buffers per tensor shape
and reuses a buffer only after the main process has released it:

1. The worker hands out a buffer whose flag, in a small shared array of
   its ring, is FREE, and sets the flag to BUSY.
2. After the collate, :func:`lease_batch` wraps the batch's ring tensors in
   :class:`LeasedTensor`. Pickling one, as the DataLoader does to send the
   batch, counts a send of its slot, in a shared array that only the
   worker writes.
3. Unpickling in the main process returns a plain tensor and registers a
   weak reference to its storage. Each later unpickling checks the register:
   a storage that no tensor, view or array of the main process references
   any more counts as a release, in a shared array that only the main
   process writes. Once a slot's releases equal its sends, its flag is set
   back to FREE.

The worker reuses a buffer only when its flag is FREE, its sends equal its
releases and the worker itself holds no other reference to it. A buffer
whose release the main process never reports, for example because the
trainer keeps every batch, stays busy, and the worker then allocates
fresh shared memory as usual. So reuse never overwrites a batch that a
tensor, view or numpy array of the worker or the main process still uses.
References in other processes, and bare storages kept without a tensor, are
not seen: see ``docs/workers.md``.
"""

import logging
import math
import os
import threading
from multiprocessing import util

import torch
from torch.multiprocessing.reductions import StorageWeakRef

from fastcollate.buffers import new_batch_tensor, storage_use_count

logger = logging.getLogger(__name__)

FREE = 0
BUSY = 1
# Batches' worth of buffers a ring keeps per tensor shape. A worker has
# prefetch_factor batches queued (2 by default), the trainer has one or two
# more, and the release of the last one shows at the next batch that the
# main process receives. Each ring buffer stays allocated for the worker's life.
RING_BATCHES = 5
# Images and maps have two shapes, and the last batch of an epoch two more.
MAX_SHAPES = 4
# Runs after the spill writer's flush (priority 10), before shared memory is closed.
RING_EXIT_PRIORITY = 5
# Slots per worker, each with a flag and two counters. Once all are in use,
# new buffers are plain shared memory.
RING_SLOTS = 64

_ring = None
_ring_lock = threading.Lock()
_register = []
_register_lock = threading.Lock()


class LeasedTensor(torch.Tensor):
    """A ring buffer of a worker's batch, on its way to the main process.

    It only exists in the worker, and the main process unpickles it as a
    plain tensor. Operations on it return LeasedTensor too, so that a view
    that a collate wrapper sends instead still counts as a send of its buffer.
    """

    def __reduce_ex__(self, protocol):
        plain = self.as_subclass(torch.Tensor)
        ring = _current_ring()
        slot = None if ring is None else ring.slots_by_storage.get(plain.untyped_storage().data_ptr())
        if slot is None:
            return _plain, (plain,)
        # Every send counts, so a buffer that a collate wrapper sends again
        # in a later batch stays busy until the main process drops each copy.
        ring.sends[slot] += 1
        return _rebuild_leased, (plain, ring.sends, ring.releases, ring.flags, slot)


class WorkerRing:
    """The shared buffers, flags and counters of one worker process."""

    def __init__(self):
        self.pid = os.getpid()
        self.flags = torch.zeros(RING_SLOTS, dtype=torch.uint8).share_memory_()
        # Sends of each slot's buffer, written by this worker only, and
        # releases of those sends, written by the main process only.
        self.sends = torch.zeros(RING_SLOTS, dtype=torch.int64).share_memory_()
        self.releases = torch.zeros(RING_SLOTS, dtype=torch.int64).share_memory_()
        # (shape, dtype) -> [(slot, buffer), ...], least recently used first.
        self.buffers = {}
        self.slots_by_storage = {}
        self.next_slot = 0
        # Slots of dropped shapes. Such a slot is taken again only once it is
        # free, because the trainer may still hold its last batch.
        self.retired = []
        # Slots handed out since the last lease_batch, by storage address.
        self.pending = {}
        # Tensors allocated outside the ring, because no buffer was free.
        self.fresh = 0
        # Most tensors of each shape that one batch has requested.
        self.per_batch = {}
        self.this_batch = {}

        # DataLoader workers end with os._exit, which frees no Python object.
        # Under the file_system sharing strategy each buffer is a /dev/shm file
        # that stays until every process drops it, so drop them at exit.
        util.Finalize(None, self.close, exitpriority=RING_EXIT_PRIORITY)

    def tensor(self, shape, dtype):
        """Return a free ring buffer of ``shape`` and ``dtype``, or fresh shared memory if none is free."""
        if math.prod(shape) == 0:
            return new_batch_tensor(shape, dtype)
        key = (tuple(shape), dtype)
        buffers = self.buffers.pop(key, [])
        self.buffers[key] = buffers
        self.this_batch[key] = self.this_batch.get(key, 0) + 1
        self.per_batch[key] = max(self.per_batch.get(key, 0), self.this_batch[key])
        for slot, buffer in buffers:
            # The use count covers references in this worker, for example a
            # collate wrapper that keeps the previous batch to mix it in.
            if self._is_free(slot) and storage_use_count(buffer) == 1:
                return self._hand_out(slot, buffer)

        self._drop_old_shapes()
        capacity = RING_BATCHES * self.per_batch[key]
        slot = self._new_slot() if len(buffers) < capacity else None
        if slot is None:
            if self.fresh == 0:
                logger.debug("No free ring buffer of shape %s in worker %d; allocating new shared memory.",
                             tuple(shape), self.pid)
            self.fresh += 1
            return new_batch_tensor(shape, dtype)
        buffer = new_batch_tensor(shape, dtype)
        buffers.append((slot, buffer))
        self.slots_by_storage[buffer.untyped_storage().data_ptr()] = slot
        return self._hand_out(slot, buffer)

    def close(self):
        """Drop the ring's buffers and counters; the shared memory goes once no other process maps it."""
        self.buffers.clear()
        self.slots_by_storage.clear()
        self.flags = self.sends = self.releases = None

    def _is_free(self, slot):
        return self.flags[slot] == FREE and self.sends[slot] == self.releases[slot]

    def _hand_out(self, slot, buffer):
        self.flags[slot] = BUSY
        self.pending[buffer.untyped_storage().data_ptr()] = slot
        return buffer.view(buffer.shape)

    def _new_slot(self):
        for position, slot in enumerate(self.retired):
            if self._is_free(slot):
                return self.retired.pop(position)
        if self.next_slot < RING_SLOTS:
            self.next_slot += 1
            return self.next_slot - 1
        return None

    def _drop_old_shapes(self):
        """Drop the least recently used shapes beyond ``MAX_SHAPES``, except those of the batch being built."""
        pending = set(self.pending.values())
        for key in list(self.buffers)[:-1]:
            if len(self.buffers) <= MAX_SHAPES:
                break
            slots = [slot for slot, _ in self.buffers[key]]
            if pending.isdisjoint(slots):
                for _, buffer in self.buffers[key]:
                    del self.slots_by_storage[buffer.untyped_storage().data_ptr()]
                del self.buffers[key]
                self.per_batch.pop(key, None)
                self.retired.extend(slots)

    def lease(self, tensor):
        """Return ``tensor`` as a :class:`LeasedTensor` if it is a buffer handed out since the last batch."""
        slot = self.pending.pop(tensor.untyped_storage().data_ptr(), None)
        if slot is None:
            return tensor
        return tensor.as_subclass(LeasedTensor)

    def abandon_pending(self):
        """Free the slots handed out but not leased, and start counting a new batch."""
        for slot in self.pending.values():
            self.flags[slot] = FREE
        self.pending.clear()
        self.this_batch.clear()


def worker_ring():
    """Return this process's :class:`WorkerRing`, making a new one in a new process."""
    global _ring
    with _ring_lock:
        if _current_ring() is None:
            _ring = WorkerRing()
        return _ring


def _current_ring():
    """Return the ring made in this process, or None; a forked child inherits its parent's."""
    return _ring if _ring is not None and _ring.pid == os.getpid() else None


def lease_batch(collated):
    """Wrap the ring tensors among a collated batch's values; return the batch."""
    ring = worker_ring()
    for key, value in collated.items():
        if isinstance(value, torch.Tensor):
            collated[key] = ring.lease(value)
    # A buffer not in the batch, if any, will never be released by the trainer.
    ring.abandon_pending()
    return collated


def _plain(tensor):
    return tensor


def _rebuild_leased(tensor, sends, releases, flags, slot):
    """Register a batch tensor unpickled in the main process and release those the trainer dropped."""
    # NOTE: with pin_memory=True on a machine with CUDA, the DataLoader
    # unpickles batches in its pin-memory thread, hence the lock. No test
    # covers that thread, because the test machines have no GPU.
    with _register_lock:
        _release_dropped()
        _register.append((StorageWeakRef(tensor.untyped_storage()), sends, releases, flags, slot))
    return tensor


def _release_dropped():
    # NOTE: only references in this process count. A batch tensor sent on to
    # another process through a torch.multiprocessing queue counts as dropped
    # once this process lets go of it, so callers must clone it first.
    still_held = []
    for entry in _register:
        storage, sends, releases, flags, slot = entry
        if not storage.expired():
            still_held.append(entry)
            continue
        releases[slot] += 1
        # The worker may have sent the buffer again, in a batch still on its way.
        if releases[slot] == sends[slot]:
            flags[slot] = FREE
    _register[:] = still_held


def release_dropped():
    """Release the ring buffers of every batch the trainer no longer references; return how many remain held."""
    with _register_lock:
        _release_dropped()
        return len(_register)
