"""Tests of image headers, image pairing, letterbox and sample loading."""

import cv2
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fastcollate.datasets import (
    find_annotated_images,
    letterbox,
    load_samples,
    read_icdar_annotation,
    read_image_size,
)

from corpus_facts import (
    ICDAR_TRAIN_COUNTS,
    ICDAR_TRAIN_DIRS,
    IMAGE_SIZES,
    SAMPLE_ICDAR,
    SAMPLE_SROIE,
    SROIE_COUNTS,
    SROIE_DIRS,
)


# read_image_size


@pytest.mark.parametrize("folder", [*ICDAR_TRAIN_DIRS, *SROIE_DIRS])
def test_jpeg_sizes_match_table(folder):
    for path in sorted(folder.glob("*.jpg")):
        assert read_image_size(path) == IMAGE_SIZES[path.name], path.name


@pytest.mark.parametrize("folder", [*ICDAR_TRAIN_DIRS, *SROIE_DIRS])
def test_jpeg_sizes_match_opencv(folder):
    for path in sorted(folder.glob("*.jpg")):
        assert read_image_size(path) == cv2.imread(str(path)).shape[:2], path.name


@pytest.mark.parametrize(
    ("suffix", "params"),
    [
        (".png", []),
        (".jpg", []),
        (".jpg", [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]),
    ],
    ids=["png", "baseline-jpeg", "progressive-jpeg"],
)
def test_written_image_sizes(tmp_path, suffix, params):
    path = tmp_path / f"image{suffix}"
    assert cv2.imwrite(str(path), np.zeros((37, 251, 3), dtype=np.uint8), params)
    assert read_image_size(path) == (37, 251)


def test_jpeg_fill_bytes_and_app_segment(tmp_path):
    path = tmp_path / "handmade.jpg"
    app0 = b"\xff\xe0\x00\x06JFIF"
    frame = b"\xff\xff\xff\xc2\x00\x11\x08\x01\x2c\x02\x58" + b"\x03" + b"\x00" * 9
    path.write_bytes(b"\xff\xd8" + app0 + frame)
    assert read_image_size(path) == (300, 600)


def test_truncated_jpeg_error(tmp_path):
    path = tmp_path / "truncated.jpg"
    path.write_bytes((SAMPLE_ICDAR / "img_1.jpg").read_bytes()[:100])
    with pytest.raises(ValueError, match="truncated JPEG") as info:
        read_image_size(path)
    assert str(path) in str(info.value)


def test_truncated_png_error(tmp_path):
    path = tmp_path / "truncated.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR\x00")
    with pytest.raises(ValueError, match="truncated PNG") as info:
        read_image_size(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("content", [b"GIF89a\x01\x00\x01\x00", b"", b"\xff"], ids=["gif", "empty", "one-byte"])
def test_unsupported_image_error(tmp_path, content):
    path = tmp_path / "image.jpg"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="unsupported image format") as info:
        read_image_size(path)
    assert str(path) in str(info.value)


def test_jpeg_without_frame_error(tmp_path):
    path = tmp_path / "no_frame.jpg"
    path.write_bytes(b"\xff\xd8\xff\xe0\x00\x04AB\xff\xd9")
    with pytest.raises(ValueError, match="before a frame header") as info:
        read_image_size(path)
    assert str(path) in str(info.value)


# find_annotated_images


def test_find_icdar_pairs():
    pairs = find_annotated_images(SAMPLE_ICDAR)
    image_names = [image.name for image, _ in pairs]
    assert image_names == sorted(f"img_{n}.jpg" for n in range(1, 11))
    for image, annotation in pairs:
        assert annotation.name == f"gt_{image.stem}.txt"
        assert annotation.parent == SAMPLE_ICDAR


def test_find_sroie_pairs():
    pairs = find_annotated_images(SAMPLE_SROIE)
    assert [annotation.name for _, annotation in pairs] == sorted(SROIE_COUNTS)
    for image, annotation in pairs:
        assert image.name == annotation.stem + ".jpg"


def test_find_png_and_upper_case_suffix(tmp_path):
    for name in ["gt_img_1.txt", "img_1.png", "b.txt", "b.JPEG", "notes.md"]:
        (tmp_path / name).write_bytes(b"")
    pairs = find_annotated_images(tmp_path)
    assert [(image.name, annotation.name) for image, annotation in pairs] == [
        ("b.JPEG", "b.txt"),
        ("img_1.png", "gt_img_1.txt"),
    ]


def test_find_missing_image_error(tmp_path):
    (tmp_path / "gt_img_7.txt").write_bytes(b"")
    (tmp_path / "img_8.jpg").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="image not found") as info:
        find_annotated_images(tmp_path)
    message = str(info.value)
    assert str(tmp_path / "gt_img_7.txt") in message
    assert "img_7.jpg" in message


def test_find_ambiguous_image_error(tmp_path):
    for name in ["a.txt", "a.jpg", "a.png"]:
        (tmp_path / name).write_bytes(b"")
    with pytest.raises(ValueError, match="several images") as info:
        find_annotated_images(tmp_path)
    assert "a.jpg, a.png" in str(info.value)


def test_find_empty_folder_error(tmp_path):
    (tmp_path / "img_1.jpg").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="no annotation files") as info:
        find_annotated_images(tmp_path)
    assert str(tmp_path) in str(info.value)


def test_find_missing_folder_error(tmp_path):
    missing = tmp_path / "missing"
    with pytest.raises(FileNotFoundError, match="folder not found") as info:
        find_annotated_images(missing)
    assert str(missing) in str(info.value)


# letterbox


