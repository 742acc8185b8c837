"""Kernels of the masked profiles: polygon checks before the offsets, drawing after them."""

import numpy as np

from fastcollate._jit import jit
from fastcollate.kernels.fill import fill_polygon, fill_polygons
from fastcollate.kernels.geos import ring_area, ring_length
from fastcollate.kernels.threshold import normalize_thresh_map
from fastcollate.kernels.threshold_float import draw_border_float

# Both sources mask and ignore polygons whose clamped box is narrower or
# lower than this many pixels (their default min_text_size).
MIN_TEXT_SIZE = 8

# Signed-area formulas of the orientation check, one per source project.
TRAPEZOID_AREA = 0  # MhLiao/DB: sum of (x[i+1] - x[i]) * (y[i+1] + y[i]), halved
CROSS_PRODUCT_AREA = 1  # PaddleOCR: sum of x[i] * y[i-1] - y[i] * x[i-1], halved


@jit
def signed_area(points, start, stop, formula):
    """Return the signed area used to tag tiny polygons and to pick the orientation."""
    count = stop - start
    total = 0.0
    if formula == TRAPEZOID_AREA:
        for i in range(count):
            a = start + i
            b = start + (i + 1) % count
            total += (points[b, 0] - points[a, 0]) * (points[b, 1] + points[a, 1])
    else:
        q = stop - 1
        for i in range(start, stop):
            total += points[i, 0] * points[q, 1] - points[i, 1] * points[q, 0]
            q = i
    return total / 2.0


@jit
def measure_polygons(points, starts):
    """Return the GEOS area and perimeter of every polygon."""
    count = len(starts) - 1
    areas = np.empty(count, dtype=np.float64)
    lengths = np.empty(count, dtype=np.float64)
    for k in range(count):
        areas[k] = ring_area(points, starts[k], starts[k + 1])
        lengths[k] = ring_length(points, starts[k], starts[k + 1])
    return areas, lengths


@jit
def orient_polygons(points, starts, ignore, height, width, min_text_size, formula):
    """Clamp every polygon to the image, tag the unusable ones and fix the orientation.

    Returns the clamped vertices, with each polygon of positive signed area
    reversed, the updated ignore tags, and the GEOS area and perimeter of
    the clamped polygons. A polygon is tagged when its signed area is below
    1 in magnitude or its clamped box is narrower or lower than
    ``min_text_size``.
    """
    clamped = np.empty_like(points)
    for i in range(points.shape[0]):
        clamped[i, 0] = min(max(points[i, 0], 0.0), np.float64(width - 1))
        clamped[i, 1] = min(max(points[i, 1], 0.0), np.float64(height - 1))

    tags = ignore.copy()
    for k in range(len(starts) - 1):
        start = starts[k]
        stop = starts[k + 1]
        area = signed_area(clamped, start, stop, formula)
        if abs(area) < 1:
            tags[k] = True
        if area > 0:
            clamped[start:stop] = clamped[start:stop][::-1].copy()

        xmin = clamped[start, 0]
        xmax = xmin
        ymin = clamped[start, 1]
        ymax = ymin
        for i in range(start + 1, stop):
            xmin = min(xmin, clamped[i, 0])
            xmax = max(xmax, clamped[i, 0])
            ymin = min(ymin, clamped[i, 1])
            ymax = max(ymax, clamped[i, 1])
        if min(ymax - ymin, xmax - xmin) < min_text_size:
            tags[k] = True

    areas, lengths = measure_polygons(clamped, starts)
    return clamped, tags, areas, lengths


@jit
def draw_profile_targets(prob_map, thresh_map, prob_mask, thresh_mask, clamped, starts, masked,
                         border_points, distances, shrunk_points, shrunk_starts, dilated_points,
                         dilated_starts, dilated_owners, scale, offset):
    """Draw both maps and both masks of one image and return the count of boxes outside it.

    ``masked`` lists the polygons, by index into ``clamped`` and ``starts``,
    whose vertices truncated to integers are zeroed in ``prob_mask``.
    Dilated piece ``p`` is filled into ``thresh_mask`` and raises the
    threshold map around polygon ``dilated_owners[p]`` of ``border_points``.
    """
    for k in masked:
        xs = clamped[starts[k]:starts[k + 1], 0].astype(np.int64)
        ys = clamped[starts[k]:starts[k + 1], 1].astype(np.int64)
        fill_polygon(prob_mask, xs, ys, np.float32(0.0))

    fill_polygons(prob_map, shrunk_points, shrunk_starts, np.float32(1.0))
    fill_polygons(thresh_mask, dilated_points, dilated_starts, np.float32(1.0))

    outside = 0
    for piece in range(len(dilated_starts) - 1):
        owner = dilated_owners[piece]
        drawn = draw_border_float(
            thresh_map, border_points, starts[owner], starts[owner + 1],
            dilated_points, dilated_starts[piece], dilated_starts[piece + 1], distances[owner],
        )
        if not drawn:
            outside += 1

    normalize_thresh_map(thresh_map, scale, offset)
    return outside
