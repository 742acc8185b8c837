"""Lossless encoding of one image's targets for the cache.

A cache entry contains the prob map, the threshold map and the skip counts of
one image. :func:`draw_and_encode` builds the maps on a cache miss and
returns the entry's bytes; :func:`decode_into` writes an entry back into the
map arrays, equal to the bit to a fresh computation.

Float values with random low bits compress poorly, so the fast path stores
what the kernels need to redraw the maps instead of the maps:

- the polygons, their offset distances D and the shrunk polygons, which the
  fill kernel refills into the prob map;
- the winning edge of every threshold-map pixel, as row-major runs, from
  which :func:`fastcollate.kernels.winners.redraw_thresh_map` computes one
  distance per pixel (see that module for why one edge per pixel suffices);
- a list of pixels whose value is stored as is. Only ``verify=True`` fills
  it, with the pixels that the redraw gets wrong.

The reference path, and any map that fails verification in the prob map,
uses a generic layout: the bit-packed prob map and the raw threshold map,
compressed with zstd.

Every entry starts with a magic, the codec version, the layout and the map
shape, so :func:`decode_into` rejects an entry of another version or shape
with ``ValueError``.
"""

import logging
import struct
import threading
from collections import Counter

import numpy as np
import zstandard

from fastcollate.fast import offset_polygons
from fastcollate.kernels.fill import fill_polygons
from fastcollate.kernels.measure import shrink_distances
from fastcollate.kernels.winners import draw_targets_recording, encode_runs, redraw_thresh_map
from fastcollate.polygons import OUTSIDE_IMAGE, SKIP_REASONS
from fastcollate.targets import FAST, draw_targets_into

logger = logging.getLogger(__name__)

# Bump when the layout below changes: entries of another version are misses.
CODEC_VERSION = 2

MAGIC = b"FCTE"
LAYOUT_GENERIC = 0
LAYOUT_WINNERS = 1
FLAG_CORRECTED_EDGES = 1

# magic, version, layout, flags, height, width
_HEADER = struct.Struct("<4sHBBII")
_SKIPS = struct.Struct(f"<{len(SKIP_REASONS)}I")
# Generic layout: length of the compressed prob map, then both maps.
_GENERIC = struct.Struct("<Q")
# Winners layout: scale, offset, then the lengths of the arrays that follow.
_WINNERS = struct.Struct("<ffIIIIII")
_GENERIC_COMPRESSION_LEVEL = 1

# Runs are stored with uint16 lengths, so longer runs are split.
MAX_RUN_LENGTH = np.iinfo(np.uint16).max
_MAX_EDGE_ID = np.iinfo(np.uint32).max
# The run scan stores pixel indices as int32.
_MAX_PIXELS = 2**31
# Vertex coordinates must fit in int32 for the fill kernel, as for cv2.
_INT32_LIMIT = 2**31

_scratch = threading.local()


