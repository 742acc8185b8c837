"""The profile setting: validation, bad ignore tags, DataLoader batches, presets and commands."""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from fastcollate import FastDBCollateFN, TargetParams, make_db_targets
from fastcollate.benchmark import TargetMismatch, check_equal
from fastcollate.cli import main
from fastcollate.data import sample_dirs
from fastcollate.profiles import prepare_float_polygons
from test_profiles_equal import jittered_page

SIZE = 128
BATCH_SIZE = 3
WORD = np.array([[20.5, 30.25], [80.75, 30.0], [80.5, 50.5], [20.25, 50.75]])


class JitteredPages(Dataset):
    """Map-style dataset of float-vertex pages with ignore tags."""

    def __init__(self, length):
        self.samples = []
        for seed in range(length):
            polygons, ignore_tags = jittered_page(seed, SIZE, 25)
            self.samples.append({
                "image": torch.zeros((3, SIZE, SIZE)),
                "polygons": polygons,
                "ignore_tags": ignore_tags,
                "image_filename": f"page_{seed}.jpg",
                "inverse_matrix": np.eye(3),
            })

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        return self.samples[index]


@pytest.mark.parametrize("bad", ["MhLiao", "db", "", None, 1])
def test_bad_profile_rejected(bad):
    expected = "profile must be one of 'baseline', 'mhliao', 'paddleocr'"
    with pytest.raises(ValueError, match=expected):
        TargetParams(profile=bad)
    with pytest.raises(ValueError, match=expected):
        FastDBCollateFN(profile=bad)
    # make_db_targets takes profile=None as "use params.profile".
    if bad is not None:
        with pytest.raises(ValueError, match=expected):
            make_db_targets([WORD], (64, 96), profile=bad)


def test_corrected_edges_only_for_baseline():
    with pytest.raises(ValueError, match="corrected_edges applies only to the 'baseline' profile"):
        TargetParams(corrected_edges=True, profile="mhliao")


@pytest.mark.parametrize("shrink_ratio", [0.0, 1e-9, 0.009])
def test_paddleocr_rejects_tiny_shrink_ratio(shrink_ratio):
    with pytest.raises(ValueError, match=r"needs shrink_ratio >= 0.01, .* got shrink_ratio="):
        TargetParams(shrink_ratio=shrink_ratio, profile="paddleocr")


def test_paddleocr_accepts_min_shrink_ratio():
    assert TargetParams(shrink_ratio=0.01, profile="paddleocr").shrink_ratio == 0.01


@pytest.mark.parametrize(
    ("ignore_tags", "message"),
    [
        ([True, False], r"sample 0 of the batch \('a.jpg'\): key 'ignore_tags' has 2 values \(\[True, False\]\) for 1 polygons"),
        ([], r"key 'ignore_tags' has 0 values"),
        (["###"], r"key 'ignore_tags'\[0\] is '###' \(str\); expected True or False"),
        ([1], r"key 'ignore_tags'\[0\] is 1 \(int\)"),
        ("###", r"key 'ignore_tags' is '###'; expected a list of bools"),
        (5, r"key 'ignore_tags' is 5"),
        (np.array(True), r"key 'ignore_tags' is a numpy array of shape \(\); expected a 1-D bool array"),
        (np.array([[True]]), r"key 'ignore_tags' is a numpy array of shape \(1, 1\)"),
        (np.array([1]), r"key 'ignore_tags'\[0\] is np.int64\(1\) \(int64\); expected True or False"),
    ],
)
@pytest.mark.parametrize("profile", ["mhliao", "paddleocr"])
def test_bad_ignore_tags_rejected(profile, ignore_tags, message):
    with pytest.raises(ValueError, match=message):
        make_db_targets([WORD], (64, 96), profile=profile, ignore_tags=ignore_tags, filename="a.jpg")


def test_bad_ignore_tags_in_batch_names_sample():
    dataset = JitteredPages(2)
    batch = [dataset[0], dict(dataset[1], ignore_tags=[False])]

    with pytest.raises(ValueError, match=r"sample 1 of the batch \('page_1.jpg'\): key 'ignore_tags' has 1 values"):
        FastDBCollateFN(profile="mhliao")(batch)


