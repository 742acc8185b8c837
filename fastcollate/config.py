"""Environment variables, read in one place.

=========================  ===========================================
Variable                   Effect
=========================  ===========================================
``FASTCOLLATE_REFERENCE``  ``1`` forces the plain reference path for
                           every collate that does not set
                           ``reference=`` itself; ``0`` or unset keeps
                           the fast path.
=========================  ===========================================
"""

import os

REFERENCE_VARIABLE = "FASTCOLLATE_REFERENCE"
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
