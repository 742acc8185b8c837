"""FastDBCollateFN: batch layout, path selection, logging, pickling and DataLoader workers."""

import gc
import logging
import pickle
from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

import fastcollate.collate
import fastcollate.targets
from fastcollate import FastDBCollateFN, TargetCache, TargetParams, make_db_targets
from fastcollate.config import REFERENCE_VARIABLE
from fastcollate.synthetic import make_batch

PATHS = pytest.mark.parametrize("reference", [True, False], ids=["reference", "fast"])
IMAGE_SIDE = 256
BATCH_SIZE = 4


def synthetic_batch(seed=0, batch=BATCH_SIZE):
    """Return synthetic samples with an extra key after the ones make_batch sets."""
    samples = make_batch(seed, IMAGE_SIDE, 60, batch)
    for index, sample in enumerate(samples):
        sample["page_number"] = index
    return samples


class SyntheticDataset(Dataset):
    """Map-style dataset of synthetic pages, built once in the main process."""

    def __init__(self, seed, length):
        self.samples = synthetic_batch(seed, length)

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        return self.samples[index]


@pytest.fixture
def chosen_paths(monkeypatch):
    """Record the path, "reference" or "fast", of every image the collate draws."""
    paths = []
    draw_targets_into = fastcollate.collate.draw_targets_into

    def record_path(prepared, prob_map, thresh_map, params, path):
        paths.append(path)
        return draw_targets_into(prepared, prob_map, thresh_map, params, path)

    monkeypatch.setattr(fastcollate.collate, "draw_targets_into", record_path)
    return paths


def assert_batches_equal(actual, expected):
    """Assert that two collated batches have the same keys and equal values."""
    assert list(actual) == list(expected)
    assert torch.equal(actual["images"], expected["images"])
    assert torch.equal(actual["prob_maps"], expected["prob_maps"])
    assert torch.equal(actual["thresh_maps"], expected["thresh_maps"])
    assert actual["image_filename"] == expected["image_filename"]
    assert actual["ignore_tags"] == expected["ignore_tags"]
    assert actual["page_number"] == expected["page_number"]
    for actual_matrix, expected_matrix in zip(actual["inverse_matrix"], expected["inverse_matrix"], strict=True):
        assert np.array_equal(actual_matrix, expected_matrix)
    for actual_polygons, expected_polygons in zip(actual["polygons"], expected["polygons"], strict=True):
        assert len(actual_polygons) == len(expected_polygons)
        assert all(np.array_equal(a, e) for a, e in zip(actual_polygons, expected_polygons))


@PATHS
def test_collate_layout(reference):
    batch = FastDBCollateFN(reference=reference)(synthetic_batch())

    assert isinstance(batch, OrderedDict)
    assert list(batch) == [
        "images", "image_filename", "inverse_matrix", "polygons", "prob_maps", "thresh_maps",
        "ignore_tags", "page_number",
    ]
    assert batch["images"].shape == (BATCH_SIZE, 3, IMAGE_SIDE, IMAGE_SIDE)
    assert batch["prob_maps"].shape == (BATCH_SIZE, 1, IMAGE_SIDE, IMAGE_SIDE)
    assert batch["thresh_maps"].shape == (BATCH_SIZE, 1, IMAGE_SIDE, IMAGE_SIDE)
    assert batch["prob_maps"].dtype == torch.float32
    assert batch["thresh_maps"].dtype == torch.float32
    assert batch["page_number"] == list(range(BATCH_SIZE))


@PATHS
@pytest.mark.parametrize("reuse_buffers", [True, False], ids=["reuse_buffers", "new_buffers"])
def test_collate_maps_match_make_db_targets(reference, reuse_buffers):
    samples = synthetic_batch()
    collate = FastDBCollateFN(0.3, 0.2, 0.8, reference=reference, reuse_buffers=reuse_buffers)

    batch = collate(samples)

    for index, sample in enumerate(samples):
        prob_map, thresh_map = make_db_targets(
            sample["polygons"], (IMAGE_SIDE, IMAGE_SIDE), collate.params, reference=reference,
        )
        assert np.array_equal(batch["prob_maps"][index, 0].numpy(), prob_map), f"prob map of image {index}"
        assert np.array_equal(batch["thresh_maps"][index, 0].numpy(), thresh_map), f"thresh map of image {index}"


