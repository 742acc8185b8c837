"""Reference against fast path for the masked profiles: per image and per batch of 16.

Run together with ``test_bench_targets.py`` to get the baseline's ratios in
the same run. The page is the 150-word bench page with every tenth word
tagged as ignored.
"""

import numpy as np
import pytest

from fastcollate import FastDBCollateFN, TargetParams
from fastcollate.profiles import MASKED_PROFILES, draw_profile_targets
from fastcollate.targets import FAST, REFERENCE

from conftest import scaled_page

SIZES = (640, 1024, 1280)
PATHS = (REFERENCE, FAST)


def ignore_every_tenth(polygons):
    return [index % 10 == 9 for index in range(len(polygons))]


def build(polygons, ignore_tags, size, params, path):
    outputs = [np.zeros((size, size), dtype=np.float32) for _ in range(4)]
    outputs[2].fill(1.0)
    draw_profile_targets(polygons, ignore_tags, *outputs, params, path)
    return outputs


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("profile", MASKED_PROFILES)
def test_profile_image(benchmark, record_median, profile, size, path):
    benchmark.group = f"{profile} image {size}x{size}"
    polygons = scaled_page(size)
    ignore_tags = ignore_every_tenth(polygons)
    params = TargetParams(profile=profile)
    build(polygons, ignore_tags, size, params, path)  # compile outside the timing

    rounds = 3 if path == REFERENCE else 30
    outputs = benchmark.pedantic(build, args=(polygons, ignore_tags, size, params, path),
                                 rounds=rounds, iterations=1)

    expected = build(polygons, ignore_tags, size, params, REFERENCE if path == FAST else FAST)
    for output, expected_map in zip(outputs, expected):
        assert np.array_equal(output, expected_map)
    record_median(benchmark, benchmark.group, path)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("profile", MASKED_PROFILES)
def test_profile_batch_collate(benchmark, record_median, collate_batch, profile, path):
    benchmark.group = f"{profile} collate batch 16 at 640"
    batch = [dict(sample, ignore_tags=ignore_every_tenth(sample["polygons"])) for sample in collate_batch]
    collate = FastDBCollateFN(reference=path == REFERENCE, profile=profile)
    collate(batch)

    rounds = 2 if path == REFERENCE else 15
    benchmark.pedantic(collate, args=(batch,), rounds=rounds, iterations=1)
    record_median(benchmark, benchmark.group, path)
