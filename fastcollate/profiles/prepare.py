"""Validate the polygons and ignore tags of one sample for the masked profiles.

The original DB code and PaddleOCR keep vertices as floats, so unlike
:func:`fastcollate.polygons.prepare_polygons` nothing is cast to int32
here. Every vertex becomes float64: float32 input converts exactly, and
the profiles then compute as the source code does on float64 polygons.
"""

from collections import Counter
from typing import NamedTuple

import numpy as np

from fastcollate.polygons import (
    MAX_COORDINATE, NON_FINITE, OUT_OF_RANGE, TOO_FEW_POINTS, as_vertex_array, describe_sample,
)


class FloatPolygons(NamedTuple):
    """The usable polygons of one sample, concatenated, with their ignore tags.

    ``points`` is float64 (M, 2) and ``starts`` int64 (K + 1,), with polygon
    ``k`` at ``points[starts[k]:starts[k + 1]]``. ``ignore`` is bool (K,).
    ``skipped`` counts the rejected polygons by reason.
    """

    points: np.ndarray
    starts: np.ndarray
    ignore: np.ndarray
    skipped: Counter


def validate_ignore_tags(ignore_tags, polygon_count, sample_index=0, filename=None):
    """Return ``ignore_tags`` as a list of bools, one per polygon, or raise ``ValueError``.

    ``None`` means no polygon is ignored. Each tag must be a bool or a numpy
    bool, and a 1-D numpy bool array is accepted. A list of strings such as
    transcriptions is rejected instead of being taken as all True.
    """
    name = describe_sample(sample_index, filename)
    if ignore_tags is None:
        return [False] * polygon_count
    # A 0-d array has __len__ but len() raises TypeError, and a 2-D array
    # would be checked row by row, so both are rejected by shape here.
    if isinstance(ignore_tags, np.ndarray) and ignore_tags.ndim != 1:
        raise ValueError(
            f"{name}: key 'ignore_tags' is a numpy array of shape {ignore_tags.shape}; "
            "expected a 1-D bool array or list of bools, one per polygon, or None"
        )
    if isinstance(ignore_tags, (str, bytes)) or not hasattr(ignore_tags, "__len__"):
        raise ValueError(
            f"{name}: key 'ignore_tags' is {ignore_tags!r}; expected a list of bools, "
            "one per polygon, or None"
        )
    if len(ignore_tags) != polygon_count:
        raise ValueError(
            f"{name}: key 'ignore_tags' has {len(ignore_tags)} values ({list(ignore_tags)!r:.200}) "
            f"for {polygon_count} polygons; expected one bool per polygon"
        )
    tags = []
    for index, tag in enumerate(ignore_tags):
        if not isinstance(tag, (bool, np.bool_)):
            raise ValueError(
                f"{name}: key 'ignore_tags'[{index}] is {tag!r} ({type(tag).__name__}); "
                "expected True or False"
            )
        tags.append(bool(tag))
    return tags


def prepare_float_polygons(polygons, ignore_tags=None, sample_index=0, filename=None):
    """Validate the polygons of one sample and convert them to float64.

    Polygons with a non-finite or out-of-range vertex, or with fewer than
    three vertices once a repeated closing vertex is dropped, are skipped
    and counted, and their ignore tags go with them. shapely raises on
    such rings, so the source code cannot use them either.

    Raises
    ------
    ValueError
        If a polygon is not (N, 2) or (1, N, 2) numbers, or ``ignore_tags``
        is not one bool per polygon.
    """
    name = describe_sample(sample_index, filename)
    if polygons is None or isinstance(polygons, (str, bytes)) or not hasattr(polygons, "__len__"):
        raise ValueError(
            f"{name}: key 'polygons' is {type(polygons).__name__}; "
            "expected a list of (N, 2) or (1, N, 2) arrays"
        )
    if isinstance(polygons, np.ndarray) and polygons.ndim == 2:
        raise ValueError(
            f"{name}: key 'polygons' is a single array of shape {polygons.shape}; "
            "expected a list of (N, 2) polygons, e.g. [polygon]"
        )
    tags = validate_ignore_tags(ignore_tags, len(polygons), sample_index, filename)

    arrays = [
        as_vertex_array(polygon, sample_index, filename, index).astype(np.float64)
        for index, polygon in enumerate(polygons)
    ]
    counts = np.array([len(vertices) for vertices in arrays], dtype=np.int64)
    points = np.concatenate(arrays) if arrays else np.zeros((0, 2), dtype=np.float64)

    # Per-vertex checks on the whole sample at once, then summed per polygon.
    # The non-finite check comes first, so an inf vertex counts as non_finite.
    non_finite = ~np.isfinite(points).all(axis=1)
    out_of_range = (np.abs(points) >= MAX_COORDINATE).any(axis=1)
    # One False is appended so that an empty last polygon, whose offset is
    # len(points), still indexes inside the array given to reduceat.
    offsets = np.concatenate(([0], np.cumsum(counts)))
    non_finite_counts = np.add.reduceat(np.append(non_finite, False), offsets[:-1])
    out_of_range_counts = np.add.reduceat(np.append(out_of_range, False), offsets[:-1])

    skipped = Counter()
    keep = np.zeros(len(arrays), dtype=bool)
    for index, vertices in enumerate(arrays):
        count = len(vertices)
        # reduceat gives the next polygon's first value for an empty one.
        if count and non_finite_counts[index]:
            skipped[NON_FINITE] += 1
            continue
        if count and out_of_range_counts[index]:
            skipped[OUT_OF_RANGE] += 1
            continue
        distinct = count
        if count and vertices[0, 0] == vertices[-1, 0] and vertices[0, 1] == vertices[-1, 1]:
            distinct -= 1
        if distinct < 3:
            skipped[TOO_FEW_POINTS] += 1
            continue
        keep[index] = True

    starts = np.zeros(int(keep.sum()) + 1, dtype=np.int64)
    np.cumsum(counts[keep], out=starts[1:])
    if keep.all():
        kept_points = np.ascontiguousarray(points)
    else:
        kept_points = np.ascontiguousarray(np.concatenate([arrays[i] for i in np.flatnonzero(keep)]
                                                          or [np.zeros((0, 2))]))
    ignore = np.array(tags, dtype=bool)[keep] if tags else np.zeros(0, dtype=bool)
    return FloatPolygons(kept_points, starts, ignore, skipped)
