"""The fast path equals the reference path on synthetic pages and real annotations.

Every comparison runs both paths through ``assert_paths_equal``, which checks
the prob map and the threshold map bit for bit, the skip counts, and that no
value is NaN or inf.
"""

import json
import math

import numpy as np
import pytest

from conftest import SHARED_DATA, assert_paths_equal, require_shared_data, run_path, shared_data_params
from fastcollate.datasets import letterbox, make_sample, read_icdar_annotation, read_image_size
from fastcollate.synthetic import make_page
from fastcollate.targets import TargetParams, make_db_targets

# The side of the square training image that every real annotation file is
# scaled and padded to, as a DBNet data pipeline does.
LETTERBOX_SIZE = 640
# ICDAR 2015 test images are not in the corpus, but every image of the set is 1280x720.
ICDAR2015_IMAGE_SIZE = (720, 1280)

# (page side in px, seed). The seed also draws the number of words, 80-250.
PAGE_CASES = [(size, seed) for size in (640, 1024, 1280) for seed in (0, 1, 2)]


def letterboxed_polygons(polygons, image_size):
    """Scale polygons to the 640x640 letterbox and return them as the collate receives them.

    The polygons come back as float32 (1, N, 2) arrays, the layout of
    ``fastcollate.datasets.make_sample``.
    """
    scaled, output_size, inverse_matrix = letterbox(polygons, image_size, LETTERBOX_SIZE)
    sample = make_sample(scaled, LETTERBOX_SIZE, "unused.jpg", inverse_matrix, [False] * len(scaled))
    return sample["polygons"], output_size


def read_ctw1500(path):
    """Read a CTW1500 evaluation file: 28 integer coordinates and a flag per line."""
    polygons = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        fields = line.split(",")
        coordinates = [float(field) for field in fields[:-1]]
        polygons.append(np.array(coordinates, dtype=np.float64).reshape(-1, 2))
    return polygons


def float32_thresh_max(params):
    """Return the value a pixel at distance 0 gets: 1 scaled in float32 as the maps are.

    The classic scaling ``map * (thresh_max - thresh_min) + thresh_min`` runs
    in float32, so this can be one ulp above ``float32(thresh_max)``: the
    defaults 0.3 and 0.7 give 0.70000005.
    """
    scale = np.float32(params.thresh_max - params.thresh_min)
    return np.float32(1.0) * scale + np.float32(params.thresh_min)


def wildreceipt_params():
    """Return one param per receipt of the WildReceipt JSON lines file, named by image file."""
    path = SHARED_DATA / "wildreceipt" / "train.txt"
    if not path.is_file():
        return shared_data_params("wildreceipt", "train.txt")
    params = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            receipt = json.loads(line)
            params.append(pytest.param(receipt, id=f"wildreceipt/{receipt['file_name']}"))
    return params


@pytest.mark.parametrize(("size", "seed"), PAGE_CASES)
def test_synthetic_page(size, seed):
    rng = np.random.default_rng(seed)
    n_words = int(rng.integers(80, 251))
    polygons = make_page(rng, size, n_words)

    assert_paths_equal(polygons, (size, size))


@pytest.mark.parametrize("path", shared_data_params("icdar2015/train", "gt_img_*.txt"))
def test_icdar2015_train(path):
    words = read_icdar_annotation(path)
    image_size = read_image_size(path.with_name(path.name.removeprefix("gt_")).with_suffix(".jpg"))
    polygons, size = letterboxed_polygons([word.polygon for word in words], image_size)

    assert_paths_equal(polygons, size)


@pytest.mark.parametrize("path", shared_data_params("icdar2015/test", "gt_img_*.txt"))
def test_icdar2015_test(path):
    words = read_icdar_annotation(path)
    polygons, size = letterboxed_polygons([word.polygon for word in words], ICDAR2015_IMAGE_SIZE)

    assert_paths_equal(polygons, size)


@pytest.mark.parametrize("path", shared_data_params("sroie", "*.txt"))
def test_sroie(path):
    words = read_icdar_annotation(path)
    image_size = read_image_size(path.with_suffix(".jpg"))
    polygons, size = letterboxed_polygons([word.polygon for word in words], image_size)

    assert_paths_equal(polygons, size)


@pytest.mark.parametrize("path", shared_data_params("ctw1500", "*.txt"))
def test_ctw1500(path):
    polygons = read_ctw1500(path)
    # The images are not in the corpus, so the image is taken as the smallest
    # one that contains every vertex as a pixel: the largest x and y, rounded
    # up, plus one.
    points = np.concatenate(polygons)
    image_size = (math.ceil(points[:, 1].max()) + 1, math.ceil(points[:, 0].max()) + 1)
    polygons, size = letterboxed_polygons(polygons, image_size)

    assert all(len(polygon[0]) == 14 for polygon in polygons)
    assert_paths_equal(polygons, size)


@pytest.mark.parametrize("receipt", wildreceipt_params())
def test_wildreceipt(receipt):
    polygons = [np.reshape(annotation["box"], (4, 2)) for annotation in receipt["annotations"]]
    image_size = (receipt["height"], receipt["width"])
    polygons, size = letterboxed_polygons(polygons, image_size)

    assert_paths_equal(polygons, size)


PARAMS_CASES = [
    pytest.param(TargetParams(shrink_ratio=0.0), id="shrink_0.0"),
    pytest.param(TargetParams(shrink_ratio=0.2), id="shrink_0.2"),
    pytest.param(TargetParams(shrink_ratio=0.9), id="shrink_0.9"),
    pytest.param(TargetParams(thresh_min=0.0, thresh_max=1.0), id="thresh_0_1"),
    pytest.param(TargetParams(corrected_edges=True), id="corrected_edges"),
    pytest.param(
        TargetParams(shrink_ratio=0.9, thresh_min=0.0, thresh_max=1.0, corrected_edges=True),
        id="shrink_0.9-thresh_0_1-corrected_edges",
    ),
]


