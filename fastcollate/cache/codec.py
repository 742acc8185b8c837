"""Lossless encoding of one image's targets for the cache.

A cache entry holds the prob map, the threshold map and the skip counts of
one image. :func:`draw_and_encode` builds the maps on a cache miss and
returns the entry's bytes; :func:`decode_into` writes an entry back into
zeroed map arrays, equal to the bit to a fresh computation.
"""

import struct
from collections import Counter

import numpy as np
import zstandard

from fastcollate.polygons import SKIP_REASONS
from fastcollate.targets import draw_targets_into

# Bump when the layout below changes: entries of another version are misses.
CODEC_VERSION = 1

_HEADER = struct.Struct("<IIQ")  # height, width, thresh map bytes (compressed)
_SKIPS = struct.Struct(f"<{len(SKIP_REASONS)}I")
_COMPRESSION_LEVEL = 1


def draw_and_encode(prepared, prob_map, thresh_map, params, path):
    """Draw one image's maps into zeroed float32 arrays and encode them.

    Returns
    -------
    skipped : collections.Counter
        The polygons skipped by reason, as from ``draw_targets_into``.
    entry : bytes
    """
    skipped = draw_targets_into(prepared, prob_map, thresh_map, params, path)
    return skipped, encode(prob_map, thresh_map, skipped)


def encode(prob_map, thresh_map, skipped):
    """Return the bytes of an entry holding both maps and the skip counts."""
    height, width = prob_map.shape
    compressor = zstandard.ZstdCompressor(level=_COMPRESSION_LEVEL)
    prob_bits = compressor.compress(np.packbits(prob_map.view(np.uint32) != 0).tobytes())
    thresh = compressor.compress(np.ascontiguousarray(thresh_map).tobytes())
    skips = _SKIPS.pack(*(skipped.get(reason, 0) for reason in SKIP_REASONS))
    return _HEADER.pack(height, width, len(thresh)) + skips + thresh + prob_bits


def decode_into(entry, prob_map, thresh_map):
    """Write an entry's maps into float32 (H, W) arrays; return the skip counts.

    Raises ``ValueError`` if the entry does not hold maps of the arrays' shape.
    """
    height, width, thresh_length = _HEADER.unpack_from(entry, 0)
    if (height, width) != prob_map.shape:
        raise ValueError(f"cache entry holds {height} x {width} maps, expected {prob_map.shape}")
    position = _HEADER.size
    counts = _SKIPS.unpack_from(entry, position)
    position += _SKIPS.size

    decompressor = zstandard.ZstdDecompressor()
    thresh = decompressor.decompress(entry[position:position + thresh_length])
    thresh_map[...] = np.frombuffer(thresh, dtype=np.float32).reshape(height, width)
    bits = np.frombuffer(decompressor.decompress(entry[position + thresh_length:]), dtype=np.uint8)
    prob_map[...] = np.unpackbits(bits, count=height * width).reshape(height, width)
    return Counter({reason: count for reason, count in zip(SKIP_REASONS, counts) if count})
