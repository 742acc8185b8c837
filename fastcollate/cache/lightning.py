"""A Lightning callback that logs the target cache summary at the end of each epoch.

The collate receives only batches and cannot tell when an epoch ends, but a
Lightning ``Trainer`` can. Requires the ``lightning`` package.
"""

from lightning.pytorch.callbacks import Callback

from fastcollate.cache.target_cache import TargetCache


class TargetCacheSummary(Callback):
    """Log one INFO line per target cache at the end of every train and validation epoch.

    The validation sanity check that ``Trainer.fit`` runs before training
    gets its own line, labelled "validation sanity check".

    Parameters
    ----------
    *caches : TargetCache
        The caches to report. With none, the callback reports the cache of
        every dataloader of the epoch whose ``collate_fn`` has a ``cache``
        attribute, as ``FastDBCollateFN`` does.
    reset : bool, default True
        Reset each cache's counters after logging, so that every line covers
        one epoch.
    """

    def __init__(self, *caches, reset=True):
        for cache in caches:
            if not isinstance(cache, TargetCache):
                raise TypeError(f"expected TargetCache instances, got {type(cache).__name__}")
        self.caches = caches
        self.reset = reset

    def on_train_epoch_end(self, trainer, pl_module):
        self._log(trainer.train_dataloader, f"Target cache, train epoch {trainer.current_epoch}")

    def on_validation_epoch_end(self, trainer, pl_module):
        # fit() runs a few validation batches before training starts, also with
        # current_epoch 0, so they get a label of their own to keep epoch 0 from showing twice.
        if trainer.sanity_checking:
            prefix = "Target cache, validation sanity check"
        else:
            prefix = f"Target cache, validation epoch {trainer.current_epoch}"
        self._log(trainer.val_dataloaders, prefix)

    def _log(self, dataloaders, prefix):
        caches = self.caches or find_caches(dataloaders)
        for cache in caches:
            cache.log_summary(prefix)
            if self.reset:
                cache.reset_stats()


def find_caches(dataloaders):
    """Return the distinct target caches of a dataloader or a collection of them."""
    if dataloaders is None:
        return []
    if isinstance(dataloaders, dict):
        dataloaders = list(dataloaders.values())
    elif not isinstance(dataloaders, (list, tuple)):
        dataloaders = [dataloaders]

    caches = []
    for dataloader in dataloaders:
        cache = getattr(getattr(dataloader, "collate_fn", None), "cache", None)
        if isinstance(cache, TargetCache) and all(cache is not known for known in caches):
            caches.append(cache)
    return caches
