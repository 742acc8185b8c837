"""Plain reference implementations of the ``mhliao`` and ``paddleocr`` profiles.

Each function follows its source file step by step, with numpy, OpenCV,
shapely and pyclipper, so that it can serve as the oracle for the fast
path:

* ``mhliao``: MhLiao/DB ``data/processes/make_seg_detection_data.py`` and
  ``make_border_map.py`` (commits 20ab918 and 57a71d3);
* ``paddleocr``: PaddleOCR ``ppocr/data/imaug/make_shrink_map.py`` and
  ``make_border_map.py`` (commit 00e40b1, the 2.x/3.x code, which credits
  DBNet.pytorch).

The sources raise where these functions skip and count instead: a
dilation with no piece (``IndexError`` on ``Execute(d)[0]``) and a
dilated box entirely outside the image (a numpy broadcasting error).
``docs/profiles.md`` describes both profiles.
"""

import numpy as np
import pyclipper

from fastcollate.kernels.profiles import MIN_TEXT_SIZE
from fastcollate.optional import import_optional
from fastcollate.polygons import EMPTY_OFFSET, OUTSIDE_IMAGE

cv2 = import_optional("cv2", "the reference path")
Polygon = import_optional("shapely.geometry", "the reference path of the masked profiles").Polygon


def trapezoid_area(polygon):
    """Return the signed area as MhLiao/DB's ``polygon_area`` computes it."""
    edge = 0
    for i in range(polygon.shape[0]):
        next_index = (i + 1) % polygon.shape[0]
        edge += (polygon[next_index, 0] - polygon[i, 0]) * (polygon[next_index, 1] + polygon[i, 1])
    return edge / 2.0


def cross_product_area(polygon):
    """Return the signed area as PaddleOCR's ``polygon_area`` computes it."""
    area = 0
    q = polygon[-1]
    for p in polygon:
        area += p[0] * q[1] - p[1] * q[0]
        q = p
    return area / 2.0


def validate_polygons(polygons, ignore_tags, height, width, signed_area):
    """Clamp each polygon to the image, tag tiny ones and reverse positive-area ones."""
    for polygon in polygons:
        polygon[:, 0] = np.clip(polygon[:, 0], 0, width - 1)
        polygon[:, 1] = np.clip(polygon[:, 1], 0, height - 1)

    for i in range(len(polygons)):
        area = signed_area(polygons[i])
        if abs(area) < 1:
            ignore_tags[i] = True
        if area > 0:
            polygons[i] = polygons[i][::-1, :]
    return polygons, ignore_tags


def offset_distance(polygon, shrink_ratio):
    """Return D = area * (1 - r**2) / perimeter with shapely's area and perimeter."""
    polygon_shape = Polygon(polygon)
    return polygon_shape.area * (1 - np.power(shrink_ratio, 2)) / polygon_shape.length


def new_offset(polygon):
    padding = pyclipper.PyclipperOffset()
    padding.AddPath([tuple(point) for point in polygon], pyclipper.JT_ROUND, pyclipper.ET_CLOSEDPOLYGON)
    return padding


def box_size_too_small(polygon):
    height = max(polygon[:, 1]) - min(polygon[:, 1])
    width = max(polygon[:, 0]) - min(polygon[:, 0])
    return min(height, width) < MIN_TEXT_SIZE


def mask_polygon(mask, polygon):
    cv2.fillPoly(mask, polygon.astype(np.int32)[np.newaxis, :, :], 0)


def edge_distance(xs, ys, point_1, point_2):
    """Return the source's distance from pixels to the edge point_1-point_2, without eps."""
    square_distance_1 = np.square(xs - point_1[0]) + np.square(ys - point_1[1])
    square_distance_2 = np.square(xs - point_2[0]) + np.square(ys - point_2[1])
    square_distance = np.square(point_1[0] - point_2[0]) + np.square(point_1[1] - point_2[1])

    cosin = (square_distance - square_distance_1 - square_distance_2) / (
        2 * np.sqrt(square_distance_1 * square_distance_2))
    square_sin = 1 - np.square(cosin)
    square_sin = np.nan_to_num(square_sin)
    result = np.sqrt(square_distance_1 * square_distance_2 * square_sin / square_distance)

    result[cosin < 0] = np.sqrt(np.fmin(square_distance_1, square_distance_2))[cosin < 0]
    return result


