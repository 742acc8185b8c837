"""The compiled perimeter, area and offset distance equal OpenCV's to the bit.

The offset distance D = area * (1 - r**2) / perimeter decides every later
pixel of both maps, so ``shrink_distances`` must reproduce the reference
path's ``cv2.contourArea`` and ``cv2.arcLength`` arithmetic exactly.
"""

import cv2
import numpy as np
import pytest

from fastcollate.kernels.measure import arc_length, contour_area, shrink_distances
from fastcollate.polygons import MAX_COORDINATE

EPS = np.finfo(np.float64).eps
POLYGON_COUNT = 3000
# Largest absolute coordinate that prepare_polygons passes on to the kernels.
MAX_ACCEPTED_COORDINATE = int(MAX_COORDINATE) - 1


def random_polygons(seed, largest):
    """Return POLYGON_COUNT int32 polygons of 2-16 vertices with |coordinate| <= largest.

    Every fourth polygon repeats a vertex, so that zero-length edges occur.
    """
    rng = np.random.default_rng(seed)
    polygons = []
    for index in range(POLYGON_COUNT):
        count = int(rng.integers(2, 17))
        polygon = rng.integers(-largest, largest + 1, size=(count, 2))
        if index % 4 == 0:
            polygon[rng.integers(count)] = polygon[0]
        polygons.append(polygon.astype(np.int32))
    return polygons


def pack(polygons):
    """Return the concatenated points and int64 start offsets the kernels take."""
    starts = np.zeros(len(polygons) + 1, dtype=np.int64)
    np.cumsum([len(polygon) for polygon in polygons], out=starts[1:])
    return np.ascontiguousarray(np.concatenate(polygons)), starts


def opencv_distance(polygon, shrink_ratio):
    """Return D exactly as the reference path computes it."""
    poly = polygon[np.newaxis]
    return cv2.contourArea(poly) * (1 - shrink_ratio**2) / (cv2.arcLength(poly, True) + EPS)


# (seed, largest absolute coordinate)
COORDINATE_CASES = [
    pytest.param(0, 64, id="small"),
    pytest.param(1, 4096, id="medium"),
    pytest.param(2, MAX_ACCEPTED_COORDINATE, id="2**20"),
]


@pytest.mark.parametrize(("seed", "largest"), COORDINATE_CASES)
@pytest.mark.parametrize("shrink_ratio", [0.0, 0.4, 0.9, 0.1234])
def test_shrink_distances(seed, largest, shrink_ratio):
    polygons = random_polygons(seed, largest)
    points, starts = pack(polygons)
    expected = np.array([opencv_distance(polygon, shrink_ratio) for polygon in polygons])

    distances = shrink_distances(points, starts, 1 - shrink_ratio**2)

    assert distances.dtype == np.float64
    mismatched = np.flatnonzero(distances.view(np.uint64) != expected.view(np.uint64))
    assert len(mismatched) == 0, (
        f"{len(mismatched)} distance(s) differ from OpenCV; first polygon "
        f"{polygons[mismatched[0]].tolist()}: {distances[mismatched[0]]!r} != {expected[mismatched[0]]!r}"
    )


@pytest.mark.parametrize(("seed", "largest"), COORDINATE_CASES)
def test_arc_length(seed, largest):
    polygons = random_polygons(seed, largest)
    points, starts = pack(polygons)

    lengths = np.array([arc_length(points, starts[k], starts[k + 1]) for k in range(len(polygons))])
    expected = np.array([cv2.arcLength(polygon[np.newaxis], True) for polygon in polygons])

    assert np.array_equal(lengths.view(np.uint64), expected.view(np.uint64))


@pytest.mark.parametrize(("seed", "largest"), COORDINATE_CASES)
def test_contour_area(seed, largest):
    polygons = random_polygons(seed, largest)
    points, starts = pack(polygons)

    areas = np.array([contour_area(points, starts[k], starts[k + 1]) for k in range(len(polygons))])
    expected = np.array([cv2.contourArea(polygon[np.newaxis]) for polygon in polygons])

    assert np.array_equal(areas.view(np.uint64), expected.view(np.uint64))


def test_shrink_distances_empty():
    points = np.zeros((0, 2), dtype=np.int32)
    starts = np.zeros(1, dtype=np.int64)

    distances = shrink_distances(points, starts, 1 - 0.4**2)

    assert distances.shape == (0,)
