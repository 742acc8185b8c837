"""Subcommands of the ``fastcollate`` command line.

Each module defines ``NAME``, ``add_parser(subparsers)`` and ``run(args)``,
which returns the exit status. ``fastcollate.cli`` lists the modules.
"""

import argparse
from pathlib import Path


# A batch of 16 at this side needs 34 GB for the two float32 maps alone, so
# larger sides are typos (an extra zero) rather than real requests.
MAX_IMAGE_SIDE = 16384


def positive_int(text):
    """argparse type: an integer above zero."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def image_side(text):
    """argparse type: a square image side in pixels, from 1 to `MAX_IMAGE_SIDE`."""
    value = positive_int(text)
    if value > MAX_IMAGE_SIDE:
        raise argparse.ArgumentTypeError(
            f"expected at most {MAX_IMAGE_SIDE} pixels, got {text!r}; the maps of one image of "
            f"side S take 8 * S**2 bytes"
        )
    return value


def count_noun(count, noun):
    """Return ``"1 PNG file"`` or ``"2 PNG files"``: the count and the noun in the matching number."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def check_output_dir(option, path):
    """Raise ``ValueError`` unless ``path`` can be a folder the command creates or writes into.

    Checking before the work starts turns a late, bare "[Errno 17] File
    exists" into a message that names the option.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{option} {path} is an existing file; {option} must be a folder "
                         "(it is created if missing)")
    check_parents(option, path)


def check_output_file(option, path):
    """Raise ``ValueError`` unless ``path`` can be a file the command writes, creating its folders."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{option} {path} is an existing folder; {option} must be a file path, "
                         f"e.g. {path / 'result.json'}")
    check_parents(option, path)


def check_parents(option, path):
    # The nearest existing ancestor must be a folder, or creating the
    # missing folders below it fails.
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"{option} {path}: {parent} is a file, not a folder")
            return