@pytest.mark.parametrize("reuse_buffers", [True, False], ids=["reuse_buffers", "new_buffers"])
def test_collate_maps_distinct(reuse_buffers):
    batch = FastDBCollateFN(reference=False, reuse_buffers=reuse_buffers)(synthetic_batch())

    assert batch["prob_maps"].data_ptr() != batch["thresh_maps"].data_ptr()
    assert set(torch.unique(batch["prob_maps"]).tolist()) == {0.0, 1.0}


@pytest.mark.parametrize("reuse_buffers", [True, False], ids=["reuse_buffers", "new_buffers"])
def test_collate_keeps_earlier_batch(reuse_buffers):
    """The next call does not overwrite a batch that the caller still references."""
    collate = FastDBCollateFN(reference=False, reuse_buffers=reuse_buffers)
    first = collate(synthetic_batch(seed=3))
    images = first["images"].clone()
    prob_maps = first["prob_maps"].clone()
    thresh_maps = first["thresh_maps"].clone()

    collate(synthetic_batch(seed=4))

    assert torch.equal(first["images"], images)
    assert torch.equal(first["prob_maps"], prob_maps)
    assert torch.equal(first["thresh_maps"], thresh_maps)


def test_collate_paths_equal():
    samples = synthetic_batch(seed=1)

    reference_batch = FastDBCollateFN(reference=True, corrected_edges=True)(samples)
    fast_batch = FastDBCollateFN(reference=False, corrected_edges=True)(samples)

    assert_batches_equal(fast_batch, reference_batch)


def test_inference_mode_constructor():
    samples = synthetic_batch()
    for sample in samples:
        del sample["polygons"]

    batch = FastDBCollateFN(inference_mode=True)(samples)

    assert list(batch)[:3] == ["images", "image_filename", "inverse_matrix"]
    assert "prob_maps" not in batch
    assert "thresh_maps" not in batch


def test_inference_mode_attribute():
    collate = FastDBCollateFN()
    collate.inference_mode = True

    batch = collate(synthetic_batch())

    assert "prob_maps" not in batch
    assert "thresh_maps" not in batch


@pytest.mark.parametrize(
    ("value", "expected_path"),
    [
        ("1", "reference"),
        ("0", "fast"),
        ("true", "reference"),
        (" TRUE ", "reference"),
        ("off", "fast"),
        ("", "fast"),
        (None, "fast"),
    ],
    ids=["1", "0", "true", "TRUE_padded", "off", "empty", "unset"],
)
def test_environment_selects_path(value, expected_path, monkeypatch, chosen_paths):
    if value is None:
        monkeypatch.delenv(REFERENCE_VARIABLE, raising=False)
    else:
        monkeypatch.setenv(REFERENCE_VARIABLE, value)

    FastDBCollateFN()(synthetic_batch(batch=2))

    assert chosen_paths == [expected_path, expected_path]


def test_environment_invalid_value(monkeypatch):
    monkeypatch.setenv(REFERENCE_VARIABLE, "maybe")

    with pytest.raises(ValueError, match=REFERENCE_VARIABLE) as error:
        FastDBCollateFN()(synthetic_batch(batch=1))

    message = str(error.value)
    assert "'maybe'" in message
    assert "'1'" in message
    assert "'0'" in message
    assert "'true'" in message
    assert "'false'" in message


@pytest.mark.parametrize(
    ("value", "reference", "expected_path"),
    [("0", True, "reference"), ("1", False, "fast")],
    ids=["reference_over_0", "fast_over_1"],
)
def test_argument_overrides_environment(value, reference, expected_path, monkeypatch, chosen_paths):
    monkeypatch.setenv(REFERENCE_VARIABLE, value)

    FastDBCollateFN(reference=reference)(synthetic_batch(batch=1))

    assert chosen_paths == [expected_path]


def test_make_db_targets_follows_environment(monkeypatch):
    polygons = synthetic_batch(batch=1)[0]["polygons"]
    paths = []
    draw_targets_into = fastcollate.targets.draw_targets_into

    def record_path(prepared, prob_map, thresh_map, params, path):
        paths.append(path)
        return draw_targets_into(prepared, prob_map, thresh_map, params, path)

    monkeypatch.setattr(fastcollate.targets, "draw_targets_into", record_path)
    monkeypatch.setenv(REFERENCE_VARIABLE, "1")
    make_db_targets(polygons, (IMAGE_SIDE, IMAGE_SIDE))
    monkeypatch.setenv(REFERENCE_VARIABLE, "0")
    make_db_targets(polygons, (IMAGE_SIDE, IMAGE_SIDE))

    assert paths == ["reference", "fast"]


