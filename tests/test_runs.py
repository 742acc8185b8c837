"""Run-length kernels of cache entries and the boxes that stand in for dilated polygons."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from fastcollate.kernels.measure import piece_boxes
from fastcollate.kernels.runs import encode_binary_runs, fill_binary_runs


def binary_maps():
    shapes = st.tuples(st.integers(1, 12), st.integers(1, 12))
    return shapes.flatmap(lambda shape: st.lists(st.booleans(), min_size=shape[0] * shape[1],
                                                 max_size=shape[0] * shape[1]).map(
        lambda values: np.array(values, dtype=np.float32).reshape(shape)))


@settings(max_examples=200, deadline=None)
@given(prob_map=binary_maps())
def test_binary_runs_round_trip(prob_map):
    lengths = encode_binary_runs(prob_map.view(np.uint32))
    decoded = np.full_like(prob_map, np.nan)

    assert fill_binary_runs(decoded, lengths)
    assert np.array_equal(decoded.view(np.uint32), prob_map.view(np.uint32))
    assert lengths.sum() == prob_map.size


@pytest.mark.parametrize("value", [-0.0, 0.5, np.nan, 2.0])
def test_binary_runs_reject_other_values(value):
    prob_map = np.zeros((4, 4), dtype=np.float32)
    prob_map[1, 2] = value

    assert encode_binary_runs(prob_map.view(np.uint32)) is None


def test_binary_runs_that_miss_the_map_size_fail():
    prob_map = np.zeros((3, 3), dtype=np.float32)

    assert not fill_binary_runs(prob_map, np.array([4, 4], dtype=np.uint32))
    assert not fill_binary_runs(prob_map, np.array([5, 5], dtype=np.uint32))


def test_piece_boxes_are_the_corners_of_each_piece():
    points = np.array([[3, 9], [7, 2], [5, 5], [-4, 10], [8, -1], [0, 0], [2, 2]], dtype=np.int64)
    starts = np.array([0, 3, 5, 7], dtype=np.int64)

    boxes, box_starts = piece_boxes(points, starts)

    assert boxes.tolist() == [[3, 2], [7, 9], [-4, -1], [8, 10], [0, 0], [2, 2]]
    assert box_starts.tolist() == [0, 2, 4, 6]
