"""A thread-safe in-memory LRU of cache entries, bounded in bytes."""

import threading

from cachetools import LRUCache


class MemoryLRU:
    """Least-recently-used entries of one process, at most ``max_bytes`` in total.

    Entries are immutable ``bytes``, so a caller can never change what the
    LRU contains. An entry larger than ``max_bytes`` is not stored.
    """

    def __init__(self, max_bytes):
        self.max_bytes = int(max_bytes)
        self._lock = threading.Lock()
        self._entries = LRUCache(maxsize=self.max_bytes, getsizeof=len)

    def get(self, key):
        """Return the entry of ``key`` and mark it recently used, or None."""
        with self._lock:
            return self._entries.get(key)

    def put(self, key, entry):
        """Store ``entry``, evicting least recently used entries to fit it."""
        if len(entry) > self.max_bytes:
            return
        with self._lock:
            self._entries[key] = entry

    @property
    def nbytes(self):
        """Total bytes of the entries stored now."""
        with self._lock:
            return int(self._entries.currsize)

    def __len__(self):
        with self._lock:
            return len(self._entries)

    def clear(self):
        with self._lock:
            self._entries.clear()