def test_path_logged_once_at_info(caplog, monkeypatch):
    # The choice is logged once per path and process: forget earlier logs.
    monkeypatch.setattr(fastcollate.targets, "_logged_paths", set())
    monkeypatch.setenv(REFERENCE_VARIABLE, "0")
    caplog.set_level(logging.INFO, logger="fastcollate.targets")
    samples = synthetic_batch(batch=1)

    FastDBCollateFN(reference=True)(samples)
    FastDBCollateFN(reference=True)(samples)
    FastDBCollateFN()(samples)
    records = [record for record in caplog.records if record.name == "fastcollate.targets"]
    messages = [record.getMessage() for record in records]

    assert [record.levelno for record in records] == [logging.INFO, logging.INFO]
    assert "reference path" in messages[0]
    assert "the reference argument" in messages[0]
    assert "fast path" in messages[1]
    assert REFERENCE_VARIABLE in messages[1]


def test_pickle_round_trip():
    collate = FastDBCollateFN(0.3, 0.25, 0.75, reference=False, corrected_edges=True)
    samples = synthetic_batch()
    expected = FastDBCollateFN(0.3, 0.25, 0.75, reference=False, corrected_edges=True, reuse_buffers=False)(samples)

    restored = pickle.loads(pickle.dumps(collate))

    assert restored.params == collate.params
    assert restored.reference is False
    assert restored.inference_mode is False
    assert repr(restored) == repr(collate)
    assert_batches_equal(restored(samples), expected)


@pytest.mark.parametrize(
    ("num_workers", "context", "reference"),
    [
        pytest.param(0, None, False, id="main_process-fast"),
        pytest.param(2, None, False, id="default_context-fast"),
        pytest.param(2, "spawn", True, id="spawn-reference"),
    ],
)
# Python 3.12+ warns when it forks a process that runs threads, as torch does.
# The default context on Linux forks, and warnings are errors in this suite.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_dataloader_workers(num_workers, context, reference):
    dataset = SyntheticDataset(seed=2, length=2 * BATCH_SIZE)
    collate = FastDBCollateFN(reference=reference)
    loader = DataLoader(
        dataset, batch_size=BATCH_SIZE, num_workers=num_workers, collate_fn=collate,
        multiprocessing_context=context, timeout=120 if num_workers else 0,
    )

    # Expected batches come from a collate with fresh tensors per call, so
    # that building them cannot overwrite the batches under test.
    main_process_collate = FastDBCollateFN(reference=reference, reuse_buffers=False)

    batches = list(loader)

    assert len(batches) == 2
    for index, batch in enumerate(batches):
        samples = [dataset[i] for i in range(index * BATCH_SIZE, (index + 1) * BATCH_SIZE)]
        assert_batches_equal(batch, main_process_collate(samples))


INVALID_PARAMS = [
    pytest.param({"shrink_ratio": -0.1}, "shrink_ratio", id="shrink_negative"),
    pytest.param({"shrink_ratio": 1.0}, "shrink_ratio", id="shrink_1"),
    pytest.param({"shrink_ratio": 1.5}, "shrink_ratio", id="shrink_1.5"),
    pytest.param({"shrink_ratio": float("nan")}, "shrink_ratio", id="shrink_nan"),
    pytest.param({"shrink_ratio": float("inf")}, "shrink_ratio", id="shrink_inf"),
    pytest.param({"shrink_ratio": "0.4x"}, "shrink_ratio", id="shrink_text"),
    pytest.param({"shrink_ratio": None}, "shrink_ratio", id="shrink_none"),
    pytest.param({"thresh_min": float("nan")}, "thresh_min", id="thresh_min_nan"),
    pytest.param({"thresh_min": float("-inf")}, "thresh_min", id="thresh_min_inf"),
    pytest.param({"thresh_min": "low"}, "thresh_min", id="thresh_min_text"),
    pytest.param({"thresh_min": None}, "thresh_min", id="thresh_min_none"),
    pytest.param({"thresh_max": float("inf")}, "thresh_max", id="thresh_max_inf"),
]


