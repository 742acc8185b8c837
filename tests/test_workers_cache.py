"""Numba's on-disk kernel cache: NUMBA_CACHE_DIR, concurrent filling and the warmup command."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import fastcollate
from fastcollate import warmup

PACKAGE_ROOT = Path(fastcollate.__file__).resolve().parents[1]
# Processes that fill one empty cache at the same time.
CONCURRENT_PROCESSES = 2
# A cold compile of every kernel took 4-23 s on a loaded 2-core machine (docs/workers.md).
TIMEOUT_S = 180

CHECK_MAPS = """
import numpy as np
import fastcollate
from fastcollate.synthetic import make_batch

print(fastcollate.warmup())
sample = make_batch(3, 256, 40, 1)[0]
fast = fastcollate.make_db_targets(sample["polygons"], (256, 256), reference=False)
reference = fastcollate.make_db_targets(sample["polygons"], (256, 256), reference=True)
print("maps equal:", all(np.array_equal(f, r) for f, r in zip(fast, reference)))
"""


def environment(cache_dir):
    env = dict(os.environ)
    env["NUMBA_CACHE_DIR"] = str(cache_dir)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_ROOT), env.get("PYTHONPATH")]))
    return env


@pytest.fixture(scope="module")
def filled_cache(tmp_path_factory):
    """Fill an empty cache from several processes at once; return ``(cache_dir, outputs)``."""
    cache_dir = tmp_path_factory.mktemp("numba_cache")
    processes = [
        subprocess.Popen([sys.executable, "-m", "fastcollate", "warmup"], env=environment(cache_dir),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(CONCURRENT_PROCESSES)
    ]
    outputs = []
    try:
        for process in processes:
            stdout, stderr = process.communicate(timeout=TIMEOUT_S)
            outputs.append((process.returncode, stdout, stderr))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    return cache_dir, outputs


def test_concurrent_fill_succeeds(filled_cache):
    cache_dir, outputs = filled_cache

    for returncode, stdout, stderr in outputs:
        assert returncode == 0, stderr[-3000:]
        assert f"cache directory: {cache_dir}" in stdout


def test_cache_written_to_numba_cache_dir(filled_cache):
    cache_dir, _ = filled_cache

    assert list(cache_dir.rglob("*.nbi")), f"no Numba index files under {cache_dir}"
    assert list(cache_dir.rglob("*.nbc")), f"no Numba code files under {cache_dir}"


def test_filled_cache_loads_without_compiling(filled_cache):
    cache_dir, _ = filled_cache

    completed = subprocess.run([sys.executable, "-c", CHECK_MAPS], env=environment(cache_dir),
                               capture_output=True, text=True, timeout=TIMEOUT_S)

    assert completed.returncode == 0, completed.stderr[-3000:]
    match = re.search(r"(\d+) loaded from the cache, (\d+) compiled", completed.stdout)
    assert match, completed.stdout
    assert int(match.group(1)) >= 2
    assert int(match.group(2)) == 0
    assert "maps equal: True" in completed.stdout


def test_warmup_function_reports_cache():
    result = warmup()

    assert result.signatures >= 2
    assert result.seconds >= 0
    assert Path(result.cache_dir).is_absolute()
    assert "cache directory" in str(result)
