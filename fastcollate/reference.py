"""The reference path: the classic DBNet target code, written plainly.

This module is the oracle that the fast path is tested against, so it stays
close to the classic numpy loop of MhLiao/DB as used by the baseline
``DBCollateFN``: OpenCV measures the polygon and fills the shrunk polygons,
pyclipper offsets it, and numpy computes the point-to-edge distances.

It departs from the classic code only where that code raises or writes
outside the box, as documented in ``docs/semantics.md``:

* polygons rejected by :func:`fastcollate.polygons.prepare_polygons`, with a
  zero area, or with an empty dilation are skipped and counted;
* a dilated box entirely outside the image is skipped and counted;
* distances are computed only over the part of the dilated box inside the
  image. The classic code computes the whole box and crops it; every pixel
  is computed independently, so the visible values are the same.
"""

import numpy as np
import pyclipper

from fastcollate.optional import import_optional
from fastcollate.polygons import EMPTY_OFFSET, OUTSIDE_IMAGE, ZERO_AREA

cv2 = import_optional("cv2", "the reference path")

EPS = np.finfo(float).eps


def edge_distance(xs, ys, point_1, point_2, corrected_edges=False):
    """Return the classic distance from pixels to the edge point_1-point_2.

    ``xs`` and ``ys`` are float64 pixel coordinates, the points int32 (2,).
    Where the pixel lies on the edge, the cosine can round above 1 and the
    result is NaN; ``corrected_edges`` clamps the squared sine at 0 instead.
    """
    square_distance_1 = np.square(xs - point_1[0]) + np.square(ys - point_1[1])
    square_distance_2 = np.square(xs - point_2[0]) + np.square(ys - point_2[1])
    square_distance = np.square(point_1[0] - point_2[0]) + np.square(point_1[1] - point_2[1]) + EPS

    cosin = (square_distance - square_distance_1 - square_distance_2) / (
        2 * np.sqrt(square_distance_1 * square_distance_2) + EPS
    )
    square_sin = 1 - np.square(cosin)
    square_sin = np.nan_to_num(square_sin)
    if corrected_edges:
        square_sin = np.maximum(square_sin, 0.0)

    result = np.sqrt(square_distance_1 * square_distance_2 * square_sin / square_distance)
    result[cosin < 0] = np.sqrt(np.fmin(square_distance_1, square_distance_2))[cosin < 0]
    return result


def draw_border(thresh_map, polygon, dilated_polygon, distance, corrected_edges=False):
    """Raise ``thresh_map`` to 1 - normalised distance around one polygon.

    Returns False, drawing nothing, when the dilated box misses the image.
    """
    height, width = thresh_map.shape
    xmin = dilated_polygon[:, 0].min()
    xmax = dilated_polygon[:, 0].max()
    ymin = dilated_polygon[:, 1].min()
    ymax = dilated_polygon[:, 1].max()
    if xmax < 0 or ymax < 0 or xmin > width - 1 or ymin > height - 1:
        return False

    xmin_valid = min(max(0, xmin), width - 1)
    xmax_valid = min(max(0, xmax), width - 1)
    ymin_valid = min(max(0, ymin), height - 1)
    ymax_valid = min(max(0, ymax), height - 1)

    # The classic code shifts the int32 polygon into the box; the shift is
    # kept so that the int32 arithmetic of the edge lengths is unchanged.
    shifted = polygon.copy()
    shifted[:, 0] = shifted[:, 0] - xmin
    shifted[:, 1] = shifted[:, 1] - ymin

    box_xs = np.arange(xmin_valid - xmin, xmax_valid - xmin + 1, dtype=np.float64)
    box_ys = np.arange(ymin_valid - ymin, ymax_valid - ymin + 1, dtype=np.float64)
    xs, ys = np.meshgrid(box_xs, box_ys)

    distance_map = np.zeros((len(shifted), len(box_ys), len(box_xs)), dtype=np.float32)
    for i in range(len(shifted)):
        j = (i + 1) % len(shifted)
        absolute_distance = edge_distance(xs, ys, shifted[i], shifted[j], corrected_edges)
        distance_map[i] = np.clip(absolute_distance / distance, 0, 1)
    distance_map = distance_map.min(axis=0)

    window = thresh_map[ymin_valid:ymax_valid + 1, xmin_valid:xmax_valid + 1]
    window[...] = np.fmax(1 - distance_map, window)
    return True


def make_targets_reference(prepared, height, width, shrink_ratio, thresh_min, thresh_max,
                           corrected_edges=False):
    """Build the prob map and threshold map of one image on the reference path.

    Parameters
    ----------
    prepared : fastcollate.polygons.PreparedPolygons
    height, width : int
    shrink_ratio, thresh_min, thresh_max : float
    corrected_edges : bool

    Returns
    -------
    prob_map : ndarray of float32, shape (height, width)
    thresh_map : ndarray of float32, shape (height, width)
    skipped : collections.Counter
        Polygons skipped by reason, including those from ``prepared``.
    """
    prob_map = np.zeros((height, width), dtype=np.float32)
    thresh_map = np.zeros((height, width), dtype=np.float32)
    skipped = prepared.skipped.copy()

    with np.errstate(all="ignore"):
        for k in range(len(prepared.starts) - 1):
            polygon = prepared.points[prepared.starts[k]:prepared.starts[k + 1]]
            poly = polygon[np.newaxis]

            perimeter = cv2.arcLength(poly, True) + EPS
            distance = cv2.contourArea(poly) * (1 - shrink_ratio**2) / perimeter
            if not distance > 0:
                skipped[ZERO_AREA] += 1
                continue

            offset = pyclipper.PyclipperOffset()
            offset.AddPaths(poly, pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)

            for shrunk in offset.Execute(-distance):
                cv2.fillPoly(prob_map, [np.array(shrunk, dtype=np.int32)], 1.0)

            dilated = offset.Execute(distance)
            if not dilated:
                skipped[EMPTY_OFFSET] += 1
            for dilated_polygon in dilated:
                dilated_polygon = np.array(dilated_polygon)
                if not draw_border(thresh_map, polygon, dilated_polygon, distance, corrected_edges):
                    skipped[OUTSIDE_IMAGE] += 1

    thresh_map = thresh_map * (thresh_max - thresh_min) + thresh_min
    return prob_map, thresh_map, skipped
