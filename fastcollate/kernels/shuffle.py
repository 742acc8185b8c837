"""Byte planes of 32-bit deltas, which zstd compresses well for smooth float maps.

Neighbouring threshold-map pixels have close float32 values, so the
difference of their bit patterns (modulo 2**32) is small and its high bytes
are mostly 0. Writing byte 0 of every delta, then byte 1, and so on puts
those zeros in long runs. The transform is exact for any bit pattern,
including NaN and -0.0.
"""

import numpy as np

from fastcollate._jit import jit


@jit
def split_delta_planes(values, planes):
    """Write the byte planes of the deltas of ``values`` (uint32, n) into ``planes`` (uint8, 4 n)."""
    count = values.size
    previous = np.uint32(0)
    for index in range(count):
        delta = values[index] - previous
        previous = values[index]
        planes[index] = delta & 0xFF
        planes[count + index] = (delta >> 8) & 0xFF
        planes[2 * count + index] = (delta >> 16) & 0xFF
        planes[3 * count + index] = delta >> 24


@jit
def join_delta_planes(planes, values):
    """Invert :func:`split_delta_planes`: rebuild ``values`` (uint32, n) from ``planes`` (uint8, 4 n)."""
    count = values.size
    previous = np.uint32(0)
    for index in range(count):
        delta = (np.uint32(planes[index]) | (np.uint32(planes[count + index]) << 8)
                 | (np.uint32(planes[2 * count + index]) << 16) | (np.uint32(planes[3 * count + index]) << 24))
        previous = previous + delta
        values[index] = previous
