"""Environment variables, read in one place.

===========================  ===========================================
Variable                     Effect
===========================  ===========================================
``FASTCOLLATE_REFERENCE``    ``1`` forces the plain reference path for
                             every collate that does not set
                             ``reference=`` itself; ``0`` or unset keeps
                             the fast path.
``FASTCOLLATE_NUM_THREADS``  A positive integer: the threads that build
                             a batch's maps, for every collate that
                             does not set ``num_threads=`` itself.
                             Capped at the cores this process may run
                             on. Unset: all of them in the main process,
                             1 inside a DataLoader worker.
===========================  ===========================================
"""

import os

REFERENCE_VARIABLE = "FASTCOLLATE_REFERENCE"
NUM_THREADS_VARIABLE = "FASTCOLLATE_NUM_THREADS"
TRUE_VALUES = ("1", "true", "yes", "on")
FALSE_VALUES = ("", "0", "false", "no", "off")


def parse_flag(variable, value):
    """Return the boolean meaning of an environment flag, or raise ``ValueError``."""
    normalized = value.strip().lower()
    if normalized in TRUE_VALUES:
        return True
    if normalized in FALSE_VALUES:
        return False
    accepted = ", ".join(repr(v) for v in TRUE_VALUES + FALSE_VALUES[1:])
    raise ValueError(
        f"environment variable {variable}={value!r} is not recognised; "
        f"accepted values are {accepted} (case-insensitive), or leave it unset"
    )


def reference_requested():
    """Return True if ``FASTCOLLATE_REFERENCE`` requests the reference path."""
    return parse_flag(REFERENCE_VARIABLE, os.environ.get(REFERENCE_VARIABLE, ""))


def num_threads_requested():
    """Return the thread count set by ``FASTCOLLATE_NUM_THREADS``, or None if unset.

    Raises ``ValueError`` if the value is not a positive integer.
    """
    value = os.environ.get(NUM_THREADS_VARIABLE, "").strip()
    if not value:
        return None
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number <= 0:
        raise ValueError(
            f"environment variable {NUM_THREADS_VARIABLE}={value!r} is not a positive integer; "
            "set it to the number of threads per process (for example 1), or leave it unset"
        )
    return number
