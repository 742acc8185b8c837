"""Compile or load every kernel ahead of training.

A process that calls a kernel for the first time compiles it (several
seconds) or loads it from Numba's on-disk cache (well under a second). Each
fresh DataLoader worker pays that once, when it receives the collate. Running
:func:`warmup` once, for example in the training script before the
DataLoader starts or with ``fastcollate warmup`` in a container build, fills
the cache so that every later process only loads.
"""

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np

from fastcollate.kernels import profiles as profile_kernels
from fastcollate.kernels import runs as run_kernels
from fastcollate.kernels import shuffle as shuffle_kernels
from fastcollate.kernels import winners as winner_kernels
from fastcollate.kernels.fill import fill_polygons
from fastcollate.kernels.measure import piece_boxes, shrink_distances
from fastcollate.kernels.targets import draw_targets, draw_thresh_map, fill_prob_map
from fastcollate.cache.codec import decode_into, decode_into_upgrading, draw_and_encode
from fastcollate.cache.masked import decode_masked_into, encode_masked
from fastcollate.config import reference_requested
from fastcollate.fast import make_targets_fast, offset_polygons
from fastcollate.polygons import prepare_polygons
from fastcollate.profiles import BASELINE, MASKED_PROFILES, PROFILES, draw_profile_targets
from fastcollate.targets import TargetParams

logger = logging.getLogger(__name__)

# The compiled entry points of the fast path, of the masked profiles' fast
# path and of the profiled fast path (fill and threshold as separate calls),
# called from Python.
KERNELS = (
    shrink_distances, draw_targets, profile_kernels.measure_polygons,
    profile_kernels.orient_polygons, profile_kernels.draw_profile_targets,
    fill_prob_map, draw_thresh_map,
    fill_polygons, winner_kernels.draw_targets_recording, run_kernels.encode_runs,
    run_kernels.encode_binary_runs, piece_boxes,
    winner_kernels.redraw_maps, winner_kernels.store_short_runs,
    shuffle_kernels.split_delta_planes, shuffle_kernels.join_delta_planes,
)

# A 32 x 32 image with one rectangle calls every kernel with the argument
# types of a real image: the types do not depend on the size.
WARMUP_SIZE = (32, 32)
WARMUP_POLYGON = np.array([[4, 4], [27, 4], [27, 20], [4, 20]], dtype=np.float32)


@dataclass(frozen=True)
class WarmupResult:
    """Outcome of :func:`warmup`.

    ``loaded`` and ``compiled`` count the kernel signatures that this call
    read from the cache or compiled. Both are 0 for signatures the process
    already had in memory.
    """

    seconds: float
    cache_dir: str
    signatures: int
    loaded: int
    compiled: int

    def __str__(self):
        return (
            f"warmed up {self.signatures} kernel signatures in {self.seconds:.2f} s "
            f"({self.loaded} loaded from the cache, {self.compiled} compiled); "
            f"cache directory: {self.cache_dir}"
        )


def kernel_cache_dir():
    """Return the folder where Numba caches the kernels.

    It is ``NUMBA_CACHE_DIR`` if that was set before ``fastcollate`` was
    imported, else the ``__pycache__`` folder beside the kernels, or a user
    cache folder when that one is not writable.
    """
    return draw_targets.stats.cache_path


def cache_dir_warning():
    """Return a warning if Numba caches outside ``NUMBA_CACHE_DIR``, else None.

    Numba falls back to another folder without a message when the variable
    names a regular file or a folder it cannot write, so workers that rely on
    the variable would compile again.
    """
    requested = numba.config.CACHE_DIR
    if not requested:
        return None
    requested_path = Path(requested).expanduser().resolve()
    actual_path = Path(kernel_cache_dir()).expanduser().resolve()
    if actual_path == requested_path or requested_path in actual_path.parents:
        return None
    if requested_path.is_file():
        reason = "it is a regular file, not a folder"
    else:
        reason = "Numba could not use it, for example because it is not writable"
    return (f"NUMBA_CACHE_DIR={requested} is set, but Numba caches the kernels in {actual_path} "
            f"because {reason}; point NUMBA_CACHE_DIR at a writable folder, or unset it")


