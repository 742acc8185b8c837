"""Stage timers and counters of the collate: counts, bit-identical maps, worker processes."""

import math
import pickle

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from fastcollate import FastDBCollateFN, collect_stats
from fastcollate.cache import TargetCache
from fastcollate.profiling import STAGES, BatchSteps
from fastcollate.synthetic import make_batch

SIZE = 64


def sample(polygons, name):
    return {
        "image": torch.zeros((3, SIZE, SIZE)),
        "polygons": polygons,
        "image_filename": name,
        "inverse_matrix": np.eye(3),
    }


def square(left, top, side):
    return np.array([[left, top], [left + side, top], [left + side, top + side], [left, top + side]],
                    dtype=np.float32)


def batch_with_three_degenerate():
    """Two samples, six polygons, three of which are skipped for three different reasons."""
    first = sample([
        square(4, 4, 20),
        np.array([[np.nan, 1.0], [5.0, 1.0], [5.0, 9.0]]),   # non_finite
        np.array([[5.0, 5.0]]),                                # too_few_points
        np.array([[0, 30], [10, 30], [20, 30]]),              # zero_area: collinear
        square(30, 30, 16),
    ], "first.jpg")
    second = sample([square(10, 10, 30)], "second.jpg")
    return [first, second]


def test_counts_on_known_batch():
    collate = FastDBCollateFN(profiling=True)
    collate(batch_with_three_degenerate())

    stats = collate.profiling_stats()
    assert stats["batches"] == 1
    assert stats["images"] == 2
    assert stats["polygons"] == 6
    assert sum(stats["skipped"].values()) == 3
    assert stats["skipped"]["non_finite"] == 1
    assert stats["skipped"]["too_few_points"] == 1
    assert stats["skipped"]["zero_area"] == 1
    assert stats["cache"] == {"hits": 0, "misses": 0, "hit_rate": None}
    assert stats["peak_rss_bytes"] > 0


def test_stage_times_on_fast_path():
    collate = FastDBCollateFN(profiling=True, reference=False)
    for _ in range(2):
        collate(batch_with_three_degenerate())

    stats = collate.profiling_stats()
    stages = stats["stages"]
    for stage in ("stacking", "validation", "offset", "fill", "threshold"):
        assert stages[stage]["total_ms"] > 0, stage
    assert stages["reference"]["total_ms"] == 0
    assert stages["cache"]["total_ms"] == 0
    assert math.isclose(sum(stage["percent"] for stage in stages.values()), 100.0, rel_tol=1e-6)
    assert math.isclose(stats["collate_ms_per_batch"], stats["collate_ms"] / 2)
    assert stats["images_per_second"] > 0


def test_reference_path_has_one_stage():
    collate = FastDBCollateFN(profiling=True, reference=True)
    collate(batch_with_three_degenerate())

    stages = collate.profiling_stats()["stages"]
    assert stages["reference"]["total_ms"] > 0
    for stage in ("offset", "fill", "threshold"):
        assert stages[stage]["total_ms"] == 0, stage


@pytest.mark.parametrize("corrected_edges", [False, True])
@pytest.mark.parametrize("seed, size, words", [(1, 160, 20), (2024, 640, 150), (5, 97, 40)])
def test_profiled_maps_equal_plain_and_reference(seed, size, words, corrected_edges):
    batch = make_batch(seed, size, words, 2)
    plain = FastDBCollateFN(reference=False, corrected_edges=corrected_edges)(batch)
    profiled = FastDBCollateFN(reference=False, corrected_edges=corrected_edges, profiling=True)(batch)
    reference = FastDBCollateFN(reference=True, corrected_edges=corrected_edges)(batch)

    for key in ("prob_maps", "thresh_maps"):
        assert np.array_equal(profiled[key].numpy(), plain[key].numpy()), key
        assert np.array_equal(profiled[key].numpy(), reference[key].numpy()), key


def test_reset_clears_every_counter():
    collate = FastDBCollateFN(profiling=True)
    collate(batch_with_three_degenerate())

    before = collate.profiling_stats(reset=True)
    after = collate.profiling_stats()
    assert before["batches"] == 1
    assert after["batches"] == 0
    assert after["collate_ms"] == 0
    assert sum(after["skipped"].values()) == 0
    assert after["peak_rss_bytes"] == 0


def test_failed_batch_is_counted():
    collate = FastDBCollateFN(profiling=True)
    batch = batch_with_three_degenerate()
    del batch[1]["polygons"]

    with pytest.raises(ValueError, match="'polygons' is missing"):
        collate(batch)
    assert collate.profiling_stats()["batches"] == 1


def test_stats_without_profiling_names_the_fix():
    collate = FastDBCollateFN()
    assert collate.profiler is None
    with pytest.raises(ValueError, match="profiling=True"):
        collect_stats(collate)


