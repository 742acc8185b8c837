"""Command-line messages for out-of-range sizes, files given as folders, and counts."""

import shutil

import numpy as np
import pytest
import torch

from fastcollate.cli import is_allocation_error, main
from fastcollate.data import sample_dirs
from fastcollate.regression import bench_document, make_case, save_json


@pytest.fixture
def two_receipts(tmp_path):
    """A folder with two SROIE receipts copied from the shipped sample."""
    folder = tmp_path / "receipts"
    folder.mkdir()
    for name in ("X51005433492", "X51005442397"):
        shutil.copy(sample_dirs()[1] / f"{name}.jpg", folder)
        shutil.copy(sample_dirs()[1] / f"{name}.txt", folder)
    return folder


@pytest.mark.parametrize("command", ["bench", "render", "precompute", "loader-bench"])
def test_size_above_maximum_rejected(command, tmp_path, capsys):
    arguments = {"bench": [], "render": ["--data", str(tmp_path), "--out", str(tmp_path / "out")],
                 "precompute": ["--cache-dir", str(tmp_path / "cache")], "loader-bench": []}[command]

    with pytest.raises(SystemExit) as info:
        main([command, *arguments, "--size", "200000"])

    assert info.value.code == 2
    error = capsys.readouterr().err
    assert "expected at most 16384 pixels, got '200000'" in error


@pytest.mark.parametrize("value", ["inf", "nan", "-5"])
def test_loader_bench_consumer_time_rejected(value, capsys):
    with pytest.raises(SystemExit) as info:
        main(["loader-bench", "--consumer-ms", value])

    assert info.value.code == 2
    assert f"expected a finite number of 0 or more, got '{value}'" in capsys.readouterr().err


def test_size_not_a_number(capsys):
    with pytest.raises(SystemExit) as info:
        main(["bench", "--size", "abc"])

    assert info.value.code == 2
    error = capsys.readouterr().err
    assert "expected a positive integer, got 'abc'" in error
    assert "positive_int" not in error


def test_help_states_size_maximum(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "--help"])

    # argparse wraps lines at the terminal width.
    help_text = " ".join(capsys.readouterr().out.split())
    assert "in pixels (default: 640, at most 16384)" in help_text


def test_render_out_existing_file(two_receipts, tmp_path, capsys):
    existing = tmp_path / "afile"
    existing.write_text("not a folder\n", encoding="utf-8")

    status = main(["render", "--data", str(two_receipts), "--out", str(existing), "--no-progress"])

    assert status == 2
    assert f"--out {existing} is an existing file; --out must be a folder" in capsys.readouterr().err


def test_render_one_file_singular(two_receipts, tmp_path, capsys):
    status = main(["render", "--data", str(two_receipts), "--out", str(tmp_path / "out"), "--limit", "1",
                   "--size", "64", "--no-progress"])

    assert status == 0
    assert "wrote 1 PNG file to" in capsys.readouterr().out


def test_bench_missing_image_dir(two_receipts, tmp_path, capsys):
    missing = tmp_path / "nonexistent"

    status = main(["bench", "--data", str(two_receipts), "--image-dir", str(missing), "--no-progress"])

    assert status == 2
    assert f"image folder not found: {missing}" in capsys.readouterr().err


def test_bench_short_batch_scaled(two_receipts, capsys):
    status = main(["bench", "--data", str(two_receipts), "--batch", "16", "--repeat", "1", "--size", "64",
                   "--no-progress"])

    assert status == 0
    assert "a batch of 2 images, whose time is scaled to 16 images" in capsys.readouterr().out


def test_allocation_errors_recognised():
    with pytest.raises(RuntimeError) as torch_error:
        torch.empty(2**40, dtype=torch.float32)
    with pytest.raises(MemoryError):
        np.empty(2**45, dtype=np.float32)

    assert is_allocation_error(torch_error.value)
    assert not is_allocation_error(RuntimeError("stack expects each tensor to be equal size"))


def test_precompute_cache_dir_existing_file(two_receipts, tmp_path, capsys):
    existing = tmp_path / "afile"
    existing.write_text("not a folder\n", encoding="utf-8")

    status = main(["precompute", "--data", str(two_receipts), "--cache-dir", str(existing), "--size", "64",
                   "--no-progress"])

    assert status == 2
    assert (f"--cache-dir {existing} is an existing file; --cache-dir must be a folder"
            in capsys.readouterr().err)


def test_report_output_existing_file(tmp_path, capsys):
    source = save_json(bench_document([make_case("image 64", 0.01, 0.001, 64)]), tmp_path / "bench.json")
    existing = tmp_path / "afile"
    existing.write_text("not a folder\n", encoding="utf-8")

    status = main(["report", str(source), "--output", str(existing), "--no-plots"])

    assert status == 2
    assert f"--output {existing} is an existing file; --output must be a folder" in capsys.readouterr().err


def test_bench_json_folder_rejected_before_run(two_receipts, tmp_path, capsys):
    status = main(["bench", "--data", str(two_receipts), "--size", "64", "--repeat", "1",
                   "--no-progress", "--json", str(tmp_path)])

    output = capsys.readouterr()
    assert status == 2
    assert f"--json {tmp_path} is an existing folder; --json must be a file path" in output.err
    assert output.out == ""


def test_bench_json_parent_file_rejected(two_receipts, tmp_path, capsys):
    existing = tmp_path / "afile"
    existing.write_text("not a folder\n", encoding="utf-8")
    target = existing / "sub" / "result.json"

    status = main(["bench", "--data", str(two_receipts), "--size", "64", "--repeat", "1",
                   "--no-progress", "--json", str(target)])

    output = capsys.readouterr()
    assert status == 2
    assert f"--json {target}: {existing} is a file, not a folder" in output.err
    assert output.out == ""


def test_bench_json_help_mentions_parent_folders(capsys):
    with pytest.raises(SystemExit):
        main(["bench", "--help"])

    help_text = " ".join(capsys.readouterr().out.split())
    assert "Missing parent folders are created" in help_text
