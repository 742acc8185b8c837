"""Memoization of per-image targets: an in-memory LRU and an optional spill directory."""
