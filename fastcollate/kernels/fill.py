"""Polygon fill that reproduces ``cv2.fillPoly`` pixel for pixel.

The kernels cover the call ``cv2.fillPoly(canvas, [pts], value)`` on a
single-channel float32 image with the defaults ``lineType=LINE_8``,
``shift=0`` and ``offset=(0, 0)``. ``tests/test_fill.py`` checks them
against OpenCV 5.1.0, whose ``drawing.cpp`` fills a polygon in two passes:

1. Every edge, from the previous vertex to the current one and starting with
   the closing edge ``v[n-1] -> v[0]``, is drawn as an 8-connected Bresenham
   line. An edge with an endpoint outside the image is first clipped by
   ``clipLine`` and then rasterized from the clipped endpoints. A single
   vertex therefore draws one pixel.
2. Each non-horizontal edge becomes a 16.16 fixed-point scanline edge. It is
   active on rows ``y0 <= y < y1``, its x starts at the upper vertex and
   steps by ``dx``, the x difference divided by the y difference with C's
   truncating integer division. On each row the active x values are sorted,
   and each pair (1st, 2nd), (3rd, 4th), ... fills the columns
   ``ceil(left) .. floor(right)``. The x ends sit on whole pixels with no
   half-pixel offset. For an edge with an endpoint outside the image, OpenCV
   clips it again and takes the x ends from the clipped points, even when
   the clip fails. It takes their y ends only when they differ, and then
   extrapolates x back to the unclipped ``y0``.

OpenCV walks every row from the topmost vertex, even rows far above the
image. These kernels skip those rows and compute each edge's x at the first
visible row as ``x + k * dx``, which gives the same int64 value as ``k``
additions because both wrap modulo 2**64.
"""

import numpy as np

from fastcollate._jit import jit

XY_SHIFT = 16
XY_ONE = 1 << XY_SHIFT
# Up to this many edges, insertion sort orders them by top row. Above it,
# np.argsort avoids the quadratic worst case at the cost of an allocation.
SMALL_SORT = 48


@jit
def _div_trunc(a, b):
    # C++ integer division rounds toward zero, Python's // rounds down.
    q = a // b
    if q < 0 and q * b != a:
        q += 1
    return q


@jit
def _to_int32(v):
    # The (int) casts in OpenCV keep the low 32 bits of an int64.
    return ((v + 2147483648) & 0xFFFFFFFF) - 2147483648


@jit
def _outcode(x, y, right, bottom):
    return (x < 0) + (x > right) * 2 + (y < 0) * 4 + (y > bottom) * 8


@jit
def _clip_line(width, height, x1, y1, x2, y2):
    """Clip a segment to the image as OpenCV's ``clipLine`` does.

    Returns ``(inside, x1, y1, x2, y2)``. The endpoints come back modified
    even when ``inside`` is false, because OpenCV's edge pass reads them
    after a failed clip. The second endpoint is clipped with the first one
    already moved, so swapping the endpoints can change the result.
    """
    right = width - 1
    bottom = height - 1
    if width <= 0 or height <= 0:
        return False, x1, y1, x2, y2
    c1 = _outcode(x1, y1, right, bottom)
    c2 = _outcode(x2, y2, right, bottom)

    if (c1 & c2) == 0 and (c1 | c2) != 0:
        # OpenCV 5.1 interpolates in double precision and truncates the
        # offset toward zero.
        if c1 & 12:
            a = 0 if c1 < 8 else bottom
            x1 += np.int64(np.float64(a - y1) * np.float64(x2 - x1) / np.float64(y2 - y1))
            y1 = a
            c1 = (x1 < 0) + (x1 > right) * 2
        if c2 & 12:
            a = 0 if c2 < 8 else bottom
            x2 += np.int64(np.float64(a - y2) * np.float64(x2 - x1) / np.float64(y2 - y1))
            y2 = a
            c2 = (x2 < 0) + (x2 > right) * 2
        if (c1 & c2) == 0 and (c1 | c2) != 0:
            if c1:
                a = 0 if c1 == 1 else right
                y1 += np.int64(np.float64(a - x1) * np.float64(y2 - y1) / np.float64(x2 - x1))
                x1 = a
                c1 = 0
            if c2:
                a = 0 if c2 == 1 else right
                y2 += np.int64(np.float64(a - x2) * np.float64(y2 - y1) / np.float64(x2 - x1))
                x2 = a
                c2 = 0

    return (c1 | c2) == 0, x1, y1, x2, y2


