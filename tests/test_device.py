"""Devices (rnnmem.device): a run's every tensor on its device, random numbers on the CPU.

No GPU here: the training step of every registered model runs on the meta device (shapes and
devices, no data) under a dispatch mode that records the device of every tensor each aten op
makes. Outside the drawing of random numbers (batches, Henaff's penalty vectors: CPU generators
by design), a tensor made on the CPU is one the code forgot to put on the run's device.
"""

from __future__ import annotations

import types

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

from rnnmem import registry
from rnnmem.build import make_model, make_task
from rnnmem.cli import main
from rnnmem.config import TrainConfig
from rnnmem.device import DeviceUnavailable, check_device, require_device, resolve_device
from rnnmem.lm import LanguageModel, LMWorkload
from rnnmem.loop import make_optimizer, update
from rnnmem.nn import ltrnn as cells
from rnnmem.train import TaskWorkload, train


class DeviceRecorder(TorchDispatchMode):
    """Records (op, device) of every tensor an aten op returns, and whether it was made while
    random numbers were being drawn (``drawing``)."""

    def __init__(self):
        super().__init__()
        self.made, self.drawing = [], False

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor):
                self.made.append((str(func), t.device.type, t.dim(), self.drawing))
        return out

    def drawn(self, fn):
        def wrapped(*args, **kwargs):
            self.drawing, was = True, self.drawing
            try:
                return fn(*args, **kwargs)
            finally:
                self.drawing = was
        return wrapped

    def strays(self, device: str) -> list[str]:
        # a 0-dim CPU tensor (the optimizer's step count) goes with any device's, by design
        return sorted({op for op, made_on, dim, drawing in self.made
                       if made_on != device and not drawing and dim > 0})


@pytest.mark.parametrize("task", ["copy", "adding"])
@pytest.mark.parametrize("model", sorted(registry.model_specs()))
def test_a_training_step_makes_every_tensor_on_the_run_device(monkeypatch, task, model):
    config = TrainConfig(task=task, model=model, hidden=8, T=6, batch=3, val_size=4,
                         grad_clip=1.0, **({"penalty_lr": 1e-3} if "penalty_lr" in
                                           registry.model_spec(model).options else {}))
    recorder = DeviceRecorder()
    built = make_task(config)
    monkeypatch.setattr(type(built), "sample", recorder.drawn(type(built).sample))
    monkeypatch.setattr(cells, "random_unit_vectors", recorder.drawn(cells.random_unit_vectors))
    with recorder:
        workload = TaskWorkload(built, config, "meta")
        net = make_model(config, built, torch.Generator().manual_seed(0))
        recorder.made.clear()  # built on the CPU's generator, then moved: as train() does
        net = net.to("meta")
        optimizer = make_optimizer(config, net)
        after = getattr(net.rnn, "after_update", None)
        regularizer = getattr(net.rnn, "regularization", None)
        for _ in range(2):  # the second step: the optimizer's state exists
            update(config, net, optimizer, workload.batch_loss(net), regularizer=regularizer,
                   after_update=None if after is None else (
                       lambda: after(workload.generators["ortho"])))
        with torch.no_grad():
            net(workload.x_val)
    assert workload.x_val.is_meta and workload.y_val.is_meta
    assert recorder.strays("meta") == []
    assert any(drawing for *_, drawing in recorder.made)  # the batches were drawn on the CPU


@pytest.mark.parametrize("model", ["lstm", "lt-rnn"])
def test_a_language_model_step_and_its_carried_state_stay_on_the_run_device(model):
    config = TrainConfig(task="ptb-word", model=model, hidden=8, bptt=5, batch=2,
                         optimizer="adam", lr=1e-3)
    ids = torch.arange(60) % 7
    corpus = types.SimpleNamespace(ids=dict(train=ids, valid=ids[:20], test=ids[:20]),
                                   vocab=list("abcdefg"), level="word")
    recorder = DeviceRecorder()
    net = LanguageModel(7, config, torch.Generator().manual_seed(0))
    with recorder:
        workload = LMWorkload(corpus, config, "meta")
        net = net.to("meta")
        optimizer = make_optimizer(config, net)
        for _ in range(2):
            update(config, net, optimizer, workload.batch_loss(net))
        extra = workload.extra()
    # a checkpoint is read onto the CPU (map_location): its carried state goes back on
    workload.load_extra(dict(position=extra["position"], state=[
        [torch.zeros(t.shape) for t in s] for s in extra["state"]]))
    assert workload.stream.is_meta and workload.val_ids.is_meta
    assert all(t.is_meta for t in tree_leaves(workload.state))  # a checkpoint's CPU state, moved


