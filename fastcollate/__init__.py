"""Bit-exact, Numba-compiled DBNet training targets and a drop-in collate function.

>>> from fastcollate import FastDBCollateFN
>>> loader = torch.utils.data.DataLoader(dataset, batch_size=16,
...                                      collate_fn=FastDBCollateFN())  # doctest: +SKIP
"""

from fastcollate.cache import TargetCache
from fastcollate.collate import FastDBCollateFN
from fastcollate.polygons import SKIP_REASONS, skip_counts
from fastcollate.profiles import PROFILES
from fastcollate.profiling import collect_stats, save_stats
from fastcollate.targets import TargetParams, make_db_targets
from fastcollate.warmup import warmup

__version__ = "0.1.0"

__all__ = [
    "FastDBCollateFN",
    "PROFILES",
    "SKIP_REASONS",
    "TargetCache",
    "TargetParams",
    "collect_stats",
    "make_db_targets",
    "save_stats",
    "skip_counts",
    "warmup",
]
