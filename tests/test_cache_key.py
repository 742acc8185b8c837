"""Cache keys: stable across processes and hash seeds, distinct for distinct content."""

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fastcollate.cache.key import KEY_LENGTH, encode_parameter, target_key
from fastcollate.polygons import prepare_polygons
from fastcollate.synthetic import make_page
from fastcollate.targets import TargetParams

SHAPE = (320, 320)
PROJECT_ROOT = Path(__file__).resolve().parents[1]

KEY_SCRIPT = """
import numpy as np
from fastcollate.cache.key import target_key
from fastcollate.polygons import prepare_polygons
from fastcollate.synthetic import make_page
from fastcollate.targets import TargetParams
page = make_page(np.random.default_rng(7), 320, 40)
print(target_key(prepare_polygons(page), (320, 320), TargetParams()))
"""


def page_key(polygons, shape=SHAPE, params=None):
    return target_key(prepare_polygons(polygons), shape, params if params is not None else TargetParams())


@pytest.fixture
def page():
    return make_page(np.random.default_rng(7), 320, 40)


def test_key_format(page):
    key = page_key(page)
    assert len(key) == KEY_LENGTH
    assert int(key, 16) >= 0


def test_key_stable_across_processes(page):
    # The test process itself runs with a random hash seed. The children
    # run at once, to keep the test short.
    seeds = ["0", "12345"]
    processes = []
    for seed in seeds:
        environment = dict(os.environ, PYTHONHASHSEED=seed, PYTHONPATH=os.pathsep.join(
            [str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")]))
        processes.append(subprocess.Popen([sys.executable, "-c", KEY_SCRIPT], env=environment,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))

    expected = page_key(page)
    try:
        for seed, process in zip(seeds, processes):
            output, errors = process.communicate(timeout=120)
            assert process.returncode == 0, errors
            assert output.strip() == expected, f"PYTHONHASHSEED={seed}"
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


def test_key_same_content_same_key(page):
    as_float32 = [np.asarray(polygon, dtype=np.float32).reshape(1, -1, 2) for polygon in page]
    as_lists = [np.asarray(polygon).astype(np.int32).tolist() for polygon in page]
    assert page_key(as_float32) == page_key(page)
    assert page_key(as_lists) == page_key(page)


def test_key_vertex_order_matters():
    square = [np.array([[10, 10], [90, 10], [90, 60], [10, 60]])]
    reversed_square = [square[0][::-1]]
    rotated_square = [np.roll(square[0], 1, axis=0)]
    keys = {page_key(square), page_key(reversed_square), page_key(rotated_square)}
    assert len(keys) == 3


def test_key_polygon_order_matters(page):
    assert page_key(page) != page_key(page[::-1])


def test_key_one_coordinate_differs(page):
    changed = [np.array(polygon, copy=True) for polygon in page]
    changed[5][2, 1] += 1.0
    assert page_key(changed) != page_key(page)


def test_key_polygon_split_differs():
    # The same points split into polygons differently must not collide.
    points = np.array([[10, 10], [90, 10], [90, 60], [10, 60], [20, 20], [30, 20], [30, 30]])
    assert page_key([points[:4], points[4:]]) != page_key([points[:3], points[3:]])


def test_key_shape_differs(page):
    assert page_key(page, (320, 320)) != page_key(page, (320, 321))
    assert page_key(page, (320, 321)) != page_key(page, (321, 320))


@pytest.mark.parametrize("field", ["shrink_ratio", "thresh_min", "thresh_max"])
def test_key_float_param_last_bit(page, field):
    base = TargetParams()
    value = getattr(base, field)
    changed = TargetParams(**{**base.__dict__, field: math.nextafter(value, 1.0)})
    assert page_key(page, params=changed) != page_key(page, params=base)


def test_key_corrected_edges_differs(page):
    assert page_key(page, params=TargetParams(corrected_edges=True)) != page_key(page)


def test_key_skipped_polygons_differ(page):
    with_nan = list(page) + [np.array([[np.nan, 1.0], [2.0, 3.0], [4.0, 5.0]])]
    assert page_key(with_nan) != page_key(page)


def test_key_rejects_unknown_parameter_type():
    with pytest.raises(TypeError, match="no exact key form"):
        encode_parameter([0.4])
