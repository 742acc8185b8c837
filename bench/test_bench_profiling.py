"""The cost of the collate's stage timers: profiling on against off, same batches."""

import statistics
import time

from fastcollate import FastDBCollateFN

PAIRS = 40


def test_profiling_overhead(benchmark, collate_batch, record_section):
    """Time batches with profiling off and on, alternating, so both see the same load."""
    benchmark.group = "profiling overhead, batch of 16 at 640"
    plain = FastDBCollateFN()
    profiled = FastDBCollateFN(profile=True)
    plain(collate_batch)
    profiled(collate_batch)

    ratios = []

    def seconds(collate):
        start = time.perf_counter()
        collate(collate_batch)
        return time.perf_counter() - start

    def run():
        for pair in range(PAIRS):
            # Alternating which runs first cancels any advantage of going second.
            if pair % 2:
                profiled_seconds = seconds(profiled)
                plain_seconds = seconds(plain)
            else:
                plain_seconds = seconds(plain)
                profiled_seconds = seconds(profiled)
            ratios.append(profiled_seconds / plain_seconds)

    benchmark.pedantic(run, rounds=1, iterations=1)
    median = statistics.median(ratios)
    benchmark.extra_info["profiled_over_plain_median"] = median
    record_section("profiling_overhead", {
        "pairs": len(ratios),
        "median_ratio": median,
        "percent": (median - 1.0) * 100,
        "quartiles": statistics.quantiles(ratios, n=4),
    })
