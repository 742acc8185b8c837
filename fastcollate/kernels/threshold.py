"""Threshold-map kernel: the classic point-to-edge distance, pixel for pixel.

For every pixel of a dilated polygon's box, the classic code computes a
law-of-cosines distance to every edge of the original polygon. It divides
each distance by D, clips it to [0, 1] in float64, stores it as float32 and
takes the minimum over edges, letting NaN propagate. The box then takes ``fmax(1 - min, old)``.

This kernel evaluates the same expression in the same order, so every value
it computes has the classic bits. It skips only work that cannot change the
map: an edge farther than D + 1 px from a pixel clips to exactly 1.0, which
never lowers a minimum that starts at 1.0 (the classic distance is never
below the true distance to the segment, and a NaN needs the pixel to lie on
the segment). A pixel whose minimum stays 1.0 gives ``fmax(0, old) == old``.
"""

import math

import numpy as np

from fastcollate._jit import jit

EPS = np.finfo(np.float64).eps

# Extra reach around each edge's D-neighbourhood. It covers float64 rounding
# in the row-interval arithmetic and in the classic distance, whose relative
# error stays below 1e-4 even for 2**21 px edges (cancellation in 1 - cos**2).
REACH_RELATIVE_MARGIN = 1e-3
REACH_MARGIN = 0.25


@jit
def update_row(minimum, row_offset, y, col_first, col_last, ax, ay, bx, by, square_length,
               distance, corrected_edges):
    """Lower ``minimum`` over one row by the classic clipped distance to edge a-b.

    The loop is branch-free so that LLVM vectorises it: both branches of the
    classic ``cosin < 0`` choice are computed and one is selected.
    """
    dy1 = np.float64(y - ay)
    dy2 = np.float64(y - by)
    square_dy1 = dy1 * dy1
    square_dy2 = dy2 * dy2
    # A zero-based view keeps numba's negative-index wraparound out of the
    # loop; that select would otherwise block vectorisation.
    row = minimum[row_offset + col_first:row_offset + col_last + 1]
    for k in range(col_last - col_first + 1):
        x = col_first + k
        dx1 = np.float64(x - ax)
        dx2 = np.float64(x - bx)
        square_distance_1 = dx1 * dx1 + square_dy1
        square_distance_2 = dx2 * dx2 + square_dy2

        numerator = square_length - square_distance_1 - square_distance_2
        cosin = numerator / (2.0 * math.sqrt(square_distance_1 * square_distance_2) + EPS)
        # The classic nan_to_num is a no-op here: with coordinates below
        # 2**20 the cosine is finite, so its square and 1 - square are too.
        square_sin = 1.0 - cosin * cosin
        if corrected_edges:
            square_sin = max(square_sin, 0.0)
        square_perpendicular = square_distance_1 * square_distance_2 * square_sin / square_length
        square_nearest = square_distance_1 if square_distance_1 < square_distance_2 else square_distance_2
        # One square root serves both branches: sqrt is correctly rounded,
        # so selecting its argument gives the same bits as selecting results.
        result = math.sqrt(square_nearest if cosin < 0 else square_perpendicular)

        # np.clip(ratio, 0, 1) keeps NaN; the float32 cast is the classic store.
        ratio = result / distance
        ratio = ratio if (ratio > 0.0 or ratio != ratio) else 0.0
        ratio = ratio if not ratio > 1.0 else 1.0
        value = np.float32(ratio)

        # NaN sticks, as in numpy's min over edges.
        current = row[k]
        row[k] = value if (value < current or value != value) else current


@jit
def square_edge_length(ax, ay, bx, by):
    """Return the classic squared edge length: int32 arithmetic, then + eps."""
    dx = np.int32(ax - bx)
    dy = np.int32(ay - by)
    return np.float64(np.int32(np.int32(dx * dx) + np.int32(dy * dy))) + EPS


@jit
def draw_border(thresh_map, points, start, stop, dilated_points, dilated_start, dilated_stop,
                distance, corrected_edges):
    """Raise ``thresh_map`` around one polygon; return False if its box misses the image."""
    height, width = thresh_map.shape
    xmin = dilated_points[dilated_start, 0]
    xmax = xmin
    ymin = dilated_points[dilated_start, 1]
    ymax = ymin
    for i in range(dilated_start + 1, dilated_stop):
        xmin = min(xmin, dilated_points[i, 0])
        xmax = max(xmax, dilated_points[i, 0])
        ymin = min(ymin, dilated_points[i, 1])
        ymax = max(ymax, dilated_points[i, 1])
    if xmax < 0 or ymax < 0 or xmin > width - 1 or ymin > height - 1:
        return False

    x0 = max(xmin, 0)
    x1 = min(xmax, width - 1)
    y0 = max(ymin, 0)
    y1 = min(ymax, height - 1)
    box_width = x1 - x0 + 1
    minimum = np.full(((y1 - y0 + 1) * box_width), np.float32(1.0))

    reach = distance * (1.0 + REACH_RELATIVE_MARGIN) + REACH_MARGIN
    count = stop - start
    for i in range(count):
        j = (i + 1) % count
        # The classic code shifts the polygon into the box first. Below the
        # 2**20 px coordinate bound the shift cannot overflow int32, so the
        # differences, and hence every distance, equal those of the originals.
        ax = np.int64(points[start + i, 0])
        ay = np.int64(points[start + i, 1])
        bx = np.int64(points[start + j, 0])
        by = np.int64(points[start + j, 1])
        square_length = square_edge_length(ax, ay, bx, by)

        row_first = max(y0, np.int64(math.ceil(min(ay, by) - reach)))
        row_last = min(y1, np.int64(math.floor(max(ay, by) + reach)))
        for y in range(row_first, row_last + 1):
            # The x-extent of the part of the edge within `reach` rows of y
            # bounds every pixel of this row within `reach` of the edge.
            if ay == by:
                edge_xmin = min(ax, bx)
                edge_xmax = max(ax, bx)
            else:
                t_low = (y - reach - ay) / (by - ay)
                t_high = (y + reach - ay) / (by - ay)
                t_first = max(0.0, min(t_low, t_high))
                t_last = min(1.0, max(t_low, t_high))
                if t_first > t_last:
                    continue
                x_first = ax + t_first * (bx - ax)
                x_last = ax + t_last * (bx - ax)
                edge_xmin = min(x_first, x_last)
                edge_xmax = max(x_first, x_last)

            col_first = max(x0, np.int64(math.ceil(edge_xmin - reach)))
            col_last = min(x1, np.int64(math.floor(edge_xmax + reach)))
            update_row(minimum, (y - y0) * box_width - x0, y, col_first, col_last,
                       ax, ay, bx, by, square_length, distance, corrected_edges)

    # fmax(1 - minimum, old): a NaN or 1.0 minimum leaves the old value.
    for y in range(y0, y1 + 1):
        row = minimum[(y - y0) * box_width:(y - y0 + 1) * box_width]
        canvas = thresh_map[y, x0:x1 + 1]
        for k in range(box_width):
            border = np.float32(1.0) - row[k]
            old = canvas[k]
            canvas[k] = border if border > old else old
    return True


@jit
def normalize_thresh_map(thresh_map, scale, offset):
    """Map [0, 1] to [thresh_min, thresh_max] in float32, as numpy does."""
    height, width = thresh_map.shape
    for y in range(height):
        for x in range(width):
            thresh_map[y, x] = thresh_map[y, x] * scale + offset
