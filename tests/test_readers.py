"""Text-line annotation readers (ICDAR 2015, SROIE, CTW1500) and format detection on real files."""

import numpy as np
import pytest
from conftest import SHARED_DATA, require_shared_data, shared_data_params

from fastcollate.cli import main
from fastcollate.readers import (
    FORMATS,
    detect_format,
    read_ctw1500_annotation,
    read_dataset,
    read_icdar_annotation,
)

# Regions per CTW1500 file, as counted when the files were collected.
CTW1500_REGIONS = {
    "1001.txt": 4, "1004.txt": 8, "1005.txt": 5, "1017.txt": 20,
    "1046.txt": 14, "1114.txt": 40, "1129.txt": 29, "1342.txt": 31,
}
CTW1500_LINE = ",".join(str(value) for value in range(28)) + ",CARE"


def shoelace_sum(polygon):
    x, y = polygon[:, 0].astype(np.float64), polygon[:, 1].astype(np.float64)
    return float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))


def write(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8"))
    return path


# ICDAR 2015 and SROIE on every real file


@pytest.mark.parametrize(
    "path",
    shared_data_params("icdar2015/train", "*.txt")
    + shared_data_params("icdar2015/test", "*.txt")
    + shared_data_params("sroie", "*.txt"),
)
def test_icdar_reader_real_file(path):
    raw = path.read_bytes().decode("utf-8-sig")
    expected_regions = sum(1 for line in raw.splitlines() if line.strip())

    words = read_icdar_annotation(path)

    assert len(words) == expected_regions
    for word in words:
        assert word.polygon.shape == (4, 2)
        assert word.polygon.dtype == np.int64
        assert shoelace_sum(word.polygon) > 0, word.text
        assert word.ignore == (word.text == "###")
        assert "\r" not in word.text
        assert not word.text.startswith("\ufeff")


@pytest.mark.parametrize("path", shared_data_params("ctw1500", "*.txt"))
def test_ctw1500_reader_real_file(path):
    words = read_ctw1500_annotation(path)

    assert len(words) == CTW1500_REGIONS[path.name]
    for word in words:
        assert word.polygon.shape == (14, 2)
        assert word.polygon.dtype == np.int64
        assert word.text is None
        assert not word.ignore
        assert (word.polygon >= 0).all()
        assert (word.polygon[:, 0] <= 500).all()
        assert (word.polygon[:, 1] <= 368).all()


def test_ctw1500_mostly_counter_clockwise():
    require_shared_data()
    signs = [
        shoelace_sum(word.polygon) < 0
        for path in sorted((SHARED_DATA / "ctw1500").glob("*.txt"))
        for word in read_ctw1500_annotation(path)
    ]
    assert len(signs) == 151
    assert sum(signs) >= 140


def test_ctw1500_first_polygon_values():
    require_shared_data()
    first = read_ctw1500_annotation(SHARED_DATA / "ctw1500" / "1001.txt")[0]
    assert first.polygon[0].tolist() == [48, 84]
    assert first.polygon[-1].tolist() == [45, 73]


@pytest.mark.parametrize(
    ("folder", "expected"),
    [("icdar2015/train", "icdar2015"), ("icdar2015/test", "icdar2015"), ("sroie", "icdar2015"),
     ("ctw1500", "ctw1500"), ("wildreceipt", "wildreceipt")],
)
def test_detect_format_real_folder(folder, expected):
    require_shared_data()
    assert detect_format(SHARED_DATA / folder) == expected


def test_read_dataset_real_folders():
    require_shared_data()
    counts = {
        folder: len(read_dataset(SHARED_DATA / folder))
        for folder in ("icdar2015/train", "icdar2015/test", "sroie", "ctw1500", "wildreceipt")
    }
    assert counts == {"icdar2015/train": 10, "icdar2015/test": 6, "sroie": 10, "ctw1500": 8, "wildreceipt": 2}


def test_read_dataset_pairs_and_missing_images():
    require_shared_data()
    train = read_dataset(SHARED_DATA / "icdar2015" / "train")
    assert [image.name for image in train][:3] == ["img_1.jpg", "img_10.jpg", "img_2.jpg"]
    assert all(image.image_path.name == image.name for image in train)

    test = read_dataset(SHARED_DATA / "icdar2015" / "test")
    assert [image.name for image in test] == ["img_1", "img_108", "img_21", "img_22", "img_40", "img_68"]
    assert all(image.image_path is None and image.image_size is None for image in test)


def test_read_dataset_image_dir(tmp_path):
    annotations = tmp_path / "labels"
    images = tmp_path / "images"
    annotations.mkdir()
    images.mkdir()
    write(annotations, "7.txt", CTW1500_LINE + "\n")
    (images / "7.jpg").write_bytes(b"")

    [image] = read_dataset(annotations, image_dir=images)

    assert image.image_path == images / "7.jpg"
    assert image.name == "7.jpg"


# ICDAR 2015 edge cases: BOM, CRLF, commas


def test_icdar_bom_crlf_commas(tmp_path):
    content = "\ufeff1,2,3,2,3,4,1,4,$8,888\r\n\r\n5,6,7,6,7,8,5,8,###\r\n1,2,3,2,3,4,1,4,B1,\r\n"
    words = read_icdar_annotation(write(tmp_path, "gt_img_1.txt", content))

    assert [word.text for word in words] == ["$8,888", "###", "B1,"]
    assert [word.ignore for word in words] == [False, True, False]
    assert words[0].polygon.tolist() == [[1, 2], [3, 2], [3, 4], [1, 4]]


def test_icdar_decimal_coordinates_float64(tmp_path):
    words = read_icdar_annotation(write(tmp_path, "a.txt", "1,2,3,2,3,4,1,4,a\n1.5,2,3,2,3,4,1,4,b\n"))
    assert all(word.polygon.dtype == np.float64 for word in words)
    assert words[1].polygon[0, 0] == 1.5


def test_icdar_error_names_file_and_line(tmp_path):
    path = write(tmp_path, "gt.txt", "1,2,3,2,3,4,1,4,ok\n\n1,2,3,2,3,4,1,x,bad\n")
    with pytest.raises(ValueError) as info:
        read_icdar_annotation(path)
    message = str(info.value)
    assert f"{path}, line 3" in message
    assert "'x'" in message
    assert "x1,y1,x2,y2,x3,y3,x4,y4,transcription" in message


# CTW1500 edge cases and errors


def test_ctw1500_ignore_flag_bom_crlf(tmp_path):
    ignored = CTW1500_LINE.replace("CARE", "###")
    words = read_ctw1500_annotation(write(tmp_path, "1.txt", f"\ufeff{CTW1500_LINE}\r\n{ignored}\r\n"))

    assert [word.ignore for word in words] == [False, True]
    assert words[0].polygon[0].tolist() == [0, 1]
    assert words[0].polygon[13].tolist() == [26, 27]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (",".join(["1"] * 26) + ",CARE", "got 27 fields"),
        (",".join(["1"] * 28) + ",care", "invalid flag 'care'"),
        (",".join(["1"] * 27) + ",y,CARE", "invalid coordinate 'y'"),
        (",".join(["1"] * 27) + ",nan,CARE", "invalid coordinate 'nan'"),
    ],
)
def test_ctw1500_error_names_file_and_line(tmp_path, line, expected):
    path = write(tmp_path, "1.txt", f"{CTW1500_LINE}\n{line}\n")
    with pytest.raises(ValueError) as info:
        read_ctw1500_annotation(path)
    message = str(info.value)
    assert f"{path}, line 2" in message
    assert expected in message
    assert "x1,y1,...,x14,y14,CARE" in message


