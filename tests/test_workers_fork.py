"""A parent that ran threads and OpenCV starts DataLoader workers without a hang."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import fastcollate

SCRIPT = Path(__file__).resolve().parent / "fork_safety_run.py"
PACKAGE_ROOT = Path(fastcollate.__file__).resolve().parents[1]

# A few repetitions per start method keep CI fast; bench/test_bench_loader.py
# runs 20. Spawned workers import torch, about 3 s each on 2 cores.
REPETITIONS = {"fork": 5, "spawn": 1, "forkserver": 1}
TIMEOUT_S = 120


def run_script(start_method, repetitions, timeout):
    """Run the fork-safety script in a fresh interpreter; return the completed process."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_ROOT), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, str(SCRIPT), start_method, str(repetitions)],
        capture_output=True, text=True, timeout=timeout, env=env,
    )


@pytest.mark.parametrize("start_method", sorted(REPETITIONS))
def test_parent_threads_then_workers(start_method):
    repetitions = REPETITIONS[start_method]

    completed = run_script(start_method, repetitions, TIMEOUT_S)

    assert completed.returncode == 0, completed.stderr[-3000:]
    assert f"finished {repetitions} repetitions" in completed.stdout