def draw_and_encode(prepared, prob_map, thresh_map, params, path, verify=False):
    """Draw one image's maps into zeroed float32 arrays and encode them.

    Parameters
    ----------
    prepared : fastcollate.polygons.PreparedPolygons
    prob_map, thresh_map : ndarray of float32, shape (H, W)
        Zeroed, C-contiguous; they may be views of the batch tensors.
    params : fastcollate.targets.TargetParams
    path : str
        ``"fast"`` or ``"reference"``.
    verify : bool
        Decode the entry and store the value of every threshold-map pixel
        that the redraw gets wrong. Costs about one decode per call.

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

    skipped, entry = _draw_and_encode_fast(prepared, prob_map, thresh_map, params)
    if verify:
        entry = _verified(entry, prob_map, thresh_map, skipped)
    return skipped, entry


def _draw_and_encode_fast(prepared, prob_map, thresh_map, params):
    """Draw the maps as ``make_targets_fast`` does and encode them in the winners layout."""
    distances = shrink_distances(prepared.points, prepared.starts, 1 - params.shrink_ratio**2)
    (shrunk_points, shrunk_starts, dilated_points, dilated_starts,
     dilated_owners, offset_skips) = offset_polygons(prepared, distances)

    winners, starts_scratch = _scratch_arrays(prob_map.shape, len(prepared.points))
    winners.fill(0)
    scale = np.float32(params.thresh_max - params.thresh_min)
    offset = np.float32(params.thresh_min)
    outside = draw_targets_recording(
        prob_map, thresh_map, winners, prepared.points, prepared.starts, distances,
        shrunk_points, shrunk_starts, dilated_points, dilated_starts, dilated_owners,
        scale, offset, params.corrected_edges,
    )
    run_ids, run_lengths = encode_runs(winners, starts_scratch, MAX_RUN_LENGTH)

    skipped = prepared.skipped.copy()
    for reason, count in offset_skips.items():
        if count:
            skipped[reason] += count
    if outside:
        skipped[OUTSIDE_IMAGE] += outside

    height, width = prob_map.shape
    flags = FLAG_CORRECTED_EDGES if params.corrected_edges else 0
    polygon_count = len(prepared.starts) - 1
    parts = [
        _HEADER.pack(MAGIC, CODEC_VERSION, LAYOUT_WINNERS, flags, height, width),
        _pack_skips(skipped),
        _WINNERS.pack(scale, offset, len(prepared.points), polygon_count, len(shrunk_points),
                      len(shrunk_starts) - 1, len(run_ids), 0),
        # Arrays go widest item first, so every array starts aligned to its item size.
        prepared.starts.astype(np.int64, copy=False).tobytes(),
        distances.astype(np.float64, copy=False).tobytes(),
        shrunk_points.astype(np.int64, copy=False).tobytes(),
        shrunk_starts.astype(np.int64, copy=False).tobytes(),
        prepared.points.astype(np.int32, copy=False).tobytes(),
        run_ids.tobytes(),
        run_lengths.tobytes(),
    ]
    return skipped, b"".join(parts)


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


def _id_type(point_count):
    # Id 0 marks untouched pixels, so the largest id is point_count.
    return np.uint16 if point_count < np.iinfo(np.uint16).max else np.uint32


def _pack_skips(skipped):
    return _SKIPS.pack(*(skipped.get(reason, 0) for reason in SKIP_REASONS))


def _verified(entry, prob_map, thresh_map, skipped):
    """Return ``entry`` with an exception for each threshold-map pixel that its redraw gets wrong.

    Falls back to the generic layout if the prob map differs, which would
    mean the stored polygons are wrong.
    """
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
    compressor = zstandard.ZstdCompressor(level=_GENERIC_COMPRESSION_LEVEL)
    prob_bits = compressor.compress(np.packbits(prob_map.view(np.uint32) != 0).tobytes())
    thresh = compressor.compress(np.ascontiguousarray(thresh_map, dtype=np.float32).tobytes())
    return b"".join([
        _HEADER.pack(MAGIC, CODEC_VERSION, LAYOUT_GENERIC, 0, height, width),
        _pack_skips(skipped),
        _GENERIC.pack(len(prob_bits)),
        prob_bits,
        thresh,
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
    _check_map(prob_map, "prob_map")
    _check_map(thresh_map, "thresh_map")
    entry = memoryview(entry).cast("B")
    if len(entry) < _HEADER.size + _SKIPS.size:
        raise ValueError(f"cache entry of {len(entry)} bytes is shorter than its header; rebuild it")
    magic, version, layout, flags, height, width = _HEADER.unpack_from(entry, 0)
    if magic != MAGIC:
        raise ValueError(f"cache entry starts with {bytes(magic)!r}, not {MAGIC!r}; rebuild it")
    if version != CODEC_VERSION:
        raise ValueError(f"cache entry has codec version {version}, expected {CODEC_VERSION}; rebuild it")
    if (height, width) != prob_map.shape or (height, width) != thresh_map.shape:
        raise ValueError(
            f"cache entry contains {height} x {width} maps, expected {prob_map.shape} and {thresh_map.shape}"
        )
    counts = _SKIPS.unpack_from(entry, _HEADER.size)
    payload = entry[_HEADER.size + _SKIPS.size:]

    if layout == LAYOUT_WINNERS:
        _decode_winners(payload, flags, prob_map, thresh_map)
    elif layout == LAYOUT_GENERIC:
        _decode_generic(payload, prob_map, thresh_map)
    else:
        raise ValueError(f"cache entry has unknown layout {layout}; rebuild it")
    return Counter({reason: count for reason, count in zip(SKIP_REASONS, counts) if count})


def _check_map(array, name):
    if not isinstance(array, np.ndarray) or array.dtype != np.float32 or array.ndim != 2:
        raise ValueError(f"{name} must be a float32 (H, W) numpy array, got {_describe(array)}")
    if not array.flags.c_contiguous or not array.flags.writeable:
        raise ValueError(f"{name} must be C-contiguous and writeable")


def _describe(array):
    if isinstance(array, np.ndarray):
        return f"{array.dtype} array of shape {array.shape}"
    return type(array).__name__


def _decode_generic(payload, prob_map, thresh_map):
    height, width = prob_map.shape
    if len(payload) < _GENERIC.size:
        raise ValueError("cache entry is truncated before its prob map; rebuild it")
    (prob_length,) = _GENERIC.unpack_from(payload, 0)
    prob_end = _GENERIC.size + prob_length
    decompressor = zstandard.ZstdDecompressor()
    try:
        bits = decompressor.decompress(payload[_GENERIC.size:prob_end])
        thresh = decompressor.decompress(payload[prob_end:])
    except zstandard.ZstdError as error:
        raise ValueError(f"cache entry contains invalid compressed maps ({error}); rebuild it") from None
    if len(bits) != (height * width + 7) // 8 or len(thresh) != height * width * 4:
        raise ValueError("cache entry contains maps of the wrong size; rebuild it")

    thresh_map[...] = np.frombuffer(thresh, dtype=np.float32).reshape(height, width)
    prob_map[...] = np.unpackbits(np.frombuffer(bits, dtype=np.uint8), count=height * width).reshape(height, width)


class _Reader:
    """Cut consecutive arrays out of an entry's payload, checking its length."""

    def __init__(self, payload, position):
        self.payload = payload
        self.position = position

    def take(self, dtype, count, shape=None):
        dtype = np.dtype(dtype)
        end = self.position + dtype.itemsize * count
        if end > len(self.payload):
            raise ValueError("cache entry is truncated; rebuild it")
        array = np.frombuffer(self.payload, dtype=dtype, count=count, offset=self.position)
        self.position = end
        # Kernels need aligned arrays; a copy fixes an entry held at an odd address.
        if not array.flags.aligned:
            array = array.copy()
        return array.reshape(shape) if shape is not None else array


