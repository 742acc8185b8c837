"""JSON annotation readers: WildReceipt JSON Lines and the receipt JSON layout."""

import json
import shutil

import numpy as np
import pytest
from conftest import SHARED_DATA, require_shared_data

from fastcollate.data import sample_dirs
from fastcollate.datasets import load_samples
from fastcollate.readers import (
    detect_format,
    read_dataset,
    read_icdar_annotation,
    read_receipt_json,
    read_wildreceipt_annotation,
)

SROIE_SAMPLE = sample_dirs()[1]
SROIE_NAME = "X51005442397"
WILDRECEIPT_LINE = {
    "file_name": "receipt.jpeg", "height": 40, "width": 60,
    "annotations": [
        {"box": [10.0, 30.0, 50.0, 30.0, 50.0, 10.0, 10.0, 10.0], "text": "TOTAL", "label": 1},
        {"box": [1.0, 5.0, 9.0, 5.0, 9.0, 1.0, 1.0, 1.0], "text": "", "label": 0},
    ],
}


def write(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8"))
    return path


# WildReceipt


def test_wildreceipt_real_file():
    require_shared_data()
    folder = SHARED_DATA / "wildreceipt"
    receipts = read_wildreceipt_annotation(folder / "train.txt")

    assert [len(receipt.words) for receipt in receipts] == [60, 100]
    assert [receipt.image_size for receipt in receipts] == [(1200, 1600), (1777, 1000)]
    for receipt in receipts:
        assert receipt.image_path == folder / receipt.name
        assert receipt.image_path.is_file()
        assert sum(word.ignore for word in receipt.words) == 2
        for word in receipt.words:
            assert word.polygon.dtype == np.float64
            assert word.polygon.shape == (4, 2)
            assert word.ignore == (word.text == "")

    first = receipts[0].words[0]
    assert first.text == "SAFEWAY"
    assert first.polygon.tolist() == [[550, 190], [937, 190], [937, 104], [550, 104]]


def test_wildreceipt_folder_skips_class_list():
    require_shared_data()
    images = read_dataset(SHARED_DATA / "wildreceipt")
    assert {image.annotation_path.name for image in images} == {"train.txt"}


def test_wildreceipt_crlf_bom_missing_image(tmp_path):
    line = json.dumps(WILDRECEIPT_LINE)
    path = write(tmp_path, "test.txt", f"\ufeff{line}\r\n\r\n{line}\r\n")

    receipts = read_wildreceipt_annotation(path)

    assert len(receipts) == 2
    assert receipts[0].image_path is None
    assert receipts[0].image_size == (40, 60)
    assert [word.ignore for word in receipts[0].words] == [False, True]
    assert detect_format(tmp_path) == "wildreceipt"


def test_wildreceipt_integer_boxes_int64(tmp_path):
    receipt = dict(WILDRECEIPT_LINE, annotations=[{"box": [1, 5, 9, 5, 9, 1], "text": "a", "label": 3}])
    [parsed] = read_wildreceipt_annotation(write(tmp_path, "train.txt", json.dumps(receipt) + "\n"))
    assert parsed.words[0].polygon.dtype == np.int64
    assert parsed.words[0].polygon.shape == (3, 2)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (None, "invalid JSON"),
        ({"height": None}, "key 'height' is None, expected a positive integer"),
        ({"width": 0}, "key 'width' is 0"),
        ({"annotations": {}}, "key 'annotations' is dict, expected a list"),
        ({"annotations": [{"box": [1, 2, 3]}]}, "annotations[0]: key 'box' is [1, 2, 3], expected an even number"),
        ({"annotations": [{"box": [1, 2, 3, 4, 5, "6"]}]}, "invalid coordinate '6'"),
        ({"annotations": [{"text": "a"}]}, "annotations[0]: expected an object with key 'box'"),
        ({"file_name": 3}, "key 'file_name' is 3"),
    ],
)
def test_wildreceipt_error_names_file_and_line(tmp_path, change, expected):
    good = json.dumps(WILDRECEIPT_LINE)
    bad = '{"file_name": "a.jpeg", "height": 4' if change is None else json.dumps(dict(WILDRECEIPT_LINE, **change))
    path = write(tmp_path, "train.txt", f"{good}\n{bad}\n")
    with pytest.raises(ValueError) as info:
        read_wildreceipt_annotation(path)
    message = str(info.value)
    assert f"{path}, line 2" in message
    assert expected in message


def test_wildreceipt_missing_key_error(tmp_path):
    receipt = {key: value for key, value in WILDRECEIPT_LINE.items() if key != "annotations"}
    path = write(tmp_path, "train.txt", json.dumps(receipt) + "\n")
    with pytest.raises(ValueError, match="line 1: key 'annotations' is missing"):
        read_wildreceipt_annotation(path)


