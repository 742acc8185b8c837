"""Time both target paths on the same samples and check that they agree."""

import statistics
import time
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from fastcollate.collate import FastDBCollateFN
from fastcollate.polygons import prepare_polygons
from fastcollate.profiles import BASELINE, draw_profile_targets
from fastcollate.regression import make_case
from fastcollate.targets import FAST, REFERENCE, TargetParams, draw_targets_into


class TargetMismatch(Exception):
    """The fast path and the reference path built different maps."""


@dataclass
class BenchResult:
    """Timings of both paths on one set of samples, in seconds.

    Per-image times are medians over samples. The per-image speedup is the
    ratio of the summed times, so that large and small images weigh by cost.
    """

    images: int
    polygons: int
    reference_image: float
    fast_image: float
    reference_total: float
    fast_total: float
    reference_batch: float
    fast_batch: float
    batch_size: int
    compile_seconds: float
    profiled_batch: float | None = None
    stages: dict | None = field(default=None, repr=False)

    @property
    def image_speedup(self):
        return self.reference_total / self.fast_total

    @property
    def batch_speedup(self):
        return self.reference_batch / self.fast_batch


def single_thread_opencv():
    """Keep OpenCV to the calling thread for the rest of the process.

    After a call, OpenCV's worker threads keep spinning for a while and take
    the core from the next fast-path timing, which measured 40% slower on 2
    cores. The classic target code uses no OpenCV parallelism, so the
    reference timings do not change.
    """
    try:
        import cv2
    except ImportError:
        return
    cv2.setNumThreads(1)


def build_maps(sample, params, path, maps=None):
    """Return ``(prob_map, thresh_map, seconds)`` of one sample on one path.

    The ``mhliao`` and ``paddleocr`` profiles return
    ``(prob_map, thresh_map, prob_mask, thresh_mask, seconds)``. ``maps`` is
    an optional tuple of float32 (H, W) arrays to draw into, as the collate
    draws into reused batch buffers. Zeroing them is timed.
    """
    _, height, width = sample["image"].shape
    count = 2 if params.profile == BASELINE else 4
    if maps is None:
        maps = tuple(np.empty((height, width), dtype=np.float32) for _ in range(count))

    start = time.perf_counter()
    for array in maps:
        array.fill(0.0)
    if count == 2:
        prepared = prepare_polygons(sample["polygons"], 0, sample.get("image_filename"))
        draw_targets_into(prepared, maps[0], maps[1], params, path)
    else:
        maps[2].fill(1.0)
        draw_profile_targets(sample["polygons"], sample.get("ignore_tags"), *maps, params, path, 0,
                             sample.get("image_filename"))
    return (*maps, time.perf_counter() - start)


def first_difference(expected, actual):
    """Return the (row, column) of the first pixel whose bits differ, or None."""
    differs = expected.view(np.uint32) != actual.view(np.uint32)
    if not differs.any():
        return None
    row, column = np.argwhere(differs)[0]
    return int(row), int(column)


def check_equal(sample, reference_maps, fast_maps):
    """Raise ``TargetMismatch`` naming the file and pixel where the paths differ."""
    names = ("prob_map", "thresh_map", "prob_mask", "thresh_mask")
    for name, expected, actual in zip(names, reference_maps, fast_maps):
        pixel = first_difference(expected, actual)
        if pixel is not None:
            row, column = pixel
            raise TargetMismatch(
                f"{sample.get('image_filename')}: {name} differs at row {row}, column {column}: "
                f"reference {expected[row, column]!r}, fast {actual[row, column]!r}"
            )


