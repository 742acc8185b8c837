"""How many threads build a batch's maps, and the thread pool that runs them.

The images of a batch are independent, so the main process builds them on a
Python thread pool. The kernels are compiled with ``nogil=True`` and
pyclipper's offsets hold the GIL, so one image's offsets overlap with another
image's kernels. Numba's own parallel threading layers are not used. On Linux
the ``omp`` layer (GNU OpenMP) is not fork safe, ``workqueue`` is not thread
safe, and ``tbb`` needs a package that is not a dependency (numba 0.68: the
documentation's "The Threading Layers" and ``numba/np/ufunc/parallel.py``).

Inside a DataLoader worker the default is one thread, because the workers
already use the cores and more threads per worker would oversubscribe them.
"""

import logging
import numbers
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from torch.utils.data import get_worker_info

from fastcollate.config import NUM_THREADS_VARIABLE, num_threads_requested

logger = logging.getLogger(__name__)

# One pool per thread count, so that a collate never runs more threads than
# it resolved. Processes normally use one or two counts.
_pools = {}
_pools_lock = threading.Lock()


def available_cores():
    """Return the number of cores this process may run on (its CPU affinity)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        # sched_getaffinity exists on Linux only.
        return os.cpu_count() or 1


def resolve_num_threads(num_threads=None):
    """Return the threads to build one batch with.

    ``num_threads`` wins over ``FASTCOLLATE_NUM_THREADS``. Without either, a
    DataLoader worker uses 1 thread and any other process all its cores. The
    result never exceeds :func:`available_cores`.
    """
    cores = available_cores()
    if num_threads is None:
        num_threads = num_threads_requested()
    else:
        validate_num_threads(num_threads)
    if num_threads is None:
        return 1 if get_worker_info() is not None else cores
    return min(num_threads, cores)


def validate_num_threads(num_threads):
    """Raise ``ValueError`` unless ``num_threads`` is None or a positive integer."""
    if num_threads is None:
        return
    if isinstance(num_threads, bool) or not isinstance(num_threads, numbers.Integral) or num_threads <= 0:
        raise ValueError(
            f"num_threads must be a positive integer or None, got {num_threads!r}; "
            f"None follows {NUM_THREADS_VARIABLE} or the default"
        )


def map_in_order(function, count, num_threads):
    """Return ``[function(0), ..., function(count - 1)]``, run on up to ``num_threads`` threads.

    If several calls raise, the exception of the lowest index is raised, as
    in a serial loop, once every started call has finished.
    """
    if num_threads <= 1 or count <= 1:
        return [function(index) for index in range(count)]

    pool = shared_pool(min(num_threads, count))
    futures = [pool.submit(function, index) for index in range(count)]
    # Waiting on every future keeps a failed batch from leaving work running
    # on the maps that the caller is about to discard or reuse.
    for future in futures:
        future.exception()
    return [future.result() for future in futures]


def shared_pool(size):
    """Return the process-wide pool of ``size`` threads, starting it on first use."""
    with _pools_lock:
        pool = _pools.get(size)
        if pool is None:
            pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="fastcollate")
            _pools[size] = pool
            logger.debug("Started a pool of %d threads to build targets.", size)
        return pool


def _forget_pools_after_fork():
    # A forked child has none of the parent's threads, so a copied pool would
    # queue work that no thread runs, and a copied lock may be held forever.
    # The child starts its own pools when it needs them.
    global _pools, _pools_lock
    _pools = {}
    _pools_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_pools_after_fork)
