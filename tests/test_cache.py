"""TargetCache: exact hits, copies, the byte-bounded LRU, statistics, DataLoader workers and precompute."""

import importlib
from concurrent.futures import ThreadPoolExecutor
import logging
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from fastcollate import FastDBCollateFN, TargetCache
from fastcollate.cache.memory import MemoryLRU
from fastcollate.cli import main
from fastcollate.data import sample_dirs
from fastcollate.datasets import load_samples
from fastcollate.polygons import prepare_polygons
from fastcollate.synthetic import make_batch, make_page
from fastcollate.targets import FAST, REFERENCE, TargetParams, draw_targets_into

SIDE = 192
CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def page_with_skips(seed):
    """A page plus a NaN polygon and a zero-area polygon, which are skipped."""
    polygons = make_page(np.random.default_rng(seed), SIDE, 25)
    polygons.append(np.array([[np.nan, 1.0], [5.0, 1.0], [5.0, 9.0]]))
    polygons.append(np.array([[10, 10], [20, 20], [30, 30]]))
    return prepare_polygons(polygons)


def draw(cache, prepared, path=FAST, params=None):
    prob_map = np.zeros((SIDE, SIDE), dtype=np.float32)
    thresh_map = np.zeros((SIDE, SIDE), dtype=np.float32)
    params = params if params is not None else TargetParams()
    if cache is None:
        skipped = draw_targets_into(prepared, prob_map, thresh_map, params, path)
    else:
        skipped = cache.draw_into(prepared, prob_map, thresh_map, params, path)
        # Spill files are written in the background; tests read them right away.
        cache.flush()
    return prob_map, thresh_map, skipped


def assert_maps_equal(actual, expected):
    assert np.array_equal(actual[0], expected[0])
    assert np.array_equal(actual[1], expected[1])
    assert actual[2] == expected[2]


def test_hits_equal_fresh_computation(tmp_path):
    prepared = page_with_skips(1)
    expected = draw(None, prepared)
    assert expected[2]["non_finite"] == 1
    assert expected[2]["zero_area"] == 1
    cache = TargetCache(spill_dir=tmp_path)

    miss = draw(cache, prepared)
    memory_hit = draw(cache, prepared)
    cache.clear_memory()
    disk_hit = draw(cache, prepared)

    for result in (miss, memory_hit, disk_hit):
        assert_maps_equal(result, expected)
    stats = cache.stats()
    assert (stats["misses"], stats["memory_hits"], stats["disk_hits"]) == (1, 1, 1)


def test_paths_share_entries():
    prepared = page_with_skips(2)
    cache = TargetCache()

    draw(cache, prepared, path=REFERENCE)
    hit = draw(cache, prepared, path=FAST)

    assert_maps_equal(hit, draw(None, prepared, path=FAST))
    assert cache.stats()["memory_hits"] == 1


def test_params_do_not_share_entries():
    prepared = page_with_skips(3)
    cache = TargetCache()
    draw(cache, prepared)

    other = draw(cache, prepared, params=TargetParams(shrink_ratio=0.5))

    assert cache.stats()["misses"] == 2
    assert_maps_equal(other, draw(None, prepared, params=TargetParams(shrink_ratio=0.5)))


def test_hits_are_copies():
    prepared = page_with_skips(4)
    expected = draw(None, prepared)
    cache = TargetCache()
    first = draw(cache, prepared)
    second = draw(cache, prepared)

    first[0].fill(7.0)
    second[1].fill(7.0)
    third = draw(cache, prepared)

    assert_maps_equal(third, expected)


def test_memory_lru_bounded_in_bytes():
    lru = MemoryLRU(max_bytes=100)
    for number in range(10):
        lru.put(str(number), bytes(30))
        assert lru.nbytes <= 100

    assert len(lru) == 3
    assert lru.get("0") is None
    assert lru.get("9") == bytes(30)


