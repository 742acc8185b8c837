"""The speedup regression guard: result files and ``fastcollate compare``."""

import copy
import json
import re
import shutil

import pytest

from fastcollate.cli import main
from fastcollate.data import sample_dirs
from fastcollate.regression import bench_document, compare_results, load_bench, make_case, save_json


def result(**speedups):
    """A benchmark result whose cases have the given speedups, reference 100 ms each."""
    cases = [make_case(name.replace("_", " "), 0.1, 0.1 / speedup) for name, speedup in speedups.items()]
    return bench_document(cases, command="test")


@pytest.fixture
def baseline(tmp_path):
    return save_json(result(image_640=16.0, batch_640=8.0), tmp_path / "baseline.json")


def test_compare_equal_passes(tmp_path, baseline, capsys):
    current = save_json(result(image_640=16.0, batch_640=8.0), tmp_path / "current.json")

    assert main(["compare", str(baseline), str(current)]) == 0
    assert "all 2 cases are within 10%" in capsys.readouterr().out


def test_compare_slower_case_fails_naming_it(tmp_path, baseline, capsys):
    # 15% below the baseline for one case, 5% below for the other.
    current = save_json(result(image_640=16.0 * 0.85, batch_640=8.0 * 0.95), tmp_path / "current.json")

    assert main(["compare", str(baseline), str(current)]) == 1
    output = capsys.readouterr()
    assert "speedup regression in image 640" in output.err
    assert "batch 640" not in output.err
    assert "image 640: speedup 13.60x against baseline 16.00x (-15.0%, limit -10%) FAILED" in output.out


def test_compare_tolerance_option(tmp_path, baseline):
    current = save_json(result(image_640=16.0 * 0.85, batch_640=8.0), tmp_path / "current.json")

    assert main(["compare", str(baseline), str(current), "--tolerance", "20%"]) == 0
    assert main(["compare", str(baseline), str(current), "--tolerance", "0.1"]) == 1


def test_compare_missing_case_fails(tmp_path, baseline, capsys):
    current = save_json(result(image_640=16.0), tmp_path / "current.json")

    assert main(["compare", str(baseline), str(current)]) == 1
    assert "batch 640: missing from the current result" in capsys.readouterr().out


def test_compare_missing_distinct_from_slower(tmp_path, baseline, capsys):
    current = save_json(result(image_640=16.0 * 0.5), tmp_path / "current.json")

    assert main(["compare", str(baseline), str(current)]) == 1

    error = capsys.readouterr().err
    assert "speedup regression in image 640 (" in error
    assert f"{current} lacks baseline cases batch 640;" in error


def test_compare_selected_case(tmp_path, baseline, capsys):
    current = save_json(result(image_640=16.0, batch_640=1.0), tmp_path / "current.json")

    assert main(["compare", str(baseline), str(current), "--case", "image 640"]) == 0
    assert main(["compare", str(baseline), str(current), "--case", "image 1024"]) == 2
    assert "no case 'image 1024'" in capsys.readouterr().err


def test_compare_unreadable_files(tmp_path, baseline, capsys):
    not_json = tmp_path / "broken.json"
    not_json.write_text("{", encoding="utf-8")
    stats = tmp_path / "stats.json"
    stats.write_text(json.dumps({"kind": "fastcollate-stats"}), encoding="utf-8")

    assert main(["compare", str(baseline), str(not_json)]) == 2
    assert "invalid JSON" in capsys.readouterr().err
    assert main(["compare", str(baseline), str(stats)]) == 2
    assert "expected a benchmark result" in capsys.readouterr().err
    assert main(["compare", str(baseline), str(tmp_path / "absent.json")]) == 2
    assert "file not found" in capsys.readouterr().err


def test_load_rejects_bad_speedup(tmp_path):
    document = result(image_640=16.0)
    broken = copy.deepcopy(document)
    broken["cases"][0]["speedup"] = 0
    path = save_json(broken, tmp_path / "broken.json")

    with pytest.raises(ValueError, match="'image 640' has speedup 0"):
        load_bench(path)


def test_duplicate_case_names_rejected():
    with pytest.raises(ValueError, match="image 640"):
        bench_document([make_case("image 640", 1, 1), make_case("image 640", 2, 1)])


def test_load_rejects_duplicate_case_names(tmp_path):
    document = result(image_640=16.0, batch_640=8.0)
    document["cases"][1]["name"] = "image 640"
    path = save_json(document, tmp_path / "duplicate.json")

    with pytest.raises(ValueError, match="case name 'image 640' appears more than once"):
        load_bench(path)


def test_tolerance_must_be_a_fraction():
    with pytest.raises(ValueError, match="tolerance"):
        compare_results({}, {}, tolerance=10)


def test_bench_json_compares_with_itself(tmp_path, capsys):
    folder = tmp_path / "data"
    folder.mkdir()
    sroie = sample_dirs()[1]
    for name in ("X51005433492", "X51005442397"):
        shutil.copy(sroie / f"{name}.jpg", folder)
        shutil.copy(sroie / f"{name}.txt", folder)
    output = tmp_path / "result.json"

    status = main(["bench", "--data", str(folder), "--repeat", "1", "--batch", "2",
                   "--size", "128", "160", "--no-progress", "--json", str(output)])

    assert status == 0
    document = json.loads(output.read_text(encoding="utf-8"))
    assert [case["name"] for case in document["cases"]] == ["image 128", "batch 128", "image 160",
                                                            "batch 160"]
    assert document["stages"]["images"] == 2
    assert document["machine"]["cpus"] >= 1
    assert main(["compare", str(output), str(output)]) == 0


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("speedup", "fast", r"case 'image 640' has speedup 'fast'; expected a finite positive number"),
        ("speedup", float("nan"), r"case 'image 640' has speedup nan"),
        ("fast_ms", None, r"case 'image 640' has fast_ms None"),
        ("size", "640", r"case 'image 640' has size '640'; expected an integer"),
    ],
)
def test_report_rejects_bad_case(tmp_path, capsys, key, value, message):
    document = result(image_640=16.0)
    document["cases"][0][key] = value
    path = save_json(document, tmp_path / "broken.json")

    assert main(["report", str(path), "-o", str(tmp_path / "out"), "--no-plots"]) == 2

    error = capsys.readouterr().err
    assert str(path) in error
    assert re.search(message, error), error
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("content", "description"),
    [
        ("[]", "got a JSON array, not an object with a kind"),
        ('"text"', "got a JSON string, not an object with a kind"),
        ('{"cases": []}', "got kind None"),
    ],
)
def test_report_and_compare_name_kind_alike(tmp_path, baseline, capsys, content, description):
    path = tmp_path / "other.json"
    path.write_text(content, encoding="utf-8")

    assert main(["report", str(path), "-o", str(tmp_path / "out"), "--no-plots"]) == 2
    report_error = capsys.readouterr().err
    assert main(["compare", str(path), str(baseline)]) == 2
    compare_error = capsys.readouterr().err

    assert description in report_error
    assert description in compare_error