@pytest.mark.parametrize(("kwargs", "name"), INVALID_PARAMS)
def test_invalid_params_collate(kwargs, name):
    with pytest.raises(ValueError, match=name):
        FastDBCollateFN(**kwargs)


@pytest.mark.parametrize(("kwargs", "name"), INVALID_PARAMS)
def test_invalid_params_target_params(kwargs, name):
    with pytest.raises(ValueError, match=name):
        TargetParams(**kwargs)


@PATHS
def test_numpy_scalar_params(reference):
    """numpy float64 parameters give the same float32 maps as Python floats."""
    polygons = synthetic_batch(batch=1)[0]["polygons"]
    numpy_params = TargetParams(np.float64(0.4), np.float64(0.3), np.float64(0.7))

    prob_map, thresh_map = make_db_targets(polygons, (IMAGE_SIDE, IMAGE_SIDE), numpy_params, reference=reference)
    expected_prob, expected_thresh = make_db_targets(polygons, (IMAGE_SIDE, IMAGE_SIDE), reference=reference)

    assert thresh_map.dtype == np.float32
    assert np.array_equal(prob_map, expected_prob)
    assert np.array_equal(thresh_map, expected_thresh)


def test_repr_shows_cache(tmp_path):
    cache = TargetCache(max_bytes=2**20, spill_dir=tmp_path / "spill")

    text = repr(FastDBCollateFN(cache=cache))

    assert text.endswith(f", cache={cache!r})")
    assert "cache=" not in repr(FastDBCollateFN())


def test_inference_mode_cache_logged(caplog):
    with caplog.at_level(logging.INFO, logger="fastcollate.collate"):
        FastDBCollateFN(cache={"max_bytes": 2**20}, inference_mode=True)
        FastDBCollateFN(cache={"max_bytes": 2**20})

    messages = [record.getMessage() for record in caplog.records if record.name == "fastcollate.collate"]
    assert len(messages) == 1
    assert "stays unused until inference_mode is set to False" in messages[0]


def test_collector_paused_during_batch(monkeypatch):
    batch = make_batch(5, 64, 6, 2)
    states = []
    real_stack = fastcollate.collate.stack_images

    def recording_stack(*args):
        states.append(gc.isenabled())
        return real_stack(*args)

    monkeypatch.setattr(fastcollate.collate, "stack_images", recording_stack)
    collate = FastDBCollateFN()
    collate(batch)
    assert states == [False]
    assert gc.isenabled()

    # A collector the caller turned off stays off.
    gc.disable()
    try:
        collate(batch)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_collector_restored_after_error():
    batch = make_batch(5, 64, 6, 2)
    batch[1]["polygons"] = [np.zeros((3, 3))]
    batch[1].pop("ignore_tags", None)

    with pytest.raises(ValueError, match="key 'polygons'"):
        FastDBCollateFN()(batch)
    assert gc.isenabled()


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_images_without_numpy_dtype(dtype):
    # Tensor.numpy() rejects bfloat16, so the stack must not go through numpy.
    samples = synthetic_batch()
    for sample in samples:
        sample["image"] = sample["image"].to(dtype)

    batch = FastDBCollateFN()(samples)

    assert batch["images"].dtype == dtype
    assert torch.equal(batch["images"], torch.stack([sample["image"] for sample in samples]))


def _checksum_later(queue, received, ready, results):
    tensor = queue.get()
    received.set()
    ready.wait(60)
    results.put(float(tensor.double().sum()))


def test_batch_sent_to_another_process_not_reused():
    """A tensor sent to another process moves to shared memory, so the main-process pool drops it."""
    context = torch.multiprocessing.get_context("spawn")
    queue, results = context.Queue(), context.Queue()
    received, ready = context.Event(), context.Event()
    child = context.Process(target=_checksum_later, args=(queue, received, ready, results))
    child.start()
    collate = FastDBCollateFN(num_threads=1)
    batches = [make_batch(seed, 96, 10, 2) for seed in range(4)]

    batch = collate(batches[0])
    expected = float(batch["thresh_maps"].double().sum())
    queue.put(batch["thresh_maps"])
    assert received.wait(60)
    del batch
    for samples in batches[1:]:
        collate(samples)
    ready.set()
    received = results.get(timeout=60)
    child.join(timeout=60)

    assert received == expected
    assert child.exitcode == 0
