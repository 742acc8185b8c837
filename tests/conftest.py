"""Helpers shared by the tests that compare the fast path with the reference path.

Test modules import the plain functions below with ``from conftest import ...``:
pytest puts this folder on ``sys.path`` because it is not a package.
"""

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from fastcollate.fast import make_targets_fast
from fastcollate.polygons import prepare_polygons
from fastcollate.reference import make_targets_reference
from fastcollate.targets import TargetParams

# Real annotation files, kept beside the checkout rather than in it.
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SHARED_DATA_MISSING = (
    f"real annotation corpus not found at {SHARED_DATA}; "
    "the comparisons on real annotation files are skipped"
)


def require_shared_data():
    """Skip the calling test when the real annotation corpus is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(SHARED_DATA_MISSING)


def shared_data_params(folder, pattern):
    """Return one ``pytest.param`` per file of ``SHARED_DATA / folder`` matching ``pattern``.

    The id is the path relative to ``SHARED_DATA``, so a failure names the
    file. Without the corpus, a single skipped param keeps the reason visible
    in the test report.
    """
    directory = SHARED_DATA / folder
    if not directory.is_dir():
        return [pytest.param(None, id=f"{folder}-absent", marks=pytest.mark.skip(reason=SHARED_DATA_MISSING))]
    paths = sorted(directory.glob(pattern))
    return [pytest.param(path, id=str(path.relative_to(SHARED_DATA))) for path in paths]


def run_path(polygons, size, params, reference):
    """Build one image's maps on one path; return ``(prob_map, thresh_map, skipped)``.

    Calls the path functions directly, rather than ``make_db_targets``, so
    that the skip counts of this image come back and the process-wide skip
    log is left alone.
    """
    height, width = size
    prepared = prepare_polygons(polygons)
    if reference:
        return make_targets_reference(
            prepared, height, width, params.shrink_ratio, params.thresh_min,
            params.thresh_max, params.corrected_edges,
        )

    prob_map = np.zeros((height, width), dtype=np.float32)
    thresh_map = np.zeros((height, width), dtype=np.float32)
    skipped = make_targets_fast(
        prepared, prob_map, thresh_map, params.shrink_ratio, params.thresh_min,
        params.thresh_max, params.corrected_edges,
    )
    return prob_map, thresh_map, skipped


def assert_paths_equal(polygons, size, params=None):
    """Assert that both paths give the same maps, bit for bit, and the same skip counts.

    Also asserts that every value is finite and that both maps are float32
    of shape ``size``. Returns the reference path's
    ``(prob_map, thresh_map, skipped)`` for further checks.
    """
    params = params if params is not None else TargetParams()
    reference_prob, reference_thresh, reference_skipped = run_path(polygons, size, params, True)
    fast_prob, fast_thresh, fast_skipped = run_path(polygons, size, params, False)

    assert reference_prob.dtype == np.float32
    assert reference_thresh.dtype == np.float32
    assert reference_prob.shape == tuple(size)
    assert reference_thresh.shape == tuple(size)
    assert np.isfinite(reference_prob).all(), "reference prob map has NaN or inf"
    assert np.isfinite(reference_thresh).all(), "reference thresh map has NaN or inf"
    assert np.isfinite(fast_prob).all(), "fast prob map has NaN or inf"
    assert np.isfinite(fast_thresh).all(), "fast thresh map has NaN or inf"
    assert np.array_equal(fast_prob, reference_prob), describe_difference(fast_prob, reference_prob, "prob")
    assert np.array_equal(fast_thresh, reference_thresh), describe_difference(fast_thresh, reference_thresh, "thresh")
    # Counter equality ignores reasons counted zero times.
    assert Counter(fast_skipped) == Counter(reference_skipped)
    return reference_prob, reference_thresh, reference_skipped


def describe_difference(fast, reference, name):
    """Return a message naming the first differing pixel of two maps."""
    differing = np.argwhere(fast != reference)
    if len(differing) == 0:
        return f"{name} maps differ"
    y, x = differing[0]
    return (
        f"{name} maps differ at {len(differing)} pixel(s); first at (y={y}, x={x}): "
        f"fast {fast[y, x]!r}, reference {reference[y, x]!r}"
    )
