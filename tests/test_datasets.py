"""Tests for annotation readers, image headers, letterbox and sample loading.

The readers run on the sample bundled in ``fastcollate/data`` and, when it is
present next to the repository, on the real corpus that sample was copied
from, which adds the ICDAR 2015 test-set files (no BOM, CRLF line ends).
"""

import hashlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fastcollate.data import SAMPLE_DIR, sample_dirs
from fastcollate.datasets import (
    Word,
    find_annotated_images,
    letterbox,
    load_samples,
    read_icdar_annotation,
    read_image_size,
)

CORPUS_DIR = Path(__file__).resolve().parents[2] / "shared" / "data"
requires_corpus = pytest.mark.skipif(
    not CORPUS_DIR.is_dir(),
    reason=f"real annotation corpus not found at {CORPUS_DIR}; only the bundled sample is tested",
)

SAMPLE_ICDAR = SAMPLE_DIR / "icdar2015"
SAMPLE_SROIE = SAMPLE_DIR / "sroie"
CORPUS_ICDAR_TRAIN = CORPUS_DIR / "icdar2015" / "train"
CORPUS_ICDAR_TEST = CORPUS_DIR / "icdar2015" / "test"
CORPUS_SROIE = CORPUS_DIR / "sroie"

# Expected values recorded when the files were collected from their source
# repositories: (regions, "###" regions) per file, image (height, width) and
# the first 12 hex digits of each file's sha256.
ICDAR_TRAIN_COUNTS = {
    "gt_img_1.txt": (7, 3),
    "gt_img_2.txt": (2, 0),
    "gt_img_3.txt": (13, 11),
    "gt_img_4.txt": (3, 3),
    "gt_img_5.txt": (2, 2),
    "gt_img_6.txt": (20, 18),
    "gt_img_7.txt": (15, 13),
    "gt_img_8.txt": (8, 4),
    "gt_img_9.txt": (4, 2),
    "gt_img_10.txt": (8, 5),
}
ICDAR_TEST_COUNTS = {
    "gt_img_1.txt": (8, 8),
    "gt_img_21.txt": (90, 82),
    "gt_img_22.txt": (1, 0),
    "gt_img_40.txt": (7, 1),
    "gt_img_68.txt": (37, 28),
    "gt_img_108.txt": (16, 3),
}
SROIE_COUNTS = {
    "X00016469612.txt": 44,
    "X00016469623.txt": 61,
    "X51005306399.txt": 46,
    "X51005433492.txt": 39,
    "X51005441398.txt": 53,
    "X51005442397.txt": 28,
    "X51005444037.txt": 66,
    "X51005447848.txt": 75,
    "X51005685355.txt": 60,
    "X51006466778.txt": 33,
}
SROIE_CRLF_FILES = {"X00016469623.txt", "X51005685355.txt"}
IMAGE_SIZES = {
    **{f"img_{n}.jpg": (720, 1280) for n in range(1, 11)},
    "X00016469612.jpg": (1013, 463),
    "X00016469623.jpg": (1026, 463),
    "X51005306399.jpg": (915, 447),
    "X51005433492.jpg": (1527, 1080),
    "X51005441398.jpg": (1711, 591),
    "X51005442397.jpg": (1527, 1080),
    "X51005444037.jpg": (2748, 792),
    "X51005447848.jpg": (1987, 932),
    "X51005685355.jpg": (1403, 615),
    "X51006466778.jpg": (935, 615),
}
SAMPLE_SHA256_PREFIXES = {
    "icdar2015/gt_img_1.txt": "5fc4abdbcbf5",
    "icdar2015/gt_img_2.txt": "6448e57b8ef4",
    "icdar2015/gt_img_3.txt": "04c1fd69b4c6",
    "icdar2015/gt_img_4.txt": "df14783f2c2c",
    "icdar2015/gt_img_5.txt": "471e33da1d4a",
    "icdar2015/gt_img_6.txt": "9ed7c2635f35",
    "icdar2015/gt_img_7.txt": "ed7ae1a7e85c",
    "icdar2015/gt_img_8.txt": "f8adee9b6572",
    "icdar2015/gt_img_9.txt": "63af5cf7b6df",
    "icdar2015/gt_img_10.txt": "92c0de71aaed",
    "icdar2015/img_1.jpg": "7ebd8740f9f0",
    "icdar2015/img_2.jpg": "1a09c72186e6",
    "icdar2015/img_3.jpg": "a2e99b7042a8",
    "icdar2015/img_4.jpg": "2d12f916d672",
    "icdar2015/img_5.jpg": "8de8b165ac0f",
    "icdar2015/img_6.jpg": "bde72eca4678",
    "icdar2015/img_7.jpg": "be5aa25fa2cc",
    "icdar2015/img_8.jpg": "a0245b2ffda7",
    "icdar2015/img_9.jpg": "62a819051b21",
    "icdar2015/img_10.jpg": "8dd3bad7cd81",
    "sroie/X00016469612.jpg": "8b85d2c325c6",
    "sroie/X00016469623.jpg": "6214852fce61",
    "sroie/X51005306399.jpg": "f7a0f48fad6c",
    "sroie/X51005433492.jpg": "42b51a97846a",
    "sroie/X51005441398.jpg": "3fd90b4bccd4",
    "sroie/X51005442397.jpg": "7fdb0a4d941f",
    "sroie/X51005444037.jpg": "e46ba0b7256a",
    "sroie/X51005447848.jpg": "641053b399f7",
    "sroie/X51005685355.jpg": "8eb12e0b6fda",
    "sroie/X51006466778.jpg": "b6f657f35fb4",
    "sroie/X00016469612.txt": "6d467981bddd",
    "sroie/X00016469623.txt": "736b6b881d30",
    "sroie/X51005306399.txt": "65d2605eec44",
    "sroie/X51005433492.txt": "1f2a51635d17",
    "sroie/X51005441398.txt": "53ac3c598a2c",
    "sroie/X51005442397.txt": "dd91b4a17b4a",
    "sroie/X51005444037.txt": "42a9b63f0517",
    "sroie/X51005447848.txt": "445b4320c41b",
    "sroie/X51005685355.txt": "49fccb5cbe83",
    "sroie/X51006466778.txt": "1b3e27cec2b2",
}

