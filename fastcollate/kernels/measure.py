"""Polygon perimeter, area and shrink distance, computed as OpenCV does.

The offset distance D = area * (1 - shrink_ratio**2) / perimeter decides
every later pixel, so it must match ``cv2.arcLength`` and
``cv2.contourArea`` to the bit. OpenCV (checked against 4.x source and the
5.1 wheel) converts int32 vertices to float32, sums float32 edge lengths in
float64 for the perimeter, and sums float64 cross products for the area.
"""

import math

import numpy as np

from fastcollate._jit import jit

EPS = np.finfo(np.float64).eps


@jit
def arc_length(points, start, stop):
    """Return the closed perimeter of ``points[start:stop]`` as cv2.arcLength."""
    count = stop - start
    if count <= 1:
        return 0.0

    perimeter = 0.0
    prev_x = np.float32(points[stop - 1, 0])
    prev_y = np.float32(points[stop - 1, 1])
    for i in range(start, stop):
        x = np.float32(points[i, 0])
        y = np.float32(points[i, 1])
        dx = np.float32(x - prev_x)
        dy = np.float32(y - prev_y)
        perimeter += np.float32(math.sqrt(np.float32(np.float32(dx * dx) + np.float32(dy * dy))))
        prev_x = x
        prev_y = y
    return perimeter


@jit
def contour_area(points, start, stop):
    """Return the unsigned area of ``points[start:stop]`` as cv2.contourArea."""
    if stop - start == 0:
        return 0.0

    area = 0.0
    prev_x = np.float64(np.float32(points[stop - 1, 0]))
    prev_y = np.float64(np.float32(points[stop - 1, 1]))
    for i in range(start, stop):
        x = np.float64(np.float32(points[i, 0]))
        y = np.float64(np.float32(points[i, 1]))
        area += prev_x * y - prev_y * x
        prev_x = x
        prev_y = y
    return abs(area * 0.5)


@jit
def shrink_distances(points, starts, shrink_factor):
    """Return the offset distance D of every polygon.

    ``shrink_factor`` is ``1 - shrink_ratio**2``, computed by the caller in
    Python so that its rounding matches the classic code.
    """
    count = len(starts) - 1
    distances = np.empty(count, dtype=np.float64)
    for k in range(count):
        perimeter = arc_length(points, starts[k], starts[k + 1]) + EPS
        distances[k] = contour_area(points, starts[k], starts[k + 1]) * shrink_factor / perimeter
    return distances


@jit
def piece_boxes(points, starts):
    """Return each piece's bounding box as a two-vertex piece, and the starts of those pieces.

    The threshold kernels read a dilated polygon only for its bounding box,
    so the box vertices ``(xmin, ymin)`` and ``(xmax, ymax)`` draw the same
    map from fewer bytes. Every piece must have a vertex.
    """
    count = len(starts) - 1
    boxes = np.empty((2 * count, 2), dtype=points.dtype)
    for piece in range(count):
        first = starts[piece]
        xmin = points[first, 0]
        xmax = xmin
        ymin = points[first, 1]
        ymax = ymin
        for i in range(first + 1, starts[piece + 1]):
            xmin = min(xmin, points[i, 0])
            xmax = max(xmax, points[i, 0])
            ymin = min(ymin, points[i, 1])
            ymax = max(ymax, points[i, 1])
        boxes[2 * piece, 0] = xmin
        boxes[2 * piece, 1] = ymin
        boxes[2 * piece + 1, 0] = xmax
        boxes[2 * piece + 1, 1] = ymax
    return boxes, np.arange(0, 2 * count + 1, 2).astype(starts.dtype)
