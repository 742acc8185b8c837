"""The cost of the collate's stage timers: profiling on against off, same batches."""

import statistics
import time

from fastcollate import FastDBCollateFN

PAIRS = 40


def ratio_summary(plain_times, profiled_times):
    """Summarise paired times: the median and quartiles of the pair ratios, and the ratio of minima.

    The minimum of many runs is the run least disturbed by other processes,
    so the ratio of minima is the steadier estimate on a loaded machine.
    """
    ratios = [profiled / plain for plain, profiled in zip(plain_times, profiled_times)]
    quartiles = statistics.quantiles(ratios, n=4)
    median = statistics.median(ratios)
    return {"median_ratio": median, "percent": (median - 1.0) * 100,
            "quartiles": [quartiles[0], quartiles[2]],
            "min_ratio": min(profiled_times) / min(plain_times)}


def test_profiling_overhead(benchmark, collate_batch, record_section):
    """Time batches with profiling off and on, alternating, so both see the same load.

    Wall time and the process's CPU time are both recorded. On a shared
    machine the CPU time leaves out the time other processes hold the core,
    so its ratio spreads less.
    """
    benchmark.group = "profiling overhead, batch of 16 at 640"
    plain = FastDBCollateFN()
    profiled = FastDBCollateFN(profiling=True)
    plain(collate_batch)
    profiled(collate_batch)

    plain_wall, plain_cpu, profiled_wall, profiled_cpu = [], [], [], []

    def seconds(collate):
        wall, cpu = time.perf_counter(), time.process_time()
        collate(collate_batch)
        return time.perf_counter() - wall, time.process_time() - cpu

    def run():
        for pair in range(PAIRS):
            # Alternating which runs first cancels any advantage of going second.
            if pair % 2:
                profiled_times = seconds(profiled)
                plain_times = seconds(plain)
            else:
                plain_times = seconds(plain)
                profiled_times = seconds(profiled)
            plain_wall.append(plain_times[0])
            plain_cpu.append(plain_times[1])
            profiled_wall.append(profiled_times[0])
            profiled_cpu.append(profiled_times[1])

    benchmark.pedantic(run, rounds=1, iterations=1)
    overhead = {"pairs": PAIRS, **ratio_summary(plain_wall, profiled_wall),
                "cpu": ratio_summary(plain_cpu, profiled_cpu)}
    benchmark.extra_info["profiling_overhead"] = overhead
    record_section("profiling_overhead", overhead)
