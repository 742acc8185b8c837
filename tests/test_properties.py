"""Property tests: both paths agree on random and degenerate polygons.

Hypothesis draws small images (1-96 px per side) and up to 6 polygons of
1-12 vertices, int or float, as arrays or nested lists, (N, 2) or (1, N, 2).
The vertices range past every image edge, and some polygons are degenerate:
repeated vertices, collinear, tiny, self-intersecting (most random polygons
are), with NaN or inf, or with coordinates near the 2**20 limit.
"""

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import assert_paths_equal
from fastcollate.polygons import MAX_COORDINATE
from fastcollate.targets import TargetParams

MAX_SIDE = 96
MAX_POLYGONS = 6
MAX_VERTICES = 12
# Vertices may lie up to half the longer image side, and at least this many
# pixels, beyond any image edge.
MIN_MARGIN = 8
MAX_ACCEPTED_COORDINATE = int(MAX_COORDINATE) - 1

SETTINGS = settings(max_examples=150, deadline=None)

vertex_counts = st.integers(1, MAX_VERTICES)


def coordinate_strategies(size):
    """Return int and float coordinate strategies that reach past the image edges."""
    margin = max(MIN_MARGIN, max(size) // 2)
    high = max(size) + margin
    ints = st.integers(-margin, high)
    floats = st.floats(-margin, high, allow_nan=False, allow_infinity=False)
    return ints, floats


@st.composite
def random_vertices(draw, coordinates):
    count = draw(vertex_counts)
    return [[draw(coordinates), draw(coordinates)] for _ in range(count)]


@st.composite
def repeated_vertices(draw, coordinates):
    """Return a random polygon in which some vertices appear twice in a row."""
    vertices = draw(random_vertices(coordinates))
    repeated = []
    for vertex in vertices:
        repeated.append(vertex)
        if draw(st.booleans()):
            repeated.append(list(vertex))
    return repeated[:MAX_VERTICES]


@st.composite
def collinear_vertices(draw, coordinates):
    """Return vertices on one line, in any order along it."""
    x0, y0 = draw(coordinates), draw(coordinates)
    dx, dy = draw(st.integers(-8, 8)), draw(st.integers(-8, 8))
    steps = draw(st.lists(st.integers(-10, 10), min_size=1, max_size=MAX_VERTICES))
    return [[x0 + step * dx, y0 + step * dy] for step in steps]


@st.composite
def tiny_vertices(draw, coordinates, offsets):
    """Return vertices within 2 px of one point."""
    x0, y0 = draw(coordinates), draw(coordinates)
    count = draw(vertex_counts)
    return [[x0 + draw(offsets), y0 + draw(offsets)] for _ in range(count)]


@st.composite
def huge_vertices(draw):
    """Return a random polygon with coordinates up to the accepted limit, or just past it."""
    limit = draw(st.sampled_from([MAX_ACCEPTED_COORDINATE, MAX_ACCEPTED_COORDINATE + 2]))
    coordinates = st.integers(-limit, limit)
    return draw(random_vertices(coordinates))


@st.composite
def non_finite_vertices(draw, float_coordinates):
    """Return a random float polygon with one coordinate replaced by NaN or inf."""
    vertices = draw(random_vertices(float_coordinates))
    index = draw(st.integers(0, 2 * len(vertices) - 1))
    vertices[index // 2][index % 2] = draw(st.sampled_from([math.nan, math.inf, -math.inf]))
    return vertices


@st.composite
def polygon_vertices(draw, size):
    """Return one polygon as a list of [x, y] vertices, of a randomly chosen kind."""
    int_coordinates, float_coordinates = coordinate_strategies(size)
    use_floats = draw(st.booleans())
    coordinates = float_coordinates if use_floats else int_coordinates
    offsets = st.floats(0.0, 2.0) if use_floats else st.integers(0, 2)
    # Repeating "random" makes ordinary polygons the most common kind.
    kind = draw(st.sampled_from(
        ["random", "random", "random", "repeated", "collinear", "tiny", "huge", "non_finite"]
    ))
    if kind == "random":
        return draw(random_vertices(coordinates))
    if kind == "repeated":
        return draw(repeated_vertices(coordinates))
    if kind == "collinear":
        return draw(collinear_vertices(coordinates))
    if kind == "tiny":
        return draw(tiny_vertices(coordinates, offsets))
    if kind == "huge":
        return draw(huge_vertices())
    return draw(non_finite_vertices(float_coordinates))


@st.composite
def polygon_inputs(draw, size):
    """Return one polygon in one of the layouts the collate accepts."""
    vertices = draw(polygon_vertices(size))
    is_float = any(isinstance(value, float) for vertex in vertices for value in vertex)
    layout = draw(st.sampled_from(["list", "array", "array_1n2"]))
    if layout == "list":
        return vertices

    # Every int coordinate drawn here is below 2**24, so float32 represents it exactly.
    dtypes = [np.float32, np.float64] if is_float else [np.int32, np.int64, np.float32, np.float64]
    array = np.array(vertices, dtype=draw(st.sampled_from(dtypes)))
    if layout == "array_1n2":
        array = array[np.newaxis]
    return array


@st.composite
def images(draw):
    """Return ``((height, width), polygons)`` for one image."""
    size = (draw(st.integers(1, MAX_SIDE)), draw(st.integers(1, MAX_SIDE)))
    polygons = draw(st.lists(polygon_inputs(size), max_size=MAX_POLYGONS))
    return size, polygons


@st.composite
def target_params(draw):
    """Return TargetParams with any valid shrink ratio and 0 <= thresh_min <= thresh_max <= 1."""
    shrink_ratio = draw(st.floats(0.0, 1.0, exclude_max=True))
    thresh_min, thresh_max = sorted([draw(st.floats(0.0, 1.0)), draw(st.floats(0.0, 1.0))])
    corrected_edges = draw(st.booleans())
    return TargetParams(shrink_ratio, thresh_min, thresh_max, corrected_edges)


@SETTINGS
@given(image=images())
def test_paths_equal_default_params(image):
    size, polygons = image
    prob_map, _, _ = assert_paths_equal(polygons, size)

    assert set(np.unique(prob_map).tolist()) <= {0.0, 1.0}


@SETTINGS
@given(image=images(), params=target_params())
def test_paths_equal_random_params(image, params):
    size, polygons = image
    prob_map, thresh_map, _ = assert_paths_equal(polygons, size, params)

    scale = np.float32(params.thresh_max - params.thresh_min)
    highest = np.float32(1.0) * scale + np.float32(params.thresh_min)
    assert set(np.unique(prob_map).tolist()) <= {0.0, 1.0}
    assert thresh_map.min() >= np.float32(params.thresh_min)
    assert thresh_map.max() <= highest