def run_bench(samples, params=None, batch_size=16, repeat=5, progress=True, profiling=False):
    """Build targets for ``samples`` on both paths, check them and time them.

    Every sample is built once on the reference path and ``repeat`` times on
    the fast path, and the per-image times are medians over samples. Batches of
    ``batch_size`` are then collated with ``FastDBCollateFN`` on both paths.
    Compilation is timed separately, before any measurement. With
    ``profiling``, the fast batches run ``repeat`` more times with
    ``profiling=True``, which fills ``profiled_batch`` and ``stages``.

    Raises
    ------
    TargetMismatch
        On the first sample whose maps differ between the paths.
    """
    params = params if params is not None else TargetParams()
    single_thread_opencv()

    start = time.perf_counter()
    build_maps(samples[0], params, FAST)
    compile_seconds = time.perf_counter() - start

    reference_times = []
    fast_times = []
    for sample in tqdm(samples, desc="per image", unit="image", disable=not progress):
        *reference_maps, seconds = build_maps(sample, params, REFERENCE)
        reference_times.append(seconds)

        # Fresh maps cost page faults on first write (an estimated 1 ms per
        # 640x640 image, see docs/performance.md). The collate avoids them by
        # reusing batch buffers, so the fast path is timed into reused arrays.
        maps = tuple(np.empty_like(array) for array in reference_maps)
        runs = [build_maps(sample, params, FAST, maps)[-1] for _ in range(repeat)]
        check_equal(sample, reference_maps, maps)
        fast_times.append(statistics.median(runs))

    batches = [samples[i:i + batch_size] for i in range(0, len(samples), batch_size)]
    batch_times = {}
    for path, reference in ((REFERENCE, True), (FAST, False)):
        collate = FastDBCollateFN(params.shrink_ratio, params.thresh_min, params.thresh_max,
                                  reference=reference, corrected_edges=params.corrected_edges,
                                  profile=params.profile)
        times = []
        rounds = 1 if reference else repeat
        for batch in tqdm(batches * rounds, desc=f"{path} batches", unit="batch", disable=not progress):
            start = time.perf_counter()
            collate(batch)
            # Batches shorter than batch_size are scaled to a full batch.
            times.append((time.perf_counter() - start) * batch_size / len(batch))
        batch_times[path] = statistics.median(times)

    profiled_batch = stats = None
    if profiling:
        collate = FastDBCollateFN(params.shrink_ratio, params.thresh_min, params.thresh_max,
                                  reference=False, corrected_edges=params.corrected_edges,
                                  profile=params.profile, profiling=True)
        # The split fill and threshold kernels load (or compile) on first
        # use, which would show up as fill and threshold time.
        collate(batches[0])
        collate.reset_profiling_stats()
        times = []
        for batch in tqdm(batches * repeat, desc="profiled batches", unit="batch",
                          disable=not progress):
            start = time.perf_counter()
            collate(batch)
            times.append((time.perf_counter() - start) * batch_size / len(batch))
        profiled_batch = statistics.median(times)
        stats = collate.profiling_stats()

    return BenchResult(
        images=len(samples),
        polygons=sum(len(sample["polygons"]) for sample in samples),
        reference_image=statistics.median(reference_times),
        fast_image=statistics.median(fast_times),
        reference_total=sum(reference_times),
        fast_total=sum(fast_times),
        reference_batch=batch_times[REFERENCE],
        fast_batch=batch_times[FAST],
        batch_size=batch_size,
        compile_seconds=compile_seconds,
        profiled_batch=profiled_batch,
        stages=stats,
    )


def result_cases(result, size, profile=BASELINE):
    """Return the regression cases of one run at one image size, as :mod:`fastcollate.regression` defines them.

    Cases of a profile other than the baseline carry its name first.
    """
    prefix = "" if profile == BASELINE else f"{profile} "
    return [
        make_case(f"{prefix}image {size}", result.reference_total, result.fast_total, size, "image"),
        make_case(f"{prefix}batch {size}", result.reference_batch, result.fast_batch, size, "batch"),
    ]


def format_result(result, size):
    """Return the human-readable report of a benchmark run."""
    lines = [
        f"{result.images} images, {result.polygons} polygons, letterboxed to {size}x{size}; "
        "fast and reference maps identical on every image.",
        f"first fast call (compile or load from cache): {result.compile_seconds:.2f} s",
        "",
        f"{'':24}{'reference':>12}{'fast':>12}{'speedup':>10}",
        f"{'per image, median ms':24}{result.reference_image * 1e3:12.2f}"
        f"{result.fast_image * 1e3:12.2f}{result.image_speedup:9.1f}x",
        f"{'images/s':24}{result.images / result.reference_total:12.1f}"
        f"{result.images / result.fast_total:12.1f}",
        f"{f'batch of {result.batch_size}, median ms':24}{result.reference_batch * 1e3:12.1f}"
        f"{result.fast_batch * 1e3:12.1f}{result.batch_speedup:9.1f}x",
    ]
    if result.profiled_batch is not None:
        lines.append(f"{'profiled batch, median ms':24}{'':12}{result.profiled_batch * 1e3:12.1f}")
    shorter_batch = result.images % result.batch_size
    if shorter_batch:
        lines.append(
            f"(the batch times include a batch of {shorter_batch} image{'s' if shorter_batch > 1 else ''}, "
            f"whose time is scaled to {result.batch_size} images)"
        )
    return "\n".join(lines)
