"""A PyTorch Lightning callback that logs the collate's profiling statistics.

Needs the ``lightning`` extra (``pip install fastcollate[lightning]``)::

    collate = FastDBCollateFN(profiling=True)
    loader = DataLoader(dataset, batch_size=16, num_workers=4, collate_fn=collate)
    trainer = lightning.Trainer(callbacks=[CollateStatsMonitor()])
    trainer.fit(model, loader)
"""

import logging

from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import rank_zero_only
from torch.utils.data import DataLoader

from fastcollate.profiling import STAGES, summarize

logger = logging.getLogger(__name__)

MIB = 2**20


class CollateStatsMonitor(Callback):
    """Log collate time per batch, the stage breakdown, cache hit rate and memory each epoch.

    At the end of every training epoch the callback logs, to every logger the
    trainer has, the statistics of the batches collated since the previous
    epoch's end, in all DataLoader workers together:
    ``{prefix}collate_ms_per_batch``, ``{prefix}<stage>_ms_per_batch`` for
    each stage that took time, ``{prefix}images_per_second`` (per collating
    process), ``{prefix}skipped_polygons``, ``{prefix}cache_hit_rate`` once
    the target cache was used and ``{prefix}peak_rss_mib``, the high-water
    resident memory of the largest collating process so far.

    Parameters
    ----------
    collate : FastDBCollateFN, optional
        The collate to read. Default: the first collate built with
        ``profiling=True`` among the trainer's training DataLoaders.
    prefix : str, default "fastcollate/"
        Prefix of every metric name.

    Notes
    -----
    Batches that workers built ahead of the epoch's end count in the epoch
    in which they were built. Each process of a multi-device run has its own
    collate and workers. Only global rank 0 logs, so its metrics cover its
    own DataLoader.
    """

    def __init__(self, collate=None, prefix="fastcollate/"):
        self.collate = collate
        self.prefix = prefix
        self.last_metrics = {}
        self._previous = None

    def on_train_start(self, trainer, pl_module):
        if self.collate is None:
            self.collate = find_profiled_collate(trainer.train_dataloader)
        if getattr(self.collate, "profiler", None) is None:
            raise ValueError(
                "CollateStatsMonitor found no FastDBCollateFN built with profiling=True in the "
                "training DataLoader; pass collate_fn=FastDBCollateFN(profiling=True) to the "
                "DataLoader or the collate to CollateStatsMonitor(collate=...)"
            )
        self._previous = self.collate.profiler.values(getattr(self.collate, "cache", None))

    def on_train_epoch_end(self, trainer, pl_module):
        if self._previous is None:
            return
        current = self.collate.profiler.values(getattr(self.collate, "cache", None))
        delta = {name: value - self._previous[name] for name, value in current.items()}
        # The peak is a maximum, not a running sum.
        delta["peak_rss_bytes"] = current["peak_rss_bytes"]
        # NOTE: the cache counts come from the cache's own counters. If
        # another callback, such as TargetCacheSummary, resets them before
        # this one runs, the epoch's counts are lost, so list this callback first.
        if current["cache_hits"] < self._previous["cache_hits"] or \
                current["cache_misses"] < self._previous["cache_misses"]:
            delta["cache_hits"] = current["cache_hits"]
            delta["cache_misses"] = current["cache_misses"]
        self._previous = current

        self.last_metrics = epoch_metrics(summarize(delta), self.prefix)
        self._log(trainer, self.last_metrics)

    @rank_zero_only
    def _log(self, trainer, metrics):
        for trainer_logger in trainer.loggers:
            trainer_logger.log_metrics(metrics, step=trainer.global_step)
        logger.debug("Logged collate statistics of epoch %d: %s", trainer.current_epoch, metrics)


def epoch_metrics(stats, prefix):
    """Return the flat metric dict of one epoch's statistics."""
    metrics = {
        f"{prefix}collate_ms_per_batch": stats["collate_ms_per_batch"],
        f"{prefix}images_per_second": stats["images_per_second"],
        f"{prefix}skipped_polygons": float(sum(stats["skipped"].values())),
        f"{prefix}peak_rss_mib": stats["peak_rss_bytes"] / MIB,
    }
    for stage in STAGES + ("other",):
        if stats["stages"][stage]["total_ms"] > 0:
            metrics[f"{prefix}{stage}_ms_per_batch"] = stats["stages"][stage]["ms_per_batch"]
    if stats["cache"]["hit_rate"] is not None:
        metrics[f"{prefix}cache_hit_rate"] = stats["cache"]["hit_rate"]
    return metrics


def find_profiled_collate(dataloaders):
    """Return the first collate with a profiler among DataLoaders in nested lists and dicts, or None."""
    if isinstance(dataloaders, DataLoader):
        collate = dataloaders.collate_fn
        return collate if getattr(collate, "profiler", None) is not None else None
    if isinstance(dataloaders, dict):
        dataloaders = list(dataloaders.values())
    if isinstance(dataloaders, (list, tuple)):
        for item in dataloaders:
            found = find_profiled_collate(item)
            if found is not None:
                return found
    return None
