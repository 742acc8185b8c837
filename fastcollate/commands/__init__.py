"""Subcommands of the ``fastcollate`` command line.

Each module defines ``NAME``, ``add_parser(subparsers)`` and ``run(args)``,
which returns the exit status. ``fastcollate.cli`` lists the modules.
"""

import argparse


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
