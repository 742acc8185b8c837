"""The ``fastcollate`` command line."""

import argparse
import logging
import sys

from fastcollate.commands import bench, compare, loader_bench, precompute, render, report, warmup
from fastcollate.optional import MissingDependencyError

# One module per subcommand, in the order ``--help`` lists them.
COMMANDS = (bench, precompute, render, compare, report, warmup, loader_bench)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="fastcollate",
        description="Bit-exact, fast DBNet training targets. Run a command with --help for details.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv=None):
    """Run the ``fastcollate`` command; return its exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    runners = {command.NAME: command.run for command in COMMANDS}
    try:
        return runners[args.command](args)
    except (OSError, ValueError, MissingDependencyError) as error:
        print(f"fastcollate {args.command}: {error}", file=sys.stderr)
        return 2
    except (MemoryError, RuntimeError) as error:
        if not isinstance(error, MemoryError) and not is_allocation_error(error):
            raise
        print(f"fastcollate {args.command}: out of memory ({error or type(error).__name__}); "
              "use a smaller --size or --batch", file=sys.stderr)
        return 2


def is_allocation_error(error):
    """Return True if a RuntimeError from PyTorch or numpy reports a failed memory allocation."""
    message = str(error).lower()
    return any(phrase in message for phrase in ("can't allocate memory", "unable to allocate", "out of memory"))


if __name__ == "__main__":
    sys.exit(main())