def test_memory_lru_evicts_least_recently_used():
    lru = MemoryLRU(max_bytes=90)
    for key in "abc":
        lru.put(key, bytes(30))
    lru.get("a")

    lru.put("d", bytes(30))

    assert lru.get("b") is None
    assert lru.get("a") is not None


def test_memory_lru_skips_oversized_entry():
    lru = MemoryLRU(max_bytes=10)
    lru.put("big", bytes(11))
    assert len(lru) == 0


def test_cache_memory_stays_under_max_bytes():
    unbounded = TargetCache()
    for seed in range(6):
        draw(unbounded, page_with_skips(seed))
    max_bytes = unbounded.stats()["memory_bytes"] // 2
    cache = TargetCache(max_bytes=max_bytes)

    for seed in range(6):
        draw(cache, page_with_skips(seed))
        assert cache.stats()["memory_bytes"] <= max_bytes

    assert 0 < cache.stats()["memory_entries"] < 6
    assert cache.stats()["memory_bytes_max"] <= max_bytes


def test_zero_max_bytes_keeps_nothing():
    cache = TargetCache(max_bytes=0)
    draw(cache, page_with_skips(6))
    draw(cache, page_with_skips(6))
    assert cache.stats()["misses"] == 2
    assert cache.stats()["memory_entries"] == 0


def test_stats_and_summary(caplog):
    cache = TargetCache()
    draw(cache, page_with_skips(7))
    draw(cache, page_with_skips(7))

    with caplog.at_level(logging.INFO, logger="fastcollate.cache.target_cache"):
        stats = cache.log_summary()

    assert stats["lookups"] == 2
    assert stats["hit_rate"] == 0.5
    assert stats["hit_seconds"] > 0
    assert stats["miss_seconds"] > 0
    assert stats["mean_hit_ms"] > 0
    assert stats["mean_miss_ms"] > 0
    assert len(caplog.records) == 1
    assert "50.0% hits" in caplog.text

    cache.reset_stats()
    assert cache.stats()["lookups"] == 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_bytes": -1}, "max_bytes"),
        ({"max_bytes": 1.5e9}, "max_bytes"),
        ({"max_bytes": True}, "max_bytes"),
        ({"spill_max_bytes": "10GB"}, "spill_max_bytes"),
        ({"read_only": True}, "requires spill_dir"),
    ],
)
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TargetCache(**kwargs)


def test_collate_accepts_cache_forms(tmp_path):
    cache = TargetCache()
    assert FastDBCollateFN(cache=cache).cache is cache
    assert FastDBCollateFN().cache is None

    from_dict = FastDBCollateFN(cache={"max_bytes": 1000, "spill_dir": str(tmp_path)}).cache
    assert isinstance(from_dict, TargetCache)
    assert from_dict.max_bytes == 1000
    assert from_dict.spill.root == tmp_path

    with pytest.raises(TypeError, match="dict of TargetCache arguments"):
        FastDBCollateFN(cache="yes")


def test_pickle_drops_memory_keeps_settings(tmp_path):
    cache = TargetCache(max_bytes=10**7, spill_dir=tmp_path, spill_max_bytes=10**8)
    draw(cache, page_with_skips(8))

    restored = pickle.loads(pickle.dumps(cache))

    assert repr(restored) == repr(cache)
    assert restored.stats()["memory_entries"] == 0
    assert_maps_equal(draw(restored, page_with_skips(8)), draw(None, page_with_skips(8)))
    assert restored.stats()["disk_hits"] == 1


class FixedDataset(Dataset):
    """Synthetic pages built once, so every epoch yields the same samples."""

    def __init__(self, samples):
        self.samples = samples

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        return self.samples[index]