@jit
def _draw_line(canvas, x1, y1, x2, y2, value):
    """Draw OpenCV's 8-connected line between two already clipped endpoints."""
    height, width = canvas.shape
    # The walk always starts at the left endpoint, and at the first endpoint
    # of a vertical line. Bresenham's tie rule then depends on which end
    # starts, so the order must match OpenCV's.
    if x2 < x1:
        x1, y1, x2, y2 = x2, y2, x1, y1
    dx = x2 - x1
    dy = y2 - y1
    step_y = 1
    if dy < 0:
        dy = -dy
        step_y = -1

    steep = dy > dx
    major, minor = (dy, dx) if steep else (dx, dy)
    err = major - 2 * minor
    x = x1
    y = y1
    for _ in range(major + 1):
        # clipLine's rounded endpoints were inside the image in every test.
        # The check keeps any case the tests missed from writing out of
        # bounds.
        if 0 <= x < width and 0 <= y < height:
            canvas[y, x] = value
        # The minor axis steps whenever the pre-decremented error is negative.
        move_minor = err < 0
        err -= 2 * minor
        if move_minor:
            err += 2 * major
        if steep:
            y += step_y
            if move_minor:
                x += 1
        else:
            x += 1
            if move_minor:
                y += step_y


@jit
def _collect_edges(canvas, xs, ys, value, edge_y0, edge_y1, edge_x, edge_dx):
    """Draw every outline segment and store its scanline edge.

    Returns the number of edges stored. Horizontal segments are drawn but
    give no edge.
    """
    height, width = canvas.shape
    n = xs.shape[0]
    count = 0
    x0 = np.int64(xs[n - 1])
    y0 = np.int64(ys[n - 1])
    for i in range(n):
        x1 = np.int64(xs[i])
        y1 = np.int64(ys[i])
        # OpenCV clips the segment once to draw it and once more to build
        # its edge. Both calls get the same endpoints, so one result serves.
        tx0 = x0
        tx1 = x1
        cy0 = y0
        cy1 = y1
        if 0 <= x0 < width and 0 <= x1 < width and 0 <= y0 < height and 0 <= y1 < height:
            _draw_line(canvas, x0, y0, x1, y1, value)
        else:
            inside, tx0, ty0, tx1, ty1 = _clip_line(width, height, x0, y0, x1, y1)
            if inside:
                _draw_line(canvas, tx0, ty0, tx1, ty1, value)
            if ty0 != ty1:
                cy0 = ty0
                cy1 = ty1
        fx0 = tx0 << XY_SHIFT
        fx1 = tx1 << XY_SHIFT

        if y0 != y1:
            dx = _div_trunc(fx1 - fx0, cy1 - cy0)
            if y0 < y1:
                edge_y0[count] = y0
                edge_y1[count] = y1
                edge_x[count] = fx0 + (y0 - cy0) * dx
            else:
                edge_y0[count] = y1
                edge_y1[count] = y0
                edge_x[count] = fx1 + (y1 - cy1) * dx
            edge_dx[count] = dx
            count += 1
        x0 = x1
        y0 = y1
    return count


@jit
def _sort_by_key(index, key, count):
    """Store in ``index[:count]`` the order that sorts ``key[:count]``."""
    if count > SMALL_SORT:
        index[:count] = np.argsort(key[:count], kind="mergesort")
        return
    for i in range(count):
        index[i] = i
    for i in range(1, count):
        item = index[i]
        j = i - 1
        while j >= 0 and key[index[j]] > key[item]:
            index[j + 1] = index[j]
            j -= 1
        index[j + 1] = item