ICDAR_TRAIN_DIRS = [
    pytest.param(SAMPLE_ICDAR, id="sample"),
    pytest.param(CORPUS_ICDAR_TRAIN, id="corpus", marks=requires_corpus),
]
SROIE_DIRS = [
    pytest.param(SAMPLE_SROIE, id="sample"),
    pytest.param(CORPUS_SROIE, id="corpus", marks=requires_corpus),
]
ALL_ANNOTATION_DIRS = [
    *ICDAR_TRAIN_DIRS,
    pytest.param(CORPUS_ICDAR_TEST, id="corpus-icdar-test", marks=requires_corpus),
    *SROIE_DIRS,
]

ICDAR_LINE = "1,2,3,2,3,4,1,4,text"


def shoelace_sum(polygon):
    """Return twice the signed area, positive for clockwise on screen (y down)."""
    x, y = polygon[:, 0], polygon[:, 1]
    return float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))


def write_annotation(folder, name, content):
    path = folder / name
    path.write_bytes(content.encode("utf-8"))
    return path


# Bundled sample


@pytest.mark.parametrize("relative_path", sorted(SAMPLE_SHA256_PREFIXES))
def test_sample_file_hash(relative_path):
    digest = hashlib.sha256((SAMPLE_DIR / relative_path).read_bytes()).hexdigest()
    assert digest[:12] == SAMPLE_SHA256_PREFIXES[relative_path]


