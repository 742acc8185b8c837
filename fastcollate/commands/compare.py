"""``fastcollate compare``: fail when a speedup dropped below a stored baseline."""

import argparse
import sys

from fastcollate.regression import DEFAULT_TOLERANCE

NAME = "compare"


def fraction(text):
    """argparse type: a fraction in [0, 1), given as 0.1 or 10%."""
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction such as 0.1 or 10%, got {text}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1), got {text}")
    return value


def add_parser(subparsers):
    parser = subparsers.add_parser(
        NAME,
        help="fail if a fast/reference speedup dropped below a stored baseline",
        description=(
            "Compare the speedup (reference time / fast time, both measured in the same run) "
            "of every case in BASELINE with the same case in CURRENT. Both files are written "
            "by `fastcollate bench --json` or `pytest bench/ --ratio-json`. Exits with status 1, "
            "naming each case, if a speedup is more than the tolerance below its baseline or a "
            "baseline case is missing, and with status 2 if a file cannot be read or a --case "
            "is not in BASELINE."
        ),
    )
    parser.add_argument("baseline", metavar="BASELINE", help="stored benchmark result (JSON)")
    parser.add_argument("current", metavar="CURRENT", help="new benchmark result (JSON)")
    parser.add_argument("--case", metavar="NAME", action="append",
                        help="check only this baseline case, e.g. 'image 640'; repeat for "
                             "several (default: every case in BASELINE)")
    parser.add_argument("--tolerance", type=fraction, default=DEFAULT_TOLERANCE, metavar="FRACTION",
                        help="largest accepted drop of a speedup, as a fraction of the baseline "
                             f"speedup, e.g. 0.1 or 10%% (default: {DEFAULT_TOLERANCE})")
    return parser


def run(args):
    from fastcollate.regression import compare_results, load_bench

    baseline = load_bench(args.baseline)
    if args.case:
        missing = [name for name in args.case if name not in baseline]
        if missing:
            raise ValueError(f"{args.baseline}: no case {', '.join(map(repr, missing))}; "
                             f"its cases are {', '.join(map(repr, baseline))}")
        baseline = {name: baseline[name] for name in args.case}

    comparisons = compare_results(baseline, load_bench(args.current), args.tolerance)
    for comparison in comparisons:
        print(comparison.describe())

    missing = [comparison.name for comparison in comparisons if comparison.current is None]
    slower = [comparison.name for comparison in comparisons
              if comparison.failed and comparison.current is not None]
    if slower:
        print(f"fastcollate compare: speedup regression in {', '.join(slower)} "
              f"(more than {args.tolerance:.0%} below {args.baseline})", file=sys.stderr)
    if missing:
        print(f"fastcollate compare: {args.current} lacks baseline cases {', '.join(missing)}; "
              "run the bench with the same sizes and profile as the baseline", file=sys.stderr)
    if slower or missing:
        return 1
    cases = "the case is" if len(comparisons) == 1 else f"all {len(comparisons)} cases are"
    print(f"{cases} within {args.tolerance:.0%} of the baseline")
    return 0
