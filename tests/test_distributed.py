"""torchrun with 2 gloo ranks, each reading through 2 DataLoader workers."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import fastcollate

SCRIPT = Path(__file__).resolve().parent / "distributed_run.py"
PACKAGE_ROOT = Path(fastcollate.__file__).resolve().parents[1]
TIMEOUT_S = 120
RANKS = 2


def run_torchrun(out_dir, spill_dir=None):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_ROOT), env.get("PYTHONPATH")]))
    # One intra-op thread per rank, as torchrun sets, without its warning.
    env.setdefault("OMP_NUM_THREADS", "1")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc_per_node={RANKS}", str(SCRIPT), str(out_dir)]
    if spill_dir is not None:
        command.append(str(spill_dir))
    return subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT_S, env=env)


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    """Run the script under torchrun once; return each rank's result dict.

    The ranks share one spill directory in the same run. OUT_DIR does not
    exist beforehand, so the script must create it and its parents.
    """
    out_dir = tmp_path_factory.mktemp("torchrun") / "results" / "ranks"
    spill_dir = tmp_path_factory.mktemp("spill")
    completed = run_torchrun(out_dir, spill_dir)
    assert completed.returncode == 0, completed.stderr[-4000:]
    return [json.loads((out_dir / f"rank_{rank}.json").read_text()) for rank in range(RANKS)]


def test_every_rank_finishes(ranks):
    assert [result["rank"] for result in ranks] == list(range(RANKS))
    assert all(result["world_size"] == RANKS for result in ranks)


def test_ranks_take_same_steps(ranks):
    steps = [len(result["reduced"]) for result in ranks]
    assert steps == [8, 8]
    # all_reduce gives every rank the same sum at every step.
    assert ranks[0]["reduced"] == ranks[1]["reduced"]


def test_ranks_split_each_epoch(ranks):
    for epoch in range(2):
        seen = ranks[0]["filenames"][epoch] + ranks[1]["filenames"][epoch]
        assert len(seen) == 32
        assert len(set(seen)) == 32, f"epoch {epoch}: a page reached two ranks"


def test_rank_maps_match_serial(ranks):
    assert all(result["maps_match"] for result in ranks)


def test_ranks_share_spill_dir(ranks):
    disk_hits = sum(result["cache_counters"]["disk_hits"] for result in ranks)
    misses = sum(result["cache_counters"]["misses"] for result in ranks)

    # Epoch 1 draws all 32 pages across the ranks; epoch 2 can read each one
    # from the spill directory, whichever rank wrote it.
    assert disk_hits > 0
    assert disk_hits + misses == 64
