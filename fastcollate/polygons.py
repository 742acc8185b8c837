"""Validate and normalise the polygons of one sample, once, at the boundary.

Both target paths call :func:`prepare_polygons` so that they see the same
int32 vertices and skip the same polygons for the same reasons. The kernels
behind the fast path never raise: every decision that can reject a polygon
is made here or reported back as a status code.
"""

import logging
import os
import threading
from collections import Counter
from typing import NamedTuple

import numpy as np

logger = logging.getLogger(__name__)

# Skip reasons, in the order they are checked.
NON_FINITE = "non_finite"
OUT_OF_RANGE = "out_of_range"
TOO_FEW_POINTS = "too_few_points"
ZERO_AREA = "zero_area"
EMPTY_OFFSET = "empty_offset"
OUTSIDE_IMAGE = "outside_image"
SKIP_REASONS = (NON_FINITE, OUT_OF_RANGE, TOO_FEW_POINTS, ZERO_AREA, EMPTY_OFFSET, OUTSIDE_IMAGE)

# Vertices are cast with ``astype(int32)`` like the classic code. Beyond
# 2**20 px the cast, OpenCV's float32 perimeter and the int32 edge lengths
# start to lose precision or overflow, so such polygons are skipped instead.
MAX_COORDINATE = 2.0**20


class PreparedPolygons(NamedTuple):
    """The usable polygons of one sample, concatenated.

    ``points`` is int32 (M, 2), ``starts`` int64 (K + 1,) with polygon ``k``
    at ``points[starts[k]:starts[k + 1]]``. ``skipped`` counts the rejected
    polygons by reason.
    """

    points: np.ndarray
    starts: np.ndarray
    skipped: Counter


def describe_sample(sample_index, filename):
    """Return how errors and logs name a sample: its position in the batch and its file name."""
    if filename is None:
        return f"sample {sample_index} of the batch"
    return f"sample {sample_index} of the batch ({filename!r})"


def describe_image_type(name, image):
    """Return the error message for an ``image`` value that is not a torch tensor."""
    shape = getattr(image, "shape", None)
    module = type(image).__module__
    found = f"a {type(image).__name__}" if module == "builtins" else f"a {module}.{type(image).__name__}"
    if image is None:
        found = "None"
    elif shape is not None:
        found += f" of shape {tuple(shape)}"
    advice = " (convert it with torch.from_numpy)" if isinstance(image, np.ndarray) else ""
    return f"{name}: key 'image' is {found}, not a torch.Tensor; expected a (C, H, W) tensor{advice}"


def as_vertex_array(polygon, sample_index, filename, polygon_index):
    """Return ``polygon`` as an (N, 2) numeric array, or raise ``ValueError``.

    Accepts (N, 2) and (1, N, 2) arrays or nested lists of ints or floats.
    """
    try:
        array = np.asarray(polygon)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"{describe_sample(sample_index, filename)}: key 'polygons'[{polygon_index}] "
            f"cannot be read as an array of vertices ({error}); "
            "expected an (N, 2) or (1, N, 2) array of x, y coordinates"
        ) from None

    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2 or array.shape[1] != 2:
        raise ValueError(
            f"{describe_sample(sample_index, filename)}: key 'polygons'[{polygon_index}] "
            f"has shape {tuple(array.shape)}; expected (N, 2) or (1, N, 2) x, y coordinates"
        )
    if array.dtype.kind not in "iuf" and array.size:
        raise ValueError(
            f"{describe_sample(sample_index, filename)}: key 'polygons'[{polygon_index}] "
            f"has dtype {array.dtype}; expected integer or floating-point coordinates"
        )
    return array


def prepare_polygons(polygons, sample_index=0, filename=None):
    """Validate the polygons of one sample and cast them to int32.

    Parameters
    ----------
    polygons : sequence of array_like, each (N, 2) or (1, N, 2)
        Vertex coordinates in pixels, x then y.
    sample_index : int
        Position of the sample in its batch, used in error messages.
    filename : str or None
        The sample's ``image_filename``, used in error messages.

    Returns
    -------
    PreparedPolygons

    Raises
    ------
    ValueError
        If ``polygons`` is not a sequence, or a polygon does not have shape
        (N, 2) or (1, N, 2) or is not numeric.
    """
    if polygons is None or isinstance(polygons, (str, bytes)) or not hasattr(polygons, "__len__"):
        raise ValueError(
            f"{describe_sample(sample_index, filename)}: key 'polygons' is "
            f"{type(polygons).__name__}; expected a list of (N, 2) or (1, N, 2) arrays"
        )

    if isinstance(polygons, np.ndarray) and polygons.ndim == 2:
        raise ValueError(
            f"{describe_sample(sample_index, filename)}: key 'polygons' is a single array of shape "
            f"{polygons.shape}; expected a list of (N, 2) polygons, e.g. [polygon]"
        )

    skipped = Counter()
    kept = []
    for polygon_index, polygon in enumerate(polygons):
        vertices = as_vertex_array(polygon, sample_index, filename, polygon_index)

        # The classic cast truncates toward zero; NaN, inf and huge values
        # have no defined int32 value, so they are rejected first.
        if vertices.dtype.kind == "f":
            if not np.isfinite(vertices).all():
                skipped[NON_FINITE] += 1
                continue
        # float64 magnitudes: float16 cannot hold the bound and int32 abs wraps.
        if vertices.size and np.abs(vertices.astype(np.float64)).max() >= MAX_COORDINATE:
            skipped[OUT_OF_RANGE] += 1
            continue

        # The classic test counts values, not vertices: one vertex is skipped
        # while two vertices pass on to the area test.
        if vertices.size < 3:
            skipped[TOO_FEW_POINTS] += 1
            continue
        kept.append(vertices.astype(np.int32))

    starts = np.zeros(len(kept) + 1, dtype=np.int64)
    if kept:
        np.cumsum([len(vertices) for vertices in kept], out=starts[1:])
        points = np.ascontiguousarray(np.concatenate(kept), dtype=np.int32)
    else:
        points = np.zeros((0, 2), dtype=np.int32)
    return PreparedPolygons(points, starts, skipped)


class SkipLog:
    """Process-wide counts of skipped polygons, with one WARNING per reason.

    DataLoader workers are separate processes, so each logs its own first
    skip of each reason. Later skips are only counted. A forked child starts
    from zero counts, like a spawned one.
    """

    def __init__(self):
        self.reset()

    def reset(self):
        """Forget all counts and logged reasons, as in a new process."""
        self._lock = threading.Lock()
        self.counts = Counter()

    def record(self, skipped, sample_index=0, filename=None):
        """Add the counts of one sample and log reasons seen for the first time."""
        if not skipped:
            return
        with self._lock:
            new_reasons = [reason for reason in skipped if reason not in self.counts]
            self.counts.update(skipped)
        for reason in new_reasons:
            logger.warning(
                "Skipped %d polygon(s) of %s: %s. Later skips are counted without "
                "logging; see fastcollate.skip_counts().",
                skipped[reason], describe_sample(sample_index, filename), reason,
            )


SKIP_LOG = SkipLog()

# A forked DataLoader worker would otherwise inherit the parent's counts and
# never log the reasons the parent already logged. The new lock also avoids
# inheriting one that another parent thread held at the fork.
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=SKIP_LOG.reset)


def skip_counts():
    """Return the polygons skipped so far in this process, by reason."""
    return dict(SKIP_LOG.counts)