def draw_border_map(polygon, canvas, mask, distance, skipped):
    """Fill the first dilated piece into ``mask`` and raise ``canvas`` around ``polygon``."""
    polygon = np.array(polygon)
    dilated = new_offset(polygon).Execute(distance)
    if not dilated:
        skipped[EMPTY_OFFSET] += 1
        return
    padded_polygon = np.array(dilated[0])
    cv2.fillPoly(mask, [padded_polygon.astype(np.int32)], 1.0)

    xmin = padded_polygon[:, 0].min()
    xmax = padded_polygon[:, 0].max()
    ymin = padded_polygon[:, 1].min()
    ymax = padded_polygon[:, 1].max()
    if xmax < 0 or ymax < 0 or xmin > canvas.shape[1] - 1 or ymin > canvas.shape[0] - 1:
        skipped[OUTSIDE_IMAGE] += 1
        return
    width = xmax - xmin + 1
    height = ymax - ymin + 1

    polygon[:, 0] = polygon[:, 0] - xmin
    polygon[:, 1] = polygon[:, 1] - ymin

    xs = np.broadcast_to(np.linspace(0, width - 1, num=width).reshape(1, width), (height, width))
    ys = np.broadcast_to(np.linspace(0, height - 1, num=height).reshape(height, 1), (height, width))

    # NOTE: like the source, this computes the whole dilated box, so a
    # paddleocr polygon reaching far beyond the image costs memory in
    # proportion to its box. The fast path computes only the visible part.
    distance_map = np.zeros((polygon.shape[0], height, width), dtype=np.float32)
    for i in range(polygon.shape[0]):
        j = (i + 1) % polygon.shape[0]
        absolute_distance = edge_distance(xs, ys, polygon[i], polygon[j])
        distance_map[i] = np.clip(absolute_distance / distance, 0, 1)
    distance_map = distance_map.min(axis=0)

    xmin_valid = min(max(0, xmin), canvas.shape[1] - 1)
    xmax_valid = min(max(0, xmax), canvas.shape[1] - 1)
    ymin_valid = min(max(0, ymin), canvas.shape[0] - 1)
    ymax_valid = min(max(0, ymax), canvas.shape[0] - 1)
    canvas[ymin_valid:ymax_valid + 1, xmin_valid:xmax_valid + 1] = np.fmax(
        1 - distance_map[ymin_valid - ymin:ymax_valid - ymax + height,
                         xmin_valid - xmin:xmax_valid - xmax + width],
        canvas[ymin_valid:ymax_valid + 1, xmin_valid:xmax_valid + 1])


def split_polygons(prepared):
    """Return the polygons of a ``FloatPolygons`` as a list of float64 copies."""
    starts = prepared.starts
    return [prepared.points[starts[k]:starts[k + 1]].copy() for k in range(len(starts) - 1)]


def make_targets_mhliao(prepared, height, width, shrink_ratio, thresh_min, thresh_max):
    """Build the maps and masks of the original DB code for one image.

    Returns ``(prob_map, thresh_map, prob_mask, thresh_mask, skipped)``.
    """
    polygons = split_polygons(prepared)
    ignore_tags = prepared.ignore.tolist()
    skipped = prepared.skipped.copy()

    with np.errstate(all="ignore"):
        # MakeSegDetectionData
        polygons, ignore_tags = validate_polygons(polygons, ignore_tags, height, width, trapezoid_area)
        gt = np.zeros((height, width), dtype=np.float32)
        mask = np.ones((height, width), dtype=np.float32)
        for i, polygon in enumerate(polygons):
            if ignore_tags[i] or box_size_too_small(polygon):
                mask_polygon(mask, polygon)
                ignore_tags[i] = True
                continue
            shrinked = new_offset(polygon).Execute(-offset_distance(polygon, shrink_ratio))
            if shrinked == []:
                mask_polygon(mask, polygon)
                ignore_tags[i] = True
                continue
            shrinked = np.array(shrinked[0]).reshape(-1, 2)
            cv2.fillPoly(gt, [shrinked.astype(np.int32)], 1)

        # MakeBorderMap, on the clamped and reoriented polygons
        canvas = np.zeros((height, width), dtype=np.float32)
        thresh_mask = np.zeros((height, width), dtype=np.float32)
        for i, polygon in enumerate(polygons):
            if ignore_tags[i]:
                continue
            draw_border_map(polygon, canvas, thresh_mask, offset_distance(polygon, shrink_ratio), skipped)
        canvas = canvas * (thresh_max - thresh_min) + thresh_min

    return gt, canvas, mask, thresh_mask, skipped


def make_targets_paddleocr(prepared, height, width, shrink_ratio, thresh_min, thresh_max):
    """Build the maps and masks of PaddleOCR's DB pipeline for one image.

    Returns ``(prob_map, thresh_map, prob_mask, thresh_mask, skipped)``.
    """
    polygons = split_polygons(prepared)
    ignore_tags = prepared.ignore.tolist()
    skipped = prepared.skipped.copy()

    with np.errstate(all="ignore"):
        # MakeBorderMap runs first, on the polygons as given.
        canvas = np.zeros((height, width), dtype=np.float32)
        thresh_mask = np.zeros((height, width), dtype=np.float32)
        for i, polygon in enumerate(polygons):
            if ignore_tags[i]:
                continue
            if Polygon(polygon).area <= 0:
                continue
            draw_border_map(polygon, canvas, thresh_mask, offset_distance(polygon, shrink_ratio), skipped)
        canvas = canvas * (thresh_max - thresh_min) + thresh_min

        # MakeShrinkMap
        polygons, ignore_tags = validate_polygons(polygons, ignore_tags, height, width, cross_product_area)
        gt = np.zeros((height, width), dtype=np.float32)
        mask = np.ones((height, width), dtype=np.float32)
        for i, polygon in enumerate(polygons):
            if ignore_tags[i] or box_size_too_small(polygon):
                mask_polygon(mask, polygon)
                ignore_tags[i] = True
                continue
            padding = new_offset(polygon)
            shrinked = []
            # The source retries with a larger ratio while the shrink is
            # not exactly one piece. It never tries ratio 1, because it
            # discards the result of np.append.
            for ratio in np.arange(shrink_ratio, 1, shrink_ratio):
                shrinked = padding.Execute(-offset_distance(polygon, ratio))
                if len(shrinked) == 1:
                    break
            if shrinked == []:
                mask_polygon(mask, polygon)
                ignore_tags[i] = True
                continue
            for piece in shrinked:
                cv2.fillPoly(gt, [np.array(piece).reshape(-1, 2).astype(np.int32)], 1)

    return gt, canvas, mask, thresh_mask, skipped
