"""Memoization of per-image targets: an in-memory LRU and an optional spill directory.

See ``docs/cache.md``.
"""

from fastcollate.cache.target_cache import TargetCache

__all__ = ["TargetCache"]
