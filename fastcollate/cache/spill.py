"""Cache entries as files in a directory shared by processes, runs and ranks.

Layout: ``<root>/<key[:2]>/<key>.fct``. Each file is a fixed header followed
by the entry (the payload):

==========  =====  ==================================================
Field       Bytes  Content
==========  =====  ==================================================
magic       8      ``b"FCTARGET"``
format      2      ``SPILL_FORMAT_VERSION``, little-endian
codec       4      the codec's ``CODEC_VERSION``
key         20     the entry's key, as raw digest bytes
checksum    4      CRC-32 of the payload (``zlib.crc32``)
length      8      payload bytes
==========  =====  ==================================================

A writer writes a uniquely named temporary file ``.<key>.<random>.tmp`` in
the entry's folder, then renames it over the entry with ``os.replace``.
Rename within one directory is atomic on POSIX filesystems and on NFS, so
readers see a whole old file or a whole new file and concurrent writers of
one key each install a complete entry. Files are not fsynced: an entry torn
by a power loss fails its checksum and is read as a miss.

:meth:`SpillDirectory.write_later` hands the write to a background thread
of the calling process (see :mod:`fastcollate.cache.writer`), which
flushes its queue when the process ends.

Every file that fails a check (truncated, corrupted, foreign or of another
version) is read as a miss and logged once per path at WARNING. The caller
then recomputes the entry and writes it again, which replaces the file.
"""

import itertools
import logging
import os
import struct
import threading
import time
import uuid
import zlib
from pathlib import Path

from fastcollate.cache.codec import CODEC_VERSION
from fastcollate.cache.key import DIGEST_SIZE, KEY_LENGTH
from fastcollate.cache.writer import BackgroundWriter
from fastcollate.stats import SharedCounters

logger = logging.getLogger(__name__)

MAGIC = b"FCTARGET"
SPILL_FORMAT_VERSION = 1
EXTENSION = ".fct"
TEMPORARY_SUFFIX = ".tmp"
# CRC-32 detects torn and corrupted files at a fraction of blake2b's cost.
# The key in the header already identifies the entry.
HEADER = struct.Struct(f"<8sHI{DIGEST_SIZE}sIQ")

# A live writer renames its temporary file after one write of at most a
# few MB, so one older than this was left by a killed writer.
TEMPORARY_MAX_AGE_S = 600.0
# Eviction deletes the oldest entries until the directory is this fraction
# of its cap, so that the next scan is many writes away.
EVICTION_TARGET = 0.9

# Outcomes of deleting one file during eviction.
REMOVED = "removed"
ALREADY_GONE = "already gone"
FAILED = "failed"

# O_EXCL: a temporary name is never reused, so an existing file means a bug, not a race.
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)

COUNTER_NAMES = (
    "disk_writes", "disk_bytes_written", "disk_write_errors", "disk_invalid_entries",
    "disk_evicted_entries",
)


