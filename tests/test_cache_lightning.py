"""The Lightning callback logs the target cache summary after each validation epoch."""

import logging

import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from fastcollate import FastDBCollateFN, TargetCache
from fastcollate.synthetic import make_batch

lightning = pytest.importorskip("lightning.pytorch")

from fastcollate.cache.lightning import TargetCacheSummary  # noqa: E402


class FixedDataset(Dataset):
    def __init__(self):
        self.samples = make_batch(5, 96, 10, 4)

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        return self.samples[index]


class MapMeanModel(lightning.LightningModule):
    """A model with one weight whose validation step reads the cached maps."""

    def __init__(self, dataloader):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(()))
        self.dataloader = dataloader

    def validation_step(self, batch, batch_index):
        return (batch["prob_maps"].mean() + batch["thresh_maps"].mean()) * self.weight

    def val_dataloader(self):
        return self.dataloader


# lightning 2.6.6 calls a torch pytree check that torch 2.13 deprecates.
@pytest.mark.filterwarnings("ignore:.*LeafSpec.*:FutureWarning")
def test_summary_logged_each_validation(tmp_path, caplog):
    cache = TargetCache()
    loader = DataLoader(FixedDataset(), batch_size=2, collate_fn=FastDBCollateFN(cache=cache))
    trainer = lightning.Trainer(
        accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, callbacks=[TargetCacheSummary()], default_root_dir=tmp_path,
    )
    model = MapMeanModel(loader)

    with caplog.at_level(logging.INFO, logger="fastcollate.cache.target_cache"):
        trainer.validate(model, verbose=False)
        trainer.validate(model, verbose=False)

    lines = [record.getMessage() for record in caplog.records
             if record.name == "fastcollate.cache.target_cache"]
    assert len(lines) == 2
    assert "4 lookups, 0.0% hits" in lines[0]
    assert "4 lookups, 100.0% hits (4 memory, 0 disk)" in lines[1]
    assert cache.stats()["lookups"] == 0


def test_summary_rejects_other_objects():
    with pytest.raises(TypeError, match="expected TargetCache"):
        TargetCacheSummary({"max_bytes": 10})


class TrainedMapMeanModel(MapMeanModel):
    """MapMeanModel with a training step, for Trainer.fit."""

    def training_step(self, batch, batch_index):
        return (batch["prob_maps"].mean() - self.weight) ** 2

    def train_dataloader(self):
        return DataLoader(FixedDataset(), batch_size=2, collate_fn=FastDBCollateFN())

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


@pytest.mark.filterwarnings("ignore:.*LeafSpec.*:FutureWarning")
def test_summary_labels_sanity_check(tmp_path, caplog):
    cache = TargetCache()
    loader = DataLoader(FixedDataset(), batch_size=2, collate_fn=FastDBCollateFN(cache=cache))
    trainer = lightning.Trainer(
        accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, callbacks=[TargetCacheSummary()], default_root_dir=tmp_path,
        max_epochs=1, num_sanity_val_steps=1,
    )

    with caplog.at_level(logging.INFO, logger="fastcollate.cache.target_cache"):
        trainer.fit(TrainedMapMeanModel(loader))

    lines = [record.getMessage() for record in caplog.records
             if record.name == "fastcollate.cache.target_cache"]
    assert len(lines) == 2
    assert lines[0].startswith("Target cache, validation sanity check")
    assert "2 lookups, 0.0% hits" in lines[0]
    assert lines[1].startswith("Target cache, validation epoch 0")
    assert "4 lookups" in lines[1]