# Python 3.12+ warns when it forks a process that runs threads, as torch does.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_dataloader_second_epoch_hits(tmp_path):
    samples = make_batch(11, SIDE, 30, 12)
    collate = FastDBCollateFN(cache={"spill_dir": str(tmp_path)})
    loader = DataLoader(FixedDataset(samples), batch_size=3, num_workers=2,
                        persistent_workers=False, collate_fn=collate, timeout=120)
    uncached = FastDBCollateFN(reuse_buffers=False)

    first_epoch = list(loader)
    first_stats = collate.cache.stats()
    collate.cache.reset_stats()
    second_epoch = list(loader)
    second_stats = collate.cache.stats()

    assert first_stats["misses"] == len(samples)
    # The workers stored the entries, and the main process drew none itself.
    assert first_stats["memory_bytes_max"] > 0
    assert first_stats["memory_bytes"] == 0
    assert second_stats["lookups"] == len(samples)
    assert second_stats["hits"] >= 0.99 * len(samples)
    assert second_stats["disk_hits"] == len(samples)
    for epoch in (first_epoch, second_epoch):
        for index, batch in enumerate(epoch):
            expected = uncached(samples[3 * index:3 * index + 3])
            assert torch.equal(batch["prob_maps"], expected["prob_maps"])
            assert torch.equal(batch["thresh_maps"], expected["thresh_maps"])


def test_precompute_twice_then_read_only(tmp_path, capsys):
    cache_dir = tmp_path / "targets"
    arguments = ["precompute", "--cache-dir", str(cache_dir), "--size", "320", "--no-progress"]
    image_count = sum(len(list(folder.glob("*.txt"))) for folder in sample_dirs())

    assert main(arguments) == 0
    assert capsys.readouterr().out.startswith(f"0 present, {image_count} written")
    assert main(arguments) == 0
    assert capsys.readouterr().out.startswith(f"{image_count} present, 0 written")

    samples = load_samples(sample_dirs()[1], size=320)
    collate = FastDBCollateFN(cache=TargetCache(spill_dir=cache_dir, read_only=True),
                              reuse_buffers=False)
    batch = collate(samples[:4])
    expected = FastDBCollateFN(reuse_buffers=False)(samples[:4])

    assert collate.cache.stats()["disk_hits"] == 4
    assert torch.equal(batch["prob_maps"], expected["prob_maps"])
    assert torch.equal(batch["thresh_maps"], expected["thresh_maps"])


def test_precompute_help_states_units(capsys):
    with pytest.raises(SystemExit):
        main(["precompute", "--help"])
    output = " ".join(capsys.readouterr().out.split())
    assert "in pixels (default: 640, at most 16384)" in output
    assert "in bytes" in output
    assert "(default: no cap)" in output


def instantiate(config):
    """Build the object named by ``_target_`` as Hydra would, without Hydra."""
    module_name, _, name = config["_target_"].rpartition(".")
    target = getattr(importlib.import_module(module_name), name)
    return target(**{key: value for key, value in config.items() if key != "_target_"})


def test_train_and_val_presets(tmp_path):
    yaml = pytest.importorskip("yaml")
    train = instantiate(yaml.safe_load((CONFIGS / "db_collate_train.yaml").read_text()))
    val_config = yaml.safe_load((CONFIGS / "db_collate_val.yaml").read_text())
    assert val_config["cache"]["spill_dir"]
    val_config["cache"]["spill_dir"] = str(tmp_path / "val")

    val = instantiate(val_config)

    assert train.cache is None
    assert isinstance(val, FastDBCollateFN)
    assert isinstance(val.cache, TargetCache)
    assert val.cache.max_bytes == 512 * 2**20
    assert val.cache.spill_max_bytes == 16 * 2**30
    assert val.cache.spill.root == tmp_path / "val"


def test_threads_share_one_cache(tmp_path):
    pages = [page_with_skips(seed) for seed in range(4)]
    expected = [draw(None, prepared) for prepared in pages]
    cache = TargetCache(max_bytes=10**6, spill_dir=tmp_path)

    with ThreadPoolExecutor(max_workers=4) as executor:
        results = list(executor.map(lambda index: draw(cache, pages[index % 4]), range(32)))

    for index, result in enumerate(results):
        assert_maps_equal(result, expected[index % 4])
    assert cache.stats()["lookups"] == 32
    assert cache.stats()["memory_bytes"] <= 10**6
