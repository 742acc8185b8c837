"""TextDetectionDataset on real folders, alone and in a DataLoader with worker processes."""

import logging
import shutil

import cv2
import numpy as np
import pytest
import torch
from conftest import SHARED_DATA, require_shared_data
from torch.utils.data import DataLoader

from fastcollate import FastDBCollateFN
from fastcollate.data import sample_dirs
from fastcollate.dataset import TextDetectionDataset
from fastcollate.datasets import load_samples

SAMPLE_ICDAR, SAMPLE_SROIE = sample_dirs()


def test_items_match_load_samples():
    dataset = TextDetectionDataset(SAMPLE_ICDAR, 320)
    expected = load_samples(SAMPLE_ICDAR, size=320)

    assert len(dataset) == len(expected) == 10
    for index, reference in enumerate(expected):
        sample = dataset[index]
        assert set(sample) == set(reference)
        assert sample["image_filename"] == reference["image_filename"]
        assert sample["ignore_tags"] == reference["ignore_tags"]
        assert np.array_equal(sample["inverse_matrix"], reference["inverse_matrix"])
        assert len(sample["polygons"]) == len(reference["polygons"])
        for polygon, reference_polygon in zip(sample["polygons"], reference["polygons"]):
            assert polygon.dtype == np.float32
            assert np.array_equal(polygon, reference_polygon)


def test_image_is_letterboxed_rgb():
    sample = TextDetectionDataset(SAMPLE_ICDAR, 320)[0]
    image = sample["image"]

    # 1280x720 scales to 320x180 and is padded below.
    assert image.shape == (3, 320, 320)
    assert image.dtype == torch.float32
    assert float(image.min()) >= 0.0
    assert float(image.max()) <= 1.0
    assert image[:, :180].any()
    assert not image[:, 180:].any()

    pixels = cv2.imread(str(SAMPLE_ICDAR / "img_1.jpg"))
    expected = cv2.resize(pixels, (320, 180), interpolation=cv2.INTER_AREA)[:, :, ::-1]
    assert np.array_equal((image[:, :180].permute(1, 2, 0).numpy() * 255.0).round().astype(np.uint8), expected)


def test_tall_image_padded_right():
    dataset = TextDetectionDataset(SAMPLE_SROIE, 256)
    for index in range(len(dataset)):
        height, width = dataset.original_sizes[index]
        image = dataset[index]["image"]
        scaled_width = round(width * 256 / max(height, width))
        assert height > width
        assert not image[:, :, scaled_width:].any()
        assert image[:, :, :scaled_width].any()


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_dataloader_two_workers():
    dataset = TextDetectionDataset(SAMPLE_SROIE, 320)
    loader = DataLoader(dataset, batch_size=4, num_workers=2, collate_fn=FastDBCollateFN(), timeout=120)
    main_process_collate = FastDBCollateFN(reuse_buffers=False)

    batches = list(loader)

    assert [len(batch["image_filename"]) for batch in batches] == [4, 4, 2]
    for number, batch in enumerate(batches):
        samples = [dataset[index] for index in range(4 * number, min(4 * number + 4, len(dataset)))]
        expected = main_process_collate(samples)
        assert batch["images"].shape == (len(samples), 3, 320, 320)
        assert torch.equal(batch["images"], expected["images"])
        assert torch.equal(batch["prob_maps"], expected["prob_maps"])
        assert torch.equal(batch["thresh_maps"], expected["thresh_maps"])
        assert batch["ignore_tags"] == expected["ignore_tags"]
        assert float(batch["prob_maps"].sum()) > 0


def test_wildreceipt_real_images():
    require_shared_data()
    dataset = TextDetectionDataset(SHARED_DATA / "wildreceipt", 320)
    batch = FastDBCollateFN()([dataset[0], dataset[1]])

    assert dataset.original_sizes == [(1200, 1600), (1777, 1000)]
    assert batch["images"].any()
    assert [sum(tags) for tags in batch["ignore_tags"]] == [2, 2]
    assert float(batch["prob_maps"].sum()) > 0


def test_missing_images_need_image_size():
    require_shared_data()
    with pytest.raises(FileNotFoundError) as info:
        TextDetectionDataset(SHARED_DATA / "ctw1500", 320)
    message = str(info.value)
    assert "1001" in message
    assert "image_size=(height, width)" in message


def test_missing_images_with_image_size(caplog):
    require_shared_data()
    with caplog.at_level(logging.WARNING, logger="fastcollate.dataset"):
        dataset = TextDetectionDataset(SHARED_DATA / "ctw1500", 320, image_size=(400, 500))

    assert "8 of 8 images" in caplog.text
    sample = dataset[0]
    assert sample["image_filename"] == "1001"
    assert not sample["image"].any()
    assert sample["inverse_matrix"][0, 0] == 500 / 320
    assert sample["polygons"][0].shape == (1, 14, 2)
    batch = FastDBCollateFN()([dataset[index] for index in range(len(dataset))])
    assert float(batch["prob_maps"].sum()) > 0


def test_load_images_false_gives_zero_image():
    sample = TextDetectionDataset(SAMPLE_ICDAR, 64, load_images=False)[0]
    assert sample["image"].shape == (3, 64, 64)
    assert not sample["image"].any()


def test_transform_applied():
    def normalise(sample):
        sample["image"] = (sample["image"] - 0.5) / 0.25
        sample["seen"] = True
        return sample

    sample = TextDetectionDataset(SAMPLE_ICDAR, 64, transform=normalise)[0]
    assert sample["seen"]
    assert float(sample["image"].min()) < 0


def test_changed_image_size_error(tmp_path):
    shutil.copy(SAMPLE_ICDAR / "img_2.jpg", tmp_path)
    shutil.copy(SAMPLE_ICDAR / "gt_img_2.txt", tmp_path)
    dataset = TextDetectionDataset(tmp_path, 64)
    cv2.imwrite(str(tmp_path / "img_2.jpg"), np.zeros((10, 20, 3), dtype=np.uint8))

    with pytest.raises(ValueError, match="decoded size 10x20") as info:
        dataset[0]
    assert str(tmp_path / "img_2.jpg") in str(info.value)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"size": 0}, "invalid size 0"),
        ({"size": 1.5}, "invalid size 1.5"),
        ({"size": 64, "image_size": (0, 5)}, "invalid image_size"),
        ({"size": 64, "image_size": "big"}, "invalid image_size"),
    ],
)
def test_invalid_arguments(options, expected):
    with pytest.raises(ValueError, match=expected):
        TextDetectionDataset(SAMPLE_ICDAR, **options)
