"""Spill-file writes on a background thread, so a cache miss does not wait for the disk.

Each process gets its own writer thread, started at its first write: a
thread of the parent does not exist in a forked child, and a spawned child
starts without one. Entries wait in a bounded queue, so a slow disk slows
the callers down instead of filling the memory, and an entry waiting there
is still read by its own process.

The queue is flushed when the process ends. DataLoader workers end through
``os._exit`` in multiprocessing, which skips ``atexit``. So the flush is a
``multiprocessing.util.Finalize`` with an exit priority, which
multiprocessing runs when a child process returns from its target, and in
the main process through its own ``atexit`` hook.
"""

import logging
import os
import queue
import threading
from multiprocessing import util

logger = logging.getLogger(__name__)

# Entries waiting per process. At about 100 KB per entry at 640 x 640 this
# bounds the memory of the queue to a few MB.
QUEUE_SIZE = 32
# Runs before finalizers of priority 0, such as those that close shared memory.
FLUSH_EXIT_PRIORITY = 10


class BackgroundWriter:
    """A daemon thread of the current process that calls ``write(key, entry)`` for each queued entry.

    ``write`` must catch and log its own ``OSError``. Any other exception is
    logged here and the entry dropped, because the cache can recompute it.
    """

    def __init__(self, write, name):
        self.pid = os.getpid()
        self._write = write
        self._queue = queue.Queue(maxsize=QUEUE_SIZE)
        # Entries queued or being written, so that reads of this process find them.
        self._pending = {}
        self._pending_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        # NOTE: the finalizer keeps this writer, its idle thread and the
        # spill directory alive until the process ends, one per spill
        # directory object that wrote in this process.
        util.Finalize(None, self.flush, exitpriority=FLUSH_EXIT_PRIORITY)

    def put(self, key, entry):
        """Queue ``entry`` for writing; block while the queue is full."""
        with self._pending_lock:
            self._pending[key] = entry
        self._queue.put((key, entry))

    def pending(self, key):
        """Return the entry of ``key`` if it is queued or being written, else None."""
        with self._pending_lock:
            return self._pending.get(key)

    def flush(self):
        """Block until every queued entry is written."""
        if os.getpid() == self.pid and self._thread.is_alive():
            self._queue.join()

    def _run(self):
        while True:
            key, entry = self._queue.get()
            try:
                self._write(key, entry)
            except Exception:
                logger.exception("Background write of cache entry %s failed; the entry is dropped.", key)
            finally:
                with self._pending_lock:
                    # A newer entry of the same key may be queued behind this one.
                    if self._pending.get(key) is entry:
                        del self._pending[key]
                self._queue.task_done()
