"""``TargetCache``: memoized targets shared by workers, epochs, runs and ranks."""

import logging
import numbers
import struct
import time
from collections.abc import Mapping

from fastcollate.cache.codec import decode_into_upgrading, draw_and_encode
from fastcollate.cache.key import target_key
from fastcollate.cache.masked import decode_masked_into, encode_masked
from fastcollate.cache.memory import MemoryLRU
from fastcollate.cache.spill import SpillDirectory
from fastcollate.profiles import draw_prepared_profile_targets
from fastcollate.stats import SharedCounters
from fastcollate.validation import check_bool

logger = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 512 * 2**20
DEFAULT_SPILL_MAX_BYTES = 16 * 2**30

COUNTER_NAMES = (
    "memory_hits", "disk_hits", "misses", "upgrades", "hit_seconds", "miss_seconds",
    "memory_bytes_max",
)


class TargetCache:
    """Memoize each image's prob map, threshold map and skip counts, and the masks of the masked profiles.

    Entries are keyed by content (see :mod:`fastcollate.cache.key`), so an
    image with the same polygons, shape and parameters hits in every
    DataLoader worker, epoch, run and rank that reads the same spill
    directory. Use it where transforms are fixed, as in validation: with
    random augmentation every key is new and the cache only adds work.

    Parameters
    ----------
    max_bytes : int, default 512 MiB
        Cap on the encoded entries each process keeps in memory, in bytes.
        0 keeps none in memory.
    spill_dir : str or os.PathLike, optional
        A directory of entry files shared by every process that uses it,
        possibly on a shared filesystem. None keeps entries in memory only,
        which DataLoader workers lose when they exit.
    spill_max_bytes : int or None, default 16 GiB
        Cap on the bytes of the spill directory. Beyond it the oldest
        entries are deleted. None sets no cap.
    read_only : bool, default False
        Read the spill directory without ever writing or deleting a file,
        for a set made by ``fastcollate precompute``.
    record_on_miss : bool, default False
        Record each pixel's winning edge on a miss, so that the first hit
        is already a full-speed hit. False stores a recipe on a miss (the
        polygons and their pyclipper offsets), which adds about 2% to a
        miss instead of 12% to 19% at 640 x 640 (docs/performance-cache.md). The
        first hit of a recipe then draws the maps without pyclipper,
        records the edges and replaces the entry, so hits are full speed
        from the second one on.

    Notes
    -----
    Statistics live in shared memory created with the cache, so the counts
    of DataLoader workers show in :meth:`stats` of the main process. Memory
    contents are not pickled: a spawned worker starts with an empty LRU.
    Spill files are written by a background thread per process. Call
    :meth:`flush` to wait for them. Processes flush when they end.
    """

    def __init__(self, max_bytes=DEFAULT_MAX_BYTES, spill_dir=None,
                 spill_max_bytes=DEFAULT_SPILL_MAX_BYTES, read_only=False, record_on_miss=False):
        self.max_bytes = validate_byte_count("max_bytes", max_bytes)
        if spill_max_bytes is not None:
            spill_max_bytes = validate_byte_count("spill_max_bytes", spill_max_bytes)
        read_only = check_bool("read_only", read_only)
        if read_only and spill_dir is None:
            raise ValueError("read_only=True requires spill_dir: pass the directory to read entries from")

        self.spill = None
        if spill_dir is not None:
            self.spill = SpillDirectory(spill_dir, spill_max_bytes, read_only)
        self.spill_max_bytes = spill_max_bytes
        self.read_only = read_only
        self.record_on_miss = check_bool("record_on_miss", record_on_miss)
        self.counters = SharedCounters(COUNTER_NAMES)
        self.memory = MemoryLRU(self.max_bytes)

    @classmethod
    def from_config(cls, config):
        """Return a cache from None, a ``TargetCache`` or a dict of its keyword arguments."""
        if config is None or isinstance(config, cls):
            return config
        if isinstance(config, Mapping):
            return cls(**config)
        raise TypeError(
            f"cache must be None, a TargetCache or a dict of TargetCache arguments, "
            f"got {type(config).__name__}"
        )

    def __repr__(self):
        spill_dir = None if self.spill is None else str(self.spill.root)
        return (f"{type(self).__name__}(max_bytes={self.max_bytes}, spill_dir={spill_dir!r}, "
                f"spill_max_bytes={self.spill_max_bytes}, read_only={self.read_only}, "
                f"record_on_miss={self.record_on_miss})")

    def draw_into(self, prepared, prob_map, thresh_map, params, path):
        """Fill float32 (H, W) maps from the cache or by drawing them; return the skip counts.

        The maps may hold any values: a hit writes every pixel, and a miss
        zeroes the maps before drawing, so callers need not clear them.
        They receive a decoded copy of an entry, so changing them never
        changes the cache. On a miss the targets are drawn on ``path``, and
        the entry is stored in memory and, unless read-only, queued for
        the spill directory. A hit of a recipe entry replaces it with the
        full entry in both.
        """
        start = time.perf_counter()
        key = target_key(prepared, prob_map.shape, params)

        entry = self.memory.get(key)
        if entry is not None:
            skipped, full_entry = decode_into_upgrading(entry, prob_map, thresh_map)
            if full_entry is not None:
                self._store(key, full_entry)
                self.counters.add(upgrades=1)
            self.counters.add(memory_hits=1, hit_seconds=time.perf_counter() - start)
            return skipped

        if self.spill is not None:
            skipped = self._read_spill(key, prob_map, thresh_map)
            if skipped is not None:
                self.counters.add(disk_hits=1, hit_seconds=time.perf_counter() - start)
                return skipped

        prob_map.fill(0.0)
        thresh_map.fill(0.0)
        skipped, entry = draw_and_encode(prepared, prob_map, thresh_map, params, path,
                                         record_edges=self.record_on_miss)
        self._store(key, entry)
        self.counters.add(misses=1, miss_seconds=time.perf_counter() - start)
        return skipped

    def draw_profile_into(self, prepared, maps, params, path):
        """Fill a masked profile's four maps from the cache or by drawing them; return the skip counts.

        ``prepared`` is the :class:`fastcollate.profiles.prepare.FloatPolygons`
        of one image and ``maps`` the ``(prob_map, thresh_map, prob_mask,
        thresh_mask)`` float32 (H, W) arrays, initialised as
        :func:`fastcollate.profiles.draw_profile_targets` requires. Hits are
        decoded copies, as in :meth:`draw_into`. Masked entries store the
        maps themselves, so ``record_on_miss`` does not apply to them.
        """
        start = time.perf_counter()
        key = target_key(prepared, maps[0].shape, params)

        entry = self.memory.get(key)
        if entry is not None:
            skipped = decode_masked_into(entry, maps)
            self.counters.add(memory_hits=1, hit_seconds=time.perf_counter() - start)
            return skipped

        if self.spill is not None:
            entry = self.spill.read(key)
            if entry is not None:
                try:
                    skipped = decode_masked_into(entry, maps)
                except (ValueError, struct.error) as error:
                    self.spill.counters.add(disk_invalid_entries=1)
                    logger.warning("Failed to decode cache entry %s (%s); drawing the targets again.",
                                   self.spill.path(key), error)
                    # The maps may be half written, so they go back to their initial values.
                    for values, initial in zip(maps, (0.0, 0.0, 1.0, 0.0)):
                        values.fill(initial)
                else:
                    self._remember(key, entry)
                    self.counters.add(disk_hits=1, hit_seconds=time.perf_counter() - start)
                    return skipped

        skipped = draw_prepared_profile_targets(prepared, maps, params, path)
        self._store(key, encode_masked(maps, skipped))
        self.counters.add(misses=1, miss_seconds=time.perf_counter() - start)
        return skipped

    def _read_spill(self, key, prob_map, thresh_map):
        entry = self.spill.read(key)
        if entry is None:
            return None
        try:
            skipped, full_entry = decode_into_upgrading(entry, prob_map, thresh_map)
        except (ValueError, struct.error) as error:
            # The file passed its checksum, so the codec wrote this entry but
            # cannot read it back. The maps may be half written, so they are
            # cleared and drawn again.
            self.spill.counters.add(disk_invalid_entries=1)
            logger.warning("Failed to decode cache entry %s (%s); drawing the targets again.",
                           self.spill.path(key), error)
            prob_map.fill(0.0)
            thresh_map.fill(0.0)
            return None
        if full_entry is None:
            self._remember(key, entry)
        else:
            self._store(key, full_entry)
            self.counters.add(upgrades=1)
        return skipped

    def _store(self, key, entry):
        self._remember(key, entry)
        if self.spill is not None:
            self.spill.write_later(key, entry)

    def _remember(self, key, entry):
        self.memory.put(key, entry)
        self.counters.maximum(memory_bytes_max=self.memory.nbytes)

    def stats(self):
        """Return the counts of every process that used this cache, as a dict.

        ``memory_bytes`` and ``memory_entries`` are those of the calling
        process. ``memory_bytes_max`` is the most any one process has held,
        because each DataLoader worker keeps an LRU of its own. Latencies
        are in seconds, summed over lookups, and include computing the key.
        ``upgrades`` counts the hits that found a recipe entry and replaced
        it with a full one; they are counted as hits too.
        """
        counts = self.counters.snapshot()
        if self.spill is not None:
            counts.update(self.spill.counters.snapshot())

        hits = counts["memory_hits"] + counts["disk_hits"]
        lookups = hits + counts["misses"]
        stats = {name: int(value) for name, value in counts.items() if not name.endswith("_seconds")}
        stats.update(
            hits=int(hits),
            lookups=int(lookups),
            hit_rate=hits / lookups if lookups else 0.0,
            hit_seconds=counts["hit_seconds"],
            miss_seconds=counts["miss_seconds"],
            mean_hit_ms=1e3 * counts["hit_seconds"] / hits if hits else 0.0,
            mean_miss_ms=1e3 * counts["miss_seconds"] / counts["misses"] if counts["misses"] else 0.0,
            memory_bytes=self.memory.nbytes,
            memory_entries=len(self.memory),
        )
        return stats

    def log_summary(self, prefix="Target cache"):
        """Log the statistics as one INFO line and return them."""
        stats = self.stats()
        logger.info(
            "%s: %d lookups, %.1f%% hits (%d memory, %d disk), %d misses; mean hit %.2f ms, "
            "mean miss %.2f ms; up to %.1f MB in memory per process.",
            prefix, stats["lookups"], 100 * stats["hit_rate"], stats["memory_hits"],
            stats["disk_hits"], stats["misses"], stats["mean_hit_ms"], stats["mean_miss_ms"],
            stats["memory_bytes_max"] / 1e6,
        )
        return stats

    def flush(self):
        """Block until this process's spill files are written; no-op without a spill directory."""
        if self.spill is not None:
            self.spill.flush()

    def reset_stats(self):
        """Set every counter back to 0, for example at the start of an epoch."""
        self.counters.reset()
        if self.spill is not None:
            self.spill.counters.reset()

    def clear_memory(self):
        """Drop this process's in-memory entries; the spill directory is kept."""
        self.memory.clear()

    def __getstate__(self):
        state = dict(self.__dict__)
        del state["memory"]
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.memory = MemoryLRU(self.max_bytes)


def validate_byte_count(name, value):
    """Return ``value`` as an int, or raise ``ValueError`` unless it is an integer >= 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(f"{name} must be an integer number of bytes >= 0, got {value!r}")
    return int(value)
