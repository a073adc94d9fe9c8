import csv
import json
import math

import pytest
import torch

from rnnmem.rundir import METRIC_COLUMNS
from rnnmem.train import (
    TrainConfig,
    find_learning_rate,
    orthogonality_penalty,
    probe_diverged,
    train,
)

TINY = dict(task="copy", T=8, S=3, K=4, hidden=12, batch=8, steps=30, eval_every=10,
            val_size=16)


def read_metrics(run_dir):
    with open(run_dir / "metrics.csv") as f:
        return list(csv.DictReader(f))


def test_evaluating_more_often_does_not_change_training(tmp_path):
    # denser evaluations (for a final figure read at the end of training) cost time, not results
    weights = []
    for every in (3, 30):
        train(TrainConfig(**{**TINY, "eval_every": every}), tmp_path / str(every))
        weights.append(torch.load(tmp_path / str(every) / "model.pt", weights_only=True))
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_a_non_finite_evaluation_does_not_stop_training(tmp_path, monkeypatch):
    # a language model's state can overflow on a long val stream during a loss spike while its
    # training loss stays finite; divergence is the training loss's, so the run trains on
    from rnnmem import train as train_module
    evaluate, calls = train_module.TaskWorkload.evaluate, []

    def nan_once(self, model):
        calls.append(1)
        return (math.nan, math.nan) if len(calls) == 2 else evaluate(self, model)

    monkeypatch.setattr(train_module.TaskWorkload, "evaluate", nan_once)
    summary = train(TrainConfig(**TINY), tmp_path / "nan")
    assert summary["status"] == "completed" and summary["steps"] == 30
    assert math.isnan(float(read_metrics(tmp_path / "nan")[1]["val_loss"]))
    monkeypatch.undo()
    train(TrainConfig(**TINY), tmp_path / "plain")  # and the evaluation changed nothing
    weights = [torch.load(tmp_path / d / "model.pt", weights_only=True) for d in ("nan", "plain")]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_run_directory_contents(tmp_path):
    summary = train(TrainConfig(**TINY), tmp_path)
    assert json.loads((tmp_path / "config.json").read_text())["task_options"]["T"] == 8
    rows = read_metrics(tmp_path)
    assert list(rows[0]) == list(METRIC_COLUMNS)
    assert [int(r["step"]) for r in rows] == [0, 10, 20, 30]
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert set(saved.pop("integrity")) == {"summary", "weights", "config", "metrics"}
    assert saved == summary
    assert summary["status"] == "completed" and summary["steps"] == 30
    assert summary["baseline"] == pytest.approx(3 * torch.log(torch.tensor(4.0)).item() / 14)
    assert float(rows[-1]["val_ratio"]) == pytest.approx(summary["last_val_ratio"])
    ratios = sorted(float(r["val_ratio"]) for r in rows[1:])  # the median of the 3 evaluations
    assert summary["final_val_ratio"] == pytest.approx(ratios[1]) and summary["final_evals"] == 3
    assert (tmp_path / "model.pt").is_file()
    # the kernel path the numbers hold on: instruction set as torch dispatches it, torch build
    capability = torch.backends.cpu.get_cpu_capability()
    assert summary["kernel_path"].startswith("cpu ") and capability in summary["kernel_path"]
    assert summary["kernel_path"].endswith(f"torch {torch.__version__}")


def test_same_seed_same_numbers(tmp_path):
    a = train(TrainConfig(**TINY, seed=3), tmp_path / "a")
    b = train(TrainConfig(**TINY, seed=3), tmp_path / "b")
    c = train(TrainConfig(**TINY, seed=4), tmp_path / "c")
    drop = ("seconds",)
    rows_a = [{k: v for k, v in r.items() if k not in drop} for r in read_metrics(tmp_path / "a")]
    rows_b = [{k: v for k, v in r.items() if k not in drop} for r in read_metrics(tmp_path / "b")]
    assert rows_a == rows_b
    assert a["final_val_loss"] == b["final_val_loss"] != c["final_val_loss"]


def test_training_lowers_the_loss_on_adding(tmp_path):
    config = TrainConfig(task="adding", T=10, model="lt-rnn", init="identity",
                         input_activation="relu", hidden=16, lr=1e-3, steps=600, eval_every=100,
                         batch=32, val_size=200)
    summary = train(config, tmp_path)
    assert summary["final_val_ratio"] < 0.5 and summary["solved"]


