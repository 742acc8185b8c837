"""``fastcollate report`` on saved collate statistics and on benchmark results."""

import json
import shutil

import pytest

from fastcollate import FastDBCollateFN, save_stats
from fastcollate.cli import main
from fastcollate.data import sample_dirs
from fastcollate.regression import bench_document, make_case, save_json
from fastcollate.synthetic import make_batch

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def stats():
    collate = FastDBCollateFN(profiling=True)
    collate(make_batch(3, 160, 20, 2))
    return collate.profiling_stats()


def assert_png(path):
    assert path.is_file(), path
    assert path.read_bytes()[:8] == PNG_SIGNATURE, path


def test_report_from_stats(tmp_path, stats):
    source = save_stats(stats, tmp_path / "stats.json")

    assert main(["report", str(source), "--output", str(tmp_path / "out")]) == 0

    report = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    top_stage = max(stats["stages"], key=lambda name: stats["stages"][name]["total_ms"])
    table_rows = [line for line in report.splitlines() if line.startswith("| ") and "ms" not in line]
    assert table_rows[0].startswith(f"| {top_stage} |")
    assert "1 batches, 2 images, 40 polygons" in report
    assert "Target cache: no lookups" in report
    assert "Peak resident memory" in report
    assert "![Collate time by stage](stages.png)" in report
    assert_png(tmp_path / "out" / "stages.png")
    assert not (tmp_path / "out" / "speedup.png").exists()


def test_report_from_bench_result(tmp_path, stats):
    cases = [make_case(f"image {size}", 1e-4 * size, 5e-6 * size, size, "image") for size in (320, 640)]
    source = save_json(bench_document(cases, command="fastcollate bench", stages=stats),
                       tmp_path / "bench.json")

    assert main(["report", str(source), "-o", str(tmp_path / "out")]) == 0

    report = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "| image 640 | 64.00 | 3.20 | 20.0x |" in report
    assert "Command: `fastcollate bench`" in report
    assert_png(tmp_path / "out" / "stages.png")
    assert_png(tmp_path / "out" / "speedup.png")


def test_report_without_plots(tmp_path, stats):
    source = save_stats(stats, tmp_path / "stats.json")

    assert main(["report", str(source), "-o", str(tmp_path / "out"), "--no-plots"]) == 0
    assert (tmp_path / "out" / "report.md").is_file()
    assert not (tmp_path / "out" / "stages.png").exists()


def test_report_rejects_other_json(tmp_path, capsys):
    source = tmp_path / "other.json"
    source.write_text(json.dumps({"kind": "something"}), encoding="utf-8")

    assert main(["report", str(source), "-o", str(tmp_path / "out")]) == 2
    assert "got kind 'something'" in capsys.readouterr().err


def test_report_names_bench_profile(tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    sroie = sample_dirs()[1]
    for suffix in (".jpg", ".txt"):
        shutil.copy(sroie / f"X51005433492{suffix}", folder)
    source = tmp_path / "bench.json"

    assert main(["bench", "--profile", "paddleocr", "--data", str(folder), "--repeat", "1",
                 "--batch", "1", "--size", "128", "--no-progress", "--json", str(source)]) == 0
    assert main(["report", str(source), "-o", str(tmp_path / "out"), "--no-plots"]) == 0

    settings = json.loads(source.read_text(encoding="utf-8"))["settings"]
    report = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert settings["profile"] == "paddleocr"
    assert report.startswith("# fastcollate report, paddleocr profile\n")
    assert "baseline report" not in report
    assert "| masked_targets |" in report
    assert "timed as one stage, `masked_targets`" in report
