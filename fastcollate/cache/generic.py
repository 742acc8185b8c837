"""The generic payload of a cache entry: the maps themselves, compressed.

The prob map is bit-packed and the threshold map stored as raw float32, both
compressed with zstd. Any pair of maps round-trips exactly, so the reference
path and maps that the winners layout cannot describe use it (see
:mod:`fastcollate.cache.codec`).
"""

import struct

import numpy as np
import zstandard

# Length of the compressed prob map, then both maps.
_GENERIC = struct.Struct("<Q")
_COMPRESSION_LEVEL = 1


def generic_payload(prob_map, thresh_map):
    """Return the payload that stores both float32 (H, W) maps."""
    compressor = zstandard.ZstdCompressor(level=_COMPRESSION_LEVEL)
    prob_bits = compressor.compress(np.packbits(prob_map.view(np.uint32) != 0).tobytes())
    thresh = compressor.compress(np.ascontiguousarray(thresh_map, dtype=np.float32).tobytes())
    return b"".join([_GENERIC.pack(len(prob_bits)), prob_bits, thresh])


def decode_generic(payload, prob_map, thresh_map):
    """Write the maps of a generic payload into float32 (H, W) arrays; raise ``ValueError`` if it is damaged."""
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
