"""The ``fastcollate render`` command and the drawing helpers behind it."""

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from conftest import SHARED_DATA, require_shared_data

from fastcollate import FastDBCollateFN
from fastcollate.cli import main
from fastcollate.data import sample_dirs
from fastcollate.dataset import TextDetectionDataset
from fastcollate.render import LABEL_HEIGHT, SEPARATOR_WIDTH, map_keys, png_name, render_sample

SAMPLE_ICDAR, SAMPLE_SROIE = sample_dirs()
CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def picture_width(panels, size):
    return panels * size + (panels - 1) * SEPARATOR_WIDTH


def test_render_writes_decodable_pngs(tmp_path, capsys):
    out = tmp_path / "out"
    status = main(["render", "--data", str(SAMPLE_SROIE), "--out", str(out), "--size", "96",
                   "--limit", "3", "--batch", "2", "--no-progress"])

    assert status == 0
    assert "wrote 3 PNG files" in capsys.readouterr().out
    paths = sorted(out.glob("*.png"))
    assert [path.name for path in paths] == ["X00016469612.png", "X00016469623.png", "X51005306399.png"]
    for path in paths:
        picture = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        # image, prob_maps, thresh_maps
        assert picture.shape == (LABEL_HEIGHT + 96, picture_width(3, 96), 3)
        assert picture.dtype == np.uint8


def test_render_compare_edges_adds_panels(tmp_path):
    status = main(["render", "--data", str(SAMPLE_ICDAR), "--out", str(tmp_path), "--size", "64",
                   "--limit", "1", "--compare-edges", "--no-progress"])

    assert status == 0
    picture = cv2.imread(str(tmp_path / "img_1.png"))
    assert picture.shape == (LABEL_HEIGHT + 64, picture_width(5, 64), 3)


def test_render_collate_config(tmp_path):
    status = main(["render", "--data", str(SAMPLE_ICDAR), "--out", str(tmp_path), "--size", "48",
                   "--limit", "2", "--collate-config", str(CONFIGS / "db_collate.yaml"), "--no-progress"])
    assert status == 0
    assert len(list(tmp_path.glob("*.png"))) == 2


def test_render_invalid_collate_option(tmp_path, capsys):
    config = tmp_path / "bad.yaml"
    config.write_text("shrink_factor: 0.4\n")
    status = main(["render", "--data", str(SAMPLE_ICDAR), "--out", str(tmp_path), "--collate-config",
                   str(config), "--no-progress"])
    assert status == 2
    assert "shrink_factor" in capsys.readouterr().err


def test_render_wildreceipt_nested_names(tmp_path):
    require_shared_data()
    status = main(["render", "--data", str(SHARED_DATA / "wildreceipt"), "--out", str(tmp_path),
                   "--size", "64", "--no-progress"])
    assert status == 0
    assert sorted(path.name for path in tmp_path.glob("*.png")) == [
        "image_files_Image_16_11_d5de7f2a20751e50b84c747c17a24cd98bed3554.png",
        "image_files_Image_36_15_f4bb5ce76d2bc39f560fade5d3bc8aee9edaee6a.png",
    ]


def test_render_missing_images_error(tmp_path, capsys):
    require_shared_data()
    status = main(["render", "--data", str(SHARED_DATA / "ctw1500"), "--out", str(tmp_path), "--no-progress"])
    assert status == 2
    assert "--image-size WIDTHxHEIGHT" in capsys.readouterr().err


def test_render_with_image_size(tmp_path):
    require_shared_data()
    status = main(["render", "--data", str(SHARED_DATA / "icdar2015" / "test"), "--out", str(tmp_path),
                   "--image-size", "1280x720", "--size", "64", "--limit", "2", "--no-progress"])
    assert status == 0
    assert sorted(path.name for path in tmp_path.glob("*.png")) == ["img_1.png", "img_108.png"]


def test_render_help_states_units(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["render", "--help"])

    # argparse wraps lines at the terminal width.
    help_text = " ".join(capsys.readouterr().out.split())
    assert exit_info.value.code == 0
    assert "in pixels (default: 640, at most 16384)" in help_text
    assert "(default: all)" in help_text
    assert "WIDTHxHEIGHT" in help_text


def test_image_size_option_rejects_bad_text(capsys):
    with pytest.raises(SystemExit):
        main(["render", "--data", "x", "--out", "y", "--image-size", "720"])
    assert "expected WIDTHxHEIGHT" in capsys.readouterr().err


def test_mask_keys_drawn():
    dataset = TextDetectionDataset(SAMPLE_ICDAR, 32, load_images=False)
    batch = FastDBCollateFN()([dataset[0], dataset[1]])
    # Keys shaped like the mask maps some collate profiles add.
    batch["prob_masks"] = torch.ones((2, 1, 32, 32))
    batch["thresh_masks"] = torch.zeros((2, 32, 32))
    batch["mask_names"] = ["not", "a tensor"]

    assert map_keys(batch) == ["prob_maps", "thresh_maps", "prob_masks", "thresh_masks"]
    picture = render_sample(batch, 1)
    assert picture.shape == (LABEL_HEIGHT + 32, picture_width(5, 32), 3)
    mask_panel = picture[LABEL_HEIGHT:, 3 * (32 + SEPARATOR_WIDTH):3 * (32 + SEPARATOR_WIDTH) + 32]
    assert (mask_panel == 255).all()


def test_polygons_drawn_in_color():
    dataset = TextDetectionDataset(SAMPLE_ICDAR, 128, load_images=False)
    batch = FastDBCollateFN()([dataset[0]])
    image_panel = render_sample(batch, 0)[LABEL_HEIGHT:, :128]

    green = (image_panel[:, :, 1] > 150) & (image_panel[:, :, 2] < 50)
    red = (image_panel[:, :, 2] > 150) & (image_panel[:, :, 1] < 50)
    assert green.any()
    assert red.any()


def test_png_name_unique():
    used = set()
    assert png_name("a/b.jpg", used) == "a_b.png"
    assert png_name("a/b.png", used) == "a_b-2.png"
    assert png_name("c", used) == "c.png"
