"""Batch output tensors: shared memory in workers, reused buffers in the main process.

A fresh 16 x 3 x 640 x 640 batch is 78 MB of new pages, and on small
virtual machines the page faults cost more than building the targets.
In the main process (``num_workers=0``) a batch's tensors are reused once
nothing references their storage any more. Inside a DataLoader worker they
come from a ring of shared buffers that the main process releases (see
:mod:`fastcollate.worker_ring`), and from fresh shared memory, as
``default_collate`` allocates it, when no ring buffer is free.
"""

import ctypes
import errno
import logging
import mmap
import os
import sys
import threading

import numpy as np
import torch
from torch.utils.data import get_worker_info


logger = logging.getLogger(__name__)

# madvise advice that faults in every page of a range, writable (Linux 5.14+).
MADV_POPULATE_WRITE = 23

# Buffers kept per tensor shape. Two cover the common loop, where the previous
# batch is still bound to the loop variable while the next one is built.
MAX_BUFFERS_PER_SHAPE = 2
# Images and maps have different shapes, and the last batch of an epoch is
# usually smaller, so four shapes cover a DataLoader with drop_last=False.
MAX_SHAPES = 4


def storage_use_count(tensor):
    """Return how many tensors and arrays share ``tensor``'s storage, or None if unknown."""
    # NOTE: a bare torch.UntypedStorage kept without any tensor is not
    # counted, so such a storage can be reused; pass reuse_buffers=False to
    # the collate if you keep batch storages that way.
    use_count = getattr(torch._C, "_storage_Use_Count", None)
    if use_count is None:
        return None
    # The temporary storage object made by untyped_storage() adds one.
    return use_count(tensor.untyped_storage()._cdata) - 1


def new_batch_tensor(shape, dtype):
    """Allocate a CPU batch tensor, in shared memory inside a DataLoader worker.

    A worker sends its batch to the main process through shared memory, so
    allocating it there up front saves a copy.
    """
    if get_worker_info() is None:
        return torch.empty(shape, dtype=dtype)
    element_size = torch.empty((), dtype=dtype).element_size()
    storage = torch.UntypedStorage._new_shared(int(np.prod(shape)) * element_size)
    prefault(storage)
    return torch.empty(0, dtype=dtype).set_(storage, 0, shape)


def _load_madvise():
    if not sys.platform.startswith("linux"):
        return None
    try:
        madvise = ctypes.CDLL(None, use_errno=True).madvise
    except (OSError, AttributeError):
        return None
    madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    madvise.restype = ctypes.c_int
    return madvise


_madvise = _load_madvise()


def prefault(storage):
    """Fault in every page of a new storage with one system call; return True if done.

    Writing a fresh 131 MB shared-memory batch page by page took 90 to 113 ms
    on the development machine, and faulting it in first saved 16 to 21 ms
    of that (docs/performance-workers.md). Kernels before Linux 5.14 and other
    systems do not have the call, and then pages fault in as they are written.
    """
    global _madvise
    if _madvise is None or storage.nbytes() == 0:
        return False
    address = storage.data_ptr()
    start = address - address % mmap.PAGESIZE
    if _madvise(start, address + storage.nbytes() - start, MADV_POPULATE_WRITE) == 0:
        return True
    error = ctypes.get_errno()
    # An unknown advice means an older kernel: stop asking. Other errors,
    # such as a full /dev/shm, surface when the pages are written.
    if error == errno.EINVAL:
        _madvise = None
    logger.debug("madvise(MADV_POPULATE_WRITE) failed: %s", os.strerror(error))
    return False


class BufferPool:
    """Hand out batch tensors, reusing storage that no live tensor or array uses.

    Only used in the main process; see the module docstring.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._buffers = {}

    def tensor(self, shape, dtype):
        """Return a tensor of ``shape`` and ``dtype`` with undefined contents."""
        if get_worker_info() is not None:
            # Imported here, because the ring module builds on this one.
            from fastcollate.worker_ring import worker_ring

            return worker_ring().tensor(shape, dtype)

        key = (tuple(shape), dtype)
        with self._lock:
            buffers = self._buffers.setdefault(key, [])
            # Sending a tensor to another process moves its storage into
            # shared memory, where that process may still read it.
            buffers[:] = [buffer for buffer in buffers if not buffer.is_shared()]
            for buffer in buffers:
                # The pool's own tensor is the only user, so no batch handed
                # out earlier is alive: every caller receives a separate view,
                # which keeps the storage's use count up while it lives.
                if storage_use_count(buffer) == 1:
                    return buffer.view(shape)
            buffer = torch.empty(shape, dtype=dtype)
            if len(buffers) < MAX_BUFFERS_PER_SHAPE and storage_use_count(buffer) is not None:
                buffers.append(buffer)
            while len(self._buffers) > MAX_SHAPES:
                del self._buffers[next(iter(self._buffers))]
            return buffer.view(shape)

    def __getstate__(self):
        # Buffers stay in the process that made them.
        return {}

    def __setstate__(self, state):
        self.__init__()
