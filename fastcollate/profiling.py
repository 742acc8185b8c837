"""Stage timers and counters of the collate, summed across DataLoader workers.

``FastDBCollateFN(profiling=True)`` builds a :class:`CollateProfiler`. Each
batch gets a :class:`BatchSteps` object: the collate calls its steps
(``stack_images``, ``prepare_polygons``, ``draw_targets_into``) in place of
the plain functions, and the steps time themselves and count what they see.
The totals of a batch go into :class:`fastcollate.stats.SharedCounters` once,
when the batch ends, so worker processes add to the same block as the main
process and the trainer reads one sum.

With profiling off the collate calls ``fastcollate.collate.PLAIN_STEPS``,
which forwards to the plain functions: one ``is None`` check per batch and
two forwarding calls per image, none per polygon.
"""

import json
import logging
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from fastcollate.fast import merge_skips, offset_polygons
from fastcollate.kernels.measure import shrink_distances
from fastcollate.kernels.targets import draw_thresh_map, fill_prob_map
from fastcollate.polygons import SKIP_REASONS, prepare_polygons
from fastcollate.stats import SharedCounters
from fastcollate.targets import REFERENCE, draw_targets_into

logger = logging.getLogger(__name__)

# Stages in the order a batch runs them. ``reference`` is the whole map
# build on the reference path, which has no finer stages. ``cache`` is the
# whole ``TargetCache.draw_into`` call, which on a miss includes drawing.
# ``masked_targets`` is the whole map build of the ``mhliao`` and
# ``paddleocr`` profiles, validation included.
STAGES = ("stacking", "validation", "cache", "offset", "fill", "threshold", "reference",
          "masked_targets")
COUNTS = ("batches", "images", "polygons")
STATS_KIND = "fastcollate-stats"
STATS_VERSION = 1


def counter_names():
    """Return the names of the shared counters behind a profiler."""
    names = ["collate_seconds"]
    names += [f"{stage}_seconds" for stage in STAGES]
    names += list(COUNTS)
    names += [f"skipped_{reason}" for reason in SKIP_REASONS]
    names.append("peak_rss_bytes")
    return names


def peak_rss_bytes():
    """Return the high-water resident memory of this process, in bytes, or 0 if unknown."""
    try:
        import resource
    except ImportError:
        # NOTE: Windows has no ``resource`` module, so peak memory reads 0 there.
        return 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports kibibytes, macOS bytes.
    return peak if sys.platform == "darwin" else peak * 1024


class BatchSteps:
    """The collate steps of one batch, timed, with counts kept until the batch ends.

    The methods may be called from several threads of one batch, so the
    totals are updated under a lock. Stage seconds are summed over threads
    and can then exceed the batch's wall time.
    """

    def __init__(self):
        # peak_rss_bytes is a maximum, read once per batch, not a sum.
        self.totals = dict.fromkeys((name for name in counter_names() if name != "peak_rss_bytes"), 0.0)
        self._lock = threading.Lock()

    def add(self, **amounts):
        """Add seconds or counts to this batch's totals."""
        with self._lock:
            for name, amount in amounts.items():
                self.totals[name] += amount

    @contextmanager
    def stage(self, name):
        """Time the block under ``name``, one of ``STAGES``."""
        key = f"{name}_seconds"
        if name not in STAGES:
            raise KeyError(f"unknown stage {name!r}, known stages: {', '.join(STAGES)}")
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(**{key: time.perf_counter() - start})

    def stack_images(self, batch, new_tensor):
        # Imported here because fastcollate.collate imports this module.
        from fastcollate.collate import stack_images

        with self.stage("stacking"):
            return stack_images(batch, new_tensor)

    def prepare_polygons(self, polygons, sample_index=0, filename=None):
        start = time.perf_counter()
        prepared = prepare_polygons(polygons, sample_index, filename)
        self.add(validation_seconds=time.perf_counter() - start, polygons=len(polygons), images=1)
        return prepared

    def draw_cached(self, cache, prepared, prob_map, thresh_map, params, path):
        # NOTE: TargetCache.draw_into draws and encodes the maps itself on a
        # miss, so those images count in the cache stage, not in offset,
        # fill and threshold.
        with self.stage("cache"):
            skipped = cache.draw_into(prepared, prob_map, thresh_map, params, path)
        self.add(**{f"skipped_{reason}": count for reason, count in skipped.items()})
        return skipped

    def draw_profile_targets(self, polygons, *args):
        # Imported here because fastcollate.profiles imports the kernels lazily.
        from fastcollate.profiles import draw_profile_targets

        with self.stage("masked_targets"):
            skipped = draw_profile_targets(polygons, *args)
        self.add(images=1, polygons=len(polygons))
        self.add(**{f"skipped_{reason}": count for reason, count in skipped.items()})
        return skipped

    def draw_targets_into(self, prepared, prob_map, thresh_map, params, path):
        if path == REFERENCE:
            with self.stage("reference"):
                skipped = draw_targets_into(prepared, prob_map, thresh_map, params, path)
        else:
            skipped = self._draw_fast(prepared, prob_map, thresh_map, params)

        self.add(**{f"skipped_{reason}": count for reason, count in skipped.items()})
        return skipped

    def _draw_fast(self, prepared, prob_map, thresh_map, params):
        # The steps of fastcollate.fast.make_targets_fast, with the fill and
        # the threshold kernel as two compiled calls so each can be timed.
        start = time.perf_counter()
        distances = shrink_distances(prepared.points, prepared.starts, 1 - params.shrink_ratio**2)
        (shrunk_points, shrunk_starts, dilated_points, dilated_starts,
         dilated_owners, offset_skips) = offset_polygons(prepared, distances)
        offset_done = time.perf_counter()

        fill_prob_map(prob_map, shrunk_points, shrunk_starts)
        fill_done = time.perf_counter()

        outside = draw_thresh_map(
            thresh_map, prepared.points, prepared.starts, distances, dilated_points,
            dilated_starts, dilated_owners, np.float32(params.thresh_max - params.thresh_min),
            np.float32(params.thresh_min), params.corrected_edges,
        )
        threshold_done = time.perf_counter()

        self.add(offset_seconds=offset_done - start, fill_seconds=fill_done - offset_done,
                 threshold_seconds=threshold_done - fill_done)
        return merge_skips(prepared.skipped, offset_skips, outside)


