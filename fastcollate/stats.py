"""Collate statistics that DataLoader workers and the main process share.

A collate function runs in every DataLoader worker, and with
``persistent_workers=False`` the workers are new processes each epoch, so
counters kept in the collate object itself would never reach the trainer.
:class:`SharedCounters` keeps them in one block of shared memory created in
the process that builds the collate. Worker processes receive the block when
the DataLoader starts them, with the ``fork``, ``spawn`` and ``forkserver``
start methods alike, and add to it.
"""

import ctypes
import multiprocessing
from multiprocessing.context import get_spawning_popen


class SharedCounters:
    """Named float64 counters in shared memory, summed or maxed across processes.

    Parameters
    ----------
    names : sequence of str
        The counters, all starting at 0.

    Notes
    -----
    The block is shared with the processes started while the object is
    pickled for them, as DataLoader workers are. Pickled at any other time,
    for example into a checkpoint, the copy gets a fresh block of its own.
    """

    def __init__(self, names):
        self.names = tuple(names)
        self._index = {name: position for position, name in enumerate(self.names)}
        if len(self._index) != len(self.names):
            raise ValueError(f"counter names must be unique, got {self.names}")
        self._values = multiprocessing.RawArray(ctypes.c_double, len(self.names))
        # Pickling a fork-context lock for a spawned process raises, but a
        # spawn-context lock works with every start method.
        self._lock = multiprocessing.get_context("spawn").Lock()

    def add(self, **amounts):
        """Add each keyword's value to the counter of that name."""
        positions = [(self._position(name), value) for name, value in amounts.items()]
        with self._lock:
            for position, value in positions:
                self._values[position] += value

    def maximum(self, **values):
        """Raise each named counter to the keyword's value if that is higher."""
        positions = [(self._position(name), value) for name, value in values.items()]
        with self._lock:
            for position, value in positions:
                if value > self._values[position]:
                    self._values[position] = value

    def snapshot(self):
        """Return the counters as a dict of floats, read under the lock."""
        with self._lock:
            values = list(self._values)
        return dict(zip(self.names, values))

    def reset(self):
        """Set every counter back to 0."""
        with self._lock:
            for position in range(len(self.names)):
                self._values[position] = 0.0

    def _position(self, name):
        try:
            return self._index[name]
        except KeyError:
            raise KeyError(f"unknown counter {name!r}, known counters: {', '.join(self.names)}") from None

    def __getstate__(self):
        if get_spawning_popen() is not None:
            return {"names": self.names, "values": self._values, "lock": self._lock}
        return {"names": self.names, "values": None, "lock": None}

    def __setstate__(self, state):
        if state["values"] is None:
            self.__init__(state["names"])
            return
        self.names = state["names"]
        self._index = {name: position for position, name in enumerate(self.names)}
        self._values = state["values"]
        self._lock = state["lock"]