def test_device_names():
    assert TrainConfig().device == "cpu"
    assert check_device("cuda:1") == "cuda:1"
    assert resolve_device("cpu") == "cpu"
    expected = "cuda" if torch.cuda.is_available() else (
        "mps" if torch.backends.mps.is_available() else "cpu")
    assert TrainConfig(device="auto").device == expected  # recorded as the one it picks
    for bad in ("gpu", "cuda:x", "cpu:3", "", "meta"):
        with pytest.raises(ValueError, match="device must be one of auto, cpu, cuda, mps"):
            TrainConfig(device=bad)
    # an earlier config.json, without the field, is a CPU run's
    saved = TrainConfig(task="copy", T=5).to_dict()
    del saved["device"]
    assert TrainConfig(task="copy", T=5).matches(saved)
    assert not TrainConfig(task="copy", T=5, device="cuda").matches(saved)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_a_missing_gpu_is_one_line_and_exit_2(tmp_path, capsys):
    with pytest.raises(DeviceUnavailable, match="not available on this machine"):
        require_device("cuda")
    config = TrainConfig(task="copy", T=5, steps=1, device="cuda")
    with pytest.raises(DeviceUnavailable):
        train(config, tmp_path / "run")
    assert not (tmp_path / "run").exists()  # refused before anything is written
    code = main(["train", "--task", "copy", "--T", "5", "--steps", "1", "--device", "cuda",
                 "--out", str(tmp_path / "cli"), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "cuda" in err[0], err


def test_the_gpu_check_script_runs_its_jobs_and_refuses_without_cuda(tmp_path):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[1] / "benchmarks" / "gpu_check.py"
    spec = importlib.util.spec_from_file_location("gpu_check", path)
    gpu_check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu_check)
    row = gpu_check.timed_run("lt-rnn", "cpu", 2, 5, tmp_path)
    assert row["status"] == "completed" and row["steps_per_s"] > 0
    if not torch.cuda.is_available():
        assert gpu_check.main([]) == 2


def test_sweep_workers_take_the_gpus_in_turn_and_ray_jobs_ask_for_one(tmp_path, capsys):
    import multiprocessing

    from rnnmem import sweep

    assert [sweep.worker_gpu(w, 2) for w in range(5)] == [0, 1, 0, 1, 0]
    assert sweep.worker_gpu(3, 0) == 0
    counter = multiprocessing.get_context("spawn").Value("i", 0)
    indexes = []
    for _ in range(3):  # what each new worker of a pool does first
        sweep._worker_init(None, counter)
        indexes.append(sweep._WORKER["index"])
    assert indexes == [0, 1, 2]
    assert sweep.ray_resources(TrainConfig(device="cuda")) == dict(num_cpus=1, num_gpus=1)
    assert sweep.ray_resources(TrainConfig()) == dict(num_cpus=1, num_gpus=0)
    if not torch.cuda.is_available():
        assert main(["reproduce", "henaff-fig2", "--device", "cuda", "--out",
                     str(tmp_path)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "not available" in err[0]
        assert not any(tmp_path.iterdir())


def test_a_run_flushes_the_denormals_its_long_backward_reaches_and_ends_the_same(tmp_path,
                                                                                  monkeypatch):
    """An LSTM's gradient at T = 200 decays into the denormal range (slow on x86); a run
    flushes those to zero, which changes no weight, and keeps them again afterwards."""
    from rnnmem.device import run_arithmetic
    from rnnmem.io import read_json
    from rnnmem.train import train

    config = TrainConfig(task="adding", model="lstm", T=200, hidden=16, batch=20, steps=20,
                         eval_every=10, val_size=20, lr=1e-3, seed=0)
    task = make_task(config)

    def input_gradient():
        net = make_model(config, task, torch.Generator().manual_seed(0))
        x, y = task.sample(config.batch, torch.Generator().manual_seed(0))
        x.requires_grad_(True)
        task.loss(net(x)[0], y).backward()
        return x.grad.abs()

    tiny = torch.finfo(torch.float32).tiny
    kept = input_gradient()
    assert ((kept > 0) & (kept < tiny)).any()  # the case is real: denormals reached
    with run_arithmetic(1):
        flushed = input_gradient()
    assert not ((flushed > 0) & (flushed < tiny)).any()
    assert torch.equal(input_gradient(), kept)  # and undone after

    train(config, tmp_path / "flushed")
    monkeypatch.setattr(torch, "set_flush_denormal", lambda on: True)
    train(config, tmp_path / "kept")
    weights = [read_json(tmp_path / name / "summary.json")["integrity"]["weights"]
               for name in ("flushed", "kept")]
    assert weights[0] == weights[1]
