"""Fill a spill directory with the entries of a fixed set of samples."""

from typing import NamedTuple

import numpy as np
from tqdm import tqdm

from fastcollate.cache.codec import draw_and_encode
from fastcollate.cache.key import target_key
from fastcollate.cache.spill import SpillDirectory
from fastcollate.polygons import prepare_polygons
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
        Collate samples with ``image`` (C, H, W) and ``polygons``.
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
        prepared = prepare_polygons(sample["polygons"], index, sample.get("image_filename"))
        key = target_key(prepared, (height, width), params)
        if spill.contains(key):
            present += 1
            continue

        prob_map = np.zeros((height, width), dtype=np.float32)
        thresh_map = np.zeros((height, width), dtype=np.float32)
        _, entry = draw_and_encode(prepared, prob_map, thresh_map, params, FAST)
        if spill.write(key, entry):
            written += 1
        else:
            failed += 1
    return PrecomputeResult(present, written, failed)