class SpillDirectory:
    """Cache entries stored as files under ``root``; see the module docstring.

    Parameters
    ----------
    root : str or os.PathLike
        The directory. Created if missing, unless ``read_only``.
    max_bytes : int or None
        Cap on the bytes of all entry files. Beyond it the entries with the
        oldest modification time are deleted. None sets no cap.
    read_only : bool
        Only read: never create, write, evict or delete a file, for example
        on a precomputed set that other jobs share.

    Notes
    -----
    The bytes in the directory are tracked as an estimate shared by the
    processes that inherit this object, such as DataLoader workers, and
    the directory is scanned only when the estimate passes the cap.
    Processes that do not share it, such as other ranks, keep estimates
    of their own, so together they can overshoot the cap by up to 10% per
    process between scans.
    """

    def __init__(self, root, max_bytes=None, read_only=False):
        self.root = Path(root)
        self.max_bytes = None if max_bytes is None else int(max_bytes)
        self.read_only = bool(read_only)
        if self.max_bytes is not None and self.max_bytes < 0:
            raise ValueError(f"spill max_bytes must be >= 0 or None, got {max_bytes!r}")

        if self.read_only:
            if not self.root.is_dir():
                raise FileNotFoundError(
                    f"read-only spill directory not found: {self.root}; "
                    "precompute it with `fastcollate precompute --cache-dir DIR` or set read_only=False"
                )
        else:
            self.root.mkdir(parents=True, exist_ok=True)

        self.counters = SharedCounters(COUNTER_NAMES)
        # Directory size state shared with the workers, kept apart from the
        # statistics so that resetting those keeps it.
        self.size_estimate = SharedCounters(("bytes", "scans"))
        self._init_local_state()

    def _init_local_state(self):
        # Two locks, because eviction logs failed deletions while it holds its own.
        self._eviction_lock = threading.Lock()
        self._warning_lock = threading.Lock()
        self._warned_topics = set()
        self._writer = None
        self._pid = os.getpid()
        self._root_text = os.fspath(self.root)
        # Unique per process and object, so concurrent writers never share a temporary file.
        self._temporary_tag = f"{self._pid}-{uuid.uuid4().hex[:8]}"
        self._temporary_numbers = itertools.count()

    def _check_process(self):
        """Make fresh locks and no writer in a forked child.

        The parent's writer thread may hold a lock at the moment of the
        fork, and the child would then wait for it forever.
        """
        if self._pid != os.getpid():
            self._init_local_state()

    def path(self, key):
        """Return the file of ``key``."""
        return self.root / key[:2] / f"{key}{EXTENSION}"

    def read(self, key):
        """Return the verified entry of ``key``, or None if absent or invalid."""
        self._check_process()
        if self._writer is not None:
            entry = self._writer.pending(key)
            if entry is not None:
                return entry

        path = os.path.join(self._root_text, key[:2], f"{key}{EXTENSION}")
        try:
            with open(path, "rb") as file:
                data = file.read()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as error:
            self._warn_invalid(path, f"cannot be read ({error})")
            return None

        problem = check_entry_file(data, key)
        if problem is not None:
            self._warn_invalid(path, problem)
            return None
        return data[HEADER.size:]

    def contains(self, key):
        """Return True if ``key`` has a valid entry; an invalid file is logged."""
        return self.read(key) is not None

    def write_later(self, key, entry):
        """Queue ``entry`` for :meth:`write` on this process's background thread.

        Blocks while the queue is full. Until the file is written, :meth:`read`
        of this process returns the queued entry. Does nothing in read-only mode.
        """
        if self.read_only:
            return
        self._check_process()
        if self._writer is None:
            self._writer = BackgroundWriter(self.write, name=f"fastcollate spill writer {self.root}")
        self._writer.put(key, entry)

    def flush(self):
        """Block until this process's queued entries are written."""
        self._check_process()
        if self._writer is not None:
            self._writer.flush()

    def write(self, key, entry):
        """Install ``entry`` as the file of ``key``; return True on success.

        Does nothing in read-only mode. An ``OSError`` while writing or
        enforcing the cap, such as a full disk, is logged and counted, never
        raised, because the entry can always be recomputed.
        """
        if self.read_only:
            return False
        self._check_process()

        # os-level calls, because pathlib and uuid4 added about 0.05 ms of
        # CPU time to each write (docs/performance-cache.md).
        folder = os.path.join(self._root_text, key[:2])
        path = os.path.join(folder, f"{key}{EXTENSION}")
        temporary = os.path.join(folder, f".{key}.{self._temporary_tag}.{next(self._temporary_numbers)}"
                                         f"{TEMPORARY_SUFFIX}")
        created = False
        try:
            try:
                descriptor = os.open(temporary, _CREATE_FLAGS, 0o666)
            except FileNotFoundError:
                os.makedirs(folder, exist_ok=True)
                descriptor = os.open(temporary, _CREATE_FLAGS, 0o666)
            created = True
            try:
                # Two writes, because joining header and payload would copy the payload.
                _write_all(descriptor, pack_header(key, entry))
                _write_all(descriptor, entry)
            finally:
                os.close(descriptor)
            os.replace(temporary, path)
        except OSError as error:
            self.counters.add(disk_write_errors=1)
            # A temporary file that this call did not create belongs to another writer.
            if created:
                self._remove_quietly(temporary)
            self._warn_once(("write", path), "Failed to write cache entry %s: %s. The target cache goes on "
                            "without it; check the disk space and permissions of %s.",
                            path, error, self.root)
            return False

        size = HEADER.size + len(entry)
        self.counters.add(disk_writes=1, disk_bytes_written=size)
        self.size_estimate.add(bytes=size)
        if self.max_bytes is not None:
            estimate = self.size_estimate.snapshot()
            if not estimate["scans"] or estimate["bytes"] > self.max_bytes:
                try:
                    self.enforce_cap()
                except OSError as error:
                    self.counters.add(disk_write_errors=1)
                    self._warn_once(("cap", self.root), "Failed to enforce the size cap of %s: %s. "
                                    "Check its permissions.", self.root, error)
        return True

    def enforce_cap(self):
        """Scan the directory, delete the oldest entries if it is over the cap; return its bytes.

        Also deletes temporary files older than ``TEMPORARY_MAX_AGE_S``.
        Files that vanish during the scan were deleted by another process
        and are skipped.
        """
        if self.read_only:
            raise PermissionError(f"spill directory {self.root} is read-only; it is never evicted")

        with self._eviction_lock:
            entries, total = self._scan()
            evicted = 0
            if self.max_bytes is not None and total > self.max_bytes:
                target = self.max_bytes * EVICTION_TARGET
                entries.sort()
                for _, size, path in entries:
                    if total <= target:
                        break
                    outcome = self._remove_quietly(path)
                    if outcome == REMOVED:
                        evicted += 1
                    # A file that could not be deleted still takes its bytes.
                    if outcome != FAILED:
                        total -= size
                logger.info("Evicted %d cache entries from %s to keep it under %d bytes.",
                            evicted, self.root, self.max_bytes)

            self.counters.add(disk_evicted_entries=evicted)
            estimate = self.size_estimate.snapshot()["bytes"]
            self.size_estimate.add(bytes=total - estimate, scans=1)
        return total

    def _scan(self):
        """Return ``([(mtime, size, path), ...], total bytes)`` of the entry files."""
        entries = []
        total = 0
        now = time.time()
        for folder in os.scandir(self.root):
            if len(folder.name) != 2 or not folder.is_dir(follow_symlinks=False):
                continue
            for item in os.scandir(folder.path):
                try:
                    status = item.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if item.name.endswith(TEMPORARY_SUFFIX):
                    if now - status.st_mtime > TEMPORARY_MAX_AGE_S:
                        self._remove_quietly(Path(item.path))
                    continue
                if item.name.endswith(EXTENSION):
                    entries.append((status.st_mtime, status.st_size, Path(item.path)))
                    total += status.st_size
        return entries, total

    def _remove_quietly(self, path):
        """Delete ``path``; return ``REMOVED``, ``ALREADY_GONE`` or ``FAILED`` (logged once)."""
        try:
            os.unlink(path)
        except FileNotFoundError:
            return ALREADY_GONE
        except OSError as error:
            self._warn_once(("delete", path), "Failed to delete %s: %s", path, error)
            return FAILED
        return REMOVED

    def _warn_invalid(self, path, problem):
        self.counters.add(disk_invalid_entries=1)
        action = "left as is (read-only)" if self.read_only else "recomputed and rewritten"
        self._warn_once(("invalid", path), "Cache entry %s %s; read as a miss and %s.",
                        path, problem, action)

    def _warn_once(self, topic, message, *args):
        """Log ``message`` at WARNING unless ``topic`` was logged before in this process."""
        with self._warning_lock:
            first_time = topic not in self._warned_topics
            self._warned_topics.add(topic)
        if first_time:
            logger.warning(message, *args)

    def __getstate__(self):
        state = dict(self.__dict__)
        del state["_eviction_lock"], state["_warning_lock"], state["_warned_topics"]
        del state["_writer"], state["_pid"], state["_root_text"]
        del state["_temporary_tag"], state["_temporary_numbers"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._init_local_state()


def _write_all(descriptor, data):
    """Write all of ``data``; ``os.write`` may write less than asked on some filesystems."""
    view = memoryview(data).cast("B")
    while view:
        written = os.write(descriptor, view)
        view = view[written:]


def pack_header(key, entry):
    """Return the header of the file that stores ``entry``."""
    return HEADER.pack(MAGIC, SPILL_FORMAT_VERSION, CODEC_VERSION, bytes.fromhex(key),
                       zlib.crc32(entry), len(entry))


def pack_entry_file(key, entry):
    """Return the whole contents of the file that stores ``entry``."""
    return pack_header(key, entry) + entry


def check_entry_file(data, key):
    """Return what is wrong with an entry file's contents, or None if it is valid."""
    if len(data) < HEADER.size:
        return f"is truncated ({len(data)} bytes, shorter than the {HEADER.size}-byte header)"

    magic, version, codec, stored_key, checksum, length = HEADER.unpack_from(data, 0)
    if magic != MAGIC:
        return f"is not a fastcollate cache entry (magic {magic!r})"
    if version != SPILL_FORMAT_VERSION:
        return f"has file format version {version}, expected {SPILL_FORMAT_VERSION}"
    if codec != CODEC_VERSION:
        return f"has codec version {codec}, expected {CODEC_VERSION}"
    if len(key) != KEY_LENGTH or stored_key != bytes.fromhex(key):
        return f"contains key {stored_key.hex()}, expected {key}"
    if length != len(data) - HEADER.size:
        return f"has a {len(data) - HEADER.size}-byte payload, expected {length} bytes (truncated?)"
    if zlib.crc32(memoryview(data)[HEADER.size:]) != checksum:
        return "fails its checksum (corrupted)"
    return None