@pytest.mark.parametrize("position", ["first", "last"])
def test_empty_polygon_skipped_anywhere(position):
    empty = np.zeros((0, 2))
    polygons = [empty, WORD] if position == "first" else [WORD, empty]

    prepared = prepare_float_polygons(polygons, [False, True] if position == "first" else [True, False])

    assert prepared.starts.tolist() == [0, 4]
    assert prepared.ignore.tolist() == [True]
    assert prepared.skipped == {"too_few_points": 1}


def test_numpy_bool_tags_accepted():
    tags = np.array([True])

    outputs = make_db_targets([WORD], (64, 96), profile="mhliao", ignore_tags=list(tags))

    assert outputs[2][40, 50] == 0.0


@pytest.mark.parametrize("tags", [np.array([False, True]), [np.False_, np.True_]],
                         ids=["bool_array", "numpy_bool_list"])
@pytest.mark.parametrize("profile", ["mhliao", "paddleocr"])
def test_numpy_bool_tags_in_batch(profile, tags):
    sample = {"image": torch.zeros(3, 64, 96), "polygons": [WORD, WORD + 5.0], "ignore_tags": tags,
              "image_filename": "a.jpg"}

    fast = FastDBCollateFN(profile=profile)([sample])
    reference = FastDBCollateFN(profile=profile, reference=True)([sample])

    assert fast["prob_masks"][0, 0, 40, 50] == 0.0
    for key in ("prob_maps", "thresh_maps", "prob_masks", "thresh_masks"):
        assert torch.equal(fast[key].view(torch.int32), reference[key].view(torch.int32)), key


@pytest.mark.parametrize("profile", ["mhliao", "paddleocr"])
def test_collate_masks_layout(profile):
    dataset = JitteredPages(BATCH_SIZE)
    batch = FastDBCollateFN(profile=profile)([dataset[i] for i in range(BATCH_SIZE)])

    keys = list(batch)
    assert keys[:8] == ["images", "image_filename", "inverse_matrix", "polygons", "prob_maps",
                        "thresh_maps", "prob_masks", "thresh_masks"]
    assert batch["ignore_tags"] == [dataset[i]["ignore_tags"] for i in range(BATCH_SIZE)]
    for key in ("prob_maps", "thresh_maps", "prob_masks", "thresh_masks"):
        assert batch[key].shape == (BATCH_SIZE, 1, SIZE, SIZE), key
        assert batch[key].dtype == torch.float32, key


def test_baseline_batch_has_no_masks():
    dataset = JitteredPages(2)
    batch = FastDBCollateFN()([dataset[0], dataset[1]])

    assert "prob_masks" not in batch
    assert "thresh_masks" not in batch


@pytest.mark.parametrize("profile", ["mhliao", "paddleocr"])
def test_dataloader_workers_profile(profile):
    dataset = JitteredPages(2 * BATCH_SIZE)
    loader = DataLoader(dataset, batch_size=BATCH_SIZE, num_workers=2, timeout=120,
                        collate_fn=FastDBCollateFN(profile=profile))

    for batch_index, batch in enumerate(loader):
        for offset in range(BATCH_SIZE):
            sample = dataset[batch_index * BATCH_SIZE + offset]
            expected = make_db_targets(sample["polygons"], (SIZE, SIZE), reference=True, profile=profile,
                                       ignore_tags=sample["ignore_tags"])
            for key, expected_map in zip(("prob_maps", "thresh_maps", "prob_masks", "thresh_masks"), expected):
                assert np.array_equal(batch[key][offset, 0].numpy(), expected_map), (key, offset)


def test_unusable_polygons_skipped_with_their_tags():
    polygons = [
        np.array([[1.0, 2.0], [np.nan, 3.0], [5.0, 9.0]]),
        np.array([[0.0, 0.0], [2.0**21, 0.0], [5.0, 9.0]]),
        np.array([[1.0, 2.0], [30.0, 3.0]]),
        np.array([[1.0, 2.0], [30.0, 3.0], [1.0, 2.0]]),
        np.zeros((0, 2)),
        WORD,
    ]
    ignore_tags = [False, False, False, False, False, True]

    prepared = prepare_float_polygons(polygons, ignore_tags)

    assert prepared.skipped == {"non_finite": 1, "out_of_range": 1, "too_few_points": 3}
    assert np.array_equal(prepared.points, WORD)
    assert prepared.starts.tolist() == [0, 4]
    assert prepared.ignore.tolist() == [True]


