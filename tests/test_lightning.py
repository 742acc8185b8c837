"""The Lightning callback under a real Trainer with DataLoader workers."""

import pytest
import torch
from torch.utils.data import DataLoader

from fastcollate import FastDBCollateFN
from fastcollate.cache import TargetCache
from fastcollate.synthetic import make_batch

lightning = pytest.importorskip("lightning")

from lightning.pytorch.loggers import Logger  # noqa: E402

from fastcollate.lightning import CollateStatsMonitor  # noqa: E402

# Lightning 2.6.6 on torch 2.13 warns about its own use of torch's pytree
# API, and about small DataLoaders, neither of which this test controls.
pytestmark = [
    pytest.mark.filterwarnings("ignore:`isinstance\\(treespec, LeafSpec\\)` is deprecated:FutureWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning:lightning"),
]

EPOCHS = 2
BATCHES = 3
BATCH_SIZE = 2


class RecordingLogger(Logger):
    """A Lightning logger that keeps every logged metric dict in memory."""

    def __init__(self):
        super().__init__()
        self.records = []

    @property
    def name(self):
        return "recording"

    @property
    def version(self):
        return 0

    def log_hyperparams(self, params, *args, **kwargs):
        pass

    def log_metrics(self, metrics, step=None):
        self.records.append((step, dict(metrics)))


class TinyDetector(lightning.LightningModule):
    """One convolution from the image to the prob map, enough to train a step."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 1, kernel_size=3, padding=1)

    def training_step(self, batch, batch_index):
        prediction = torch.sigmoid(self.conv(batch["images"]))
        return torch.nn.functional.binary_cross_entropy(prediction, batch["prob_maps"])

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def collate_metrics(records):
    return [metrics for _, metrics in records if "fastcollate/collate_ms_per_batch" in metrics]


def test_callback_logs_each_epoch_with_workers(tmp_path):
    samples = make_batch(7, 64, 5, BATCHES * BATCH_SIZE)
    # Workers start afresh each epoch, so the second epoch hits the spill files.
    collate = FastDBCollateFN(profiling=True, cache=TargetCache(spill_dir=tmp_path / "spill"))
    loader = DataLoader(samples, batch_size=BATCH_SIZE, num_workers=2, collate_fn=collate)
    recorder = RecordingLogger()
    monitor = CollateStatsMonitor()
    trainer = lightning.Trainer(
        accelerator="cpu", devices=1, max_epochs=EPOCHS, logger=recorder, callbacks=[monitor],
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        default_root_dir=tmp_path, log_every_n_steps=1,
    )

    trainer.fit(TinyDetector(), loader)

    epochs = collate_metrics(recorder.records)
    assert len(epochs) == EPOCHS
    assert monitor.collate is collate
    for metrics in epochs:
        assert metrics["fastcollate/collate_ms_per_batch"] > 0
        assert metrics["fastcollate/cache_ms_per_batch"] > 0
        assert metrics["fastcollate/peak_rss_mib"] > 0
    assert epochs[0]["fastcollate/cache_hit_rate"] == 0.0
    assert epochs[1]["fastcollate/cache_hit_rate"] == 1.0
    # A miss draws inside the cache, so no image reaches the threshold stage.
    assert "fastcollate/threshold_ms_per_batch" not in epochs[0]
    # Only workers collated, so every count came across the process boundary.
    stats = collate.profiling_stats()
    assert stats["batches"] == EPOCHS * BATCHES
    assert stats["images"] == EPOCHS * BATCHES * BATCH_SIZE
    # Each epoch logs its own skips, not the running total.
    logged_skips = sum(metrics["fastcollate/skipped_polygons"] for metrics in epochs)
    assert logged_skips == sum(stats["skipped"].values())


def test_callback_without_profiled_collate(tmp_path):
    loader = DataLoader(make_batch(7, 32, 2, 2), batch_size=2, collate_fn=FastDBCollateFN())
    trainer = lightning.Trainer(
        accelerator="cpu", max_epochs=1, logger=False, callbacks=[CollateStatsMonitor()],
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        default_root_dir=tmp_path,
    )

    with pytest.raises(ValueError, match="profiling=True"):
        trainer.fit(TinyDetector(), loader)
