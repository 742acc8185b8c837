"""The ``fastcollate bench`` command, run in-process on real files."""

import shutil

import numpy as np
import pytest

from fastcollate.benchmark import TargetMismatch, check_equal
from fastcollate.cli import main
from fastcollate.data import sample_dirs


@pytest.fixture
def small_folder(tmp_path):
    """A folder with two SROIE receipts copied from the shipped sample."""
    sroie = sample_dirs()[1]
    for name in ("X51005433492", "X51005442397"):
        shutil.copy(sroie / f"{name}.jpg", tmp_path)
        shutil.copy(sroie / f"{name}.txt", tmp_path)
    return tmp_path


def test_bench_on_folder(small_folder, capsys):
    status = main(["bench", "--data", str(small_folder), "--repeat", "1", "--batch", "2",
                   "--size", "320", "--no-progress"])

    output = capsys.readouterr().out
    assert status == 0
    assert "identical on every image" in output
    assert "speedup" in output


def test_bench_empty_folder(tmp_path, capsys):
    status = main(["bench", "--data", str(tmp_path), "--no-progress"])

    assert status == 2
    assert str(tmp_path) in capsys.readouterr().err


def test_bench_help_states_units(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "--help"])

    # argparse wraps lines at the terminal width.
    help_text = " ".join(capsys.readouterr().out.split())
    assert exit_info.value.code == 0
    assert "in pixels (default: 640, at most 16384)" in help_text
    assert "(default: 16)" in help_text
    assert "(default: 5)" in help_text


def test_mismatch_names_file_and_pixel():
    expected = np.zeros((4, 5), dtype=np.float32)
    actual = expected.copy()
    actual[2, 3] = np.float32(0.5)
    sample = {"image_filename": "receipt.jpg"}

    with pytest.raises(TargetMismatch, match=r"receipt\.jpg: thresh_map differs at row 2, column 3"):
        check_equal(sample, (expected, expected), (expected, actual))


def test_mismatch_sees_negative_zero():
    expected = np.zeros((2, 2), dtype=np.float32)
    actual = expected.copy()
    actual[0, 1] = np.float32(-0.0)

    with pytest.raises(TargetMismatch, match="prob_map differs at row 0, column 1"):
        check_equal({"image_filename": "a.jpg"}, (expected, expected), (actual, expected))
