"""The geometry of one image's targets, packed into and read from cache entries.

A recipe is what the fast path computes before it touches a pixel: the
int32 polygons, their offset distances D, the shrunk polygons from pyclipper
and the bounding boxes of the dilated ones. The target kernels draw both maps from it without pyclipper,
so a cache miss can store it almost for free and a later hit can draw from
it, recording the winning edges then (see :mod:`fastcollate.cache.codec`).
"""

import struct
from typing import NamedTuple

import numpy as np

from fastcollate.kernels.measure import piece_boxes
from fastcollate.polygons import MAX_COORDINATE

# Scale, offset, then the lengths of the arrays that follow.
RECIPE = struct.Struct("<ffIIIIII")

# Vertex coordinates must fit in int32 for the fill kernel, as for cv2.
INT32_LIMIT = 2**31


class Geometry(NamedTuple):
    """The arrays the target kernels take, in their argument order."""

    points: np.ndarray
    starts: np.ndarray
    distances: np.ndarray
    shrunk_points: np.ndarray
    shrunk_starts: np.ndarray
    dilated_points: np.ndarray
    dilated_starts: np.ndarray
    dilated_owners: np.ndarray


def pack_recipe(geometry, scale, offset):
    """Return the recipe payload of ``geometry`` and the normalisation ``scale`` and ``offset``.

    The dilated polygons are stored as their bounding boxes (see
    ``piece_boxes``), which are all the threshold kernels read of them.
    """
    starts = geometry.dilated_starts
    if len(starts) > 1 and (np.diff(starts) > 0).all():
        boxes, box_starts = piece_boxes(geometry.dilated_points, starts)
        geometry = geometry._replace(dilated_points=boxes, dilated_starts=box_starts)
    return b"".join([
        RECIPE.pack(scale, offset, len(geometry.points), len(geometry.starts) - 1,
                    len(geometry.shrunk_points), len(geometry.shrunk_starts) - 1,
                    len(geometry.dilated_points), len(geometry.dilated_starts) - 1),
        # Arrays go widest item first, so every array starts aligned to its item size.
        geometry.starts.astype(np.int64, copy=False).tobytes(),
        geometry.distances.astype(np.float64, copy=False).tobytes(),
        geometry.shrunk_points.astype(np.int64, copy=False).tobytes(),
        geometry.shrunk_starts.astype(np.int64, copy=False).tobytes(),
        geometry.dilated_points.astype(np.int64, copy=False).tobytes(),
        geometry.dilated_starts.astype(np.int64, copy=False).tobytes(),
        geometry.dilated_owners.astype(np.int64, copy=False).tobytes(),
        geometry.points.astype(np.int32, copy=False).tobytes(),
    ])


def unpack_recipe(payload):
    """Return ``(geometry, scale, offset)`` from a recipe payload.

    Raises ``ValueError`` if the payload is truncated, has trailing bytes or
    contains an index or a value that the kernels cannot follow safely.
    """
    if len(payload) < RECIPE.size:
        raise ValueError("cache entry is truncated before its array lengths; rebuild it")
    (scale, offset, point_count, polygon_count, shrunk_point_count, shrunk_count,
     dilated_point_count, dilated_count) = RECIPE.unpack_from(payload, 0)

    reader = PayloadReader(payload, RECIPE.size)
    starts = reader.take(np.int64, polygon_count + 1)
    distances = reader.take(np.float64, polygon_count)
    shrunk_points = reader.take(np.int64, 2 * shrunk_point_count, (shrunk_point_count, 2))
    shrunk_starts = reader.take(np.int64, shrunk_count + 1)
    dilated_points = reader.take(np.int64, 2 * dilated_point_count, (dilated_point_count, 2))
    dilated_starts = reader.take(np.int64, dilated_count + 1)
    dilated_owners = reader.take(np.int64, dilated_count)
    points = reader.take(np.int32, 2 * point_count, (point_count, 2))
    reader.check_end()

    # The kernels do not check bounds, so every index they follow is checked here.
    check_starts(starts, point_count, "polygon")
    check_starts(shrunk_starts, shrunk_point_count, "shrunk polygon")
    check_starts(dilated_starts, dilated_point_count, "dilated polygon")
    if shrunk_point_count and np.abs(shrunk_points).max() >= INT32_LIMIT:
        raise ValueError("cache entry contains a shrunk polygon vertex beyond the int32 range; rebuild it")
    if dilated_count and (dilated_owners.min() < 0 or dilated_owners.max() >= polygon_count):
        raise ValueError("cache entry contains a dilated polygon of a missing polygon; rebuild it")
    if dilated_count and (np.diff(dilated_starts) <= 0).any():
        raise ValueError("cache entry contains an empty dilated polygon; rebuild it")
    # The kernels turn D into pixel ranges, so an out-of-range D would loop for ages.
    owner_distances = distances[dilated_owners]
    if dilated_count and not ((owner_distances >= 0).all() and (owner_distances <= MAX_COORDINATE).all()
                              and np.abs(dilated_points).max() < INT32_LIMIT):
        raise ValueError("cache entry contains a distance outside [0, 2**20] or a vertex beyond int32; "
                         "rebuild it")

    geometry = Geometry(points, starts, distances, shrunk_points, shrunk_starts,
                        dilated_points, dilated_starts, dilated_owners)
    return geometry, np.float32(scale), np.float32(offset)


class PayloadReader:
    """Cut consecutive arrays out of an entry's payload, checking its length."""

    def __init__(self, payload, position):
        self.payload = payload
        self.position = position

    def take(self, dtype, count, shape=None):
        dtype = np.dtype(dtype)
        end = self.position + dtype.itemsize * count
        if end > len(self.payload):
            raise ValueError("cache entry is truncated; rebuild it")
        array = np.frombuffer(self.payload, dtype=dtype, count=count, offset=self.position)
        self.position = end
        # Kernels need aligned arrays, so an entry stored at an odd address is copied.
        if not array.flags.aligned:
            array = array.copy()
        return array.reshape(shape) if shape is not None else array

    def check_end(self):
        """Raise ``ValueError`` unless every byte of the payload was taken."""
        if self.position != len(self.payload):
            raise ValueError(
                f"cache entry has {len(self.payload) - self.position} unexpected trailing bytes; rebuild it"
            )


def check_starts(starts, point_count, name):
    """Raise ``ValueError`` unless ``starts`` are offsets from 0 to ``point_count`` that never decrease."""
    if starts[0] != 0 or starts[-1] != point_count or (len(starts) > 1 and (np.diff(starts) < 0).any()):
        raise ValueError(f"cache entry contains invalid {name} offsets; rebuild it")
