"""Markdown reports, with PNG plots, from collate statistics or benchmark results.

:func:`write_report` reads what :func:`fastcollate.save_stats` or
``fastcollate bench --json`` wrote and writes ``report.md``, ``stages.png``
(the stage breakdown) and, for benchmark results with image sizes,
``speedup.png`` (speedup against image size) into one folder. The plots need
matplotlib, the ``report`` extra.
"""

import logging
from pathlib import Path

from fastcollate.profiling import STATS_KIND
from fastcollate.regression import BENCH_KIND, describe_kind, load_json, validate_bench

logger = logging.getLogger(__name__)

REPORT_NAME = "report.md"
STAGES_PLOT = "stages.png"
SPEEDUP_PLOT = "speedup.png"
MIB = 2**20


def write_report(source, output_dir, plots=True):
    """Write the report of the JSON file ``source`` into ``output_dir`` and return the report's path.

    Raises
    ------
    ValueError
        If ``source`` is neither collate statistics nor a benchmark result.
    ImportError
        If ``plots`` is true and matplotlib is not installed.
    """
    source = Path(source)
    document = load_json(source)
    kind = document.get("kind") if isinstance(document, dict) else None
    if kind == STATS_KIND:
        stats, bench = document, None
    elif kind == BENCH_KIND:
        validate_bench(document, source, timings=True)
        stats, bench = document.get("stages"), document
    else:
        raise ValueError(
            f"{source}: expected collate statistics (kind {STATS_KIND!r}, from "
            f"fastcollate.save_stats) or a benchmark result (kind {BENCH_KIND!r}, from "
            f"`fastcollate bench --json`), got {describe_kind(document)}"
        )
    if plots:
        require_matplotlib()

    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    settings = (bench or {}).get("settings")
    settings = settings if isinstance(settings, dict) else {}
    profile = settings.get("profile")
    title = f"# fastcollate report, {profile} profile" if profile else "# fastcollate report"
    lines = [title, "", f"Source: `{source.name}`."]
    if profile:
        lines += ["", profile_sentence(profile)]
    if bench is not None:
        lines += machine_lines(bench)

    if stats is not None and stats.get("batches"):
        lines += stats_lines(stats)
        profile_size = settings.get("stages_size")
        if profile_size:
            lines += ["", f"The stage profile is of the fast path's batches at {profile_size} x "
                          f"{profile_size} px."]
        if plots:
            plot_stages(stats, output_dir / STAGES_PLOT)
            lines += ["", f"![Collate time by stage]({STAGES_PLOT})"]
    else:
        lines += ["", "This file has no profiled batches, so there is no stage breakdown."]

    if bench is not None:
        lines += speedup_lines(bench["cases"])
        if plots and any("size" in case for case in bench["cases"]):
            plot_speedup(bench["cases"], output_dir / SPEEDUP_PLOT)
            lines += ["", f"![Speedup against image size]({SPEEDUP_PLOT})"]

    report = output_dir / REPORT_NAME
    report.write_text("\n".join(lines) + "\n", encoding="utf-8")
    logger.info("Wrote %s.", report)
    return report


def require_matplotlib():
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise ImportError(
            "the report plots need matplotlib; install it with `pip install fastcollate[report]` "
            "or pass --no-plots"
        ) from None


def profile_sentence(profile):
    """Return the report's sentence on which target semantics the benchmark built."""
    if profile == "baseline":
        return ("Targets: the `baseline` profile, the classic collate's prob map and threshold "
                "map without masks.")
    return (f"Targets: the `{profile}` profile, which also builds the prob mask and threshold "
            "mask. Its whole map build, validation included, is timed as one stage, "
            "`masked_targets`, so the stage table has no `validation`, `offset`, `fill` or "
            "`threshold` split for it.")


def machine_lines(bench):
    machine = bench.get("machine", {})
    lines = ["", "## Run", ""]
    if bench.get("command"):
        lines.append(f"- Command: `{bench['command']}`")
    if bench.get("created"):
        lines.append(f"- Created: {bench['created']}")
    for key in ("platform", "processor", "cpus", "python", "numpy", "numba"):
        if key in machine:
            lines.append(f"- {key}: {machine[key]}")
    return lines


