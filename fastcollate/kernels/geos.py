"""Polygon area and perimeter computed as GEOS computes them for shapely.

The original DB code and PaddleOCR take the offset distance D from
``shapely.geometry.Polygon(points).area`` and ``.length``. These kernels
repeat GEOS's float64 operations in the same order, so D has the same bits
without shapely:

* shapely closes the ring by appending the first vertex unless the last
  vertex already equals it;
* ``Area::ofRingSigned`` (GEOS ``src/algorithm/Area.cpp``) sums
  ``(x[i] - x[0]) * (y[i - 1] - y[i + 1])`` for i = 1 .. n - 2 over the
  closed ring and halves the sum. ``Polygon::getArea`` takes its absolute
  value.
* ``Length::ofLine`` sums ``sqrt(dx * dx + dy * dy)`` edge by edge.

``tests/test_profiles_geos.py`` checks both against shapely 2.2.0 with
GEOS 3.14.1.
"""

import math

from fastcollate._jit import jit


@jit
def ring_is_closed(points, start, stop):
    """Return True if the last vertex of ``points[start:stop]`` repeats the first."""
    return points[stop - 1, 0] == points[start, 0] and points[stop - 1, 1] == points[start, 1]


@jit
def ring_area(points, start, stop):
    """Return the unsigned area of the polygon ``points[start:stop]`` as GEOS does."""
    closed = ring_is_closed(points, start, stop)
    count = stop - start if closed else stop - start + 1
    if count < 3:
        return 0.0

    # Ring vertex i is points[start + i], and the appended closing vertex is
    # points[start] again.
    x0 = points[start, 0]
    total = 0.0
    for i in range(1, count - 1):
        current = start + i if i < stop - start else start
        previous = start + i - 1
        following = start + i + 1 if i + 1 < stop - start else start
        x = points[current, 0] - x0
        total += x * (points[previous, 1] - points[following, 1])
    return abs(total / 2.0)


@jit
def ring_length(points, start, stop):
    """Return the perimeter of the polygon ``points[start:stop]`` as GEOS does."""
    closed = ring_is_closed(points, start, stop)
    count = stop - start if closed else stop - start + 1
    if count <= 1:
        return 0.0

    length = 0.0
    previous_x = points[start, 0]
    previous_y = points[start, 1]
    for i in range(1, count):
        current = start + i if i < stop - start else start
        dx = points[current, 0] - previous_x
        dy = points[current, 1] - previous_y
        length += math.sqrt(dx * dx + dy * dy)
        previous_x = points[current, 0]
        previous_y = points[current, 1]
    return length
