"""Threshold map from its winning edges: record them on a miss, redraw from them on a hit.

Before normalisation, every threshold-map pixel is either untouched (0) or
``1 - ratio(pixel, edge)`` for one edge of one polygon: the minimum over
edges and the ``fmax`` over dilated pieces each select one computed value.
:func:`draw_targets_recording` draws the maps as
``fastcollate.kernels.targets.draw_targets`` does and also stores, per
pixel, the id of the edge whose value the pixel kept. :func:`redraw_thresh_map`
rebuilds the map from those ids with one distance per pixel instead of one
per edge in reach.

Edge ids count from 1 in vertex order: id ``i + 1`` is the edge from
``points[i]`` to the next vertex of the same polygon. Id 0 marks a pixel
that no border raised. A tie between edges is harmless, because tied edges
give the same float32 value. An edge whose value was NaN never wins, because
a NaN minimum leaves the pixel unchanged. A cache entry may store the values
of some pixels as they are, marked with an id above every edge's (see
:func:`store_short_runs`).
"""

import math

import numpy as np

from fastcollate._jit import jit
from fastcollate.kernels.fill import fill_polygons
from fastcollate.kernels.runs import fill_binary_runs
from fastcollate.kernels.threshold import (
    EPS, REACH_MARGIN, REACH_RELATIVE_MARGIN, normalize_thresh_map, square_edge_length,
)


@jit
def edge_ratio(x, y, ax, ay, bx, by, square_length, distance, corrected_edges):
    """Return the classic distance from pixel (x, y) to edge a-b over D, clipped, as float32.

    The expression and its order of operations are those of
    ``fastcollate.kernels.threshold.update_row``, so the value has the same bits.
    """
    dx1 = np.float64(x - ax)
    dx2 = np.float64(x - bx)
    dy1 = np.float64(y - ay)
    dy2 = np.float64(y - by)
    square_distance_1 = dx1 * dx1 + dy1 * dy1
    square_distance_2 = dx2 * dx2 + dy2 * dy2

    numerator = square_length - square_distance_1 - square_distance_2
    cosin = numerator / (2.0 * math.sqrt(square_distance_1 * square_distance_2) + EPS)
    square_sin = 1.0 - cosin * cosin
    if corrected_edges:
        square_sin = max(square_sin, 0.0)
    square_perpendicular = square_distance_1 * square_distance_2 * square_sin / square_length
    square_nearest = square_distance_1 if square_distance_1 < square_distance_2 else square_distance_2
    result = math.sqrt(square_nearest if cosin < 0 else square_perpendicular)

    ratio = result / distance
    ratio = ratio if (ratio > 0.0 or ratio != ratio) else 0.0
    ratio = ratio if not ratio > 1.0 else 1.0
    return np.float32(ratio)


@jit
def _update_row_recording(minimum, edges, row_offset, y, col_first, col_last, ax, ay, bx, by,
                          square_length, distance, corrected_edges, edge_id):
    """Lower ``minimum`` over one row as ``update_row`` does, storing ``edge_id`` where it lowers."""
    row = minimum[row_offset + col_first:row_offset + col_last + 1]
    row_edges = edges[row_offset + col_first:row_offset + col_last + 1]
    for k in range(col_last - col_first + 1):
        value = edge_ratio(col_first + k, y, ax, ay, bx, by, square_length, distance, corrected_edges)
        current = row[k]
        # NaN sticks, as in numpy's min over edges.
        lower = value < current or value != value
        row[k] = value if lower else current
        row_edges[k] = edge_id if lower else row_edges[k]