def test_huge_learning_rate_is_reported_as_divergence(tmp_path):
    config = TrainConfig(**{**TINY, "steps": 200}, model="srnn", activation="relu",
                         init="identity", gain=3.0, clip=None, lr=1e6)
    summary = train(config, tmp_path)
    assert summary["status"] == "diverged"
    assert 1 <= summary["diverged_at"] <= 200 and not summary["solved"]


def test_exploding_loss_counts_as_divergence_only_when_asked(tmp_path):
    # relu sRNN, identity ×1.5, no clipping: the state grows ~1.5^T without overflowing
    config = dict(task="adding", T=60, model="srnn", activation="relu", init="identity",
                  gain=1.5, clip=None, hidden=8, batch=8, steps=20, eval_every=10,
                  val_size=16, lr=1e-4)
    summary = train(TrainConfig(**config, explosion=1e6), tmp_path / "rule")
    assert summary["status"] == "diverged" and summary["diverged_at"] == 1
    summary = train(TrainConfig(**config), tmp_path / "default")  # finite: it trains on
    assert summary["status"] == "completed" and summary["final_val_ratio"] > 1e6


def test_early_stop(tmp_path):
    config = TrainConfig(task="adding", T=6, init="identity", input_activation="relu", hidden=8,
                         lr=3e-3, steps=2000, eval_every=20, batch=32, stop_ratio=0.5)
    summary = train(config, tmp_path)
    assert summary["status"] == "early-stopped" and summary["steps"] < 2000
    assert summary["final_val_ratio"] < 0.5


def test_orthogonality_penalty_formula_and_step():
    g = torch.Generator().manual_seed(0)
    V = torch.randn(6, 6, generator=g, dtype=torch.float64)
    x = torch.randn(4, 6, generator=g, dtype=torch.float64)
    x = x / x.norm(dim=1, keepdim=True)
    M = V.t() @ V - torch.eye(6, dtype=torch.float64)
    expected = sum((M @ xi).pow(2).sum() for xi in x) / 4
    assert orthogonality_penalty(V, x).item() == pytest.approx(expected.item())
    Q = torch.linalg.qr(V).Q
    assert orthogonality_penalty(Q, x).item() < 1e-20


def test_orthogonality_penalty_keeps_v_near_orthogonal(tmp_path):
    def drift(penalty_lr):
        config = TrainConfig(**{**TINY, "steps": 150}, lr=1e-2, penalty_lr=penalty_lr,
                             penalty_points=16, model="lt-rnn-pool")
        train(config, tmp_path / str(penalty_lr))
        state = torch.load(tmp_path / str(penalty_lr) / "model.pt", weights_only=True)
        V = state["rnn.V"]
        return (V.t() @ V - torch.eye(12)).norm().item()

    assert drift(0.05) < 0.5 * drift(0.0)


def test_lr_protocol_picks_largest_stable_rate(tmp_path):
    config = TrainConfig(**TINY, model="srnn", activation="relu", init="identity", clip=None)
    lr, trials = find_learning_rate(config, tmp_path, grid=(1e4, 1e-3, 1e-4), probe_steps=40)
    assert [t["lr"] for t in trials] == [1e4, 1e-3]
    assert trials[0]["diverged"] and not trials[1]["diverged"]
    assert lr == 1e-3
    assert (tmp_path / "lr-10000" / "summary.json").is_file()
    # a search run again (as after a kill) keeps its finished probes
    stamps = {p: p.stat().st_mtime_ns for p in tmp_path.glob("lr-*/summary.json")}
    assert find_learning_rate(config, tmp_path, grid=(1e4, 1e-3, 1e-4), probe_steps=40) == (
        lr, trials)
    assert {p: p.stat().st_mtime_ns for p in tmp_path.glob("lr-*/summary.json")} == stamps


def test_probe_divergence_rule():
    base = dict(status="completed", initial_train_loss=1.0)
    assert probe_diverged({**base, "final_train_loss": 2.5})
    assert not probe_diverged({**base, "final_train_loss": 0.5})
    assert probe_diverged({**base, "status": "diverged", "final_train_loss": 0.1})


