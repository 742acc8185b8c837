"""The one place that decides how kernels are compiled.

Every kernel is compiled with ``cache=True``, so a fresh process with a warm
cache directory (``NUMBA_CACHE_DIR`` or ``__pycache__``) pays no compile. The
numpy error model makes float division follow IEEE 754 as numpy does. Kernels
are compiled without fastmath, because it lets LLVM reassociate and contract
float operations, which changes the threshold map's last bits.
"""

import numba

JIT_OPTIONS = dict(cache=True, nogil=True, error_model="numpy", fastmath=False)


def jit(function=None, *, parallel=False):
    """Compile ``function`` with the project's kernel options."""
    decorator = numba.njit(parallel=parallel, **JIT_OPTIONS)
    if function is None:
        return decorator
    return decorator(function)
