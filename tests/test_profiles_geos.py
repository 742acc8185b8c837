"""The GEOS area and perimeter kernels equal shapely's, bit for bit."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Polygon

from fastcollate.kernels.geos import ring_area, ring_length

coordinates = st.one_of(
    st.floats(-2.0**19, 2.0**19, allow_nan=False, allow_infinity=False),
    st.integers(-2**19, 2**19).map(float),
    st.floats(-50, 50, allow_nan=False, allow_infinity=False),
)


@st.composite
def rings(draw):
    """Return an (N, 2) float64 polygon of 3-16 vertices, sometimes closed or with repeats."""
    count = draw(st.integers(3, 16))
    vertices = [[draw(coordinates), draw(coordinates)] for _ in range(count)]
    if draw(st.booleans()):
        vertices.append(list(vertices[0]))
    if draw(st.booleans()):
        index = draw(st.integers(0, len(vertices) - 1))
        vertices.insert(index, list(vertices[index]))
    return np.array(vertices, dtype=np.float64)


def assert_same_as_shapely(vertices):
    shape = Polygon(vertices)
    stop = len(vertices)

    assert ring_area(vertices, 0, stop) == shape.area
    assert ring_length(vertices, 0, stop) == shape.length


@settings(max_examples=400, deadline=None)
@given(rings())
def test_geos_matches_shapely(vertices):
    assert_same_as_shapely(vertices)


@pytest.mark.parametrize("seed", range(4))
def test_geos_random_polygons(seed):
    rng = np.random.default_rng(seed)
    for _ in range(500):
        count = int(rng.integers(3, 14))
        scale = rng.choice([1e-3, 1.0, 1e3])
        vertices = rng.uniform(-1000, 1000, (count, 2)) * scale
        if rng.random() < 0.3:
            vertices = np.round(vertices)
        assert_same_as_shapely(vertices)


def test_geos_slice_of_concatenation():
    """A polygon read from the middle of a flat array gives the same values."""
    first = np.array([[0.5, 0.25], [10.0, 0.0], [3.0, 7.0]])
    second = np.array([[1.1, 2.2], [40.3, 2.9], [41.7, 30.1], [0.2, 28.8], [1.1, 2.2]])
    points = np.concatenate([first, second])

    assert ring_area(points, 3, 8) == Polygon(second).area
    assert ring_length(points, 3, 8) == Polygon(second).length
