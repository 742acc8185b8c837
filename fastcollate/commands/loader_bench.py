"""``fastcollate loader-bench``: images per second through a real DataLoader."""

import argparse
import math
import sys

from fastcollate.commands import MAX_IMAGE_SIDE, image_side, positive_int

NAME = "loader-bench"


def non_negative_float(text):
    """argparse type: a finite float of 0 or more."""
    try:
        value = float(text)
    except ValueError:
        value = None
    # "not >= 0" also rejects NaN.
    if value is None or not value >= 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"expected a finite number of 0 or more, got {text!r}")
    return value


def batch_count(text):
    """argparse type: batches per pass, at least 2, because images per second is timed after the first."""
    value = positive_int(text)
    if value < 2:
        raise argparse.ArgumentTypeError(
            f"expected at least 2, got {text!r}; images per second is measured from the second "
            "batch on, so one batch measures nothing"
        )
    return value


def worker_count(text):
    """argparse type: DataLoader worker processes, 0 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer of 0 or more, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(
            f"expected an integer of 0 or more, got {text!r}; 0 loads in the main process"
        )
    return value


def add_parser(subparsers):
    parser = subparsers.add_parser(
        NAME,
        help="measure images per second through a multi-process DataLoader on both paths",
        description=(
            "Run a torch DataLoader over the images embedded in the package. Each sample is "
            "decoded with OpenCV, scaled to the given longest side, rotated and scaled at "
            "random and padded to a square (one cv2.warpAffine, polygons transformed alike). "
            "For the reference path and the fast path, in the same run, print images per "
            "second after the first batch, the seconds to the first batch, the share of time "
            "a consumer taking --consumer-ms per batch waits for data, and how much longer a "
            "worker's first batch took than its later ones. Needs OpenCV."
        ),
    )
    parser.add_argument("--size", type=image_side, default=640,
                        help=f"side of the square image, in pixels, at most {MAX_IMAGE_SIDE} (default: 640)")
    parser.add_argument("--batch", type=positive_int, default=16,
                        help="images per batch (default: 16)")
    parser.add_argument("--batches", type=batch_count, default=20,
                        help="batches per pass, at least 2 because images per second is timed "
                             "after the first batch; the embedded images repeat as needed "
                             "(default: 20)")
    parser.add_argument("--workers", type=worker_count, default=2,
                        help="DataLoader worker processes, 0 for the main process (default: 2)")
    parser.add_argument("--start-method", choices=("fork", "spawn", "forkserver"), default=None,
                        help="multiprocessing start method of the workers; needs --workers 1 or more "
                             "(default: the platform's)")
    parser.add_argument("--consumer-ms", type=non_negative_float, default=20.0,
                        help="simulated training step per batch, in milliseconds (default: 20)")
    parser.add_argument("--path", choices=("both", "fast", "reference"), default="both",
                        help="target paths to run (default: both)")
    parser.add_argument("--preload", action="store_true",
                        help="decode the images once and keep them in memory, so that each sample "
                             "only costs the warp, as with a dataset of decoded images (default: "
                             "decode every sample)")
    parser.add_argument("--no-buffer-reuse", action="store_true",
                        help="allocate every batch in new shared memory, as default_collate does, "
                             "instead of reusing the buffers the trainer released (default: reuse)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    return parser


def run(args):
    # Imported here so that `fastcollate --help` stays fast.
    from fastcollate.loader_bench import format_results, run_loader_bench
    from fastcollate.optional import IMAGES_EXTRA, import_optional

    if args.workers == 0 and args.start_method is not None:
        print(f"fastcollate {NAME}: --start-method {args.start_method} needs worker processes, but "
              "--workers is 0, which loads in the main process; pass --workers 1 or more, or drop "
              "--start-method", file=sys.stderr)
        return 2

    # The workers decode and warp with OpenCV. Without this check they fail
    # one by one with a traceback from inside the DataLoader.
    import_optional("cv2", f"fastcollate {NAME}, which decodes and warps images,", IMAGES_EXTRA)
    paths = ("reference", "fast") if args.path == "both" else (args.path,)
    results = run_loader_bench(
        size=args.size, batch_size=args.batch, batches=args.batches, num_workers=args.workers,
        consumer_ms=args.consumer_ms, start_method=args.start_method, paths=paths,
        progress=not args.no_progress, preload=args.preload, reuse_buffers=not args.no_buffer_reuse,
    )
    print(format_results(results, args.size, args.batch, args.workers, args.consumer_ms,
                         preload=args.preload))
    return 0