@jit
def _draw_border_recording(thresh_map, winners, points, start, stop, dilated_points,
                           dilated_start, dilated_stop, distance, corrected_edges):
    """Raise ``thresh_map`` around one polygon as ``draw_border`` does and record the winners."""
    # NOTE: this function and edge_ratio copy draw_border and update_row, so
    # a change there must be repeated here. tests/test_codec.py compares the
    # maps of both on every round trip.
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
    box_size = (y1 - y0 + 1) * box_width
    minimum = np.full(box_size, np.float32(1.0))
    edges = np.empty(box_size, dtype=winners.dtype)

    reach = distance * (1.0 + REACH_RELATIVE_MARGIN) + REACH_MARGIN
    count = stop - start
    for i in range(count):
        j = (i + 1) % count
        ax = np.int64(points[start + i, 0])
        ay = np.int64(points[start + i, 1])
        bx = np.int64(points[start + j, 0])
        by = np.int64(points[start + j, 1])
        square_length = square_edge_length(ax, ay, bx, by)
        edge_id = start + i + 1

        row_first = max(y0, np.int64(math.ceil(min(ay, by) - reach)))
        row_last = min(y1, np.int64(math.floor(max(ay, by) + reach)))
        for y in range(row_first, row_last + 1):
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
            _update_row_recording(minimum, edges, (y - y0) * box_width - x0, y, col_first, col_last,
                                  ax, ay, bx, by, square_length, distance, corrected_edges, edge_id)

    for y in range(y0, y1 + 1):
        row = minimum[(y - y0) * box_width:(y - y0 + 1) * box_width]
        row_edges = edges[(y - y0) * box_width:(y - y0 + 1) * box_width]
        canvas = thresh_map[y, x0:x1 + 1]
        canvas_winners = winners[y, x0:x1 + 1]
        # fmax(1 - minimum, old): a NaN or 1.0 minimum leaves the old value.
        # A branch, rather than a select, skips the winners store for the
        # pixels that stay unchanged, which measured faster here.
        for k in range(box_width):
            border = np.float32(1.0) - row[k]
            if border > canvas[k]:
                canvas[k] = border
                canvas_winners[k] = row_edges[k]
    return True


@jit
def draw_targets_recording(prob_map, thresh_map, winners, points, starts, distances, shrunk_points,
                           shrunk_starts, dilated_points, dilated_starts, dilated_owners, scale,
                           offset, corrected_edges):
    """Draw both maps as ``draw_targets`` does and store each pixel's winning edge id in ``winners``.

    ``winners`` is a zeroed (H, W) unsigned integer array wide enough for
    ``len(points) + 1``. Returns the number of dilated pieces whose box lies
    entirely outside the image.
    """
    fill_polygons(prob_map, shrunk_points, shrunk_starts, np.float32(1.0))

    outside = 0
    for piece in range(len(dilated_starts) - 1):
        owner = dilated_owners[piece]
        drawn = _draw_border_recording(
            thresh_map, winners, points, starts[owner], starts[owner + 1],
            dilated_points, dilated_starts[piece], dilated_starts[piece + 1],
            distances[owner], corrected_edges,
        )
        if not drawn:
            outside += 1

    normalize_thresh_map(thresh_map, scale, offset)
    return outside


@jit
def edge_ends(starts):
    """Return, for each vertex index, the index of the next vertex of its polygon, and its polygon."""
    count = starts[-1]
    next_vertex = np.empty(count, dtype=np.int64)
    owner = np.empty(count, dtype=np.int64)
    for k in range(len(starts) - 1):
        for i in range(starts[k], starts[k + 1]):
            next_vertex[i] = i + 1 if i + 1 < starts[k + 1] else starts[k]
            owner[i] = k
    return next_vertex, owner


