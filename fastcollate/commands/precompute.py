"""``fastcollate precompute``: fill a spill directory with the targets of a dataset."""

from fastcollate.commands import MAX_IMAGE_SIDE, check_output_dir, image_side, positive_int
from fastcollate.commands.dataset_options import DATA_HELP, add_dataset_arguments

NAME = "precompute"


def add_parser(subparsers):
    parser = subparsers.add_parser(
        NAME,
        help="write the cached targets of every image into a spill directory",
        description=(
            "Load every annotated image like `fastcollate bench`, letterboxed to a square, "
            "build its prob map and threshold map (and, with a masked --profile, both masks) "
            "on the fast path and write the cache entry "
            "into --cache-dir. Entries already present and valid are kept, so a second run "
            "writes nothing. Training then reads the directory with "
            "TargetCache(spill_dir=DIR, read_only=True). Entries only hit for samples whose "
            "polygons, image size and target parameters match those used here."
        ),
    )
    parser.add_argument(
        "--data", metavar="DIR", action="append",
        help=DATA_HELP + ". Repeat for several folders. Default: the ICDAR 2015 and SROIE "
             "sample embedded in the package",
    )
    add_dataset_arguments(parser)
    parser.add_argument("--cache-dir", metavar="DIR", required=True,
                        help="spill directory to fill; created if missing")
    parser.add_argument("--size", type=image_side, default=640,
                        help="side of the square letterboxed image, in pixels "
                             f"(default: 640, at most {MAX_IMAGE_SIDE})")
    parser.add_argument("--shrink-ratio", type=float, default=0.4,
                        help="shrink ratio r of D = area * (1 - r**2) / perimeter (default: 0.4)")
    parser.add_argument("--thresh-min", type=float, default=0.3,
                        help="lowest threshold map value (default: 0.3)")
    parser.add_argument("--thresh-max", type=float, default=0.7,
                        help="highest threshold map value (default: 0.7)")
    parser.add_argument("--profile", choices=("baseline", "mhliao", "paddleocr"), default="baseline",
                        help="target semantics; 'mhliao' and 'paddleocr' also cache the prob mask "
                             "and threshold mask (default: baseline)")
    parser.add_argument("--corrected-edges", action="store_true",
                        help="build the maps with corrected_edges=True (default: off)")
    parser.add_argument("--max-bytes", type=positive_int, default=None,
                        help="cap on the directory's entries, in bytes; the oldest are deleted "
                             "beyond it (default: no cap)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def run(args):
    # Imported here so that `fastcollate --help` stays fast.
    from fastcollate.cache.precompute import precompute
    from fastcollate.data import sample_dirs
    from fastcollate.datasets import load_samples
    from fastcollate.targets import TargetParams

    check_output_dir("--cache-dir", args.cache_dir)
    params = TargetParams(args.shrink_ratio, args.thresh_min, args.thresh_max, args.corrected_edges,
                          args.profile)
    folders = args.data or [str(folder) for folder in sample_dirs()]
    samples = []
    for folder in folders:
        samples.extend(load_samples(folder, size=args.size, format=args.format,
                                    image_size=args.image_size, image_dir=args.image_dir))

    result = precompute(samples, args.cache_dir, params, max_bytes=args.max_bytes,
                        progress=not args.no_progress)
    print(f"{result.present} present, {result.written} written, {result.failed} failed "
          f"in {args.cache_dir}")
    return 0 if result.failed == 0 else 1
