"""Missing optional dependencies, simulated by blocking the import in a child process."""

import os
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]

# sys.modules["cv2"] = None makes `import cv2` raise ImportError, the same
# exception as an uninstalled module.
BLOCK_OPENCV = "import sys\nsys.modules['cv2'] = None\n"

COLLATE_ON_REFERENCE = BLOCK_OPENCV + """
import numpy as np
import torch
from fastcollate import FastDBCollateFN

sample = {"image": torch.zeros(3, 32, 32), "image_filename": "a.png", "inverse_matrix": np.eye(3),
          "polygons": [np.array([[1, 1], [20, 1], [20, 20], [1, 20]], np.float32)]}
try:
    FastDBCollateFN()([sample])
except ImportError as error:
    print(f"{type(error).__name__}: {error}")
    sys.exit(0)
sys.exit("no ImportError")
"""


def run_child(code, *arguments, environment=None):
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), **(environment or {}))
    return subprocess.run([sys.executable, "-c", code, *arguments], capture_output=True, text=True,
                          env=env, timeout=120)


def test_bench_without_opencv_exits_2():
    code = BLOCK_OPENCV + "from fastcollate.cli import main\nsys.exit(main(sys.argv[1:]))\n"

    result = run_child(code, "bench", "--no-progress", "--size", "64", "--repeat", "1")

    assert result.returncode == 2, result.stderr
    assert "pip install 'fastcollate[reference]'" in result.stderr
    assert "OpenCV" in result.stderr
    assert "Traceback" not in result.stderr


def test_reference_variable_without_opencv_raises():
    result = run_child(COLLATE_ON_REFERENCE, environment={"FASTCOLLATE_REFERENCE": "1"})

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("MissingDependencyError: ")  # caught as ImportError in the child
    assert "the reference path needs OpenCV" in result.stdout
    assert "pip install 'fastcollate[reference]'" in result.stdout


def test_render_without_opencv_exits_2(tmp_path):
    code = BLOCK_OPENCV + "from fastcollate.cli import main\nsys.exit(main(sys.argv[1:]))\n"

    data = PROJECT_ROOT / "fastcollate" / "data" / "icdar2015"
    result = run_child(code, "render", "--data", str(data), "--out", str(tmp_path / "pictures"),
                       "--limit", "1", "--size", "64", "--no-progress")

    assert result.returncode == 2, result.stderr
    assert "pip install 'fastcollate[" in result.stderr
    assert "Traceback" not in result.stderr


def test_loader_bench_without_opencv_exits_2():
    code = BLOCK_OPENCV + "from fastcollate.cli import main\nsys.exit(main(sys.argv[1:]))\n"

    result = run_child(code, "loader-bench", "--size", "64", "--batch", "2", "--batches", "2",
                       "--workers", "1", "--no-progress")

    assert result.returncode == 2, result.stderr
    assert "fastcollate loader-bench, which decodes and warps images, needs OpenCV" in result.stderr
    assert "pip install 'fastcollate[images]'" in result.stderr
    assert "Traceback" not in result.stderr