@jit
def store_short_runs(run_ids, run_lengths, thresh_map, min_length, marker, max_length):
    """Turn the row segments shorter than ``min_length`` of edge runs into runs of ``marker``.

    Short segments leave the redraw's vector loop idle, so their pixels
    cost up to twice as much to redraw as those of long ones. Takes the
    row-major runs of :func:`fastcollate.kernels.runs.encode_runs` and
    returns ``(run_ids, run_lengths, values)``: the new runs, split at row
    ends where needed, and the float32 values of the marked pixels in
    row-major order. Merged runs stay within ``max_length``.
    """
    height, width = thresh_map.shape
    flat = thresh_map.reshape(height * width)

    # Count first, so that the outputs are allocated at their final size.
    segments = 0
    stored = 0
    position = 0
    row_end = width
    for run in range(run_ids.shape[0]):
        end = position + np.int64(run_lengths[run])
        while position < end:
            segment_end = min(end, row_end)
            if segment_end == row_end:
                row_end += width
            segments += 1
            if run_ids[run] != 0 and segment_end - position < min_length:
                stored += segment_end - position
            position = segment_end

    new_ids = np.empty(segments, dtype=run_ids.dtype)
    new_lengths = np.empty(segments, dtype=run_lengths.dtype)
    values = np.empty(stored, dtype=np.float32)
    runs = 0
    stored = 0
    position = 0
    row_end = width
    for run in range(run_ids.shape[0]):
        edge_id = run_ids[run]
        end = position + np.int64(run_lengths[run])
        while position < end:
            segment_end = min(end, row_end)
            if segment_end == row_end:
                row_end += width
            length = segment_end - position
            run_id = edge_id
            if edge_id != 0 and length < min_length:
                run_id = marker
                values[stored:stored + length] = flat[position:segment_end]
                stored += length
            if runs > 0 and new_ids[runs - 1] == run_id and np.int64(new_lengths[runs - 1]) + length <= max_length:
                new_lengths[runs - 1] += length
            else:
                new_ids[runs] = run_id
                new_lengths[runs] = length
                runs += 1
            position = segment_end
    return new_ids[:runs].copy(), new_lengths[:runs].copy(), values


@jit
def redraw_thresh_map(thresh_map, run_ids, run_lengths, points, starts, distances, scale, offset,
                      corrected_edges, stored_values, marker):
    """Write the normalised threshold map from its row-major runs of winning edge ids.

    A run of ``marker`` takes its pixels from ``stored_values`` in order.
    Returns False, leaving the map partly written, if the runs do not cover
    the map exactly, name an edge that does not exist, or do not use the
    stored values exactly.
    """
    height, width = thresh_map.shape
    next_vertex, owner = edge_ends(starts)
    edge_count = next_vertex.shape[0]
    untouched = np.float32(0.0) * scale + offset

    # x and y follow the position, which saves an integer division per run.
    position = 0
    total = height * width
    stored = 0
    x = 0
    y = 0
    for run in range(run_ids.shape[0]):
        edge_id = np.int64(run_ids[run])
        remaining = np.int64(run_lengths[run])
        if remaining > total - position:
            return False
        position += remaining
        if edge_id == marker:
            if remaining > stored_values.shape[0] - stored:
                return False
            while remaining > 0:
                span = min(remaining, width - x)
                thresh_map[y, x:x + span] = stored_values[stored:stored + span]
                stored += span
                remaining -= span
                x += span
                if x == width:
                    x = 0
                    y += 1
            continue
        if edge_id > edge_count:
            return False
        if edge_id == 0:
            while remaining > 0:
                span = min(remaining, width - x)
                thresh_map[y, x:x + span] = untouched
                remaining -= span
                x += span
                if x == width:
                    x = 0
                    y += 1
            continue

        i = edge_id - 1
        j = next_vertex[i]
        ax = np.int64(points[i, 0])
        ay = np.int64(points[i, 1])
        bx = np.int64(points[j, 0])
        by = np.int64(points[j, 1])
        square_length = square_edge_length(ax, ay, bx, by)
        distance = distances[owner[i]]
        while remaining > 0:
            span = min(remaining, width - x)
            row = thresh_map[y, x:x + span]
            for k in range(span):
                ratio = edge_ratio(x + k, y, ax, ay, bx, by, square_length, distance, corrected_edges)
                row[k] = (np.float32(1.0) - ratio) * scale + offset
            remaining -= span
            x += span
            if x == width:
                x = 0
                y += 1
    return position == total and stored == stored_values.shape[0]


@jit
def redraw_maps(prob_map, prob_runs, thresh_map, run_ids, run_lengths, points, starts, distances,
                scale, offset, corrected_edges, stored_values, marker):
    """Write both maps of a winners entry in one compiled call; return 0, or 1 or 2 for bad prob or edge runs.

    One call instead of two saves a dispatch per hit, about 1% of a
    hit at 640 x 640.
    """
    if not fill_binary_runs(prob_map, prob_runs):
        return 1
    if not redraw_thresh_map(thresh_map, run_ids, run_lengths, points, starts, distances, scale,
                             offset, corrected_edges, stored_values, marker):
        return 2
    return 0
