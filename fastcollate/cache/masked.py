"""Lossless cache entries of the masked profiles: prob map, threshold map and both masks.

The ``mhliao`` and ``paddleocr`` profiles build their maps from float
polygons, and the winners layout of :mod:`fastcollate.cache.codec` redraws
only the baseline's int32 geometry, so these entries store the maps
themselves, in the ``LAYOUT_MASKED`` layout:

- the common header and skip counts of :mod:`fastcollate.cache.codec`;
- for each of the four maps, in the order prob map, threshold map, prob
  mask, threshold mask: a storage kind, the compressed length, then the
  compressed bytes.

A map whose every value is +0.0 or 1.0 (the prob map and both masks, on
every page the tests and benchmarks check) is bit-packed before zstd. Any
other map is stored as the byte planes of the row-major deltas of its
float32 bit patterns (:mod:`fastcollate.kernels.shuffle`), compressed with zstd. On the
150-word bench page at 640 x 640, the threshold map then takes 391 kB,
against 945 kB with zstd on the raw bytes (docs/performance-cache.md).
"""

import struct

import numpy as np
import zstandard

from fastcollate.cache.codec import (
    _HEADER, _SKIPS, CODEC_VERSION, LAYOUT_MASKED, MAGIC, _check_map, _pack_skips, _unpack_header,
)
from fastcollate.kernels.shuffle import join_delta_planes, split_delta_planes

KIND_BITS = 0
KIND_DELTA_PLANES = 1
MAP_NAMES = ("prob_map", "thresh_map", "prob_mask", "thresh_mask")

# Storage kind and compressed length of one map.
_MAP = struct.Struct("<BQ")
_COMPRESSION_LEVEL = 1
_ONE_BITS = np.float32(1.0).view(np.uint32)


def encode_masked(maps, skipped):
    """Return the entry of a masked profile's four float32 (H, W) maps and skip counts.

    ``maps`` is ``(prob_map, thresh_map, prob_mask, thresh_mask)``.
    """
    height, width = maps[0].shape
    # The frame checksum makes a damaged entry fail to decode instead of giving wrong maps.
    compressor = zstandard.ZstdCompressor(level=_COMPRESSION_LEVEL, write_checksum=True)
    parts = [_HEADER.pack(MAGIC, CODEC_VERSION, LAYOUT_MASKED, 0, height, width), _pack_skips(skipped)]
    for values in maps:
        kind, data = _encode_map(np.ascontiguousarray(values, dtype=np.float32), compressor)
        parts.append(_MAP.pack(kind, len(data)))
        parts.append(data)
    return b"".join(parts)


def _encode_map(values, compressor):
    bits = values.view(np.uint32)
    is_zero = bits == 0
    # Compared as bits, so -0.0 and NaN never pass for 0.0 or 1.0.
    if (is_zero | (bits == _ONE_BITS)).all():
        return KIND_BITS, compressor.compress(np.packbits(~is_zero).tobytes())
    planes = np.empty(4 * values.size, dtype=np.uint8)
    split_delta_planes(bits.ravel(), planes)
    return KIND_DELTA_PLANES, compressor.compress(planes)


def decode_masked_into(entry, maps):
    """Write a masked entry's four maps into float32 (H, W) arrays; return the skip counts.

    Raises
    ------
    ValueError
        If the entry is not a masked entry of this codec version, contains
        maps of another shape or is damaged, or if an array is not
        C-contiguous float32. The arrays may be partly written then.
    """
    for name, values in zip(MAP_NAMES, maps, strict=True):
        _check_map(values, name)
    entry = memoryview(entry).cast("B")
    layout, _, shape, skipped = _unpack_header(entry, [values.shape for values in maps])
    if layout != LAYOUT_MASKED:
        raise ValueError(f"cache entry has layout {layout}, not the masked profiles' {LAYOUT_MASKED}; rebuild it")

    decompressor = zstandard.ZstdDecompressor()
    position = _HEADER.size + _SKIPS.size
    for name, values in zip(MAP_NAMES, maps):
        if position + _MAP.size > len(entry):
            raise ValueError(f"cache entry is truncated before its {name}; rebuild it")
        kind, length = _MAP.unpack_from(entry, position)
        position += _MAP.size
        if position + length > len(entry):
            raise ValueError(f"cache entry is truncated inside its {name}; rebuild it")
        _decode_map(entry[position:position + length], kind, shape, values, name, decompressor)
        position += length
    if position != len(entry):
        raise ValueError(f"cache entry has {len(entry) - position} unexpected trailing bytes; rebuild it")
    return skipped


def _decode_map(data, kind, shape, values, name, decompressor):
    pixel_count = shape[0] * shape[1]
    if kind == KIND_BITS:
        expected = (pixel_count + 7) // 8
    elif kind == KIND_DELTA_PLANES:
        expected = 4 * pixel_count
    else:
        raise ValueError(f"cache entry stores its {name} as unknown kind {kind}; rebuild it")

    # The size is checked before decompressing, so a damaged frame header
    # cannot make zstd allocate an arbitrary amount of memory.
    try:
        size = zstandard.frame_content_size(data)
        if size != expected:
            raise ValueError(f"cache entry's {name} has {size} bytes, expected {expected}; rebuild it")
        raw = decompressor.decompress(data)
    except zstandard.ZstdError as error:
        raise ValueError(f"cache entry contains an invalid compressed {name} ({error}); rebuild it") from None
    if len(raw) != expected:
        raise ValueError(f"cache entry's {name} has {len(raw)} bytes, expected {expected}; rebuild it")

    if kind == KIND_BITS:
        values[...] = np.unpackbits(np.frombuffer(raw, dtype=np.uint8), count=pixel_count).reshape(shape)
    else:
        join_delta_planes(np.frombuffer(raw, dtype=np.uint8), values.view(np.uint32).ravel())