@pytest.mark.parametrize("profile", ["mhliao", "paddleocr"])
def test_no_polygons(profile):
    prob_map, thresh_map, prob_mask, thresh_mask = make_db_targets([], (16, 24), profile=profile)

    assert prob_map.max() == 0.0
    assert thresh_map.min() == np.float32(0.3)
    assert prob_mask.min() == 1.0
    assert thresh_mask.max() == 0.0


FAST_PATH_WITHOUT_SHAPELY = """
import sys
sys.modules["shapely"] = None
sys.modules["cv2"] = None
import subprocess
import sys

from pathlib import Path

import numpy as np
from fastcollate import make_db_targets
word = np.array([[20.5, 30.25], [80.75, 30.0], [80.5, 50.5], [20.25, 50.75]])
for profile in ("mhliao", "paddleocr"):
    outputs = make_db_targets([word], (64, 96), reference=False, profile=profile, ignore_tags=[False])
    assert outputs[0][40, 50] == 1.0
print("ok")
"""


def test_fast_path_needs_no_shapely():
    """The fast path runs with shapely and OpenCV imports blocked."""
    result = subprocess.run([sys.executable, "-c", FAST_PATH_WITHOUT_SHAPELY], capture_output=True,
                            text=True, timeout=300)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


@pytest.mark.parametrize("profile", ["mhliao", "paddleocr"])
def test_bench_command_profile(profile, tmp_path, capsys):
    sroie = sample_dirs()[1]
    for name in ("X51005433492", "X51005442397"):
        shutil.copy(sroie / f"{name}.jpg", tmp_path)
        shutil.copy(sroie / f"{name}.txt", tmp_path)

    status = main(["bench", "--data", str(tmp_path), "--repeat", "1", "--batch", "2", "--size", "320",
                   "--no-progress", "--profile", profile])

    assert status == 0
    assert "identical on every image" in capsys.readouterr().out


def test_bench_mask_mismatch_named():
    expected = np.zeros((4, 4), dtype=np.float32)
    actual = expected.copy()
    actual[1, 2] = 1.0

    with pytest.raises(TargetMismatch, match="thresh_mask differs at row 1, column 2"):
        check_equal({"image_filename": "a.jpg"}, (expected,) * 4, (expected, expected, expected, actual))


CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.mark.parametrize("profile", ["mhliao", "paddleocr"])
def test_profile_preset(profile):
    yaml = pytest.importorskip("yaml")
    config = yaml.safe_load((CONFIGS / f"{profile}_collate.yaml").read_text())
    options = {key: value for key, value in config.items() if key != "_target_"}

    collate = FastDBCollateFN(**options)

    assert config["_target_"] == "fastcollate.FastDBCollateFN"
    assert collate.params.profile == profile
    assert collate.shrink_ratio == 0.4


def test_render_draws_masks(tmp_path):
    """The render command draws the two masks of a profile preset as extra panels."""
    cv2 = pytest.importorskip("cv2")
    arguments = ["render", "--data", str(sample_dirs()[0]), "--size", "48", "--limit", "1", "--no-progress"]

    assert main(arguments + ["--out", str(tmp_path / "baseline")]) == 0
    assert main(arguments + ["--out", str(tmp_path / "mhliao"), "--collate-config",
                             str(CONFIGS / "mhliao_collate.yaml")]) == 0

    baseline = cv2.imread(str(next((tmp_path / "baseline").glob("*.png"))))
    masked = cv2.imread(str(next((tmp_path / "mhliao").glob("*.png"))))
    assert masked.shape[0] == baseline.shape[0]
    assert masked.shape[1] > baseline.shape[1]


def test_reused_buffers_reset_masks():
    """A second batch into reused buffers starts from fresh masks."""
    dataset = JitteredPages(4)
    collate = FastDBCollateFN(profile="mhliao")
    first = collate([dataset[0], dataset[1]])
    del first

    second = collate([dataset[2], dataset[3]])

    for offset, sample in enumerate((dataset[2], dataset[3])):
        expected = make_db_targets(sample["polygons"], (SIZE, SIZE), reference=False, profile="mhliao",
                                   ignore_tags=sample["ignore_tags"])
        assert np.array_equal(second["prob_masks"][offset, 0].numpy(), expected[2])
        assert np.array_equal(second["thresh_masks"][offset, 0].numpy(), expected[3])
