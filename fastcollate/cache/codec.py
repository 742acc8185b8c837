"""Lossless encoding of one image's targets for the cache.

A cache entry contains the prob map, the threshold map and the skip counts of
one image. :func:`draw_and_encode` builds the maps on a cache miss and
returns the entry's bytes. :func:`decode_into` writes an entry back into the
map arrays, equal to the bit to a fresh computation.

Float values with random low bits compress poorly, so the fast path stores
what the kernels need to redraw the maps instead of the maps:

- the prob map as the lengths of its alternating runs of 0 and 1, which
  decode at about the cost of a memset;
- the polygons and their offset distances D;
- the winning edge of every threshold-map pixel, as row-major runs, from
  which :func:`fastcollate.kernels.winners.redraw_thresh_map` computes one
  distance per pixel (see that module for why one edge per pixel suffices);
- the values of the pixels in row segments shorter than ``SHORT_RUN``,
  which cost the redraw the most per pixel;
- a list of pixels whose value is stored as is. Only ``verify=True`` fills
  it, with the pixels that the redraw gets wrong.

Recording the winning edges costs about an eighth of drawing, so a cache miss
may store a recipe instead (``record_edges=False``): the same polygons and
offsets plus the shrunk polygons and the boxes of the dilated ones, without
edge ids (see :mod:`fastcollate.cache.recipe`). Decoding a recipe draws the maps with the
target kernels, skipping only pyclipper, and
:func:`decode_into_upgrading` records the edges then and returns the full
entry in the winners layout.

The reference path, and a prob map with a value other than 0 and 1, use a
generic layout: the bit-packed prob map and the raw threshold map,
compressed with zstd (see :mod:`fastcollate.cache.generic`). The masked
profiles store their four maps in a layout of their own, written and read
by :mod:`fastcollate.cache.masked`.

Every entry starts with a magic, the codec version, the layout and the map
shape, so :func:`decode_into` rejects an entry of another version or shape
with ``ValueError``.
"""

import logging
import struct
import threading
from collections import Counter

import numpy as np

from fastcollate.cache.generic import decode_generic, generic_payload
from fastcollate.cache.recipe import (
    Geometry, PayloadReader, check_starts, pack_recipe, unpack_recipe,
)
from fastcollate.fast import merge_skips, offset_polygons
from fastcollate.kernels.measure import shrink_distances
from fastcollate.kernels.targets import draw_targets
from fastcollate.kernels.runs import encode_binary_runs, encode_runs
from fastcollate.kernels.winners import draw_targets_recording, redraw_maps, store_short_runs
from fastcollate.polygons import SKIP_REASONS
from fastcollate.targets import FAST, draw_targets_into

logger = logging.getLogger(__name__)

# Bump when the layout below changes: entries of another version are misses.
CODEC_VERSION = 5

MAGIC = b"FCTE"
LAYOUT_GENERIC = 0
LAYOUT_WINNERS = 1
LAYOUT_RECIPE = 2
# The four maps of a masked profile, encoded by fastcollate.cache.masked.
LAYOUT_MASKED = 3
FLAG_CORRECTED_EDGES = 1

# magic, version, layout, flags, height, width
_HEADER = struct.Struct("<4sHBBII")
_SKIPS = struct.Struct(f"<{len(SKIP_REASONS)}I")
# Winners layout: scale, offset, then the lengths of the arrays that follow.
_WINNERS = struct.Struct("<ffIIIIII")
# Touched row segments shorter than this are stored as values, because the
# redraw's vector loop idles on them. On the 150-word page at 640 x 640 this
# cut a hit from 1.32 to 1.15 ms for 53 kB more per entry (docs/performance-cache.md).
SHORT_RUN = 6

# Runs are stored with uint16 lengths, so longer runs are split.
MAX_RUN_LENGTH = np.iinfo(np.uint16).max
_MAX_EDGE_ID = np.iinfo(np.uint32).max
# The run scan stores pixel indices as int32.
_MAX_PIXELS = 2**31

_scratch = threading.local()


