"""Thread count defaults and overrides, and the threaded batch against the serial one."""

import os

import pytest
import torch
from torch.utils.data import DataLoader

from fastcollate import FastDBCollateFN
from fastcollate.config import NUM_THREADS_VARIABLE
from fastcollate.synthetic import make_batch
from fastcollate.threads import available_cores, map_in_order, resolve_num_threads

FORK_WARNING = pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")


@pytest.fixture
def no_thread_variable(monkeypatch):
    monkeypatch.delenv(NUM_THREADS_VARIABLE, raising=False)


def report_num_threads(samples):
    """Collate for a DataLoader worker: return the thread count it resolves."""
    return resolve_num_threads(None)


def test_main_process_uses_every_core(no_thread_variable):
    assert resolve_num_threads(None) == available_cores()


def test_available_cores_follow_affinity():
    assert available_cores() == len(os.sched_getaffinity(0))


@FORK_WARNING
def test_worker_defaults_to_one_thread(no_thread_variable):
    loader = DataLoader(range(2), batch_size=1, num_workers=1, collate_fn=report_num_threads,
                        multiprocessing_context="fork", timeout=60)
    assert list(loader) == [1, 1]


@FORK_WARNING
def test_environment_applies_in_worker(monkeypatch):
    monkeypatch.setenv(NUM_THREADS_VARIABLE, "2")
    loader = DataLoader(range(1), batch_size=1, num_workers=1, collate_fn=report_num_threads,
                        multiprocessing_context="fork", timeout=60)
    assert list(loader) == [min(2, available_cores())]


def test_environment_overrides_default(monkeypatch):
    monkeypatch.setenv(NUM_THREADS_VARIABLE, "1")
    assert resolve_num_threads(None) == 1


def test_argument_overrides_environment(monkeypatch):
    monkeypatch.setenv(NUM_THREADS_VARIABLE, "1")
    assert resolve_num_threads(2) == min(2, available_cores())


def test_threads_capped_at_cores(monkeypatch):
    monkeypatch.setenv(NUM_THREADS_VARIABLE, "512")
    assert resolve_num_threads(None) == available_cores()
    assert resolve_num_threads(512) == available_cores()


def test_threads_capped_at_restricted_affinity(no_thread_variable):
    cores = os.sched_getaffinity(0)
    if len(cores) < 2:
        pytest.skip("needs at least 2 cores to restrict the affinity")
    os.sched_setaffinity(0, {min(cores)})
    try:
        assert resolve_num_threads(None) == 1
        assert resolve_num_threads(8) == 1
    finally:
        os.sched_setaffinity(0, cores)


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5"])
def test_environment_invalid_value(value, monkeypatch):
    monkeypatch.setenv(NUM_THREADS_VARIABLE, value)
    with pytest.raises(ValueError, match=NUM_THREADS_VARIABLE) as error:
        resolve_num_threads(None)
    assert repr(value) in str(error.value)


@pytest.mark.parametrize("value", ["abc", "0", "2.0", "+2", "2_0", " "])
def test_environment_invalid_at_construction(value, monkeypatch):
    monkeypatch.setenv(NUM_THREADS_VARIABLE, value)
    if not value.strip():
        FastDBCollateFN()  # blank counts as unset
        return

    with pytest.raises(ValueError) as error:
        FastDBCollateFN()

    message = str(error.value)
    assert f"{NUM_THREADS_VARIABLE}={value!r}" in message
    assert "accepted values are a positive integer" in message
    assert "empty or unset" in message


def test_environment_empty_means_unset(monkeypatch):
    monkeypatch.setenv(NUM_THREADS_VARIABLE, "")
    assert resolve_num_threads(None) == available_cores()


def test_environment_spaces_ignored(monkeypatch):
    monkeypatch.setenv(NUM_THREADS_VARIABLE, " 1 ")
    assert resolve_num_threads(None) == 1


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "2"])
def test_argument_invalid_value(value):
    with pytest.raises(ValueError, match="num_threads"):
        FastDBCollateFN(num_threads=value)


@pytest.mark.parametrize("num_threads", [2, 3, 8])
def test_threaded_batch_equals_serial(num_threads):
    samples = make_batch(11, 256, 80, 6)
    serial = FastDBCollateFN(num_threads=1, reuse_buffers=False)(samples)
    reference = FastDBCollateFN(reference=True, reuse_buffers=False)(samples)

    threaded = FastDBCollateFN(num_threads=num_threads, reuse_buffers=False)(samples)

    assert torch.equal(threaded["prob_maps"], serial["prob_maps"])
    assert torch.equal(threaded["thresh_maps"], serial["thresh_maps"])
    assert torch.equal(threaded["prob_maps"], reference["prob_maps"])
    assert torch.equal(threaded["thresh_maps"], reference["thresh_maps"])
    assert threaded["image_filename"] == serial["image_filename"]


def test_threaded_batch_reports_first_bad_sample():
    samples = make_batch(12, 128, 10, 5)
    samples[1]["polygons"] = [[[1, 2, 3]]]
    samples[3]["polygons"] = [[[4, 5, 6]]]
    for sample in samples:
        sample.pop("ignore_tags", None)

    with pytest.raises(ValueError, match=r"sample 1 of the batch \('synthetic_12_1.jpg'\)"):
        FastDBCollateFN(num_threads=2)(samples)


def test_map_in_order_keeps_order():
    assert map_in_order(lambda index: index * index, 7, 2) == [0, 1, 4, 9, 16, 25, 36]


def test_map_in_order_raises_lowest_index():
    def fail_on_odd(index):
        if index % 2:
            raise RuntimeError(f"failed at {index}")
        return index

    with pytest.raises(RuntimeError, match="failed at 1"):
        map_in_order(fail_on_odd, 6, 3)
