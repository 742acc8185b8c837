"""The fast path: pyclipper for the offsets, one compiled call for the pixels."""

import itertools

import numpy as np
import pyclipper

from fastcollate.kernels.measure import shrink_distances
from fastcollate.kernels.targets import draw_targets
from fastcollate.polygons import EMPTY_OFFSET, OUTSIDE_IMAGE, ZERO_AREA


def offset_polygons(prepared, distances):
    """Shrink and dilate every polygon by its distance with pyclipper.

    Makes the same pyclipper calls as the reference path, in the same order,
    and packs the results into flat int64 arrays for the kernel.

    Returns
    -------
    shrunk_points, shrunk_starts, dilated_points, dilated_starts, dilated_owners : ndarray
    skipped : collections.Counter
    """
    shrunk_flat = []
    shrunk_starts = [0]
    dilated_flat = []
    dilated_starts = [0]
    dilated_owners = []
    zero_area = 0
    empty_offset = 0

    vertices = prepared.points.tolist()
    starts = prepared.starts.tolist()
    offset = pyclipper.PyclipperOffset()
    for k, distance in enumerate(distances.tolist()):
        if not distance > 0:
            zero_area += 1
            continue

        offset.Clear()
        offset.AddPath(vertices[starts[k]:starts[k + 1]], pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
        for path in offset.Execute(-distance):
            shrunk_flat.extend(path)
            shrunk_starts.append(len(shrunk_flat))

        dilated = offset.Execute(distance)
        if not dilated:
            empty_offset += 1
        for path in dilated:
            dilated_flat.extend(path)
            dilated_starts.append(len(dilated_flat))
            dilated_owners.append(k)

    skipped = {ZERO_AREA: zero_area, EMPTY_OFFSET: empty_offset}
    return (
        as_point_array(shrunk_flat),
        np.array(shrunk_starts, dtype=np.int64),
        as_point_array(dilated_flat),
        np.array(dilated_starts, dtype=np.int64),
        np.array(dilated_owners, dtype=np.int64),
        skipped,
    )


def as_point_array(points):
    """Return a list of [x, y] int pairs as an int64 (M, 2) array."""
    # fromiter over a flat chain is about twice as fast as np.array on the
    # nested lists that pyclipper returns.
    flat = np.fromiter(itertools.chain.from_iterable(points), dtype=np.int64, count=2 * len(points))
    return flat.reshape(-1, 2)


def make_targets_fast(prepared, prob_map, thresh_map, shrink_ratio, thresh_min, thresh_max,
                      corrected_edges=False):
    """Draw the prob map and threshold map of one image into zeroed float32 arrays.

    ``prob_map`` and ``thresh_map`` must be C-contiguous float32 (H, W)
    arrays filled with zeros; they may be views of the batch tensors.
    Returns the polygons skipped by reason, including those from ``prepared``.
    """
    distances = shrink_distances(prepared.points, prepared.starts, 1 - shrink_ratio**2)
    (shrunk_points, shrunk_starts, dilated_points, dilated_starts,
     dilated_owners, offset_skips) = offset_polygons(prepared, distances)

    outside = draw_targets(
        prob_map, thresh_map, prepared.points, prepared.starts, distances,
        shrunk_points, shrunk_starts, dilated_points, dilated_starts, dilated_owners,
        np.float32(thresh_max - thresh_min), np.float32(thresh_min), corrected_edges,
    )

    return merge_skips(prepared.skipped, offset_skips, outside)


def merge_skips(prepared_skips, offset_skips, outside):
    """Return all skip counts of one image: validation, offset and the dilated boxes outside it."""
    skipped = prepared_skips.copy()
    for reason, count in offset_skips.items():
        if count:
            skipped[reason] += count
    if outside:
        skipped[OUTSIDE_IMAGE] += outside
    return skipped
