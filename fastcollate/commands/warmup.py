"""``fastcollate warmup``: compile or load every kernel ahead of training."""

import sys

NAME = "warmup"


def add_parser(subparsers):
    parser = subparsers.add_parser(
        NAME,
        help="compile every kernel into Numba's on-disk cache before training",
        description=(
            "Compile every kernel signature of the fast path, or load it if Numba's on-disk "
            "cache already has it, and print the time in seconds and the cache directory. "
            "Run it once before training (for example in a container build) so that "
            "DataLoader workers load the kernels instead of compiling them. The cache "
            "directory is NUMBA_CACHE_DIR if set, else __pycache__ beside the kernels. If "
            "NUMBA_CACHE_DIR is set but Numba caches elsewhere (it falls back silently when "
            "the variable names a file or a folder it cannot write), a warning goes to stderr."
        ),
    )
    return parser


def run(args):
    # Imported here so that `fastcollate --help` stays fast.
    from fastcollate.warmup import cache_dir_warning, warmup

    print(warmup())
    warning = cache_dir_warning()
    if warning is not None:
        print(f"fastcollate {NAME}: warning: {warning}", file=sys.stderr)
    return 0
