"""Checks of constructor arguments shared by the public classes."""

import numpy as np


def check_bool(name, value, allow_none=False):
    """Return ``value`` as a Python bool, or raise ``ValueError`` naming the argument.

    Accepts ``True``, ``False`` and numpy bools, and None when ``allow_none``
    is set. Strings such as ``"no"`` are rejected rather than taken by their
    truth value, because ``bool("no")`` is True.
    """
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    expected = "True, False or None" if allow_none else "True or False"
    raise ValueError(f"{name} must be {expected}, got {value!r} ({type(value).__name__})")