def cache_counts():
    """Return the summed cache hits and misses of every kernel in this process."""
    hits = sum(sum(kernel.stats.cache_hits.values()) for kernel in KERNELS)
    misses = sum(sum(kernel.stats.cache_misses.values()) for kernel in KERNELS)
    return hits, misses


def warmup(profiles=PROFILES, profiling=True, caching=True):
    """Compile or load every kernel signature of the fast paths; return a :class:`WarmupResult`.

    ``profiles`` limits the work to the kernels of those target profiles.
    ``profiling`` also loads the separate fill and threshold kernels that a
    collate with ``profiling=True`` calls on the baseline profile, and
    ``caching`` the kernels that encode and decode target cache entries.
    """
    hits_before, misses_before = cache_counts()
    start = time.perf_counter()
    # Calling the fast path directly keeps this image out of the path-choice
    # log and the skip counts.
    if BASELINE in profiles:
        prepared = prepare_polygons([WARMUP_POLYGON], 0, "<warmup>")
        for corrected_edges in (False, True):
            prob_map = np.zeros(WARMUP_SIZE, dtype=np.float32)
            thresh_map = np.zeros(WARMUP_SIZE, dtype=np.float32)
            make_targets_fast(prepared, prob_map, thresh_map, 0.4, 0.3, 0.7, corrected_edges)
            if profiling:
                warm_profiled_kernels(prepared, corrected_edges)
            if caching:
                warm_cache_kernels(prepared, corrected_edges)

    for profile in set(MASKED_PROFILES) & set(profiles):
        maps = [np.zeros(WARMUP_SIZE, dtype=np.float32) for _ in range(4)]
        maps[2].fill(1.0)
        draw_profile_targets([WARMUP_POLYGON], [False], *maps, TargetParams(profile=profile), "fast",
                             0, "<warmup>")
        if caching:
            decode_masked_into(encode_masked(maps, {}), [np.empty_like(array) for array in maps])
    seconds = time.perf_counter() - start
    hits_after, misses_after = cache_counts()

    return WarmupResult(
        seconds=seconds,
        cache_dir=kernel_cache_dir(),
        signatures=sum(len(kernel.signatures) for kernel in KERNELS),
        loaded=hits_after - hits_before,
        compiled=misses_after - misses_before,
    )


def warm_profiled_kernels(prepared, corrected_edges):
    """Call the fill and threshold kernels as the profiled collate does, on throwaway maps."""
    distances = shrink_distances(prepared.points, prepared.starts, 1 - 0.4**2)
    (shrunk_points, shrunk_starts, dilated_points, dilated_starts,
     dilated_owners, _) = offset_polygons(prepared, distances)
    fill_prob_map(np.zeros(WARMUP_SIZE, dtype=np.float32), shrunk_points, shrunk_starts)
    draw_thresh_map(np.zeros(WARMUP_SIZE, dtype=np.float32), prepared.points, prepared.starts,
                    distances, dilated_points, dilated_starts, dilated_owners, np.float32(0.4),
                    np.float32(0.3), corrected_edges)


def warm_cache_kernels(prepared, corrected_edges):
    """Encode and decode a cache entry both ways the cache does, on throwaway maps."""
    params = TargetParams(corrected_edges=corrected_edges)
    maps = (np.zeros(WARMUP_SIZE, dtype=np.float32), np.zeros(WARMUP_SIZE, dtype=np.float32))
    _, recipe = draw_and_encode(prepared, *maps, params, "fast", record_edges=False)
    _, full_entry = decode_into_upgrading(recipe, *maps)
    decode_into(full_entry, *maps)


def load_kernels_for(reference, profile=BASELINE, profiling=False, caching=False):
    """Load the kernels of ``profile`` now if a collate with ``reference`` will use the fast path.

    The collate calls this when it is built and again when it is unpickled,
    as in a worker started with ``spawn`` or ``forkserver``. So a worker's
    first batch does not load kernels (0.4-1.2 s measured on 2 cores), and
    that cost does not show up in the stage timers. ``profiling`` adds the
    kernels of the profiled path and ``caching`` those of the target cache.
    Returns the :class:`WarmupResult`, or None when the reference path is
    chosen.
    """
    if reference or (reference is None and reference_requested()):
        return None
    result = warmup(profiles=(profile,), profiling=profiling, caching=caching)
    if result.loaded or result.compiled:
        logger.info("Kernels ready before the DataLoader starts: %s", result)
    return result
