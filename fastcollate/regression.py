"""Benchmark result files and the speedup regression check.

A result file is JSON with ``kind`` ``"fastcollate-bench"``, the machine it
ran on and a list of cases. Each case has a unique ``name``,
``reference_ms`` and ``fast_ms`` for the same work on both paths, measured
in the same run, their ratio ``speedup`` and, where it applies, the image
``size`` in pixels. Only the
ratio is compared between files, because absolute times drift with the
load of a shared machine while the ratio of two timings taken together
drifts much less.
"""

import json
import math
import os
import platform
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

BENCH_KIND = "fastcollate-bench"
BENCH_VERSION = 1
DEFAULT_TOLERANCE = 0.10


def machine_info():
    """Return the platform, CPU count and library versions of this process."""
    import numba
    import numpy

    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "numba": numba.__version__,
    }


def make_case(name, reference_seconds, fast_seconds, size=None, series=None):
    """Return one case of a result file from two timings in seconds.

    ``series`` groups cases that differ only by ``size``, such as
    ``"image"`` for ``"image 640"`` and ``"image 1024"``, for the plot of
    speedup against image size.
    """
    if not (reference_seconds > 0 and fast_seconds > 0):
        raise ValueError(
            f"case {name!r}: timings must be positive, got reference {reference_seconds!r} s "
            f"and fast {fast_seconds!r} s"
        )
    case = {
        "name": name,
        "reference_ms": reference_seconds * 1e3,
        "fast_ms": fast_seconds * 1e3,
        "speedup": reference_seconds / fast_seconds,
    }
    if size is not None:
        case["size"] = int(size)
    if series is not None:
        case["series"] = series
    return case


def bench_document(cases, command=None, **extra):
    """Return a result file's content: the cases, the machine and any extra sections."""
    names = [case["name"] for case in cases]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"case names must be unique, got {', '.join(duplicates)} more than once")
    document = {
        "kind": BENCH_KIND,
        "version": BENCH_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command if command is not None else " ".join(sys.argv),
        "machine": machine_info(),
        "cases": list(cases),
    }
    document.update(extra)
    return document


def save_json(document, path):
    """Write ``document`` to ``path`` as indented JSON, creating its folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path


def load_json(path):
    """Read a JSON file, or raise ``ValueError`` naming the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: file not found") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: invalid JSON ({error})") from None


def describe_kind(document):
    """Return how an error names what a JSON document is: ``kind 'x'``, or its JSON type."""
    if isinstance(document, dict):
        return f"kind {document.get('kind')!r}"
    json_types = {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}
    return f"a JSON {json_types.get(type(document), 'null')}, not an object with a kind"


def is_positive_number(value):
    """Return whether ``value`` is a finite number above zero, excluding bools."""
    return not isinstance(value, bool) and isinstance(value, (int, float)) and 0 < value < math.inf


def validate_bench(document, path, timings=False):
    """Check that ``document`` read from ``path`` is a benchmark result and return its cases keyed by name.

    Every case needs a name and a positive ``speedup``, and with ``timings``
    also positive ``reference_ms`` and ``fast_ms`` and, if present, an
    integer ``size``. Raises ``ValueError`` naming the file and the case.
    """
    if not isinstance(document, dict) or document.get("kind") != BENCH_KIND:
        raise ValueError(
            f"{path}: expected a benchmark result (kind {BENCH_KIND!r}), got {describe_kind(document)}; "
            "write one with `fastcollate bench --json FILE`"
        )
    case_list = document.get("cases", [])
    if not isinstance(case_list, list):
        raise ValueError(f"{path}: 'cases' is {type(case_list).__name__}; expected a list of cases")

    required = ("speedup", "reference_ms", "fast_ms") if timings else ("speedup",)
    cases = {}
    for position, case in enumerate(case_list):
        name = case.get("name") if isinstance(case, dict) else None
        if not isinstance(name, str):
            raise ValueError(f"{path}: case {position} has no name")
        if name in cases:
            raise ValueError(f"{path}: case name {name!r} appears more than once; give each case a unique name")
        for key in required:
            value = case.get(key)
            if not is_positive_number(value):
                raise ValueError(f"{path}: case {name!r} has {key} {value!r}; expected a finite positive number")
        size = case.get("size")
        if timings and size is not None and (isinstance(size, bool) or not isinstance(size, int)):
            raise ValueError(f"{path}: case {name!r} has size {size!r}; expected an integer number of pixels")
        cases[name] = case
    if not cases:
        raise ValueError(f"{path}: no cases")
    return cases


def load_bench(path):
    """Read a benchmark result file and return its cases keyed by name.

    Raises ``ValueError`` naming the file if it is not a benchmark result or
    a case lacks a positive ``speedup``.
    """
    return validate_bench(load_json(path), path)


@dataclass(frozen=True)
class Comparison:
    """One case compared between a baseline and a current result."""

    name: str
    baseline: float
    current: float | None
    tolerance: float

    @property
    def change(self):
        """Relative change of the speedup, e.g. -0.12 for 12% lower; None if the case is missing."""
        if self.current is None:
            return None
        return self.current / self.baseline - 1.0

    @property
    def failed(self):
        return self.current is None or self.current < self.baseline * (1.0 - self.tolerance)

    def describe(self):
        if self.current is None:
            return f"{self.name}: missing from the current result (baseline speedup {self.baseline:.2f}x)"
        verdict = "FAILED" if self.failed else "ok"
        return (
            f"{self.name}: speedup {self.current:.2f}x against baseline {self.baseline:.2f}x "
            f"({self.change:+.1%}, limit {-self.tolerance:+.0%}) {verdict}"
        )


def compare_results(baseline_cases, current_cases, tolerance=DEFAULT_TOLERANCE):
    """Compare the speedup of every baseline case and return a list of :class:`Comparison`.

    A case fails if its current speedup is more than ``tolerance`` (a
    fraction) below the baseline's, or if it is missing from the current
    result. Cases only in the current result are ignored.
    """
    if not 0.0 <= tolerance < 1.0:
        raise ValueError(f"tolerance must be a fraction in [0, 1), got {tolerance!r}")
    comparisons = []
    for name, case in baseline_cases.items():
        current = current_cases.get(name)
        comparisons.append(Comparison(
            name=name,
            baseline=float(case["speedup"]),
            current=float(current["speedup"]) if current is not None else None,
            tolerance=tolerance,
        ))
    return comparisons
