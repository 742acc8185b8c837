"""Command-line options that select a dataset folder, shared by the subcommands that read one."""

import argparse

from fastcollate.readers import FORMATS

DATA_HELP = (
    "dataset folder or annotation file: ICDAR 2015 or SROIE (gt_img_N.txt or NAME.txt beside "
    "each image), CTW1500 (NAME.txt with 14-point polygons), WildReceipt (train.txt in JSON "
    "Lines) or receipt JSON (*.json with images, words and points); the format is detected"
)


def image_size(text):
    """argparse type: ``WIDTHxHEIGHT`` in pixels, returned as ``(height, width)``."""
    parts = text.lower().split("x")
    try:
        width, height = (int(part) for part in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT in pixels such as 1280x720, got {text!r}") from None
    if width <= 0 or height <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive WIDTHxHEIGHT, got {text!r}")
    return height, width


def add_dataset_arguments(parser):
    """Add ``--format``, ``--image-dir`` and ``--image-size`` to ``parser``."""
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="annotation format (default: detected from the files)")
    parser.add_argument("--image-dir", metavar="DIR", default=None,
                        help="folder with the images, if they are not beside the annotations "
                             "(default: the annotation folder)")
    parser.add_argument("--image-size", metavar="WIDTHxHEIGHT", type=image_size, default=None,
                        help="size in pixels of images missing from the folder, such as 1280x720 for "
                             "ICDAR 2015 test ground truth; sizes are otherwise read from the image "
                             "files or the annotation (default: none, a missing image is an error)")
