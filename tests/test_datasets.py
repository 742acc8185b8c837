"""Tests of the bundled sample and of the ICDAR 2015 / SROIE annotation reader.

The reader runs on the sample bundled in ``fastcollate/data`` and, when it is
present next to the repository, on the real corpus that sample was copied
from, which adds the ICDAR 2015 test-set files (no BOM, CRLF line ends).
"""

import hashlib
from pathlib import Path

import numpy as np
import pytest

from fastcollate.data import SAMPLE_DIR, sample_dirs
from fastcollate.datasets import (
    Word,
    read_icdar_annotation,
)

from corpus_facts import (
    ALL_ANNOTATION_DIRS,
    CORPUS_DIR,
    CORPUS_ICDAR_TEST,
    ICDAR_LINE,
    ICDAR_TEST_COUNTS,
    ICDAR_TRAIN_COUNTS,
    ICDAR_TRAIN_DIRS,
    SAMPLE_ICDAR,
    SAMPLE_SROIE,
    SAMPLE_SHA256_PREFIXES,
    SROIE_COUNTS,
    SROIE_CRLF_FILES,
    SROIE_DIRS,
    requires_corpus,
    shoelace_sum,
    write_annotation,
)


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