def draw_and_encode(prepared, prob_map, thresh_map, params, path, verify=False, record_edges=True):
    """Draw one image's maps into zeroed float32 arrays and encode them.

    Parameters
    ----------
    prepared : fastcollate.polygons.PreparedPolygons
    prob_map, thresh_map : ndarray of float32, shape (H, W)
        Zeroed and C-contiguous. They may be views of the batch tensors.
    params : fastcollate.targets.TargetParams
    path : str
        ``"fast"`` or ``"reference"``.
    verify : bool
        Decode the entry and store the value of every threshold-map pixel
        that the redraw gets wrong. Costs about one decode per call.
    record_edges : bool
        Record the winning edges for a full entry. False draws with the
        target kernels and returns a recipe entry, which decodes at about
        the cost of drawing. ``verify`` then has nothing to check.

    Returns
    -------
    skipped : collections.Counter
        The polygons skipped by reason, as from ``draw_targets_into``.
    entry : bytes
    """
    # Edge ids and run starts are at most 32-bit, so larger pages take the generic layout.
    if path != FAST or len(prepared.points) >= _MAX_EDGE_ID or prob_map.size >= _MAX_PIXELS:
        skipped = draw_targets_into(prepared, prob_map, thresh_map, params, path)
        return skipped, encode(prob_map, thresh_map, skipped)

    skipped, entry = _draw_and_encode_fast(prepared, prob_map, thresh_map, params, record_edges)
    if verify and record_edges:
        entry = _verified(entry, prob_map, thresh_map, skipped)
    return skipped, entry


def _draw_and_encode_fast(prepared, prob_map, thresh_map, params, record_edges):
    """Draw the maps as ``make_targets_fast`` does and encode them as a full or a recipe entry."""
    distances = shrink_distances(prepared.points, prepared.starts, 1 - params.shrink_ratio**2)
    (shrunk_points, shrunk_starts, dilated_points, dilated_starts,
     dilated_owners, offset_skips) = offset_polygons(prepared, distances)
    geometry = Geometry(prepared.points, prepared.starts, distances, shrunk_points, shrunk_starts,
                        dilated_points, dilated_starts, dilated_owners)
    scale = np.float32(params.thresh_max - params.thresh_min)
    offset = np.float32(params.thresh_min)
    flags = FLAG_CORRECTED_EDGES if params.corrected_edges else 0

    if record_edges:
        outside, layout, payload = _draw_recording(prob_map, thresh_map, geometry, scale, offset,
                                                   params.corrected_edges)
    else:
        outside = draw_targets(prob_map, thresh_map, *geometry, scale, offset, params.corrected_edges)
        payload = pack_recipe(geometry, scale, offset)
        layout = LAYOUT_RECIPE

    skipped = merge_skips(prepared.skipped, offset_skips, outside)
    height, width = prob_map.shape
    header = _HEADER.pack(MAGIC, CODEC_VERSION, layout, flags, height, width)
    return skipped, b"".join([header, _pack_skips(skipped), payload])


def _draw_recording(prob_map, thresh_map, geometry, scale, offset, corrected_edges):
    """Draw both maps into zeroed arrays, recording the winning edges; return ``(outside, layout, payload)``.

    The payload is that of the winners layout, without exceptions, or of
    the generic layout if the prob map has a value other than 0 and 1.
    """
    winners, starts_scratch = _scratch_arrays(prob_map.shape, len(geometry.points))
    winners.fill(0)
    outside = draw_targets_recording(prob_map, thresh_map, winners, *geometry, scale, offset,
                                     corrected_edges)
    prob_runs = encode_binary_runs(prob_map.view(np.uint32))
    if prob_runs is None:
        return outside, LAYOUT_GENERIC, generic_payload(prob_map, thresh_map)
    run_ids, run_lengths = encode_runs(winners, starts_scratch, MAX_RUN_LENGTH)
    run_ids, run_lengths, stored_values = store_short_runs(
        run_ids, run_lengths, thresh_map, SHORT_RUN, _stored_marker(winners.dtype), MAX_RUN_LENGTH)

    payload = b"".join([
        _WINNERS.pack(scale, offset, len(geometry.points), len(geometry.starts) - 1,
                      len(prob_runs), len(stored_values), len(run_ids), 0),
        # Arrays go widest item first, so every array starts aligned to its item size.
        geometry.starts.astype(np.int64, copy=False).tobytes(),
        geometry.distances.astype(np.float64, copy=False).tobytes(),
        geometry.points.astype(np.int32, copy=False).tobytes(),
        prob_runs.tobytes(),
        stored_values.tobytes(),
        run_ids.tobytes(),
        run_lengths.tobytes(),
    ])
    return outside, LAYOUT_WINNERS, payload


def _scratch_arrays(shape, point_count):
    """Return this thread's winners map and run scratch for ``shape``, reused between calls.

    Edge ids are uint16 while every id fits, uint32 above that. Only the
    latest shape and id type are kept, to bound the memory per worker.
    """
    id_type = _id_type(point_count)
    key = (shape, id_type)
    arrays = getattr(_scratch, "arrays", None)
    if arrays is None or arrays[0] != key:
        arrays = (key, np.empty(shape, dtype=id_type), np.empty(shape[0] * shape[1], dtype=np.int32))
        _scratch.arrays = arrays
    return arrays[1], arrays[2]


