"""Run directories written by rnnmem before options moved to their classes (main 5c0d317, flat
config.json) still load, plot, analyse and resume.

tests/data/legacy-runs was written by that code: an LT-IRNN on adding T = 6 with Henaff's
penalty (``ortho_lr``), once finished and once killed after its step-10 checkpoint.
"""

import json
import shutil
from pathlib import Path

import pytest
import torch

from rnnmem.cli import main
from rnnmem.config import TrainConfig, is_legacy
from rnnmem.rundir import RunDir

RUNS = Path(__file__).parent / "data" / "legacy-runs"


def test_a_flat_config_json_is_read_as_its_options():
    saved = json.loads((RUNS / "finished" / "config.json").read_text())
    assert is_legacy(saved) and "ortho_lr" in saved
    config = TrainConfig.from_dict(saved)
    assert config.task_options == dict(T=6, placement="anywhere", channels="value-mark")
    options = config.model_options
    assert (options["init"], options["input_activation"]) == ("identity", "relu")
    assert (options["penalty_lr"], options["penalty_points"]) == (1e-2, 4)  # renamed
    assert config.optimizer_options == dict(decay=0.9, eps=1e-8)
    assert "pool" not in options and "bias" not in options  # other models' settings: dropped
    assert config.matches(saved) and config.matches(config.to_dict())


def test_a_finished_legacy_run_is_verified_plotted_and_analysed(tmp_path, capsys):
    run = tmp_path / "finished"
    shutil.copytree(RUNS / "finished", run)
    assert RunDir(run).damage() is None
    assert main(["train", "--resume", str(run)]) == 0
    assert "already finished" in capsys.readouterr().out
    assert main(["plot", str(run), "-o", str(tmp_path / "c.png")]) == 0
    assert (tmp_path / "c.png").stat().st_size > 0
    assert main(["memory", "analyze", str(run), "--out", str(tmp_path / "a")]) == 0


def test_an_interrupted_legacy_run_resumes_to_the_uninterrupted_numbers(tmp_path):
    run = tmp_path / "interrupted"
    shutil.copytree(RUNS / "interrupted", run)
    assert main(["train", "--resume", str(run), "--quiet"]) == 0
    # the old code's uninterrupted run (floats may differ in their last bits on another CPU)
    got, expected = RunDir(run).metrics(), RunDir(RUNS / "finished").metrics()
    assert [r["step"] for r in got] == [r["step"] for r in expected]
    for a, b in zip(got, expected, strict=True):
        assert float(a["val_loss"]) == pytest.approx(float(b["val_loss"]), rel=1e-3)
    weights = torch.load(run / "model.pt", weights_only=True)
    reference = torch.load(RUNS / "finished" / "model.pt", weights_only=True)
    assert weights.keys() == reference.keys()
    for key in weights:
        assert torch.allclose(weights[key], reference[key], atol=1e-4), key