def test_sample_contains_only_licensed_sets():
    data_files = {
        path.relative_to(SAMPLE_DIR).as_posix()
        for path in SAMPLE_DIR.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert data_files == set(SAMPLE_SHA256_PREFIXES) | {"__init__.py", "ATTRIBUTION.md"}


def test_sample_dirs():
    assert sample_dirs() == (SAMPLE_ICDAR, SAMPLE_SROIE)
    for folder in sample_dirs():
        assert isinstance(folder, Path)
        assert folder.is_dir()


@requires_corpus
@pytest.mark.parametrize("relative_path", sorted(SAMPLE_SHA256_PREFIXES))
def test_sample_equals_corpus_bytes(relative_path):
    corpus_relative = relative_path.replace("icdar2015/", "icdar2015/train/")
    assert (SAMPLE_DIR / relative_path).read_bytes() == (CORPUS_DIR / corpus_relative).read_bytes()


# read_icdar_annotation on real files


@pytest.mark.parametrize("folder", ICDAR_TRAIN_DIRS)
def test_icdar_train_counts(folder):
    for name, (regions, ignored) in ICDAR_TRAIN_COUNTS.items():
        raw = (folder / name).read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf"), name
        assert b"\r" not in raw, name

        words = read_icdar_annotation(folder / name)
        assert len(words) == regions, name
        assert sum(word.ignore for word in words) == ignored, name


@requires_corpus
def test_icdar_test_counts():
    for name, (regions, ignored) in ICDAR_TEST_COUNTS.items():
        raw = (CORPUS_ICDAR_TEST / name).read_bytes()
        assert not raw.startswith(b"\xef\xbb\xbf"), name
        assert raw.count(b"\r\n") == raw.count(b"\n"), name

        words = read_icdar_annotation(CORPUS_ICDAR_TEST / name)
        assert len(words) == regions, name
        assert sum(word.ignore for word in words) == ignored, name


@pytest.mark.parametrize("folder", SROIE_DIRS)
def test_sroie_counts(folder):
    for name, regions in SROIE_COUNTS.items():
        raw = (folder / name).read_bytes()
        assert (b"\r\n" in raw) == (name in SROIE_CRLF_FILES), name

        words = read_icdar_annotation(folder / name)
        assert len(words) == regions, name
        assert not any(word.ignore for word in words), name


@pytest.mark.parametrize("folder", ALL_ANNOTATION_DIRS)
def test_real_polygons_clockwise_integers(folder):
    for path in sorted(folder.glob("*.txt")):
        for word in read_icdar_annotation(path):
            assert isinstance(word, Word)
            assert word.polygon.dtype == np.int64  # the files write integers
            assert word.polygon.shape == (4, 2)
            assert np.array_equal(word.polygon, np.round(word.polygon)), path.name
            assert shoelace_sum(word.polygon) > 0, (path.name, word.text)
            assert "\r" not in word.text
            assert "\ufeff" not in word.text
            assert word.ignore == (word.text == "###")


@pytest.mark.parametrize("folder", SROIE_DIRS)
def test_sroie_boxes_axis_aligned(folder):
    for path in sorted(folder.glob("*.txt")):
        for word in read_icdar_annotation(path):
            (x1, y1), (x2, y2), (x3, y3), (x4, y4) = word.polygon
            assert (x1, x2, y1, y3) == (x4, x3, y2, y4), (path.name, word.text)


@pytest.mark.parametrize("folder", ICDAR_TRAIN_DIRS)
def test_bom_not_glued_to_first_coordinate(folder):
    first = read_icdar_annotation(folder / "gt_img_1.txt")[0]
    assert first.text == "Genaxis Theatre"
    assert first.polygon[0].tolist() == [377.0, 117.0]


@pytest.mark.parametrize("folder", SROIE_DIRS)
def test_sroie_commas_in_transcription(folder):
    words = read_icdar_annotation(folder / "X00016469612.txt")
    assert words[3].text == "NO.53 55,57 & 59, JALAN SAGU 18,"
    assert words[3].polygon.tolist() == [[110, 144], [383, 144], [383, 163], [110, 163]]
    assert words[4].text == "TAMAN DAYA,"


@pytest.mark.parametrize("folder", SROIE_DIRS)
def test_sroie_middle_dot(folder):
    texts = [word.text for word in read_icdar_annotation(folder / "X51006466778.txt")]
    assert "000965911\u00b7P" in texts


@requires_corpus
def test_icdar_test_commas_and_accents():
    texts_68 = [word.text for word in read_icdar_annotation(CORPUS_ICDAR_TEST / "gt_img_68.txt")]
    assert "$8,888" in texts_68
    assert "$100,000" in texts_68

    texts_108 = [word.text for word in read_icdar_annotation(CORPUS_ICDAR_TEST / "gt_img_108.txt")]
    assert "B1," in texts_108

    texts_40 = [word.text for word in read_icdar_annotation(CORPUS_ICDAR_TEST / "gt_img_40.txt")]
    assert "CAF\u00c9" in texts_40


# read_icdar_annotation on malformed and edge-case files


def test_too_few_fields_error(tmp_path):
    bad_line = "1,2,3,4,5,6,7,8"
    path = write_annotation(tmp_path, "gt.txt", f"{ICDAR_LINE}\n\n{bad_line}\n")
    with pytest.raises(ValueError) as info:
        read_icdar_annotation(path)
    message = str(info.value)
    assert str(path) in message
    assert "line 3" in message
    assert repr(bad_line) in message
    assert "x1,y1,x2,y2,x3,y3,x4,y4,transcription" in message


def test_non_numeric_coordinate_error(tmp_path):
    bad_line = "1,2,3,two,3,4,1,4,text"
    path = write_annotation(tmp_path, "gt.txt", f"\ufeff{ICDAR_LINE}\r\n{bad_line}\r\n")
    with pytest.raises(ValueError) as info:
        read_icdar_annotation(path)
    message = str(info.value)
    assert str(path) in message
    assert "line 2" in message
    assert "'two'" in message
    assert repr(bad_line) in message
    assert "x1,y1,x2,y2,x3,y3,x4,y4,transcription" in message


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", ""])
def test_non_finite_coordinate_error(tmp_path, value):
    path = write_annotation(tmp_path, "gt.txt", f"{value},2,3,2,3,4,1,4,text\n")
    with pytest.raises(ValueError, match="line 1: invalid coordinate"):
        read_icdar_annotation(path)


def test_invalid_utf8_error(tmp_path):
    path = tmp_path / "gt.txt"
    path.write_bytes(b"1,2,3,2,3,4,1,4,caf\xe9\n")
    with pytest.raises(ValueError, match="not valid UTF-8") as info:
        read_icdar_annotation(path)
    assert str(path) in str(info.value)


def test_bom_crlf_blank_lines(tmp_path):
    content = f"\ufeff{ICDAR_LINE}\r\n\r\n   \r\n5.5,6,7,6,7,8,5,8,###\r\n"
    words = read_icdar_annotation(write_annotation(tmp_path, "gt.txt", content))
    assert len(words) == 2
    assert words[0].text == "text"
    assert words[0].polygon.tolist() == [[1, 2], [3, 2], [3, 4], [1, 4]]
    assert words[1].ignore
    assert words[1].polygon[0, 0] == 5.5


def test_trailing_comma_and_empty_text(tmp_path):
    words = read_icdar_annotation(write_annotation(tmp_path, "gt.txt", "1,2,3,2,3,4,1,4,\n1,2,3,2,3,4,1,4,a,b,\n"))
    assert [word.text for word in words] == ["", "a,b,"]
    assert not words[0].ignore


def test_empty_annotation_file(tmp_path):
    assert read_icdar_annotation(write_annotation(tmp_path, "gt.txt", "")) == []


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