@jit
def _fill_edges(canvas, count, edge_y0, edge_y1, edge_x, edge_dx, order, active, cur_x, value):
    """Fill the spans between pairs of sorted active edges on each visible row."""
    height, width = canvas.shape
    if count < 2:
        return

    # OpenCV skips polygons whose edges all miss the image. It computes the x
    # where each edge ends with the y difference in 32-bit int, and that wrap
    # is kept here. In every test this exit only saved work.
    y_min = np.int64(2147483647)
    y_max = np.int64(-2147483648)
    x_min = np.int64(9223372036854775807)
    x_max = np.int64(-1)
    for i in range(count):
        x_end = edge_x[i] + _to_int32(edge_y1[i] - edge_y0[i]) * edge_dx[i]
        y_min = min(y_min, edge_y0[i])
        y_max = max(y_max, edge_y1[i])
        x_min = min(x_min, edge_x[i], x_end)
        x_max = max(x_max, edge_x[i], x_end)
    if y_max < 0 or y_min >= height or x_max < 0 or x_min >= (np.int64(width) << XY_SHIFT):
        return

    _sort_by_key(order, edge_y0, count)
    y_start = max(y_min, 0)
    y_end = min(y_max, height)
    n_active = 0
    next_edge = 0
    for y in range(y_start, y_end):
        kept = 0
        for j in range(n_active):
            if edge_y1[active[j]] > y:
                active[kept] = active[j]
                cur_x[kept] = cur_x[j]
                kept += 1
        n_active = kept

        # On the first row this also picks up edges that started above the
        # image, so their x is computed for this row directly.
        while next_edge < count and edge_y0[order[next_edge]] <= y:
            e = order[next_edge]
            next_edge += 1
            if edge_y1[e] > y:
                active[n_active] = e
                cur_x[n_active] = edge_x[e] + (y - edge_y0[e]) * edge_dx[e]
                n_active += 1

        # The list stays nearly sorted between rows, so insertion sort is
        # close to linear. Ties need no rule because spans only depend on
        # the sorted x values.
        for j in range(1, n_active):
            e = active[j]
            x = cur_x[j]
            k = j - 1
            while k >= 0 and cur_x[k] > x:
                active[k + 1] = active[k]
                cur_x[k + 1] = cur_x[k]
                k -= 1
            active[k + 1] = e
            cur_x[k + 1] = x

        # A closed outline crosses every row an even number of times, so
        # the active edges always pair up.
        for j in range(0, n_active - 1, 2):
            left = _to_int32((cur_x[j] + (XY_ONE - 1)) >> XY_SHIFT)
            right = _to_int32(cur_x[j + 1] >> XY_SHIFT)
            if left < width and right >= 0:
                left = max(left, 0)
                right = min(right, width - 1)
                canvas[y, left:right + 1] = value

        for j in range(n_active):
            cur_x[j] += edge_dx[active[j]]


@jit
def _fill_with_scratch(canvas, xs, ys, value, scratch):
    if xs.shape[0] == 0:
        return
    edge_y0 = scratch[0]
    edge_y1 = scratch[1]
    edge_x = scratch[2]
    edge_dx = scratch[3]
    count = _collect_edges(canvas, xs, ys, value, edge_y0, edge_y1, edge_x, edge_dx)
    _fill_edges(canvas, count, edge_y0, edge_y1, edge_x, edge_dx,
                scratch[4], scratch[5], scratch[6], value)


@jit
def fill_polygon(canvas, xs, ys, value):
    """Fill one polygon into ``canvas`` exactly as ``cv2.fillPoly`` does.

    ``canvas`` is a float32 (H, W) array changed in place. ``xs`` and ``ys``
    are the vertex coordinates, which must fit in int32 as they do for cv2.
    With no vertices nothing is drawn, where cv2 raises instead.
    """
    scratch = np.empty((7, xs.shape[0]), dtype=np.int64)
    _fill_with_scratch(canvas, xs, ys, value, scratch)


@jit
def fill_polygons(canvas, points, starts, value):
    """Fill polygon ``k``, ``points[starts[k]:starts[k + 1]]``, for each k in turn.

    The result equals one ``cv2.fillPoly`` call per polygon, not one call
    with all of them, because a single call would merge the edges of
    overlapping polygons into one even-odd fill.
    """
    n_max = 0
    for k in range(starts.shape[0] - 1):
        n_max = max(n_max, starts[k + 1] - starts[k])
    if n_max <= 0:
        return
    scratch = np.empty((7, n_max), dtype=np.int64)
    for k in range(starts.shape[0] - 1):
        begin = starts[k]
        end = starts[k + 1]
        if end > begin:
            _fill_with_scratch(canvas, points[begin:end, 0], points[begin:end, 1], value, scratch)
