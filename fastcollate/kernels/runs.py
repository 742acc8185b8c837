"""Row-major run-length codes of whole maps, for cache entries.

:func:`encode_runs` codes a map of edge ids as runs of equal ids.
:func:`encode_binary_runs` codes a prob map, whose pixels are 0.0 or 1.0, as
the lengths of alternating runs, and :func:`fill_binary_runs` writes them
back, which costs about as much as a memset, where refilling the shrunk
polygons costs several times more.
"""

import numpy as np

from fastcollate._jit import jit

# Bit pattern of float32 1.0, the only value the fill kernel writes.
ONE_BITS = np.uint32(0x3F800000)


@jit
def encode_runs(winners, starts_scratch, max_length):
    """Return the row-major runs of equal ids in ``winners`` as ``(run_ids, run_lengths)``.

    A run longer than ``max_length`` is split. ``starts_scratch`` is an
    integer array of ``winners.size`` entries, overwritten.
    """
    flat = winners.ravel()
    size = flat.shape[0]
    if size == 0:
        return np.empty(0, dtype=winners.dtype), np.empty(0, dtype=np.uint16)

    # Branch-free: every index is written, and the count only advances
    # where the id changes, which measured faster than a branch per pixel.
    starts_scratch[0] = 0
    changes = 1
    for i in range(1, size):
        starts_scratch[changes] = i
        changes += flat[i] != flat[i - 1]

    run_count = 0
    for change in range(changes):
        end = starts_scratch[change + 1] if change + 1 < changes else size
        run_count += (end - starts_scratch[change] + max_length - 1) // max_length

    run_ids = np.empty(run_count, dtype=winners.dtype)
    run_lengths = np.empty(run_count, dtype=np.uint16)
    run = 0
    for change in range(changes):
        start = starts_scratch[change]
        end = starts_scratch[change + 1] if change + 1 < changes else size
        while start < end:
            length = min(end - start, max_length)
            run_ids[run] = flat[start]
            run_lengths[run] = length
            run += 1
            start += length
    return run_ids, run_lengths


@jit
def encode_binary_runs(prob_bits):
    """Return the lengths of the alternating runs of 0 and 1.0 in a prob map's bits.

    ``prob_bits`` is the (H, W) uint32 view of a float32 prob map. The
    first run is of 0 and may be empty. Returns None if a pixel has any
    other bit pattern, such as -0.0.
    """
    flat = prob_bits.ravel()
    size = flat.shape[0]
    if size == 0:
        return np.zeros(1, dtype=np.uint32)

    # A branch-free counting pass, which LLVM vectorises.
    invalid = np.int64((flat[0] != 0) & (flat[0] != ONE_BITS))
    changes = np.int64(flat[0] != 0)
    for i in range(1, size):
        invalid += (flat[i] != 0) & (flat[i] != ONE_BITS)
        changes += flat[i] != flat[i - 1]
    if invalid:
        return None

    lengths = np.empty(changes + 1, dtype=np.uint32)
    run = 0
    start = 0
    previous = np.uint32(0)
    for i in range(size):
        if flat[i] != previous:
            lengths[run] = i - start
            run += 1
            start = i
            previous = flat[i]
    lengths[run] = size - start
    return lengths


@jit
def fill_binary_runs(prob_map, lengths):
    """Write the runs of :func:`encode_binary_runs` into ``prob_map``; return False if they do not cover it."""
    size = prob_map.size
    flat = prob_map.reshape(size)
    position = 0
    value = np.float32(0.0)
    for run in range(lengths.shape[0]):
        length = np.int64(lengths[run])
        if length > size - position:
            return False
        flat[position:position + length] = value
        position += length
        value = np.float32(1.0) - value
    return position == size
