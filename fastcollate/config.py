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
                             on. Unset or empty: all of them in the
                             main process, 1 inside a DataLoader
                             worker. Checked when the collate is built.
===========================  ===========================================
"""

import os
import re

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

    An empty value counts as unset, as it does for ``FASTCOLLATE_REFERENCE``,
    and spaces around the digits are ignored. Raises ``ValueError`` unless
    the value is a positive integer in decimal digits.
    """
    raw = os.environ.get(NUM_THREADS_VARIABLE, "")
    value = raw.strip()
    if not value:
        return None

    # int() alone would also accept "+2", "2_0" and non-ASCII digits.
    number = int(value) if re.fullmatch(r"[0-9]+", value) else 0
    if number <= 0:
        raise ValueError(
            f"environment variable {NUM_THREADS_VARIABLE}={raw!r} is invalid; accepted values are "
            "a positive integer such as 1 or 4 (threads per process), or empty or unset for the "
            "default"
        )
    return number
