"""The ``fastcollate`` command line."""

import argparse
import logging
import sys

from fastcollate.benchmark import TargetMismatch, format_result, run_bench
from fastcollate.targets import TargetParams


def positive_int(text):
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def build_parser():
    parser = argparse.ArgumentParser(
        prog="fastcollate",
        description="Bit-exact, fast DBNet training targets. Run a command with --help for details.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    bench = commands.add_parser(
        "bench",
        help="time the fast path against the reference path and check they agree",
        description=(
            "Build the prob map and threshold map of every image on both the reference "
            "and the fast path, check that they are identical to the bit, and print the "
            "per-image median time, images per second and the speedup. Exits with status 1, "
            "naming the first differing file and pixel, if the paths disagree."
        ),
    )
    bench.add_argument(
        "--data", metavar="DIR", action="append",
        help="folder of images with ICDAR 2015 / SROIE text annotations (gt_img_N.txt or "
             "NAME.txt beside each image); image sizes are read from the image files. "
             "Repeat for several folders. Default: the ICDAR 2015 and SROIE sample embedded "
             "in the package",
    )
    bench.add_argument("--size", type=positive_int, default=640,
                       help="side of the square letterboxed image, in pixels (default: 640)")
    bench.add_argument("--batch", type=positive_int, default=16,
                       help="images per collated batch (default: 16)")
    bench.add_argument("--repeat", type=positive_int, default=5,
                       help="fast-path runs per image and per batch; the median is reported "
                            "(default: 5). The reference path runs once")
    bench.add_argument("--shrink-ratio", type=float, default=0.4,
                       help="shrink ratio r of D = area * (1 - r**2) / perimeter (default: 0.4)")
    bench.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    return parser


def run_bench_command(args):
    # Imported here so that `fastcollate --help` stays fast.
    from fastcollate.data import sample_dirs
    from fastcollate.datasets import load_samples

    folders = args.data or [str(folder) for folder in sample_dirs()]
    samples = []
    for folder in folders:
        samples.extend(load_samples(folder, size=args.size))

    try:
        params = TargetParams(shrink_ratio=args.shrink_ratio)
        result = run_bench(samples, params, batch_size=args.batch, repeat=args.repeat,
                           progress=not args.no_progress)
    except TargetMismatch as error:
        print(f"fastcollate bench: the fast path differs from the reference path: {error}",
              file=sys.stderr)
        return 1
    print(format_result(result, args.size))
    return 0


def main(argv=None):
    """Run the ``fastcollate`` command; return its exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "bench":
            return run_bench_command(args)
    except (FileNotFoundError, ValueError) as error:
        print(f"fastcollate {args.command}: {error}", file=sys.stderr)
        return 2
    return 2


if __name__ == "__main__":
    sys.exit(main())