def to_homogeneous(points):
    return np.concatenate([points, np.ones((len(points), 1))], axis=1)


def test_letterbox_scale_and_matrix():
    square = np.array([[0.0, 0.0], [1280.0, 0.0], [1280.0, 720.0], [0.0, 720.0]])
    polygons, output_size, inverse_matrix = letterbox([square], (720, 1280), size=640)
    assert output_size == (640, 640)
    assert polygons[0].dtype == np.float64
    assert polygons[0].tolist() == [[0, 0], [640, 0], [640, 360], [0, 360]]
    assert inverse_matrix.dtype == np.float64
    assert inverse_matrix.tolist() == [[2, 0, 0], [0, 2, 0], [0, 0, 1]]


def test_letterbox_tall_image_top_left():
    corners = np.array([[0.0, 0.0], [463.0, 0.0], [463.0, 1013.0], [0.0, 1013.0]])
    (scaled,), _, _ = letterbox([corners], (1013, 463), size=640)
    scale = 640 / 1013
    assert np.array_equal(scaled, corners * scale)
    assert scaled[:, 1].max() == 640.0
    assert scaled[:, 0].max() < 640.0
    assert scaled[0].tolist() == [0.0, 0.0]


@pytest.mark.parametrize("folder", [SAMPLE_ICDAR, SAMPLE_SROIE], ids=["icdar2015", "sroie"])
def test_letterbox_round_trip_real(folder):
    for image_path, annotation_path in find_annotated_images(folder):
        original = [word.polygon for word in read_icdar_annotation(annotation_path)]
        scaled, _, inverse_matrix = letterbox(original, read_image_size(image_path), size=640)
        for before, after in zip(original, scaled):
            restored = (inverse_matrix @ to_homogeneous(after).T).T
            np.testing.assert_allclose(restored[:, :2], before, rtol=0, atol=1e-9)
            assert np.array_equal(restored[:, 2], np.ones(len(before)))
            assert after.min() >= 0
            assert after.max() <= 640


@settings(max_examples=200, deadline=None)
@given(
    height=st.integers(1, 5000),
    width=st.integers(1, 5000),
    size=st.integers(1, 2048),
    points=st.lists(
        st.tuples(st.floats(-1e4, 1e4), st.floats(-1e4, 1e4)),
        min_size=3,
        max_size=16,
    ),
)
def test_letterbox_round_trip_property(height, width, size, points):
    polygon = np.array(points, dtype=np.float64)
    (scaled,), output_size, inverse_matrix = letterbox([polygon], (height, width), size=size)
    assert output_size == (size, size)
    assert np.array_equal(scaled, polygon * (size / max(height, width)))
    restored = (inverse_matrix @ to_homogeneous(scaled).T).T[:, :2]
    np.testing.assert_allclose(restored, polygon, rtol=1e-12, atol=1e-9)


def test_letterbox_no_polygons():
    polygons, output_size, inverse_matrix = letterbox([], (10, 20), size=40)
    assert polygons == []
    assert output_size == (40, 40)
    assert inverse_matrix[0, 0] == 0.5


@pytest.mark.parametrize(
    ("polygons", "image_size", "size", "match"),
    [
        ([np.zeros((4, 2))], (0, 10), 640, "invalid image_size"),
        ([np.zeros((4, 2))], (10, 10), 0, "invalid size"),
        ([np.zeros((4, 3))], (10, 10), 640, r"polygon 0 has shape \(4, 3\)"),
        ([np.zeros((1, 4, 2))], (10, 10), 640, r"polygon 0 has shape \(1, 4, 2\)"),
    ],
    ids=["zero-height", "zero-size", "three-columns", "baseline-layout"],
)
def test_letterbox_invalid_input(polygons, image_size, size, match):
    with pytest.raises(ValueError, match=match):
        letterbox(polygons, image_size, size=size)


# load_samples


@pytest.mark.parametrize("folder", [SAMPLE_ICDAR, SAMPLE_SROIE], ids=["icdar2015", "sroie"])
def test_load_samples_format(folder):
    samples = load_samples(folder, size=320)
    pairs = find_annotated_images(folder)
    assert len(samples) == len(pairs) == 10

    for sample, (image_path, annotation_path) in zip(samples, pairs):
        assert set(sample) == {"image", "polygons", "image_filename", "inverse_matrix", "ignore_tags"}
        assert sample["image_filename"] == image_path.name

        image = sample["image"]
        assert image.shape == (3, 320, 320)
        assert image.dtype == torch.float32
        assert not image.any()

        words = read_icdar_annotation(annotation_path)
        height, width = IMAGE_SIZES[image_path.name]
        scale = 320 / max(height, width)
        assert len(sample["polygons"]) == len(words)
        for polygon, word in zip(sample["polygons"], words):
            assert polygon.dtype == np.float32
            assert polygon.shape == (1, 4, 2)
            assert np.array_equal(polygon[0], (word.polygon * scale).astype(np.float32))

        assert sample["ignore_tags"] == [word.ignore for word in words]
        assert all(type(tag) is bool for tag in sample["ignore_tags"])
        assert sample["inverse_matrix"].dtype == np.float64
        assert sample["inverse_matrix"].shape == (3, 3)
        assert sample["inverse_matrix"][0, 0] == max(height, width) / 320


def test_load_samples_ignore_counts():
    samples = load_samples(SAMPLE_ICDAR)
    ignored = {sample["image_filename"]: sum(sample["ignore_tags"]) for sample in samples}
    expected = {f"img_{name[len('gt_img_'):-len('.txt')]}.jpg": count for name, (_, count) in ICDAR_TRAIN_COUNTS.items()}
    assert ignored == expected
