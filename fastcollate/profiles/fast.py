"""The fast path of the ``mhliao`` and ``paddleocr`` profiles.

Kernels check, clamp and measure the polygons. pyclipper makes the same
offset calls as :mod:`fastcollate.profiles.reference`, and one compiled
call then draws both maps and both masks. shapely is not needed, because
the kernels in :mod:`fastcollate.kernels.geos` give its area and perimeter
bit for bit.
"""

import numpy as np
import pyclipper

from fastcollate.fast import as_point_array
from fastcollate.kernels.profiles import (
    CROSS_PRODUCT_AREA, MIN_TEXT_SIZE, TRAPEZOID_AREA, draw_profile_targets, measure_polygons,
    orient_polygons,
)
from fastcollate.polygons import EMPTY_OFFSET, OUTSIDE_IMAGE


class OffsetPieces:
    """Offset results packed into flat int64 arrays for the drawing kernel."""

    def __init__(self):
        self.flat = []
        self.starts = [0]
        self.owners = []

    def add(self, path, owner=-1):
        self.flat.extend(path)
        self.starts.append(len(self.flat))
        self.owners.append(owner)

    def arrays(self):
        return (
            as_point_array(self.flat),
            np.array(self.starts, dtype=np.int64),
            np.array(self.owners, dtype=np.int64),
        )


def shrink_factor(ratio):
    """Return ``1 - ratio**2`` as the sources compute it, with ``np.power``."""
    return 1 - np.power(ratio, 2)


def offset_distances(areas, lengths, factor):
    with np.errstate(all="ignore"):
        return areas * factor / lengths


def dilate_first_pieces(vertices, starts, selected, distances, dilated, skipped):
    """Dilate each selected polygon by its distance and keep the first piece."""
    offset = pyclipper.PyclipperOffset()
    for k in selected:
        offset.Clear()
        offset.AddPath(vertices[starts[k]:starts[k + 1]], pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
        pieces = offset.Execute(distances[k])
        if pieces:
            dilated.add(pieces[0], k)
        else:
            skipped[EMPTY_OFFSET] += 1


def draw(prob_map, thresh_map, prob_mask, thresh_mask, clamped, starts, ignore, border_points,
         distances, shrunk, dilated, thresh_min, thresh_max, skipped):
    shrunk_points, shrunk_starts, _ = shrunk.arrays()
    dilated_points, dilated_starts, dilated_owners = dilated.arrays()
    outside = draw_profile_targets(
        prob_map, thresh_map, prob_mask, thresh_mask, clamped, starts,
        np.flatnonzero(ignore), border_points, distances, shrunk_points, shrunk_starts,
        dilated_points, dilated_starts, dilated_owners,
        np.float32(thresh_max - thresh_min), np.float32(thresh_min),
    )
    if outside:
        skipped[OUTSIDE_IMAGE] += outside


def make_targets_mhliao_fast(prepared, prob_map, thresh_map, prob_mask, thresh_mask, shrink_ratio,
                             thresh_min, thresh_max):
    """Draw the original DB code's maps and masks into zeroed float32 arrays.

    ``prob_mask`` must be filled with ones, the other three with zeros.
    Returns the polygons skipped by reason, including those from ``prepared``.
    """
    height, width = prob_map.shape
    skipped = prepared.skipped.copy()
    clamped, ignore, areas, lengths = orient_polygons(
        prepared.points, prepared.starts, prepared.ignore, height, width, MIN_TEXT_SIZE, TRAPEZOID_AREA)
    distances = offset_distances(areas, lengths, shrink_factor(shrink_ratio))

    vertices = clamped.tolist()
    starts = prepared.starts.tolist()
    shrunk = OffsetPieces()
    dilated = OffsetPieces()
    offset = pyclipper.PyclipperOffset()
    for k in np.flatnonzero(~ignore).tolist():
        offset.Clear()
        offset.AddPath(vertices[starts[k]:starts[k + 1]], pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
        pieces = offset.Execute(-distances[k])
        if not pieces:
            ignore[k] = True
            continue
        # Only the first piece of a split shrink is filled.
        shrunk.add(pieces[0])

        # The border map skips every polygon that the shrink step tagged,
        # and a polygon's tag is final once its own shrink is done.
        pieces = offset.Execute(distances[k])
        if pieces:
            dilated.add(pieces[0], k)
        else:
            skipped[EMPTY_OFFSET] += 1

    draw(prob_map, thresh_map, prob_mask, thresh_mask, clamped, prepared.starts, ignore, clamped,
         distances, shrunk, dilated, thresh_min, thresh_max, skipped)
    return skipped


def make_targets_paddleocr_fast(prepared, prob_map, thresh_map, prob_mask, thresh_mask, shrink_ratio,
                                thresh_min, thresh_max):
    """Draw PaddleOCR's maps and masks into zeroed float32 arrays.

    ``prob_mask`` must be filled with ones, the other three with zeros.
    Returns the polygons skipped by reason, including those from ``prepared``.
    """
    height, width = prob_map.shape
    skipped = prepared.skipped.copy()
    starts = prepared.starts.tolist()

    # The border map comes first, on the unclamped polygons and the input tags.
    factor = shrink_factor(shrink_ratio)
    areas, lengths = measure_polygons(prepared.points, prepared.starts)
    border_distances = offset_distances(areas, lengths, factor)
    bordered = np.flatnonzero(~prepared.ignore & (areas > 0)).tolist()
    dilated = OffsetPieces()
    dilate_first_pieces(prepared.points.tolist(), starts, bordered, border_distances, dilated, skipped)

    clamped, ignore, areas, lengths = orient_polygons(
        prepared.points, prepared.starts, prepared.ignore, height, width, MIN_TEXT_SIZE,
        CROSS_PRODUCT_AREA)
    factors = [shrink_factor(ratio) for ratio in np.arange(shrink_ratio, 1, shrink_ratio)]
    vertices = clamped.tolist()
    shrunk = OffsetPieces()
    offset = pyclipper.PyclipperOffset()
    for k in np.flatnonzero(~ignore).tolist():
        offset.Clear()
        offset.AddPath(vertices[starts[k]:starts[k + 1]], pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
        pieces = []
        # Retry with the next larger ratio until the shrink is one piece.
        for ratio_factor in factors:
            pieces = offset.Execute(-(areas[k] * ratio_factor / lengths[k]))
            if len(pieces) == 1:
                break
        if not pieces:
            ignore[k] = True
            continue
        for piece in pieces:
            shrunk.add(piece)

    draw(prob_map, thresh_map, prob_mask, thresh_mask, clamped, prepared.starts, ignore,
         prepared.points, border_distances, shrunk, dilated, thresh_min, thresh_max, skipped)
    return skipped
