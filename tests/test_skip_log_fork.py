"""Skip counts and skip warnings in forked DataLoader workers start from zero."""

import logging

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from fastcollate import FastDBCollateFN, skip_counts
from fastcollate.polygons import NON_FINITE

POLYGON_LOGGER = "fastcollate.polygons"


class NanPolygonDataset(Dataset):
    """Samples with one good square and one polygon with a NaN vertex, which the collate skips."""

    def __len__(self):
        return 2

    def __getitem__(self, index):
        bad = np.array([[np.nan, 4.0], [20.0, 4.0], [20.0, 20.0], [4.0, 20.0]], dtype=np.float32)
        good = np.array([[4, 4], [28, 4], [28, 28], [4, 28]], dtype=np.float32)
        return {"image": torch.zeros(3, 32, 32), "polygons": [good, bad],
                "image_filename": f"page_{index}.jpg", "inverse_matrix": np.eye(3)}


class RecordList(logging.Handler):
    """Logging handler that keeps the messages of the process it runs in."""

    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


class CollateWithSkipState:
    """Collate, then attach the worker's skip counts and skip warnings to the batch."""

    def __init__(self):
        self.collate = FastDBCollateFN()
        self.handler = None

    def __call__(self, batch):
        if self.handler is None:
            self.handler = RecordList()
            logging.getLogger(POLYGON_LOGGER).addHandler(self.handler)
        collated = self.collate(batch)
        collated["worker_skip_counts"] = skip_counts()
        collated["worker_warnings"] = list(self.handler.messages)
        return collated


# Python 3.12+ warns when it forks a process that runs threads, as torch does.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_forked_worker_logs_and_counts_afresh():
    dataset = NanPolygonDataset()
    before = skip_counts().get(NON_FINITE, 0)

    # The parent has now seen this reason, so without a reset at fork
    # the worker would stay silent and start from the parent's count.
    FastDBCollateFN()([dataset[0]])
    parent_counts = skip_counts()
    assert parent_counts[NON_FINITE] == before + 1

    loader = DataLoader(dataset, batch_size=2, num_workers=1, collate_fn=CollateWithSkipState(),
                        multiprocessing_context="fork", timeout=120)
    [batch] = list(loader)

    assert batch["worker_skip_counts"] == {NON_FINITE: 2}
    assert len(batch["worker_warnings"]) == 1
    assert NON_FINITE in batch["worker_warnings"][0]
    assert "sample 0 of the batch ('page_0.jpg')" in batch["worker_warnings"][0]
    assert skip_counts() == parent_counts
