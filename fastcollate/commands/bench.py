"""``fastcollate bench``: time the fast path against the reference path."""

import sys

from fastcollate.commands import MAX_IMAGE_SIDE, check_output_file, image_side, positive_int
from fastcollate.commands.dataset_options import DATA_HELP, add_dataset_arguments

NAME = "bench"


def add_parser(subparsers):
    parser = subparsers.add_parser(
        NAME,
        help="time the fast path against the reference path and check they agree",
        description=(
            "Build the prob map and threshold map of every image on both the reference "
            "and the fast path, check that they are identical to the bit, and print the "
            "per-image median time, images per second and the speedup. Exits with status 1, "
            "naming the first differing file and pixel, if the paths disagree."
        ),
    )
    parser.add_argument(
        "--data", metavar="DIR", action="append",
        help=DATA_HELP + ". Repeat for several folders. Default: the ICDAR 2015 and SROIE "
             "sample embedded in the package",
    )
    add_dataset_arguments(parser)
    parser.add_argument("--size", type=image_side, nargs="+", default=[640], metavar="PIXELS",
                        help="side of the square letterboxed image, in pixels (default: 640, at most "
                             f"{MAX_IMAGE_SIDE}); give several sizes to bench each")
    parser.add_argument("--batch", type=positive_int, default=16,
                        help="images per collated batch (default: 16)")
    parser.add_argument("--repeat", type=positive_int, default=5,
                        help="fast-path runs per image and per batch; the median is reported "
                             "(default: 5). The reference path runs once")
    parser.add_argument("--shrink-ratio", type=float, default=0.4,
                        help="shrink ratio r of D = area * (1 - r**2) / perimeter (default: 0.4)")
    parser.add_argument("--profile", choices=("baseline", "mhliao", "paddleocr"), default="baseline",
                        help="target semantics: the classic collate (baseline), the original DB "
                             "code (mhliao) or PaddleOCR (paddleocr); the last two also build and "
                             "compare the masks (default: baseline)")
    parser.add_argument("--json", metavar="FILE",
                        help="also write the speedups, the machine and a stage profile of the "
                             "fast batches (at the first size) to FILE, for `fastcollate compare` "
                             "and `fastcollate report`. Missing parent folders are created")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    return parser


def run(args):
    # Imported here so that `fastcollate --help` stays fast.
    from fastcollate.benchmark import TargetMismatch, format_result, result_cases, run_bench
    from fastcollate.data import sample_dirs
    from fastcollate.datasets import load_samples
    from fastcollate.optional import require_reference_dependencies
    from fastcollate.regression import bench_document, save_json
    from fastcollate.targets import TargetParams

    require_reference_dependencies("fastcollate bench, which runs the reference path,")
    if args.json is not None:
        check_output_file("--json", args.json)
    folders = args.data or [str(folder) for folder in sample_dirs()]
    params = TargetParams(shrink_ratio=args.shrink_ratio, profile=args.profile)
    cases = []
    stages = None
    for size in args.size:
        samples = []
        for folder in folders:
            samples.extend(load_samples(folder, size=size, format=args.format,
                                        image_size=args.image_size, image_dir=args.image_dir))

        try:
            result = run_bench(samples, params, batch_size=args.batch, repeat=args.repeat,
                               progress=not args.no_progress, profiling=args.json is not None)
        except TargetMismatch as error:
            print(f"fastcollate bench: the fast path differs from the reference path: {error}",
                  file=sys.stderr)
            return 1
        print(format_result(result, size))
        cases.extend(result_cases(result, size, args.profile))
        if stages is None:
            stages = result.stages

    if args.json is not None:
        command = "fastcollate " + " ".join(sys.argv[1:]) if sys.argv[1:2] == [NAME] else None
        document = bench_document(cases, command=command, stages=stages,
                                  settings={"profile": args.profile,
                                            "shrink_ratio": args.shrink_ratio,
                                            "batch": args.batch, "repeat": args.repeat,
                                            "sizes": args.size, "stages_size": args.size[0],
                                            "data": args.data or "embedded sample"})
        save_json(document, args.json)
        print(f"wrote {args.json}")
    return 0
