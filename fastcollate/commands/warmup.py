"""``fastcollate warmup``: compile or load every kernel ahead of training."""

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
            "directory is NUMBA_CACHE_DIR if set, else __pycache__ beside the kernels."
        ),
    )
    return parser


def run(args):
    # Imported here so that `fastcollate --help` stays fast.
    from fastcollate.warmup import warmup

    print(warmup())
    return 0
