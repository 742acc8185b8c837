"""Compare fastcollate.kernels.fill with cv2.fillPoly pixel for pixel."""

import cv2
import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastcollate.kernels.fill import fill_polygon, fill_polygons

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1

# (height, width) pairs, including single rows and columns.
SHAPES = [(1, 1), (1, 19), (17, 1), (2, 3), (37, 91), (91, 37), (64, 64)]


def _background(shape, seed=0):
    """Return random float32 data, so that any pixel written by mistake shows."""
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _cv_fill(canvas, points, value):
    cv2.fillPoly(canvas, [np.asarray(points, dtype=np.int32)], float(value))


def _assert_matches_cv(shape, points, value=np.float32(0.75)):
    points = np.asarray(points, dtype=np.int64).reshape(-1, 2)
    expected = _background(shape)
    _cv_fill(expected, points, value)
    actual = _background(shape)
    fill_polygon(actual, points[:, 0].copy(), points[:, 1].copy(), np.float32(value))
    # Compare bits, so that -0.0 and 0.0 or two NaN payloads count as different.
    assert np.array_equal(actual.view(np.uint32), expected.view(np.uint32)), (
        f"shape={shape} points={points.tolist()} "
        f"differs at (y, x) {np.argwhere(actual != expected)[:8].tolist()}"
    )


# Random polygon generators. Each returns int64 (n, 2) vertices for an image
# of the given shape. Centers range a little past the image border, so many
# polygons cross it.

def _center(rng, h, w, margin=0.3):
    return rng.uniform([-margin * w, -margin * h], [(1 + margin) * w, (1 + margin) * h])


def _ring(center, radii, angles):
    pts = center + np.stack([radii * np.cos(angles), radii * np.sin(angles)], 1)
    return np.round(pts).astype(np.int64)


def _convex(rng, h, w):
    n = rng.integers(3, 10)
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    return _ring(_center(rng, h, w), rng.uniform(0.5, 1.2 * max(h, w)), angles)


def _concave(rng, h, w):
    n = rng.integers(4, 14)
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    radii = rng.uniform(0.1, 1.0, n) * max(h, w)
    return _ring(_center(rng, h, w), radii, angles)


def _self_intersecting(rng, h, w):
    n = rng.integers(4, 12)
    return np.stack([rng.integers(-5, w + 5, n), rng.integers(-5, h + 5, n)], 1)