def ranked_stages(stats):
    """Return ``(name, stage)`` pairs with time spent, largest total first."""
    stages = [(name, stage) for name, stage in stats["stages"].items() if stage["total_ms"] > 0]
    return sorted(stages, key=lambda item: item[1]["total_ms"], reverse=True)


def stats_lines(stats):
    lines = [
        "", "## Where the collate time goes", "",
        f"{stats['batches']} batches, {stats['images']} images, {stats['polygons']} polygons; "
        f"{stats['collate_ms_per_batch']:.2f} ms per batch. Times are summed over every "
        "process that ran the collate. `other` is the collate time outside the timed stages: "
        "zeroing the maps, building the output dict and the timers themselves.",
        "",
        "| Stage | Total ms | ms per batch | % of collate time |",
        "|---|---:|---:|---:|",
    ]
    for name, stage in ranked_stages(stats):
        lines.append(f"| {name} | {stage['total_ms']:.1f} | {stage['ms_per_batch']:.2f} "
                     f"| {stage['percent']:.1f}% |")

    cache = stats["cache"]
    hit_rate = "no lookups" if cache["hit_rate"] is None else f"{cache['hit_rate']:.1%}"
    skipped = ", ".join(f"{reason} {count}" for reason, count in stats["skipped"].items() if count)
    lines += [
        "", "## Throughput, cache and memory", "",
        f"- Throughput: {stats['images_per_second']:.1f} images per second of collate time, "
        "per collating process.",
        f"- Target cache: {hit_rate} ({cache['hits']} hits, {cache['misses']} misses).",
        f"- Peak resident memory (high-water mark of the largest collating process): "
        f"{stats['peak_rss_bytes'] / MIB:.1f} MiB.",
        f"- Skipped polygons: {skipped or 'none'}.",
    ]
    return lines


def speedup_lines(cases):
    lines = [
        "", "## Fast path against reference path", "",
        "Both paths timed in the same run. `image` cases sum the time of every image (the "
        "reference path runs each image once, the fast path reports its median run); `batch` "
        "cases are the median time of one collated batch.",
        "",
        "| Case | Reference ms | Fast ms | Speedup |",
        "|---|---:|---:|---:|",
    ]
    for case in cases:
        lines.append(f"| {case['name']} | {case['reference_ms']:.2f} | {case['fast_ms']:.2f} "
                     f"| {case['speedup']:.1f}x |")
    return lines


def plot_stages(stats, path):
    """Save a horizontal bar chart of ms per batch by stage."""
    from matplotlib.figure import Figure

    stages = list(reversed(ranked_stages(stats)))
    figure = Figure(figsize=(6.4, 0.45 * len(stages) + 1.2), layout="constrained")
    axes = figure.add_subplot()
    values = [stage["ms_per_batch"] for _, stage in stages]
    bars = axes.barh([name for name, _ in stages], values, color="tab:blue")
    axes.bar_label(bars, labels=[f"{stage['percent']:.1f}%" for _, stage in stages], padding=3)
    axes.set_xlabel("ms per batch")
    axes.set_title("Collate time by stage")
    axes.set_xlim(0, max(values) * 1.2)
    figure.savefig(path, dpi=100)


def plot_speedup(cases, path):
    """Save a line plot of speedup against image size, one line per series."""
    from matplotlib.figure import Figure

    series = {}
    for case in cases:
        if "size" in case:
            series.setdefault(case.get("series", case["name"]), []).append(case)

    figure = Figure(figsize=(6.4, 4.0), layout="constrained")
    axes = figure.add_subplot()
    for name, members in series.items():
        members.sort(key=lambda case: case["size"])
        axes.plot([case["size"] for case in members], [case["speedup"] for case in members],
                  marker="o", label=name)
    axes.set_xlabel("image side, pixels")
    axes.set_ylabel("speedup (reference time / fast time)")
    axes.set_ylim(bottom=0)
    axes.set_title("Fast path against reference path")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.savefig(path, dpi=100)
