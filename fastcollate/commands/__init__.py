"""Subcommands of the ``fastcollate`` command line.

Each module defines ``NAME``, ``add_parser(subparsers)`` and ``run(args)``,
which returns the exit status. ``fastcollate.cli`` lists the modules.
"""

import argparse


def positive_int(text):
    """argparse type: an integer above zero."""
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value