def test_unknown_stage_names_the_known_ones():
    steps = BatchSteps()
    with pytest.raises(KeyError, match="known stages: " + ", ".join(STAGES)):
        with steps.stage("decode"):
            pass


def test_cache_hits_and_stage_time():
    batch = make_batch(11, 128, 12, 2)
    plain = FastDBCollateFN()(batch)
    collate = FastDBCollateFN(profiling=True, cache=TargetCache())

    collate(batch)
    first = collate.profiling_stats(reset=True)
    cached = collate(batch)
    second = collate.profiling_stats()

    assert first["cache"] == {"hits": 0, "misses": 2, "hit_rate": 0.0}
    assert second["cache"] == {"hits": 2, "misses": 0, "hit_rate": 1.0}
    assert second["stages"]["cache"]["total_ms"] > 0
    assert second["stages"]["threshold"]["total_ms"] == 0
    assert second["images"] == 2
    for key in ("prob_maps", "thresh_maps"):
        assert np.array_equal(cached[key].numpy(), plain[key].numpy()), key


def test_cache_reset_elsewhere_keeps_counts_valid():
    batch = make_batch(11, 128, 12, 2)
    cache = TargetCache()
    collate = FastDBCollateFN(profiling=True, cache=cache)
    collate(batch)
    collate.reset_profiling_stats()
    cache.reset_stats()

    collate(batch)

    assert collate.profiling_stats()["cache"] == {"hits": 2, "misses": 0, "hit_rate": 1.0}


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_stats_cross_worker_processes(method):
    samples = [sample([square(4, 4, 20), np.array([[5.0, 5.0]])], f"{index}.jpg") for index in range(8)]
    collate = FastDBCollateFN(profiling=True)
    loader = DataLoader(samples, batch_size=2, num_workers=2, collate_fn=collate,
                        multiprocessing_context=method, timeout=120)

    batches = list(loader)

    stats = collate.profiling_stats()
    assert len(batches) == 4
    assert stats["batches"] == 4
    assert stats["images"] == 8
    assert stats["polygons"] == 16
    assert stats["skipped"]["too_few_points"] == 8
    assert stats["stages"]["threshold"]["total_ms"] > 0
    assert stats["peak_rss_bytes"] > 0


def test_collate_pickled_without_profiler_attribute():
    collate = FastDBCollateFN()
    state = pickle.loads(pickle.dumps(collate)).__dict__
    del state["profiler"]
    restored = FastDBCollateFN.__new__(FastDBCollateFN)
    restored.__dict__.update(state)

    batch = restored(batch_with_three_degenerate())
    assert restored.profiler is None
    assert batch["prob_maps"].shape == (2, 1, SIZE, SIZE)


def test_masked_profile_timed_as_one_stage():
    batch = batch_with_three_degenerate()
    plain = FastDBCollateFN(profile="mhliao")(batch)
    collate = FastDBCollateFN(profile="mhliao", profiling=True)
    profiled = collate(batch)

    for key in ("prob_maps", "thresh_maps", "prob_masks", "thresh_masks"):
        assert np.array_equal(plain[key].numpy(), profiled[key].numpy()), key
    stats = collate.profiling_stats()
    assert stats["images"] == 2
    assert stats["polygons"] == 6
    assert stats["stages"]["masked_targets"]["total_ms"] > 0
    assert stats["stages"]["offset"]["total_ms"] == 0


class KernelSignatureCounts(Dataset):
    """Samples that record how many kernel signatures the worker had loaded when it fetched them."""

    def __len__(self):
        return 2

    def __getitem__(self, index):
        from fastcollate.kernels.measure import shrink_distances
        from fastcollate.kernels.targets import draw_thresh_map, fill_prob_map

        counts = {kernel.__name__: len(kernel.signatures)
                  for kernel in (shrink_distances, fill_prob_map, draw_thresh_map)}
        return dict(sample([square(4, 4, 20)], f"{index}.jpg"), signatures=counts)


def test_spawned_worker_loads_kernels_on_unpickling():
    collate = FastDBCollateFN(profiling=True)
    loader = DataLoader(KernelSignatureCounts(), batch_size=2, num_workers=1, collate_fn=collate,
                        multiprocessing_context="spawn", timeout=120)

    batches = list(loader)

    # The worker fetches its samples before it calls the collate for the
    # first time, so the counts show what unpickling the collate loaded.
    counts = batches[0]["signatures"][0]
    assert counts["shrink_distances"] > 0
    assert counts["fill_prob_map"] > 0
    assert counts["draw_thresh_map"] > 0
    assert collate.profiling_stats()["batches"] == 1