@pytest.mark.parametrize("bad, message", [
    (dict(T=-1), "T must be a positive integer"),
    (dict(lr=0.0), "lr must be > 0"),
    (dict(task="sort"), "valid tasks: copy, varcopy, adding"),
    (dict(model="transformer"), "valid models"),
    (dict(init="unitary"), "unknown init 'unitary'"),
    (dict(model="lstm", init="identity"), "valid: gaussian, plain, orthogonal, chain, mixed"),
    (dict(model="lstm", input_bias=-1.0), "'input_bias' is not a run setting nor an option of "
                                          "task copy, model lstm"),
    (dict(model="lt-rnn", bias=True), "'bias' is not a run setting nor an option"),
    (dict(final_evals=0), "final_evals must be a positive integer"),
    (dict(explosion=-1.0), "explosion must be > 0"),
    (dict(task="varcopy", T=5, S=10), "S <= T"),
    (dict(model="lt-rnn-pool", hidden=9, pool=2), "divisible"),
    (dict(model="srnn", activation="none"), "not valid for srnn"),
    (dict(decay=1.0), r"decay must be in \[0, 1\)"),
    (dict(optimizer="adam", decay=0.9), "nor an option of task copy, model lt-rnn or optimizer "
                                        "adam"),
    (dict(clip=-3.0), "clip must be > 0"),
    (dict(task="ptb-char", model="gru", init="plain"),
     "language models take lt-rnn, srnn, lstm layers, not gru"),
    (dict(model="nnrnn", init="henaff", hidden=7), "nnrnn needs an even hidden size"),
])
def test_invalid_config(bad, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**bad)


def test_from_dict_rejects_unknown_keys():
    with pytest.raises(ValueError, match="'hiden' is not a run setting nor an option"):
        TrainConfig.from_dict({"hiden": 3})


def test_loggers_get_every_metrics_row_and_change_nothing(tmp_path):
    from rnnmem.rundir import RunDir

    config = TrainConfig(task="copy", T=5, S=2, K=3, hidden=6, steps=6, eval_every=2,
                         val_size=8, batch=4)
    seen = []
    plain = train(config, tmp_path / "plain")
    logged = train(config, tmp_path / "logged", loggers=[seen.append])
    written = RunDir(tmp_path / "logged").metrics()  # metrics.csv keeps 6 significant digits
    assert [r["step"] for r in seen] == [r["step"] for r in written] == [0, 2, 4, 6]
    for key in ("train_loss", "val_loss", "val_ratio", "val_metric"):
        assert [r[key] for r in seen] == pytest.approx([r[key] for r in written], rel=1e-5)
    assert (tmp_path / "plain" / "model.pt").read_bytes() == (
        tmp_path / "logged" / "model.pt").read_bytes()
    assert plain["final_val_loss"] == logged["final_val_loss"]


def test_tensorboard_scalars_are_the_metrics(tmp_path, capsys):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from rnnmem.cli import main
    from rnnmem.rundir import RunDir

    run = tmp_path / "run"
    assert main(["train", "--task", "copy", "--T", "5", "--S", "2", "--K", "3", "--hidden", "6",
                 "--steps", "4", "--eval-every", "2", "--val-size", "8", "--batch", "4",
                 "--out", str(run), "--quiet", "--tensorboard"]) == 0
    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    rows = RunDir(run).metrics()
    for key in ("train_loss", "val_loss", "val_ratio", "val_metric"):
        scalars = events.Scalars(key)
        assert [s.step for s in scalars] == [int(r["step"]) for r in rows]
        assert [s.value for s in scalars] == pytest.approx([r[key] for r in rows], rel=1e-5)
    assert RunDir(run).verify() is not None  # the run's own files are untouched


def test_the_lru_trains_under_its_reference_codes_recipe():
    from rnnmem.build import make_model, make_task
    from rnnmem.loop import make_optimizer

    config = TrainConfig(task="copy", T=5, model="lru", hidden=8, lr=1e-3)
    assert config.optimizer == "adamw" and config.optimizer_options == {"weight_decay": 0.05}
    optimizer = make_optimizer(config, make_model(config, make_task(config)))
    assert isinstance(optimizer, torch.optim.AdamW)
    groups = [(len(g["params"]), g["lr"], g["weight_decay"]) for g in optimizer.param_groups]
    # ν, θ, γ, B_re, B_im at half the rate, undecayed; C_re, C_im, D and the readout decayed
    assert groups == [(5, 5e-4, 0.0), (3, 1e-3, 0.05), (2, 1e-3, 0.05)]
    assert TrainConfig(task="copy", T=5, model="lru", optimizer="rmsprop").optimizer == "rmsprop"
    assert TrainConfig.from_dict(config.to_dict()) == config
    assert TrainConfig(task="copy", T=5).optimizer == "rmsprop"  # every other model: Henaff's