def _stored_marker(id_type):
    # Edge ids stop at point_count, below the largest value of their type.
    return np.iinfo(id_type).max


def _id_type(point_count):
    # Id 0 marks untouched pixels, so the largest id is point_count.
    return np.uint16 if point_count < np.iinfo(np.uint16).max else np.uint32


def _pack_skips(skipped):
    return _SKIPS.pack(*(skipped.get(reason, 0) for reason in SKIP_REASONS))


def _verified(entry, prob_map, thresh_map, skipped):
    """Return ``entry`` with an exception for each threshold-map pixel that its redraw gets wrong.

    Falls back to the generic layout if the prob map differs, which would
    mean the stored runs are wrong. An entry in the generic layout is exact
    and returned as is.
    """
    _, _, layout, _, _, _ = _HEADER.unpack_from(entry, 0)
    if layout != LAYOUT_WINNERS:
        return entry
    decoded_prob = np.empty_like(prob_map)
    decoded_thresh = np.empty_like(thresh_map)
    decode_into(entry, decoded_prob, decoded_thresh)
    if not np.array_equal(decoded_prob.view(np.uint32), prob_map.view(np.uint32)):
        logger.warning("Cache entry redraws a different prob map; storing the maps as values instead.")
        return encode(prob_map, thresh_map, skipped)

    wrong = np.flatnonzero(decoded_thresh.view(np.uint32) != thresh_map.view(np.uint32))
    if len(wrong) == 0:
        return entry
    logger.warning("Cache entry redraws %d threshold-map pixel(s) differently; storing their values.",
                   len(wrong))
    return _with_exceptions(entry, wrong, thresh_map.ravel()[wrong])


def _with_exceptions(entry, indices, values):
    """Return a winners-layout entry with the given pixel values appended as exceptions."""
    position = _HEADER.size + _SKIPS.size
    fields = list(_WINNERS.unpack_from(entry, position))
    if fields[-1]:
        raise ValueError("cache entry already contains exceptions")
    fields[-1] = len(indices)
    return b"".join([
        entry[:position],
        _WINNERS.pack(*fields),
        entry[position + _WINNERS.size:],
        indices.astype(np.uint32).tobytes(),
        values.astype(np.float32).tobytes(),
    ])


def encode(prob_map, thresh_map, skipped):
    """Return an entry in the generic layout: the bit-packed prob map and the raw threshold map."""
    height, width = prob_map.shape
    return b"".join([
        _HEADER.pack(MAGIC, CODEC_VERSION, LAYOUT_GENERIC, 0, height, width),
        _pack_skips(skipped),
        generic_payload(prob_map, thresh_map),
    ])


def decode_into(entry, prob_map, thresh_map):
    """Write an entry's maps into float32 (H, W) arrays; return the skip counts.

    Raises
    ------
    ValueError
        If the entry is not a cache entry of this codec version, contains maps
        of another shape, or is inconsistent, or if the arrays are not
        C-contiguous float32. The arrays may be partly written then.
    """
    skipped, _ = _decode(entry, prob_map, thresh_map, upgrade=False)
    return skipped


def decode_into_upgrading(entry, prob_map, thresh_map):
    """Write an entry's maps as :func:`decode_into` does; return ``(skipped, full_entry)``.

    ``full_entry`` is None unless ``entry`` is a recipe. A recipe is drawn
    with the winning edges recorded, and ``full_entry`` is the entry in the
    winners layout that :func:`draw_and_encode` would have returned.
    Raises ``ValueError`` as :func:`decode_into` does.
    """
    return _decode(entry, prob_map, thresh_map, upgrade=True)


def _decode(entry, prob_map, thresh_map, upgrade):
    _check_map(prob_map, "prob_map")
    _check_map(thresh_map, "thresh_map")
    entry = memoryview(entry).cast("B")
    layout, flags, (height, width), skipped = _unpack_header(entry, [prob_map.shape, thresh_map.shape])
    payload = entry[_HEADER.size + _SKIPS.size:]

    full_entry = None
    if layout == LAYOUT_WINNERS:
        _decode_winners(payload, flags, prob_map, thresh_map)
    elif layout == LAYOUT_GENERIC:
        decode_generic(payload, prob_map, thresh_map)
    elif layout == LAYOUT_RECIPE:
        recorded = _decode_recipe(payload, flags, prob_map, thresh_map, upgrade)
        if upgrade:
            full_layout, full_payload = recorded
            header = _HEADER.pack(MAGIC, CODEC_VERSION, full_layout, flags, height, width)
            full_entry = b"".join([header, entry[_HEADER.size:_HEADER.size + _SKIPS.size], full_payload])
    elif layout == LAYOUT_MASKED:
        raise ValueError("cache entry contains the four maps of a masked profile, not two maps; rebuild it")
    else:
        raise ValueError(f"cache entry has unknown layout {layout}; rebuild it")
    return skipped, full_entry


