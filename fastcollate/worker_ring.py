"""Shared-memory batch tensors that a DataLoader worker reuses once the trainer releases them.

A fresh shared-memory batch costs a page fault per 4 KB page in the worker,
which took longer than building the maps (docs/performance-workers.md). So
each worker process keeps a small ring of shared buffers per tensor shape
and reuses a buffer only after the main process has released it:

1. The worker hands out a buffer whose flag, in a small shared array of
   its ring, is FREE, and sets the flag to BUSY.
2. After the collate, :func:`lease_batch` wraps the batch's ring tensors in
   :class:`LeasedTensor`. Pickling one, as the DataLoader does to send the
   batch, records its flag array and slot.
3. Unpickling in the main process returns a plain tensor and registers a
   weak reference to its storage. Each later unpickling checks the register:
   a storage that no tensor, view or array of the main process references
   any more has been released by the trainer, and its flag is set back to
   free.

A buffer whose release the main process never reports, for example because
the trainer keeps every batch, stays busy, and the worker then allocates
fresh shared memory as usual. So reuse never overwrites a batch that a
tensor, view or numpy array of the worker or the main process still uses.
References in other processes, and bare storages kept without a tensor, are
not seen: see ``docs/workers.md``. A collate wrapper in the worker that
replaces the batch tensors with views leaves their buffers busy for good,
which turns reuse off for that shape.
"""

import logging
import math
import os
import threading

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
# Flags per worker. Once all are in use, new buffers are plain shared memory.
RING_SLOTS = 64

_ring = None
_ring_lock = threading.Lock()
_register = []
_register_lock = threading.Lock()


class LeasedTensor(torch.Tensor):
    """A ring buffer of a worker's batch, on its way to the main process.

    It only exists in the worker between the collate and pickling, and the
    main process unpickles it as a plain tensor.
    """

    # Operations on it behave as on a plain tensor.
    __torch_function__ = torch._C._disabled_torch_function_impl

    def __reduce_ex__(self, protocol):
        return _rebuild_leased, (self.as_subclass(torch.Tensor), self._ring_flags, self._ring_slot)


class WorkerRing:
    """The shared buffers and flags of one worker process."""

    def __init__(self):
        self.pid = os.getpid()
        self.flags = torch.zeros(RING_SLOTS, dtype=torch.uint8).share_memory_()
        # (shape, dtype) -> [(slot, buffer), ...], least recently used first.
        self.buffers = {}
        self.next_slot = 0
        # Slots of dropped shapes. Such a slot is taken again only when its
        # flag is free, because the trainer may still hold its last batch.
        self.retired = []
        # Slots handed out since the last lease_batch, by storage address.
        self.pending = {}
        # Tensors allocated outside the ring, because no buffer was free.
        self.fresh = 0
        # Most tensors of each shape that one batch has asked for.
        self.per_batch = {}
        self.this_batch = {}

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
            if self.flags[slot] == FREE and storage_use_count(buffer) == 1:
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
        return self._hand_out(slot, buffer)

    def _hand_out(self, slot, buffer):
        self.flags[slot] = BUSY
        self.pending[buffer.untyped_storage().data_ptr()] = slot
        return buffer.view(buffer.shape)

    def _new_slot(self):
        for position, slot in enumerate(self.retired):
            if self.flags[slot] == FREE:
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
                del self.buffers[key]
                self.per_batch.pop(key, None)
                self.retired.extend(slots)

    def lease(self, tensor):
        """Return ``tensor`` as a :class:`LeasedTensor` if it is a buffer handed out since the last batch."""
        slot = self.pending.pop(tensor.untyped_storage().data_ptr(), None)
        if slot is None:
            return tensor
        leased = tensor.as_subclass(LeasedTensor)
        leased._ring_flags = self.flags
        leased._ring_slot = slot
        return leased

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
        if _ring is None or _ring.pid != os.getpid():
            _ring = WorkerRing()
        return _ring


def lease_batch(collated):
    """Wrap the ring tensors among a collated batch's values; return the batch."""
    ring = worker_ring()
    for key, value in collated.items():
        if isinstance(value, torch.Tensor):
            collated[key] = ring.lease(value)
    # A buffer not in the batch, if any, will never be released by the trainer.
    ring.abandon_pending()
    return collated


def _rebuild_leased(tensor, flags, slot):
    """Register a batch tensor unpickled in the main process and release those the trainer dropped."""
    # NOTE: with pin_memory=True on a machine with CUDA, the DataLoader
    # unpickles batches in its pin-memory thread, hence the lock. No test
    # covers that thread, because the test machines have no GPU.
    with _register_lock:
        _release_dropped()
        _register.append((StorageWeakRef(tensor.untyped_storage()), flags, slot))
    return tensor


def _release_dropped():
    # NOTE: only references in this process count. A batch tensor sent on to
    # another process through a torch.multiprocessing queue counts as dropped
    # once this process lets go of it, so callers must clone it first.
    still_held = []
    for entry in _register:
        storage, flags, slot = entry
        if storage.expired():
            flags[slot] = FREE
        else:
            still_held.append(entry)
    _register[:] = still_held


def release_dropped():
    """Release the ring buffers of every batch the trainer no longer references; return how many remain held."""
    with _register_lock:
        _release_dropped()
        return len(_register)
