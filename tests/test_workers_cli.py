"""The ``warmup`` and ``loader-bench`` commands, run in-process."""

import os
import subprocess
import sys
from pathlib import Path

import numba
import numpy as np
import pytest
import torch

from fastcollate.augment import AugmentedTextImages
from fastcollate.cli import main
from fastcollate.data import sample_dirs
from fastcollate.datasets import read_icdar_annotation
from fastcollate.loader_bench import LoaderRun, format_results

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def test_warmup_command_prints_cache(capsys):
    assert main(["warmup"]) == 0

    output = capsys.readouterr().out
    assert "kernel signatures in" in output
    assert "cache directory: " in output


CACHE_DIR_CHECK = "from fastcollate.warmup import cache_dir_warning\nprint(cache_dir_warning())\n"


def run_cache_dir_check(cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir), PYTHONPATH=str(PROJECT_ROOT))
    result = subprocess.run([sys.executable, "-c", CACHE_DIR_CHECK], capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_cache_dir_file_warns(tmp_path):
    cache_file = tmp_path / "numba-cache"
    cache_file.write_text("")

    warning = run_cache_dir_check(cache_file)

    assert f"NUMBA_CACHE_DIR={cache_file} is set" in warning
    assert "it is a regular file, not a folder" in warning


def test_cache_dir_folder_no_warning(tmp_path):
    assert run_cache_dir_check(tmp_path / "numba-cache") == "None"


def test_warmup_command_warns_on_fallback(tmp_path, monkeypatch, capsys):
    cache_file = tmp_path / "numba-cache"
    cache_file.write_text("")
    # Numba read the variable at import, so set the value it read.
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(cache_file))

    assert main(["warmup"]) == 0

    error = capsys.readouterr().err
    assert "fastcollate warmup: warning: NUMBA_CACHE_DIR=" in error
    assert "point NUMBA_CACHE_DIR at a writable folder" in error


def test_loader_bench_main_process(capsys):
    status = main(["loader-bench", "--size", "128", "--batch", "2", "--batches", "2",
                   "--workers", "0", "--consumer-ms", "0", "--no-progress"])

    output = capsys.readouterr().out
    assert status == 0
    assert "nan" not in output
    assert "reference " in output
    assert "fast " in output
    assert "first batch maps identical on both paths: yes" in output


def test_loader_bench_help_states_units(capsys, monkeypatch):
    # A wide terminal keeps argparse from wrapping a phrase across lines.
    monkeypatch.setenv("COLUMNS", "300")
    with pytest.raises(SystemExit):
        main(["loader-bench", "--help"])

    help_text = capsys.readouterr().out
    assert "in pixels, at most 16384 (default: 640)" in help_text
    assert "in milliseconds (default: 20)" in help_text
    assert "(default: 2)" in help_text


def test_loader_bench_negative_workers(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["loader-bench", "--workers", "-1", "--no-progress"])

    error = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert "usage: " in error
    assert "--workers: expected an integer of 0 or more, got '-1'" in error


def test_loader_bench_one_batch_rejected(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["loader-bench", "--batches", "1", "--no-progress"])

    error = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert "usage: " in error
    assert "--batches: expected at least 2, got '1'" in error


def test_loader_bench_start_method_without_workers(capsys):
    status = main(["loader-bench", "--workers", "0", "--start-method", "spawn", "--no-progress"])

    error = capsys.readouterr().err
    assert status == 2
    assert "--start-method spawn needs worker processes" in error
    assert "--workers is 0" in error


def test_loader_bench_extra_without_second_batch():
    runs = {"fast": LoaderRun(path="fast", images=6, steady_seconds=1.0, first_batch_seconds=2.0,
                              wait_share=0.5, first_batch_extra=[])}

    table = format_results(runs, size=64, batch_size=2, num_workers=4, consumer_ms=20.0)

    assert "nan" not in table
    assert table.splitlines()[2].split()[-1] == "n/a"
    assert "n/a when no worker built 2 or more batches" in table


def test_augmented_sample_layout():
    dataset = AugmentedTextImages(sample_dirs(), size=160, length=3, seed=4)

    sample = dataset[2]

    assert sample["image"].shape == (3, 160, 160)
    assert sample["image"].dtype == torch.float32
    assert float(sample["image"].min()) >= 0.0
    assert float(sample["image"].max()) <= 1.0
    assert sample["inverse_matrix"].shape == (3, 3)
    assert len(sample["polygons"]) == len(sample["ignore_tags"])
    assert all(polygon.shape[0] == 1 and polygon.shape[2] == 2 for polygon in sample["polygons"])


def test_augmented_sample_repeatable():
    dataset = AugmentedTextImages(sample_dirs(), size=96, length=2, seed=9)

    first, second = dataset[1], dataset[1]

    assert torch.equal(first["image"], second["image"])
    for a, b in zip(first["polygons"], second["polygons"], strict=True):
        assert np.array_equal(a, b)


def test_preloaded_samples_equal_decoded_ones():
    decoded = AugmentedTextImages(sample_dirs(), size=96, length=3, seed=5)
    preloaded = AugmentedTextImages(sample_dirs(), size=96, length=3, seed=5, preload=True)

    for index in range(3):
        first, second = decoded[index], preloaded[index]
        assert torch.equal(first["image"], second["image"])
        for a, b in zip(first["polygons"], second["polygons"], strict=True):
            assert np.array_equal(a, b)


def test_loader_bench_preload_is_named(capsys):
    status = main(["loader-bench", "--size", "96", "--batch", "2", "--batches", "2",
                   "--workers", "0", "--path", "fast", "--preload", "--no-progress"])

    assert status == 0
    assert "images decoded once, in memory" in capsys.readouterr().out


def test_augmented_polygons_follow_matrix():
    dataset = AugmentedTextImages(sample_dirs(), size=200, length=1, seed=1)

    sample = dataset[0]
    original = read_icdar_annotation(dataset.pairs[0][1])[0].polygon

    # The inverse matrix takes output pixels back to the source image.
    output = sample["polygons"][0][0].astype(np.float64)
    restored = (sample["inverse_matrix"] @ np.hstack([output, np.ones((len(output), 1))]).T).T
    assert restored[:, :2] == pytest.approx(original, abs=0.01)
    assert restored[:, 2] == pytest.approx(1.0)


def test_augmented_index_out_of_range():
    dataset = AugmentedTextImages(sample_dirs(), length=2)

    with pytest.raises(IndexError, match="out of range"):
        dataset[2]