def _unpack_header(entry, shapes):
    """Return ``(layout, flags, shape, skipped)`` from an entry's header and skip counts.

    Raises ``ValueError`` unless the entry is of this codec version and its
    maps have the shape of each of ``shapes``.
    """
    if len(entry) < _HEADER.size + _SKIPS.size:
        raise ValueError(f"cache entry of {len(entry)} bytes is shorter than its header; rebuild it")
    magic, version, layout, flags, height, width = _HEADER.unpack_from(entry, 0)
    if magic != MAGIC:
        raise ValueError(f"cache entry starts with {bytes(magic)!r}, not {MAGIC!r}; rebuild it")
    if version != CODEC_VERSION:
        raise ValueError(f"cache entry has codec version {version}, expected {CODEC_VERSION}; rebuild it")
    if any((height, width) != tuple(shape) for shape in shapes):
        expected = " and ".join(str(tuple(shape)) for shape in shapes)
        raise ValueError(f"cache entry contains {height} x {width} maps, expected {expected}")
    counts = _SKIPS.unpack_from(entry, _HEADER.size)
    skipped = Counter({reason: count for reason, count in zip(SKIP_REASONS, counts) if count})
    return layout, flags, (height, width), skipped


def _decode_recipe(payload, flags, prob_map, thresh_map, record_edges):
    """Draw the maps of a recipe; return ``(layout, payload)`` of the full entry if ``record_edges``, else None."""
    geometry, scale, offset = unpack_recipe(payload)
    corrected_edges = bool(flags & FLAG_CORRECTED_EDGES)

    # The target kernels draw into zeroed maps.
    prob_map.fill(0)
    thresh_map.fill(0)
    if record_edges:
        _, layout, full_payload = _draw_recording(prob_map, thresh_map, geometry, scale, offset,
                                                  corrected_edges)
        return layout, full_payload
    draw_targets(prob_map, thresh_map, *geometry, scale, offset, corrected_edges)
    return None


def _check_map(array, name):
    if not isinstance(array, np.ndarray) or array.dtype != np.float32 or array.ndim != 2:
        raise ValueError(f"{name} must be a float32 (H, W) numpy array, got {_describe(array)}")
    if not array.flags.c_contiguous or not array.flags.writeable:
        raise ValueError(f"{name} must be C-contiguous and writeable")


def _describe(array):
    if isinstance(array, np.ndarray):
        return f"{array.dtype} array of shape {array.shape}"
    return type(array).__name__


def _decode_winners(payload, flags, prob_map, thresh_map):
    if len(payload) < _WINNERS.size:
        raise ValueError("cache entry is truncated before its array lengths; rebuild it")
    (scale, offset, point_count, polygon_count, prob_run_count, stored_count, run_count,
     exception_count) = _WINNERS.unpack_from(payload, 0)
    id_type = _id_type(point_count)

    reader = PayloadReader(payload, _WINNERS.size)
    starts = reader.take(np.int64, polygon_count + 1)
    distances = reader.take(np.float64, polygon_count)
    points = reader.take(np.int32, 2 * point_count, (point_count, 2))
    prob_runs = reader.take(np.uint32, prob_run_count)
    stored_values = reader.take(np.float32, stored_count)
    run_ids = reader.take(id_type, run_count)
    run_lengths = reader.take(np.uint16, run_count)
    exception_indices = reader.take(np.uint32, exception_count)
    exception_values = reader.take(np.float32, exception_count)
    reader.check_end()

    # The kernels do not check bounds, so every index they follow is checked here.
    check_starts(starts, point_count, "polygon")
    if exception_count and exception_indices.max() >= prob_map.size:
        raise ValueError("cache entry contains an exception outside the map; rebuild it")

    outcome = redraw_maps(
        prob_map, prob_runs, thresh_map, run_ids, run_lengths, points, starts, distances,
        np.float32(scale), np.float32(offset), bool(flags & FLAG_CORRECTED_EDGES), stored_values,
        _stored_marker(id_type),
    )
    if outcome == 1:
        raise ValueError("cache entry's prob map runs do not cover the map; rebuild it")
    if outcome == 2:
        raise ValueError("cache entry's edge runs do not cover the map, name a missing edge or "
                         "misuse its stored values; rebuild it")
    if exception_count:
        thresh_map.ravel()[exception_indices] = exception_values