def test_detect_ctw1500_in_temporary_folder(tmp_path):
    write(tmp_path, "5.txt", CTW1500_LINE + "\n")
    assert detect_format(tmp_path) == "ctw1500"
    assert read_dataset(tmp_path)[0].words[0].polygon.shape == (14, 2)


def test_read_dataset_unknown_format(tmp_path):
    write(tmp_path, "a.txt", "1,2,3,2,3,4,1,4,a\n")
    with pytest.raises(ValueError, match="unknown annotation format 'coco'") as info:
        read_dataset(tmp_path, format="coco")
    for name in FORMATS:
        assert name in str(info.value)


def test_read_dataset_missing_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found") as info:
        read_dataset(tmp_path / "absent")
    assert str(tmp_path / "absent") in str(info.value)


def test_detect_format_empty_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="no annotation files") as info:
        detect_format(tmp_path)
    assert str(tmp_path) in str(info.value)


def test_detect_empty_files_as_icdar(tmp_path):
    write(tmp_path, "gt_img_3.txt", "")
    (tmp_path / "img_3.jpg").write_bytes(b"")

    assert detect_format(tmp_path) == "icdar2015"
    [image] = read_dataset(tmp_path)
    assert image.words == []
    assert image.image_path == tmp_path / "img_3.jpg"


@pytest.mark.parametrize(
    ("folder", "options"),
    [("ctw1500", ["--image-size", "500x368"]), ("wildreceipt", []),
     ("icdar2015/test", ["--image-size", "1280x720"])],
)
def test_bench_runs_on_real_folder(folder, options, capsys):
    require_shared_data()
    # bench exits with status 1 if the fast and reference maps differ.
    status = main(["bench", "--data", str(SHARED_DATA / folder), *options, "--size", "160",
                   "--repeat", "1", "--no-progress"])

    assert status == 0
    assert "identical on every image" in capsys.readouterr().out
