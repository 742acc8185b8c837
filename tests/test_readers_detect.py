"""Format detection on malformed real files, broken JSON, and image paths that leave the dataset."""

import pytest
from conftest import SHARED_DATA, require_shared_data

from fastcollate.cli import main
from fastcollate.dataset import TextDetectionDataset
from fastcollate.readers import detect_format, read_dataset

CTW1500_LINE = ",".join(str(value) for value in range(28)) + ",CARE"
ICDAR_LINE = "1,2,30,2,30,20,1,20,hello"
WILDRECEIPT_LINE = (
    '{"file_name": "%s", "height": 100, "width": 100, '
    '"annotations": [{"box": [1, 1, 5, 1, 5, 5, 1, 5], "text": "x", "label": 1}]}'
)


def write(folder, name, content):
    path = folder / name
    path.write_bytes(content.encode("utf-8"))
    return path


def real_ctw1500_lines(count=3):
    require_shared_data()
    return (SHARED_DATA / "ctw1500" / "1001.txt").read_text(encoding="utf-8").splitlines()[:count]


def test_ctw1500_lowercase_flag_not_icdar(tmp_path):
    lines = real_ctw1500_lines()
    lines[0] = lines[0].rsplit(",", 1)[0] + ",care"
    path = write(tmp_path, "1001.txt", "\n".join(lines) + "\n")

    assert detect_format(tmp_path) == "ctw1500"
    with pytest.raises(ValueError, match="invalid flag 'care', expected 'CARE' or '###'") as info:
        read_dataset(tmp_path)
    assert f"{path}, line 1" in str(info.value)
    with pytest.raises(ValueError, match="invalid flag 'care'"):
        TextDetectionDataset(tmp_path)


def test_ctw1500_lowercase_flag_bench_fails(tmp_path, capsys):
    lines = real_ctw1500_lines()
    lines[0] = lines[0].rsplit(",", 1)[0] + ",care"
    write(tmp_path, "1001.txt", "\n".join(lines) + "\n")

    status = main(["bench", "--data", str(tmp_path), "--image-size", "500x368", "--size", "64",
                   "--repeat", "1", "--no-progress"])

    assert status == 2
    assert "invalid flag 'care'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("nan" + CTW1500_LINE[1:], "invalid coordinate 'nan'"),
        ("inf" + CTW1500_LINE[1:], "invalid coordinate 'inf'"),
        (CTW1500_LINE.replace(",5,", ",five,"), "invalid coordinate 'five'"),
        (CTW1500_LINE.removesuffix(",CARE") + ",###,extra", "fields"),
        (CTW1500_LINE.replace("0,1,", "", 1), "fields"),
    ],
)
def test_malformed_ctw1500_line_gets_ctw1500_error(tmp_path, line, expected):
    write(tmp_path, "7.txt", f"{CTW1500_LINE}\n{line}\n")

    assert detect_format(tmp_path) == "ctw1500"
    with pytest.raises(ValueError, match=expected) as info:
        read_dataset(tmp_path)
    assert "line 2" in str(info.value)
    assert "x1,y1,...,x14,y14,CARE" in str(info.value)


def test_mixed_layouts_raise_naming_both(tmp_path):
    ctw_path = write(tmp_path, "1.txt", CTW1500_LINE + "\n")
    icdar_path = write(tmp_path, "2.txt", f"{ICDAR_LINE}\n{ICDAR_LINE}\n")

    with pytest.raises(ValueError, match="cannot detect the annotation format") as info:
        detect_format(tmp_path)
    message = str(info.value)
    assert f"{ctw_path}, line 1 has the CTW1500" in message
    assert f"{icdar_path}, line 1 has the ICDAR 2015" in message
    assert "--format ctw1500" in message
    assert "--format icdar2015" in message


def test_truncated_ctw1500_line_is_ambiguous(tmp_path):
    path = write(tmp_path, "1.txt", f"{CTW1500_LINE}\n1,2,3,4,5,6,7,8,9,10\n")

    with pytest.raises(ValueError, match="cannot detect") as info:
        read_dataset(tmp_path)
    assert f"{path}, line 2 has the ICDAR 2015" in str(info.value)
    with pytest.raises(ValueError, match="line 2: expected") as info:
        read_dataset(tmp_path, format="ctw1500")