# Receipt JSON: built from a real SROIE annotation


@pytest.fixture
def receipt_folder(tmp_path):
    """A receipt JSON file containing the words of one real SROIE receipt, beside its image."""
    words = read_icdar_annotation(SROIE_SAMPLE / f"{SROIE_NAME}.txt")
    shutil.copy(SROIE_SAMPLE / f"{SROIE_NAME}.jpg", tmp_path)
    document = {
        "images": {
            f"{SROIE_NAME}.jpg": {
                "img_w": 1080, "img_h": 1527,
                "words": {
                    f"{number:04d}": {"points": word.polygon.tolist(), "transcription": word.text,
                                      "illegibility": False}
                    for number, word in enumerate(words, start=1)
                },
            },
            "unlabelled.jpg": {"img_w": 100, "img_h": 200},
        }
    }
    write(tmp_path, "train.json", json.dumps(document, indent=2))
    return tmp_path


def test_receipt_json_matches_sroie_text(receipt_folder):
    expected = read_icdar_annotation(SROIE_SAMPLE / f"{SROIE_NAME}.txt")

    labelled, unlabelled = read_receipt_json(receipt_folder / "train.json")

    assert labelled.name == f"{SROIE_NAME}.jpg"
    assert labelled.image_path == receipt_folder / f"{SROIE_NAME}.jpg"
    assert labelled.image_size == (1527, 1080)
    assert len(labelled.words) == len(expected) == 28
    for word, text_word in zip(labelled.words, expected):
        assert word.polygon.dtype == np.int64
        assert np.array_equal(word.polygon, text_word.polygon)
        assert word.text == text_word.text
        assert not word.ignore

    assert unlabelled.words == []
    assert unlabelled.image_path is None


def test_receipt_json_samples_equal_text_samples(receipt_folder):
    [from_json] = [sample for sample in load_samples(receipt_folder, size=320) if sample["image_filename"].startswith("X")]
    [from_text] = [sample for sample in load_samples(SROIE_SAMPLE, size=320) if sample["image_filename"] == f"{SROIE_NAME}.jpg"]

    assert detect_format(receipt_folder) == "receipt_json"
    for polygon_json, polygon_text in zip(from_json["polygons"], from_text["polygons"], strict=True):
        assert np.array_equal(polygon_json, polygon_text)
    assert np.array_equal(from_json["inverse_matrix"], from_text["inverse_matrix"])


def test_receipt_json_list_layout_and_ignore(tmp_path):
    document = {"images": [{"file_name": "a.jpg", "words": [
        {"points": [[1.5, 2], [3, 2], [3, 4]], "illegibility": True},
        {"points": []},
    ]}]}
    [image] = read_receipt_json(write(tmp_path, "val.json", json.dumps(document)))

    assert image.image_size is None
    assert [word.ignore for word in image.words] == [True, False]
    assert image.words[0].polygon.dtype == np.float64
    assert image.words[1].polygon.shape == (0, 2)
    assert image.words[1].text is None


def test_receipt_json_syntax_error_line(tmp_path):
    path = write(tmp_path, "bad.json", '{"images": {\n  "a.jpg": {"words": {\n    "1": {"points": [[1, 2],}\n}}}\n')
    with pytest.raises(ValueError) as info:
        read_receipt_json(path)
    message = str(info.value)
    assert f"{path}, line 3" in message
    assert "invalid JSON" in message


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ({"words": {"7": {"text": "a"}}}, "image 'a.jpg', word '7': key 'points' is missing"),
        ({"words": {"7": {"points": [[1, 2, 3]]}}}, "word '7': key 'points' is [[1, 2, 3]], expected a list of [x, y]"),
        ({"words": {"7": {"points": [[1, None]]}}}, "word '7': key 'points'"),
        ({"words": {"7": {"points": [[1, 2]], "illegibility": "no"}}}, "key 'illegibility' is 'no'"),
        ({"words": {"7": {"points": [[1, 2]], "transcription": 5}}}, "key 'transcription' is 5"),
        ({"img_w": -1, "img_h": 5, "words": {}}, "img_h, img_w is (5, -1)"),
        ({"words": 3}, "key 'images/a.jpg/words' is int"),
        ([], "image 'a.jpg' is list"),
    ],
)
def test_receipt_json_error_location(tmp_path, image, expected):
    path = write(tmp_path, "bad.json", json.dumps({"images": {"a.jpg": image}}))
    with pytest.raises(ValueError) as info:
        read_receipt_json(path)
    assert str(path) in str(info.value)
    assert expected in str(info.value)


def test_receipt_json_missing_images_key(tmp_path):
    path = write(tmp_path, "bad.json", json.dumps({"annotations": []}))
    with pytest.raises(ValueError, match="key 'images' is missing"):
        read_receipt_json(path)
