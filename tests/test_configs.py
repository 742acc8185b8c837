"""The YAML presets in configs/ build a working collate."""

import importlib
from pathlib import Path

import pytest

from fastcollate import FastDBCollateFN

yaml = pytest.importorskip("yaml")

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def instantiate(config):
    """Build the object named by ``_target_`` as Hydra would, without Hydra."""
    module_name, _, name = config["_target_"].rpartition(".")
    target = getattr(importlib.import_module(module_name), name)
    return target(**{key: value for key, value in config.items() if key != "_target_"})


def test_db_collate_preset():
    config = yaml.safe_load((CONFIGS / "db_collate.yaml").read_text())

    collate = instantiate(config)

    assert isinstance(collate, FastDBCollateFN)
    assert collate.shrink_ratio == 0.4
    assert collate.thresh_min == 0.3
    assert collate.thresh_max == 0.7


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda path: path.name)
def test_preset_says_how_to_load_it(path):
    comments = [line for line in path.read_text().splitlines() if line.startswith("#")]

    assert any("hydra.utils.instantiate(cfg)" in line for line in comments)