def test_icdar_transcription_care_stays_icdar(tmp_path):
    write(tmp_path, "gt_img_1.txt", "1,2,30,2,30,20,1,20,CARE\n1,2,30,2,30,20,1,20,###\n")

    assert detect_format(tmp_path) == "icdar2015"
    assert [word.text for word in read_dataset(tmp_path)[0].words] == ["CARE", "###"]


def test_real_folders_still_detected():
    require_shared_data()
    assert detect_format(SHARED_DATA / "ctw1500") == "ctw1500"
    assert detect_format(SHARED_DATA / "sroie") == "icdar2015"
    assert detect_format(SHARED_DATA / "wildreceipt") == "wildreceipt"


# Broken JSON


@pytest.mark.parametrize("format", [None, "receipt_json"])
def test_truncated_receipt_json_names_line_column(tmp_path, format):
    path = write(tmp_path, "receipts.json", '{"images": {"a.jpg": {')

    with pytest.raises(ValueError, match="invalid JSON") as info:
        read_dataset(tmp_path, format=format)
    assert f"{path}, line 1, column 23" in str(info.value)


def test_truncated_receipt_json_file_path(tmp_path):
    path = write(tmp_path, "receipts.json", '{"images": [')

    with pytest.raises(ValueError, match="invalid JSON") as info:
        read_dataset(path)
    assert f"{path}, line 1, column 13" in str(info.value)


@pytest.mark.parametrize("format", [None, "wildreceipt"])
def test_truncated_wildreceipt_names_line_column(tmp_path, format):
    write(tmp_path, "class_list.txt", "0 Ignore\n1 Store_name_value\n")
    path = write(tmp_path, "train.txt", (WILDRECEIPT_LINE % "a.jpg") + '\n{"file_name": "b.jpg", "annotations": [\n')

    with pytest.raises(ValueError, match="invalid JSON") as info:
        read_dataset(tmp_path, format=format)
    assert f"{path}, line 2, column 40" in str(info.value)
    assert "ICDAR" not in str(info.value)


# Paths and folders


@pytest.mark.parametrize("file_name", ["/etc/passwd", "../../x.jpg", "images/../../x.jpg"])
def test_wildreceipt_file_name_outside_folder(tmp_path, file_name):
    path = write(tmp_path, "train.txt", (WILDRECEIPT_LINE % file_name) + "\n")

    with pytest.raises(ValueError, match="leaves the image folder") as info:
        read_dataset(tmp_path)
    assert f"{path}, line 1" in str(info.value)
    assert repr(file_name) in str(info.value)


def test_wildreceipt_file_name_in_subfolder(tmp_path):
    write(tmp_path, "train.txt", (WILDRECEIPT_LINE % "images/./a/../b.jpg") + "\n")

    [image] = read_dataset(tmp_path)
    assert image.name == "images/./a/../b.jpg"


def test_receipt_json_name_outside_folder(tmp_path):
    write(tmp_path, "receipts.json", '{"images": {"../secret.jpg": {"words": {}}}}')

    with pytest.raises(ValueError, match="leaves the image folder") as info:
        read_dataset(tmp_path)
    assert "'../secret.jpg'" in str(info.value)


def test_folder_named_like_annotation_is_skipped(tmp_path):
    (tmp_path / "gt_img_1.txt").mkdir()

    with pytest.raises(FileNotFoundError, match="no annotation files"):
        read_dataset(tmp_path)
    write(tmp_path, "gt_img_2.txt", ICDAR_LINE + "\n")
    assert [image.annotation_path.name for image in read_dataset(tmp_path)] == ["gt_img_2.txt"]


def test_missing_image_dir_is_named(tmp_path):
    write(tmp_path, "gt_img_1.txt", ICDAR_LINE + "\n")
    missing = tmp_path / "absent"

    with pytest.raises(FileNotFoundError, match="image folder not found") as info:
        read_dataset(tmp_path, image_dir=missing)
    assert str(missing) in str(info.value)