def _star(rng, h, w):
    # A {p/q} star polygon crosses itself. When p and q share a factor it
    # traces a smaller polygon several times, which repeats every edge.
    p = rng.integers(5, 12)
    q = rng.integers(2, (p + 1) // 2)
    angles = 2 * np.pi * q * np.arange(p) / p + rng.uniform(0, 2 * np.pi)
    return _ring(_center(rng, h, w), rng.uniform(1, max(h, w)), angles)


def _bowtie(rng, h, w):
    x0, x1 = np.sort(rng.integers(-3, w + 3, 2))
    y0, y1 = np.sort(rng.integers(-3, h + 3, 2))
    return np.array([[x0, y0], [x1, y1], [x1, y0], [x0, y1]])


def _duplicates(rng, h, w):
    base = _concave(rng, h, w)
    repeat = rng.integers(1, 4, len(base))
    return np.repeat(base, repeat, axis=0)


def _collinear(rng, h, w):
    n = rng.integers(2, 7)
    start = rng.integers(-5, [w + 5, h + 5])
    step = rng.integers(-6, 7, 2)
    return start + np.outer(rng.integers(-4, 5, n), step)


def _few_points(rng, h, w):
    n = rng.integers(1, 3)
    return np.stack([rng.integers(-40, w + 40, n), rng.integers(-40, h + 40, n)], 1)


def _rectilinear(rng, h, w):
    # Alternate horizontal and vertical moves, so every edge is axis-aligned.
    n = 2 * rng.integers(2, 6)
    xs = rng.integers(-4, w + 4, n // 2)
    ys = rng.integers(-4, h + 4, n // 2)
    pts = np.empty((n, 2), dtype=np.int64)
    pts[0::2, 0] = xs
    pts[1::2, 0] = xs
    pts[0::2, 1] = ys
    pts[1::2, 1] = np.roll(ys, -1)
    return pts


def _tiny(rng, h, w):
    n = rng.integers(1, 6)
    origin = rng.integers(-2, [w + 2, h + 2])
    return origin + rng.integers(0, 4, (n, 2))


def _across_border(rng, h, w):
    # Anchor on one of the four sides or four corners, so the polygon crosses
    # that part of the border.
    anchors = [(0, 0), (w / 2, 0), (w, 0), (w, h / 2), (w, h), (w / 2, h), (0, h), (0, h / 2)]
    center = np.array(anchors[rng.integers(len(anchors))]) + rng.normal(0, 2, 2)
    n = rng.integers(3, 9)
    angles = np.sort(rng.uniform(0, 2 * np.pi, n))
    return _ring(center, rng.uniform(1, 0.8 * max(h, w) + 3, n), angles)


def _outside(rng, h, w):
    pts = _concave(rng, h, w)
    side = rng.integers(4)
    shift = [(-(pts[:, 0].max() + 1), 0), (w - pts[:, 0].min(), 0),
             (0, -(pts[:, 1].max() + 1)), (0, h - pts[:, 1].min())][side]
    return pts + np.array(shift) + rng.integers(0, 50) * np.sign(shift)


def _huge(rng, h, w):
    # x may take any int32 value. cv2 walks every row from the top vertex,
    # so y stays within a million rows of the image to keep the test fast.
    n = rng.integers(2, 7)
    xs = rng.integers(INT32_MIN, INT32_MAX, n, endpoint=True)
    ys = rng.integers(-10**6, 10**6, n)
    near = rng.random(n) < 0.5
    xs[near] = rng.integers(-3, w + 3, near.sum())
    near = rng.random(n) < 0.5
    ys[near] = rng.integers(-3, h + 3, near.sum())
    return np.stack([xs, ys], 1)


GENERATORS = {
    "convex": (_convex, 2000),
    "concave": (_concave, 2000),
    "crossing": (_self_intersecting, 2000),
    "star": (_star, 1000),
    "bowtie": (_bowtie, 1000),
    "duplicates": (_duplicates, 1000),
    "collinear": (_collinear, 1000),
    "few_points": (_few_points, 2000),
    "rectilinear": (_rectilinear, 1000),
    "tiny": (_tiny, 2000),
    "border": (_across_border, 3000),
    "outside": (_outside, 1000),
    "huge": (_huge, 500),
}


@pytest.mark.parametrize("kind", sorted(GENERATORS))
def test_random(kind):
    generate, count = GENERATORS[kind]
    rng = np.random.default_rng(sorted(GENERATORS).index(kind))
    for _ in range(count):
        shape = SHAPES[rng.integers(len(SHAPES))]
        _assert_matches_cv(shape, generate(rng, *shape), value=np.float32(rng.uniform(-2, 2)))


# Hand-picked cases, each showing one behaviour of OpenCV 5.1.0.
CASES = {
    # Vertex x values carry no half-pixel offset. With +0.5 the pixel at
    # (y=18, x=13) would fill.
    "no_half_offset": ((35, 23), [[13, 26], [12, 13], [12, 10]]),
    "one_point": ((5, 8), [[2, 3]]),
    "one_point_outside": ((5, 8), [[8, 3]]),
    "two_points": ((5, 8), [[0, 0], [7, 2]]),
    # The two edges of a 2-point polygon clip differently, so the fill
    # covers pixels off the segment.
    "two_points_clipped": ((26, 1), [[285, 301], [-244, -221]]),
    # A clip that lands both ends on one row keeps the original y ends but
    # still takes the clipped x ends.
    "clip_to_one_row": ((17, 14), [[40, -28], [31, 44], [6, -19], [6, 24]]),
    # clipLine interpolates in double precision. With integer division in
    # its place, each of these fills differently.
    "clip_double_1": ((38, 26), [[-1114774136, -5743638], [1370195243, 7059641], [21, 8]]),
    "clip_double_2": ((34, 34), [[-1230184242, -4851388], [1373523669, 5416665], [32, 19]]),
    "clip_double_3": ((35, 17), [[-591887774, -4038949], [1688557029, 11522447], [13, 31]]),
    # dx is truncated toward zero, so x drifts right along this 70000-row
    # edge until the fill leaves a hole at column 1, from row 58333 on.
    "long_edge_drift": ((70000, 4), [[3, 0], [0, 69999], [3, 69999]]),
    "int32_x": ((10, 12), [[INT32_MIN, 0], [INT32_MAX, 9], [5, 4]]),
    "int32_corners_x": ((9, 9), [[INT32_MIN, -3], [INT32_MAX, -3], [INT32_MAX, 11], [INT32_MIN, 11]]),
    "int32_y_below": ((9, 9), [[0, INT32_MAX], [8, INT32_MAX - 5], [3, INT32_MAX - 1]]),
    "int32_y_above": ((9, 9), [[0, INT32_MIN], [8, INT32_MIN + 5], [3, INT32_MIN + 1]]),
    "far_above": ((20, 20), [[-5, -10**6], [25, -10**6 + 3], [10, 15]]),
    "whole_image": ((7, 5), [[-10, -10], [20, -10], [20, 20], [-10, 20]]),
    "pixel_1x1": ((1, 1), [[0, 0], [0, 0], [0, 0]]),
    "row_1xw": ((1, 19), [[-3, -2], [22, 1], [5, 3]]),
    "column_hx1": ((17, 1), [[-2, -3], [1, 20], [0, 8]]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_case(name):
    shape, points = CASES[name]
    _assert_matches_cv(shape, points)


@pytest.mark.slow
def test_int32_y_span():
    # cv2 walks all 2**32 rows here, which took it about 15 s on a 2-core
    # development machine.
    _assert_matches_cv((10, 10), [[0, INT32_MIN], [5, INT32_MAX], [9, 0]])


def test_no_points():
    canvas = _background((6, 7))
    empty = np.zeros(0, dtype=np.int64)
    fill_polygon(canvas, empty, empty, np.float32(1))
    assert np.array_equal(canvas, _background((6, 7)))


def test_value_bits():
    # The stored value is the float32 passed in, bit for bit.
    values = [1e-38, -0.0, np.inf, np.nan, 3.14159]
    for value in np.array(values, dtype=np.float32):
        _assert_matches_cv((8, 8), [[1, 1], [6, 2], [3, 7]], value=value)


coordinate = st.one_of(
    st.integers(-60, 100),
    st.integers(-10**5, 10**5),
)


@settings(max_examples=1000, deadline=None)
@given(
    height=st.integers(1, 48),
    width=st.integers(1, 48),
    xs=st.lists(st.one_of(coordinate, st.integers(INT32_MIN, INT32_MAX)), min_size=1, max_size=10),
    ys=st.lists(coordinate, min_size=1, max_size=10),
)
def test_property(height, width, xs, ys):
    n = min(len(xs), len(ys))
    _assert_matches_cv((height, width), np.stack([xs[:n], ys[:n]], 1))


def _pack(polygons):
    points = np.concatenate([np.asarray(p, dtype=np.int64).reshape(-1, 2) for p in polygons])
    sizes = [len(p) for p in polygons]
    return points, np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)


def test_polygons_random():
    rng = np.random.default_rng(100)
    for _ in range(100):
        shape = SHAPES[rng.integers(len(SHAPES))]
        kinds = [GENERATORS[k][0] for k in sorted(GENERATORS) if k != "huge"]
        polygons = [kinds[rng.integers(len(kinds))](rng, *shape) for _ in range(rng.integers(1, 12))]
        points, starts = _pack(polygons)
        expected = _background(shape)
        for polygon in polygons:
            _cv_fill(expected, polygon, 0.5)
        actual = _background(shape)
        fill_polygons(actual, points, starts, np.float32(0.5))
        assert np.array_equal(actual, expected)


def test_polygons_skip_empty():
    # An empty range in starts is skipped, where cv2 rejects an empty polygon.
    polygons = [[[1, 1], [8, 2], [4, 9]], [], [[0, 5], [9, 5], [5, 0]], []]
    points, starts = _pack(polygons)
    expected = _background((10, 10))
    for polygon in polygons:
        if polygon:
            _cv_fill(expected, polygon, 2.0)
    actual = _background((10, 10))
    fill_polygons(actual, points, starts, np.float32(2.0))
    assert np.array_equal(actual, expected)


def test_polygons_no_ranges():
    canvas = _background((4, 4))
    fill_polygons(canvas, np.zeros((0, 2), np.int64), np.zeros(1, np.int64), np.float32(1))
    assert np.array_equal(canvas, _background((4, 4)))


@numba.njit
def _fill_both_ways(canvas_one, canvas_many, points, starts, value):
    for k in range(starts.shape[0] - 1):
        polygon = points[starts[k]:starts[k + 1]]
        fill_polygon(canvas_one, polygon[:, 0].copy(), polygon[:, 1].copy(), value)
    fill_polygons(canvas_many, points, starts, value)


def test_called_from_jit():
    points, starts = _pack([[[2, 2], [20, 4], [9, 15]], [[-3, 8], [12, 30], [25, 1], [7, 7]]])
    expected = _background((24, 24))
    _cv_fill(expected, points[:3], 1.5)
    _cv_fill(expected, points[3:], 1.5)
    one = _background((24, 24))
    many = _background((24, 24))
    _fill_both_ways(one, many, points, starts, np.float32(1.5))
    assert np.array_equal(one, expected)
    assert np.array_equal(many, expected)