class CollateProfiler:
    """Stage times and counts of every batch a collate builds, in any process.

    Create it in the process that builds the DataLoader, before the workers
    start, so that they share its counters.
    """

    def __init__(self):
        self.counters = SharedCounters(counter_names())
        # Target cache hits and misses at the last reset, because the cache
        # keeps its own counters and a profiling reset leaves them alone.
        self.cache_offsets = (0, 0)

    @contextmanager
    def batch(self):
        """Yield the :class:`BatchSteps` of one batch and add its totals when it ends.

        A batch that raises is still counted, with the time it took.
        """
        steps = BatchSteps()
        start = time.perf_counter()
        try:
            yield steps
        finally:
            steps.add(collate_seconds=time.perf_counter() - start, batches=1)
            self.counters.add(**steps.totals)
            self.counters.maximum(peak_rss_bytes=peak_rss_bytes())

    def values(self, cache=None):
        """Return the raw counter values, with ``cache_hits`` and ``cache_misses`` since the last reset."""
        values = self.counters.snapshot()
        hits, misses = cache_totals(cache)
        hits_offset, misses_offset = self.cache_offsets
        # Totals below the offsets mean that the cache's own counters were
        # reset since, and then they count from that reset.
        if hits < hits_offset or misses < misses_offset:
            hits_offset = misses_offset = 0
        values["cache_hits"] = hits - hits_offset
        values["cache_misses"] = misses - misses_offset
        return values

    def stats(self, cache=None):
        """Return the statistics so far as a JSON-ready dict, described in :func:`summarize`."""
        return summarize(self.values(cache))

    def reset(self, cache=None):
        """Set every time and count back to 0, in all processes."""
        self.counters.reset()
        self.cache_offsets = cache_totals(cache)


def cache_totals(cache):
    """Return ``(hits, misses)`` of a ``TargetCache`` over all processes, or zeros without one."""
    if cache is None:
        return (0, 0)
    stats = cache.stats()
    return (stats["hits"], stats["misses"])


def summarize(values):
    """Convert raw counter values into the statistics dict.

    The dict has the counts ``batches``, ``images`` and ``polygons``, and
    the times ``collate_ms`` and ``collate_ms_per_batch``. ``stages`` maps
    each stage to ``total_ms``, ``ms_per_batch`` and ``percent`` of the
    collate time, with ``other`` for the rest: zeroing maps, the output dict
    and the timers. ``skipped`` counts polygons by reason. ``cache`` has
    ``hits``, ``misses`` and ``hit_rate``, which is None before any lookup.
    ``peak_rss_bytes`` is the maximum over the processes that collated, and
    ``images_per_second`` is per collating process.
    """
    batches = int(values["batches"])
    collate_ms = values["collate_seconds"] * 1e3

    def per_batch(milliseconds):
        return milliseconds / batches if batches else 0.0

    def percent(milliseconds):
        return 100.0 * milliseconds / collate_ms if collate_ms > 0 else 0.0

    stages = {}
    for stage in STAGES:
        total_ms = values[f"{stage}_seconds"] * 1e3
        stages[stage] = {"total_ms": total_ms, "ms_per_batch": per_batch(total_ms),
                         "percent": percent(total_ms)}
    # Stage times summed over threads may exceed the collate time.
    other_ms = max(collate_ms - sum(stage["total_ms"] for stage in stages.values()), 0.0)
    stages["other"] = {"total_ms": other_ms, "ms_per_batch": per_batch(other_ms),
                       "percent": percent(other_ms)}

    hits = int(values["cache_hits"])
    misses = int(values["cache_misses"])
    images = int(values["images"])
    collate_seconds = values["collate_seconds"]
    return {
        "kind": STATS_KIND,
        "version": STATS_VERSION,
        "batches": batches,
        "images": images,
        "polygons": int(values["polygons"]),
        "collate_ms": collate_ms,
        "collate_ms_per_batch": per_batch(collate_ms),
        "stages": stages,
        "skipped": {reason: int(values[f"skipped_{reason}"]) for reason in SKIP_REASONS},
        "cache": {"hits": hits, "misses": misses,
                  "hit_rate": hits / (hits + misses) if hits + misses else None},
        "peak_rss_bytes": int(values["peak_rss_bytes"]),
        "images_per_second": images / collate_seconds if collate_seconds > 0 else 0.0,
    }


def collect_stats(collate, reset=False):
    """Return the profiling statistics of ``collate``, optionally resetting them after reading.

    Raises ``ValueError`` if the collate was built without ``profiling=True``.
    """
    profiler = getattr(collate, "profiler", None)
    if profiler is None:
        raise ValueError(
            f"{type(collate).__name__} has no profiler; build it with profiling=True "
            "before creating the DataLoader"
        )
    cache = getattr(collate, "cache", None)
    stats = profiler.stats(cache)
    if reset:
        profiler.reset(cache)
    return stats


def save_stats(stats, path):
    """Write a statistics dict to ``path`` as JSON, for ``fastcollate report``."""
    path = Path(path)
    path.write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")
    logger.info("Wrote collate statistics to %s.", path)
    return path