def _decode_winners(payload, flags, prob_map, thresh_map):
    if len(payload) < _WINNERS.size:
        raise ValueError("cache entry is truncated before its array lengths; rebuild it")
    (scale, offset, point_count, polygon_count, shrunk_point_count, shrunk_count,
     run_count, exception_count) = _WINNERS.unpack_from(payload, 0)
    id_type = _id_type(point_count)

    reader = _Reader(payload, _WINNERS.size)
    starts = reader.take(np.int64, polygon_count + 1)
    distances = reader.take(np.float64, polygon_count)
    shrunk_points = reader.take(np.int64, 2 * shrunk_point_count, (shrunk_point_count, 2))
    shrunk_starts = reader.take(np.int64, shrunk_count + 1)
    points = reader.take(np.int32, 2 * point_count, (point_count, 2))
    run_ids = reader.take(id_type, run_count)
    run_lengths = reader.take(np.uint16, run_count)
    exception_indices = reader.take(np.uint32, exception_count)
    exception_values = reader.take(np.float32, exception_count)
    if reader.position != len(payload):
        raise ValueError(f"cache entry has {len(payload) - reader.position} unexpected trailing bytes; rebuild it")

    # The kernels do not check bounds, so every index they follow is checked here.
    _check_starts(starts, point_count, "polygon")
    _check_starts(shrunk_starts, shrunk_point_count, "shrunk polygon")
    if shrunk_point_count and np.abs(shrunk_points).max() >= _INT32_LIMIT:
        raise ValueError("cache entry contains a shrunk polygon vertex beyond the int32 range; rebuild it")
    if exception_count and exception_indices.max() >= prob_map.size:
        raise ValueError("cache entry contains an exception outside the map; rebuild it")

    prob_map.fill(0)
    fill_polygons(prob_map, shrunk_points, shrunk_starts, np.float32(1.0))
    complete = redraw_thresh_map(
        thresh_map, run_ids, run_lengths, points, starts, distances,
        np.float32(scale), np.float32(offset), bool(flags & FLAG_CORRECTED_EDGES),
    )
    if not complete:
        raise ValueError("cache entry's edge runs do not cover the map or name a missing edge; rebuild it")
    if exception_count:
        thresh_map.ravel()[exception_indices] = exception_values


def _check_starts(starts, point_count, name):
    if starts[0] != 0 or starts[-1] != point_count or (len(starts) > 1 and (np.diff(starts) < 0).any()):
        raise ValueError(f"cache entry contains invalid {name} offsets; rebuild it")
