"""Fill a spill directory with the entries of a fixed set of samples."""

from typing import NamedTuple

import numpy as np
from tqdm import tqdm

from fastcollate.cache.codec import draw_and_encode
from fastcollate.cache.key import target_key
from fastcollate.cache.masked import encode_masked
from fastcollate.cache.spill import SpillDirectory
from fastcollate.polygons import prepare_polygons
from fastcollate.profiles import BASELINE, draw_prepared_profile_targets, prepare_float_polygons
from fastcollate.targets import FAST


class PrecomputeResult(NamedTuple):
    """Entries found valid, entries written and entries that failed to write."""

    present: int
    written: int
    failed: int


def precompute(samples, cache_dir, params, max_bytes=None, progress=True):
    """Write the entry of every sample that the spill directory lacks.

    Parameters
    ----------
    samples : sequence of dict
        Collate samples with ``image`` (C, H, W), ``polygons`` and, for the
        masked profiles, optional ``ignore_tags``.
    cache_dir : str or os.PathLike
    params : fastcollate.targets.TargetParams
    max_bytes : int, optional
        Cap of the spill directory, in bytes.
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    PrecomputeResult
    """
    spill = SpillDirectory(cache_dir, max_bytes=max_bytes)
    present = written = failed = 0
    for index, sample in enumerate(tqdm(samples, desc="precompute", unit="image", disable=not progress)):
        _, height, width = sample["image"].shape
        filename = sample.get("image_filename")
        if params.profile == BASELINE:
            prepared = prepare_polygons(sample["polygons"], index, filename)
        else:
            prepared = prepare_float_polygons(sample["polygons"], sample.get("ignore_tags"), index, filename)
        key = target_key(prepared, (height, width), params)
        if spill.contains(key):
            present += 1
            continue

        entry = _draw_entry(prepared, (height, width), params)
        if spill.write(key, entry):
            written += 1
        else:
            failed += 1
    return PrecomputeResult(present, written, failed)


def _draw_entry(prepared, shape, params):
    """Draw one image's maps on the fast path and return its cache entry."""
    prob_map = np.zeros(shape, dtype=np.float32)
    thresh_map = np.zeros(shape, dtype=np.float32)
    if params.profile == BASELINE:
        _, entry = draw_and_encode(prepared, prob_map, thresh_map, params, FAST)
        return entry

    maps = (prob_map, thresh_map, np.ones(shape, dtype=np.float32), np.zeros(shape, dtype=np.float32))
    skipped = draw_prepared_profile_targets(prepared, maps, params, FAST)
    return encode_masked(maps, skipped)
