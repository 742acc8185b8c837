"""Property tests: each masked profile's paths agree on random and degenerate polygons.

Hypothesis draws images of 16-96 px per side and up to 6 polygons of
3-12 float or integer vertices that reach past every image edge, with
random ignore tags. Some polygons are tiny (under the 8 px minimum text
size), closed (last vertex repeats the first), have repeated vertices, or
are dumbbells whose shrink splits into two pieces. Each polygon comes as
float64, float32, int32, a (1, N, 2) array or a nested list.
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fastcollate.profiles import MASKED_PROFILES
from fastcollate.targets import TargetParams
from test_profiles_equal import assert_profile_paths_equal

SETTINGS = settings(max_examples=120, deadline=None)


@st.composite
def random_polygon(draw, size):
    margin = max(8, max(size) // 2)
    coordinate = st.one_of(
        st.floats(-margin, max(size) + margin, allow_nan=False, allow_infinity=False),
        st.integers(-margin, max(size) + margin).map(float),
    )
    count = draw(st.integers(3, 12))
    vertices = [[draw(coordinate), draw(coordinate)] for _ in range(count)]
    if draw(st.booleans()):
        index = draw(st.integers(0, count - 1))
        vertices.insert(index, list(vertices[index]))
    if draw(st.booleans()):
        vertices.append(list(vertices[0]))
    return np.array(vertices)


@st.composite
def tiny_box(draw, size):
    """Return a rotated box a few pixels across, which the 8 px minimum masks."""
    x = draw(st.floats(-4, size[1] + 4))
    y = draw(st.floats(-4, size[0] + 4))
    width = draw(st.floats(0.5, 12))
    height = draw(st.floats(0.5, 9))
    angle = draw(st.floats(0, np.pi))
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return corners @ rotation.T + [x, y]


@st.composite
def dumbbell(draw, size):
    """Return two boxes joined by a thin neck, whose shrink splits into two pieces."""
    x = draw(st.floats(-10, size[1] - 10))
    y = draw(st.floats(-10, size[0] - 10))
    lobe = draw(st.floats(10, 30))
    neck = draw(st.floats(1, 6))
    gap = draw(st.floats(4, 30))
    half = (lobe - neck) / 2
    vertices = [
        [0, 0], [lobe, 0], [lobe, half], [lobe + gap, half], [lobe + gap, 0], [2 * lobe + gap, 0],
        [2 * lobe + gap, lobe], [lobe + gap, lobe], [lobe + gap, half + neck], [lobe, half + neck],
        [lobe, lobe], [0, lobe],
    ]
    return np.array(vertices, dtype=np.float64) + [x, y]


def as_layout(polygon, layout):
    """Return ``polygon`` in one of the layouts a sample may use."""
    if layout == "float32":
        return polygon.astype(np.float32)
    if layout == "int32":
        return np.trunc(polygon).astype(np.int32)
    if layout == "batched":
        return polygon[np.newaxis]
    if layout == "list":
        return polygon.tolist()
    return polygon


@st.composite
def pages(draw):
    size = (draw(st.integers(16, 96)), draw(st.integers(16, 96)))
    kinds = st.one_of(random_polygon(size), tiny_box(size), dumbbell(size))
    layouts = st.sampled_from(["float64", "float32", "int32", "batched", "list"])
    polygons = [as_layout(polygon, draw(layouts)) for polygon in draw(st.lists(kinds, max_size=6))]
    ignore_tags = draw(st.lists(st.booleans(), min_size=len(polygons), max_size=len(polygons)))
    shrink_ratio = draw(st.sampled_from([0.4, 0.3, 0.7]))
    return size, polygons, ignore_tags, shrink_ratio


@SETTINGS
@given(pages(), st.sampled_from(MASKED_PROFILES))
def test_profile_paths_agree(page, profile):
    size, polygons, ignore_tags, shrink_ratio = page
    params = TargetParams(shrink_ratio=shrink_ratio, profile=profile)

    assert_profile_paths_equal(profile, polygons, size, ignore_tags, params)
