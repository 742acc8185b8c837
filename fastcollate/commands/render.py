"""``fastcollate render``: write pictures of images beside their training targets."""

from fastcollate.commands import MAX_IMAGE_SIDE, check_output_dir, count_noun, image_side, positive_int
from fastcollate.commands.dataset_options import DATA_HELP, add_dataset_arguments

NAME = "render"


def add_parser(subparsers):
    parser = subparsers.add_parser(
        NAME,
        help="write one PNG per image: the image beside its prob map, threshold map and masks",
        description=(
            "Collate every image of a dataset folder with FastDBCollateFN and write one PNG per "
            "image to --out: the letterboxed image with its polygons (green, don't-care red), then "
            "each map and mask the batch contains (prob_maps and thresh_maps in viridis, masks in "
            "grayscale, all on a 0 to 1 scale), each under a caption with its value range. Each PNG "
            "is 22 + SIZE pixels high, and panels are SIZE pixels wide and 4 pixels apart. Needs OpenCV."
        ),
    )
    parser.add_argument("--data", metavar="DIR", required=True, help=DATA_HELP)
    parser.add_argument("--out", metavar="DIR", required=True,
                        help="folder for the PNG files, created if missing; existing files of the same "
                             "name are overwritten")
    add_dataset_arguments(parser)
    parser.add_argument("--size", type=image_side, default=640,
                        help="side of the square letterboxed image and of each panel, in pixels "
                             f"(default: 640, at most {MAX_IMAGE_SIDE})")
    parser.add_argument("--limit", metavar="N", type=positive_int, default=None,
                        help="render only the first N images in dataset order, which is sorted by "
                             "file name for one annotation file per image (default: all)")
    parser.add_argument("--batch", type=positive_int, default=8,
                        help="images per collated batch (default: 8)")
    parser.add_argument("--collate-config", metavar="FILE", default=None,
                        help="YAML file of FastDBCollateFN keyword arguments, such as configs/db_collate.yaml "
                             "(a _target_ key is ignored; needs PyYAML). Default: the classic parameters")
    parser.add_argument("--compare-edges", action="store_true",
                        help="add two panels: the threshold map built with corrected_edges=True and its "
                             "absolute difference to the default map, with the count of differing pixels")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def run(args):
    # Imported here so that `fastcollate --help` stays fast.
    from fastcollate.render import render_folder

    check_output_dir("--out", args.out)
    collate_options = load_collate_options(args.collate_config) if args.collate_config else {}
    written = render_folder(
        args.data, args.out, size=args.size, limit=args.limit, batch_size=args.batch,
        format=args.format, image_size=args.image_size, image_dir=args.image_dir,
        collate_options=collate_options, compare_edges=args.compare_edges, progress=not args.no_progress,
    )
    print(f"wrote {count_noun(len(written), 'PNG file')} to {args.out}")
    return 0


def load_collate_options(path):
    """Read FastDBCollateFN keyword arguments from a YAML file, dropping ``_target_``.

    Raises ``ValueError`` naming the file if the YAML is invalid (with the
    line and column of the error), the file is empty or it is not a mapping.
    """
    try:
        import yaml
    except ImportError:
        raise ValueError("--collate-config needs PyYAML: pip install pyyaml") from None
    with open(path, encoding="utf-8") as file:
        try:
            config = yaml.safe_load(file)
        except yaml.YAMLError as error:
            raise ValueError(f"{path}: invalid YAML in --collate-config, {_describe_yaml_error(error)}") from None
    if config is None:
        raise ValueError(f"{path}: the --collate-config file is empty; expected a mapping of FastDBCollateFN "
                         "keyword arguments such as 'shrink_ratio: 0.4'")
    if not isinstance(config, dict):
        raise ValueError(f"{path}: expected a mapping of FastDBCollateFN keyword arguments, got {type(config).__name__}")
    config.pop("_target_", None)
    return config


def _describe_yaml_error(error):
    """Return ``line L, column C: problem`` for a PyYAML error, 1-based, or its text without a position."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    if mark is None:
        return problem
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
