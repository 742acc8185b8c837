"""Constructor arguments and --collate-config files that are invalid raise a clear error."""

import numpy as np
import pytest
import torch

from fastcollate import FastDBCollateFN, TargetCache
from fastcollate.cli import main
from fastcollate.targets import TargetParams

EMBEDDED_ICDAR = ["--data", "fastcollate/data/icdar2015"]


@pytest.mark.parametrize("name", ["inference_mode", "corrected_edges", "reuse_buffers", "profiling", "reference"])
@pytest.mark.parametrize("value", ["no", "maybe", "False", 0, 1, 1.0, []])
def test_collate_rejects_non_bool_flags(name, value):
    with pytest.raises(ValueError, match=f"{name} must be True") as info:
        FastDBCollateFN(**{name: value})
    assert repr(value) in str(info.value)


@pytest.mark.parametrize("value", [True, False, np.True_, np.False_])
def test_collate_accepts_real_and_numpy_bools(value):
    collate = FastDBCollateFN(inference_mode=value, corrected_edges=value, reuse_buffers=value,
                              profiling=value, reference=value)

    assert collate.inference_mode is bool(value)
    assert collate.params.corrected_edges is bool(value)
    assert collate.reference is bool(value)


def test_collate_reference_none_allowed():
    assert FastDBCollateFN(reference=None).reference is None


def test_inference_mode_string_rejected():
    with pytest.raises(ValueError, match="inference_mode must be True or False, got 'no' \\(str\\)"):
        FastDBCollateFN(inference_mode="no")
    batch = FastDBCollateFN(inference_mode=np.False_)([{
        "image": torch.zeros(3, 32, 32), "image_filename": "a.png", "inverse_matrix": np.eye(3),
        "polygons": [np.array([[2, 2], [28, 2], [28, 28], [2, 28]], np.float32)],
    }])
    assert float(batch["prob_maps"].sum()) > 0


def test_target_params_rejects_string_flag():
    with pytest.raises(ValueError, match="corrected_edges must be True or False, got 'no'"):
        TargetParams(corrected_edges="no")


def test_target_params_rejects_inverted_thresholds():
    with pytest.raises(ValueError, match="thresh_min must not exceed thresh_max") as info:
        TargetParams(thresh_min=0.7, thresh_max=0.3)
    assert "thresh_min=0.7" in str(info.value)
    assert "thresh_max=0.3" in str(info.value)
    with pytest.raises(ValueError, match="thresh_min must not exceed thresh_max"):
        FastDBCollateFN(thresh_min=0.9, thresh_max=0.1)
    assert TargetParams(thresh_min=0.5, thresh_max=0.5).thresh_min == 0.5


def test_target_cache_rejects_string_read_only(tmp_path):
    with pytest.raises(ValueError, match="read_only must be True or False, got 'no'"):
        TargetCache(spill_dir=tmp_path, read_only="no")
    assert TargetCache(spill_dir=tmp_path, read_only=np.True_).read_only is True


# --collate-config files


def render_with_config(tmp_path, text):
    config = tmp_path / "collate.yaml"
    config.write_text(text, encoding="utf-8")
    status = main(["render", *EMBEDDED_ICDAR, "--out", str(tmp_path / "pictures"), "--limit", "1",
                   "--size", "64", "--no-progress", "--collate-config", str(config)])
    return status, config


def test_config_quoted_bool_rejected(tmp_path, capsys):
    status, _ = render_with_config(tmp_path, 'inference_mode: "no"\n')

    assert status == 2
    assert "inference_mode must be True or False, got 'no' (str)" in capsys.readouterr().err


def test_config_yaml_syntax_error_names_position(tmp_path, capsys):
    status, config = render_with_config(tmp_path, "shrink_ratio: 0.4\nthresh_min: [1,2\n")

    assert status == 2
    error = capsys.readouterr().err
    assert f"{config}: invalid YAML" in error
    assert "line 3, column 1" in error
    assert "Traceback" not in error


def test_config_empty_file_rejected(tmp_path, capsys):
    status, config = render_with_config(tmp_path, "# nothing set\n")

    assert status == 2
    error = capsys.readouterr().err
    assert f"{config}: the --collate-config file is empty" in error
    assert "NoneType" not in error
