"""Tests for the seeded synthetic page generator."""

import numpy as np
import pyclipper
import pytest
import torch

from fastcollate.synthetic import (
    MAX_ASPECT_RATIO,
    MAX_HEIGHT_FRACTION,
    MAX_ROTATION_DEGREES,
    MIN_ASPECT_RATIO,
    MIN_HEIGHT_FRACTION,
    make_batch,
    make_page,
)

SIZE = 640
SEEDS = range(8)
# Tolerance for lengths and angles recomputed from float64 corner coordinates.
EPSILON = 1e-9


def page(seed, n_words=200, size=SIZE):
    return make_page(np.random.default_rng(seed), size, n_words)


def shoelace_sum(polygon):
    """Return twice the signed area, positive for clockwise on screen (y down)."""
    x, y = polygon[:, 0], polygon[:, 1]
    return float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))


def test_page_deterministic():
    first = page(3)
    second = page(3)
    assert len(first) == len(second)
    for a, b in zip(first, second):
        assert np.array_equal(a, b)


def test_page_differs_by_seed():
    first = page(3)
    second = page(4)
    assert not all(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(first, second))


@pytest.mark.parametrize("n_words", [0, 1, 7, 200, 1000])
def test_page_word_count(n_words):
    assert len(page(0, n_words)) == n_words


@pytest.mark.parametrize("seed", SEEDS)
def test_page_polygon_shapes(seed):
    polygons = page(seed)
    point_counts = {polygon.shape[0] for polygon in polygons}
    for polygon in polygons:
        assert polygon.dtype == np.float64
        assert polygon.ndim == 2
        assert polygon.shape[1] == 2
        assert np.isfinite(polygon).all()
    assert 4 in point_counts
    assert point_counts - {4} <= {8, 10, 12, 14, 16}
    assert point_counts - {4}, "expected some curved words"


@pytest.mark.parametrize("seed", SEEDS)
def test_page_polygons_clockwise(seed):
    for polygon in page(seed):
        assert shoelace_sum(polygon) > 0


@pytest.mark.parametrize("seed", SEEDS)
def test_page_polygons_simple(seed):
    # pyclipper works on integers, so scale to 1/1000 px before the check.
    for polygon in page(seed):
        path = np.round(polygon * 1000).astype(np.int64).tolist()
        assert len(pyclipper.SimplifyPolygon(path)) == 1


@pytest.mark.parametrize("seed", SEEDS)
def test_page_quad_sizes_and_angles(seed):
    min_height = SIZE * MIN_HEIGHT_FRACTION
    max_height = SIZE * MAX_HEIGHT_FRACTION
    quads = [polygon for polygon in page(seed) if polygon.shape[0] == 4]
    assert quads

    for quad in quads:
        top = quad[1] - quad[0]
        right = quad[2] - quad[1]
        width = np.hypot(*top)
        height = np.hypot(*right)
        assert min_height - EPSILON <= height <= max_height + EPSILON
        assert MIN_ASPECT_RATIO - EPSILON <= width / height <= MAX_ASPECT_RATIO + EPSILON
        assert abs(np.degrees(np.arctan2(top[1], top[0]))) <= MAX_ROTATION_DEGREES + EPSILON
        assert abs(np.dot(top, right)) / (width * height) <= EPSILON


@pytest.mark.parametrize("seed", SEEDS)
def test_page_curved_words_bend(seed):
    curved = [polygon for polygon in page(seed) if polygon.shape[0] > 4]
    bent = 0
    for polygon in curved:
        top = polygon[: len(polygon) // 2]
        chord = top[-1] - top[0]
        relative = top - top[0]
        offsets = (chord[0] * relative[:, 1] - chord[1] * relative[:, 0]) / np.hypot(*chord)
        bent += np.abs(offsets).max() > 0.01
    assert bent > len(curved) // 2


def test_page_crosses_border():
    for seed in SEEDS:
        polygons = page(seed)
        crossing = [polygon for polygon in polygons if polygon.min() < 0 or polygon.max() > SIZE]
        inside = [polygon for polygon in polygons if polygon.min() >= 0 and polygon.max() <= SIZE]
        assert crossing, seed
        assert len(inside) > len(crossing), seed


def test_page_stays_near_page():
    max_width = SIZE * MAX_HEIGHT_FRACTION * MAX_ASPECT_RATIO
    for seed in SEEDS:
        for polygon in page(seed):
            assert polygon.min() > -max_width
            assert polygon.max() < SIZE + max_width


@pytest.mark.parametrize(("size", "n_words"), [(0, 5), (-1, 5), (640, -1)])
def test_page_invalid_arguments(size, n_words):
    with pytest.raises(ValueError, match="invalid"):
        make_page(np.random.default_rng(0), size, n_words)


def test_batch_format():
    samples = make_batch(seed=5, size=320, n_words=40, batch=3)
    assert len(samples) == 3
    for index, sample in enumerate(samples):
        assert set(sample) == {"image", "polygons", "image_filename", "inverse_matrix", "ignore_tags"}
        assert sample["image_filename"] == f"synthetic_5_{index}.jpg"

        image = sample["image"]
        assert image.shape == (3, 320, 320)
        assert image.dtype == torch.float32
        assert not image.any()

        assert len(sample["polygons"]) == 40
        for polygon in sample["polygons"]:
            assert polygon.dtype == np.float32
            assert polygon.ndim == 3
            assert polygon.shape[0] == 1
            assert polygon.shape[2] == 2

        assert sample["inverse_matrix"].dtype == np.float64
        assert np.array_equal(sample["inverse_matrix"], np.eye(3))
        assert sample["ignore_tags"] == [False] * 40


def test_batch_matches_page_sequence():
    samples = make_batch(seed=11, size=SIZE, n_words=30, batch=2)
    rng = np.random.default_rng(11)
    for sample in samples:
        expected = make_page(rng, SIZE, 30)
        for polygon, page_polygon in zip(sample["polygons"], expected):
            assert np.array_equal(polygon[0], page_polygon.astype(np.float32))


def test_batch_deterministic_and_pages_differ():
    first = make_batch(seed=2, size=SIZE, n_words=25, batch=2)
    second = make_batch(seed=2, size=SIZE, n_words=25, batch=2)
    for a, b in zip(first, second):
        assert all(np.array_equal(p, q) for p, q in zip(a["polygons"], b["polygons"]))

    page_0, page_1 = (sample["polygons"] for sample in first)
    assert not all(p.shape == q.shape and np.array_equal(p, q) for p, q in zip(page_0, page_1))


def test_batch_empty():
    assert make_batch(seed=0, size=SIZE, n_words=10, batch=0) == []