@pytest.mark.parametrize("params", PARAMS_CASES)
def test_params_page(params):
    rng = np.random.default_rng(7)
    polygons = make_page(rng, 640, 150)

    assert_paths_equal(polygons, (640, 640), params)


@pytest.mark.parametrize("params", PARAMS_CASES)
def test_params_sroie(params):
    # Dense, thin receipt boxes. With shrink_ratio 0.0 the offset D is
    # area / perimeter, about half a box's height, and 4 of the 75 boxes
    # shrink to nothing.
    require_shared_data()
    path = SHARED_DATA / "sroie" / "X51005447848.txt"
    words = read_icdar_annotation(path)
    polygons, size = letterboxed_polygons([word.polygon for word in words], read_image_size(path.with_suffix(".jpg")))

    assert_paths_equal(polygons, size, params)


@pytest.mark.parametrize("reference", [True, False], ids=["reference", "fast"])
def test_make_db_targets_matches_path(reference):
    """The public entry point gives the maps of the requested path."""
    polygons = make_page(np.random.default_rng(11), 256, 40)
    params = TargetParams(shrink_ratio=0.3, thresh_min=0.2, thresh_max=0.8)

    prob_map, thresh_map = make_db_targets(polygons, (256, 256), params, reference=reference)
    expected_prob, expected_thresh, _ = run_path(polygons, (256, 256), params, reference)

    assert np.array_equal(prob_map, expected_prob)
    assert np.array_equal(thresh_map, expected_thresh)


# Axis-aligned rectangles, small and with edges up to 60000 px long, whose
# edges run through integer pixels.
RECTANGLE = np.array([[10, 10], [50, 10], [50, 30], [10, 30]])
RECTANGLE_IMAGE_SIZE = (64, 64)
EDGE_RECTANGLES = [
    RECTANGLE,
    np.array([[1, 1], [62, 1], [62, 62], [1, 62]]),
    np.array([[-30000, 10], [30000, 10], [30000, 30], [-30000, 30]]),
    np.array([[20, -30000], [40, -30000], [40, 30000], [20, 30000]]),
]


@pytest.mark.parametrize("reference", [True, False], ids=["reference", "fast"])
def test_corrected_edges_same_on_edges(reference):
    """corrected_edges changes no pixel of polygons with integer vertices.

    For an integer pixel on an edge, the eps-guarded cosine of the classic
    formula is exactly 1 while the float64 products are exact, so the NaN
    that the option guards against does not occur.
    """
    default = TargetParams()
    corrected = TargetParams(corrected_edges=True)

    for rectangle in EDGE_RECTANGLES:
        _, default_thresh, _ = run_path([rectangle], RECTANGLE_IMAGE_SIZE, default, reference)
        _, corrected_thresh, _ = run_path([rectangle], RECTANGLE_IMAGE_SIZE, corrected, reference)
        assert np.array_equal(default_thresh, corrected_thresh), rectangle.tolist()


CORRECTED_EDGE_CASES = [
    pytest.param([RECTANGLE], RECTANGLE_IMAGE_SIZE, id="rectangle"),
    pytest.param(make_page(np.random.default_rng(5), 640, 120), (640, 640), id="page"),
]


@pytest.mark.parametrize(("polygons", "size"), CORRECTED_EDGE_CASES)
@pytest.mark.parametrize("reference", [True, False], ids=["reference", "fast"])
def test_corrected_edges_only_background(polygons, size, reference):
    """corrected_edges changes a pixel only from a value below thresh_max to thresh_max.

    The classic code leaves a pixel whose distance is NaN at the value it had
    before that polygon, the background for a single polygon. With
    corrected_edges the pixel lies on an edge at distance 0, so it gets
    thresh_max.
    """
    default = TargetParams()
    corrected = TargetParams(corrected_edges=True)
    thresh_max = float32_thresh_max(default)

    default_prob, default_thresh, _ = run_path(polygons, size, default, reference)
    corrected_prob, corrected_thresh, _ = run_path(polygons, size, corrected, reference)
    changed = default_thresh != corrected_thresh

    assert np.array_equal(default_prob, corrected_prob)
    assert (corrected_thresh[changed] == thresh_max).all()
    assert (default_thresh[changed] < thresh_max).all()
    if len(polygons) == 1:
        assert (default_thresh[changed] == np.float32(default.thresh_min)).all()


RANGE_CASES = [
    pytest.param(TargetParams(), id="default"),
    pytest.param(TargetParams(thresh_min=0.0, thresh_max=1.0), id="thresh_0_1"),
    pytest.param(TargetParams(shrink_ratio=0.0, thresh_min=0.25, thresh_max=0.75), id="shrink_0.0"),
]


@pytest.mark.parametrize("params", RANGE_CASES)
@pytest.mark.parametrize("reference", [True, False], ids=["reference", "fast"])
def test_map_value_ranges(params, reference):
    polygons = make_page(np.random.default_rng(3), 640, 120)

    prob_map, thresh_map, _ = run_path(polygons, (640, 640), params, reference)

    assert set(np.unique(prob_map).tolist()) == {0.0, 1.0}
    assert thresh_map.min() == np.float32(params.thresh_min)
    assert thresh_map.max() > np.float32(params.thresh_min)
    assert thresh_map.max() <= float32_thresh_max(params)
    assert thresh_map.max() <= np.nextafter(np.float32(params.thresh_max), np.float32(np.inf))
