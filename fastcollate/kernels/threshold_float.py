"""Threshold-map kernel for float vertices, as in the original DB and PaddleOCR code.

The original code (MhLiao/DB ``make_border_map.py``, PaddleOCR
``make_border_map.py``) differs from the baseline's distance in three ways
that change bits:

* Vertices are float64, shifted into the dilated box by subtracting its
  integer corner. Pixels are the box-relative integers from
  ``np.linspace``. The shift rounds, so this kernel repeats it.
* Neither the squared edge length nor the cosine's denominator gets + eps,
  so a pixel on a vertex gives 0 / 0 = NaN in the cosine, and a
  zero-length edge divides by zero.
* ``np.nan_to_num`` maps a NaN squared sine to 0 and an infinite one to
  the largest finite float64.

A NaN distance leaves the old threshold value, as ``np.fmax`` does. The
same edge skipping as :mod:`fastcollate.kernels.threshold` applies: the
classic distance is never below the true distance to the segment, and NaN
needs a pixel on the segment.
"""

import math

import numpy as np

from fastcollate._jit import jit
from fastcollate.kernels.threshold import REACH_MARGIN, REACH_RELATIVE_MARGIN

MAX_FLOAT64 = np.finfo(np.float64).max


@jit
def nan_to_num(value):
    """Return ``value`` as ``np.nan_to_num`` maps a float64 scalar."""
    value = 0.0 if value != value else value
    value = MAX_FLOAT64 if value == np.inf else value
    return -MAX_FLOAT64 if value == -np.inf else value


@jit
def update_row_float(minimum, row_offset, py, col_first, col_last, box_x, ax, ay, bx, by,
                     square_length, distance):
    """Lower ``minimum`` over one row by the clipped distance to the shifted edge a-b.

    ``py`` is the box-relative row, ``col_first`` and ``col_last`` absolute
    columns, ``box_x`` the box's left column.
    """
    dy1 = py - ay
    dy2 = py - by
    square_dy1 = dy1 * dy1
    square_dy2 = dy2 * dy2
    row = minimum[row_offset + col_first:row_offset + col_last + 1]
    for k in range(col_last - col_first + 1):
        px = np.float64(col_first + k - box_x)
        dx1 = px - ax
        dx2 = px - bx
        square_distance_1 = dx1 * dx1 + square_dy1
        square_distance_2 = dx2 * dx2 + square_dy2

        cosin = (square_length - square_distance_1 - square_distance_2) / (
            2.0 * math.sqrt(square_distance_1 * square_distance_2))
        square_sin = nan_to_num(1.0 - cosin * cosin)
        product = square_distance_1 * square_distance_2 * square_sin / square_length
        nearest = square_distance_1 if square_distance_1 < square_distance_2 else square_distance_2
        # Selecting the argument of one correctly rounded sqrt gives the
        # bits of selecting results, and keeps the loop branch-free. A
        # negative product gives NaN, as np.sqrt does.
        result = math.sqrt(nearest if cosin < 0 else product)

        ratio = result / distance
        ratio = ratio if (ratio > 0.0 or ratio != ratio) else 0.0
        ratio = ratio if not ratio > 1.0 else 1.0
        value = np.float32(ratio)

        current = row[k]
        row[k] = value if (value < current or value != value) else current


@jit
def draw_border_float(thresh_map, points, start, stop, dilated_points, dilated_start, dilated_stop,
                      distance):
    """Raise ``thresh_map`` around one float polygon, or return False if its box misses the image.

    ``points`` is float64 (M, 2), ``dilated_points`` int64 (P, 2) from pyclipper.
    """
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
        ax = points[start + i, 0] - np.float64(xmin)
        ay = points[start + i, 1] - np.float64(ymin)
        bx = points[start + j, 0] - np.float64(xmin)
        by = points[start + j, 1] - np.float64(ymin)
        square_length = (ax - bx) * (ax - bx) + (ay - by) * (ay - by)

        # The row and column bounds use the unshifted vertices, and the
        # margin in `reach` covers the difference in rounding.
        abs_ax = points[start + i, 0]
        abs_ay = points[start + i, 1]
        abs_bx = points[start + j, 0]
        abs_by = points[start + j, 1]
        row_first = max(y0, np.int64(math.ceil(min(abs_ay, abs_by) - reach)))
        row_last = min(y1, np.int64(math.floor(max(abs_ay, abs_by) + reach)))
        for y in range(row_first, row_last + 1):
            if abs_ay == abs_by:
                edge_xmin = min(abs_ax, abs_bx)
                edge_xmax = max(abs_ax, abs_bx)
            else:
                t_low = (y - reach - abs_ay) / (abs_by - abs_ay)
                t_high = (y + reach - abs_ay) / (abs_by - abs_ay)
                t_first = max(0.0, min(t_low, t_high))
                t_last = min(1.0, max(t_low, t_high))
                if t_first > t_last:
                    continue
                x_first = abs_ax + t_first * (abs_bx - abs_ax)
                x_last = abs_ax + t_last * (abs_bx - abs_ax)
                edge_xmin = min(x_first, x_last)
                edge_xmax = max(x_first, x_last)

            col_first = max(x0, np.int64(math.ceil(edge_xmin - reach)))
            col_last = min(x1, np.int64(math.floor(edge_xmax + reach)))
            update_row_float(minimum, (y - y0) * box_width - x0, np.float64(y - ymin),
                             col_first, col_last, xmin, ax, ay, bx, by, square_length, distance)

    # fmax(1 - minimum, old): a NaN or 1.0 minimum leaves the old value.
    for y in range(y0, y1 + 1):
        row = minimum[(y - y0) * box_width:(y - y0 + 1) * box_width]
        canvas = thresh_map[y, x0:x1 + 1]
        for k in range(box_width):
            border = np.float32(1.0) - row[k]
            old = canvas[k]
            canvas[k] = border if border > old else old
    return True
