"""Training with Henaff et al.'s protocol: ``train(config, run_dir)``.

Protocol (Henaff §4.1, §4.2):
- RMSProp with a fixed learning rate and decay 0.9, batch 50, fresh batches every step.
- The copy losses are averaged over all time steps. That mean is the paper's "1/T gradient
  normalization": every step's gradient w.r.t. the hidden activations carries a factor 1/L.
  (The adding loss sits on the last step only; a constant factor on the loss changes RMSProp's
  updates only through its ε.)
- Activation clipping at norm l = 1000 (the layer's ``clip``) inside the recurrence.
- Optionally the soft orthogonality penalty of §4.2: after each update, one SGD step on
  ``mean_i ‖(VᵀV − I) x_i‖²`` at m random unit vectors x_i (the scan layers' ``penalty_lr``,
  ``penalty_points``; :meth:`~rnnmem.nn.ltrnn.LTRNN.after_update`).
- Learning rate by :func:`find_learning_rate`: the largest in a grid that does not diverge.

A run directory holds ``config.json`` (the resolved config), ``metrics.csv`` (one row per
evaluation) and ``summary.json``; each is written atomically.
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

import torch

from .build import make_model, make_task  # noqa: F401 - also importable from here
from .config import OPTIMIZERS, TrainConfig  # noqa: F401 - also importable from here
from .device import require_device, run_arithmetic
from .footprint import require_training
from .lm import LANGUAGE_MODEL
from .loop import (  # noqa: F401 - open_run: tests use it here
    LOG_EVERY,
    TaskKind,
    make_optimizer,
    open_run,
    train_loop,
)
from .nn.ltrnn import orthogonality_penalty  # noqa: F401 - Henaff §4.2, importable from here
from .rundir import (  # noqa: F401 - train()'s errors
    RunChanged,
    RunDir,
    RunExists,
    RunLocked,
    finished_summary,
)

VALIDATION_SEED = 2**31 - 1  # one fixed held-out set, the same for every training seed
LR_GRID = (1.0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5)  # Henaff §4.1


@torch.no_grad()
def evaluate(model, task, x: torch.Tensor, y: torch.Tensor, chunk: int = 500
             ) -> tuple[float, float]:
    """(loss, metric) of ``model`` on held-out sequences, in chunks of ``chunk`` sequences.

    Every task's loss and metric are means over sequences with the same weight each, so the
    chunk-size-weighted mean equals the whole set's.
    """
    total_loss = total_metric = 0.0
    n = x.shape[1]
    for start in range(0, n, chunk):
        xs, ys = x[:, start:start + chunk], y[..., start:start + chunk]
        output, _ = model(xs)
        weight = xs.shape[1] / n
        total_loss += weight * task.loss(output, ys).item()
        total_metric += weight * task.metric(output, ys)
    return total_loss, total_metric


def validation_set(task, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A task's held-out data: its own validation split if it has one, else a fixed sample."""
    if hasattr(task, "validation_set"):
        return task.validation_set(size)
    return task.sample(size, torch.Generator().manual_seed(VALIDATION_SEED))


class TaskWorkload:
    """A synthetic or MNIST task as :func:`~rnnmem.loop.train_loop` runs it: fresh batches from
    a seeded stream, a fixed held-out set, the test split where the task has one."""

    def __init__(self, task, config: TrainConfig, device: torch.device | str = "cpu"):
        self.task, self.batch, self.device = task, config.batch, torch.device(device)
        self.val_size = config.val_size
        self.metric_name = task.metric_name
        # CPU generators on every device (rnnmem.device): the same data stream everywhere
        self.generators = dict(data=torch.Generator().manual_seed(config.seed + 1),
                               ortho=torch.Generator().manual_seed(config.seed + 2))
        self.x_val, self.y_val = (t.to(self.device)
                                  for t in validation_set(task, config.val_size))

    def baseline(self) -> float:
        return self.task.baseline()

    def solved(self, val_loss: float):
        return self.task.solved(val_loss)

    def batch_loss(self, model) -> torch.Tensor:
        x, y = (t.to(self.device) for t in self.task.sample(self.batch, self.generators["data"]))
        output, _ = model(x)
        return self.task.loss(output, y)

    def evaluate(self, model) -> tuple[float, float]:
        return evaluate(model, self.task, self.x_val, self.y_val)

    def test(self, model) -> dict:
        """The test split's loss and metric where the task has one; at the end of training on
        a task with ``longer(factor)`` (the token-recall tasks), the loss and metric on
        held-out sequences ``factor`` × as long (``length_x2_metric``, ...): length
        generalization, which tells a learned mechanism from a memorised position."""
        result = {}
        if hasattr(self.task, "test_set") and getattr(self.task, "test_size", None) != 0:
            x, y = (t.to(self.device) for t in self.task.test_set())
            result["test_loss"], result["test_metric"] = evaluate(model, self.task, x, y)
        for factor in getattr(self.task, "generalization", ()):
            longer = self.task.longer(factor)
            x, y = (t.to(self.device) for t in validation_set(longer, self.val_size))
            loss, metric = evaluate(model, longer, x, y)
            result[f"length_x{factor}_loss"], result[f"length_x{factor}_metric"] = loss, metric
        if getattr(self.task, "generalization", ()):  # the memory benchmark's tasks: the
            # memory theory beside the accuracy, from the network that training ended with
            from .layer_memory import network_memory

            result.update(network_memory(model.rnn, model.n_inputs, horizon=self.task.length))
        return result

    def extra(self) -> None:
        return None  # the generators carry the data stream

    def load_extra(self, extra: dict) -> None:
        pass


def train(config: TrainConfig, run_dir: str | Path, *, progress=False,
          resume: bool = False, overwrite: bool = False, loggers=(),
          log_every: int = LOG_EVERY) -> dict:
    """Train one model as ``config`` says; write the run directory; return the summary.

    The summary's ``status`` is ``completed``, ``early-stopped`` (validation loss fell below
    ``stop_ratio`` × baseline) or ``diverged`` (a non-finite loss; ``diverged_at`` gives the step).
    A checkpoint is written at every evaluation; with ``resume=True`` a run directory holding one
    continues from it, and ends with exactly the numbers of an uninterrupted run. A finished
    run directory is refused (:class:`RunExists`) unless ``overwrite`` or ``resume`` is given,
    as ``rnnmem train`` refuses it; the run trains on ``config.threads`` threads, as there.
    ``loggers``: callables given each metrics row as it is written
    (:class:`rnnmem.tensorboard.TensorBoardLogger`, or your own); they change nothing else.
    ``log_every``: steps per point of the training-loss curve, losses.csv (not part of the
    run's identity: it changes no number). ``progress``: a bar (True), or a callable given
    ``(step, steps)`` after each step.
    """
    with run_arithmetic(config.threads):
        kind = trained_as(config)
        task = make_task(config)  # first: missing data fails before anything is written
        kind.require(config, task)  # and a size this machine cannot hold
        device = require_device(config.device)
        workload = kind.workload(task, config, device)
        model = kind.network(config, task, torch.Generator().manual_seed(config.seed)).to(device)
        rnn = getattr(model, "rnn", None)  # a task model's layer (a language model has none)
        after_update = getattr(rnn, "after_update", None)  # Henaff §4.2's penalty step
        return train_loop(config, run_dir, workload, model, progress=progress, resume=resume,
                          overwrite=overwrite, loggers=loggers, log_every=log_every,
                          regularizer=getattr(rnn, "regularization", None),
                          after_update=None if after_update is None else (
                              lambda: after_update(workload.generators["ortho"])))


def step_seconds(config: TrainConfig, probe_steps: int = 3) -> float:
    """Seconds of one training step of a task model of ``config`` on one thread (after one
    warm-up step)."""
    with run_arithmetic(1):
        task = make_task(config)
        model = make_model(config, task, torch.Generator().manual_seed(0))
        optimizer = make_optimizer(config, model)
        generator = torch.Generator().manual_seed(0)
        for i in range(probe_steps + 1):
            if i == 1:
                start = time.perf_counter()
            x, y = task.sample(config.batch, generator)
            loss = task.loss(model(x)[0], y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        return (time.perf_counter() - start) / probe_steps


@dataclasses.dataclass(frozen=True)
class TaskRunCost:
    """A task run's time: its steps, and each evaluation at a third of a step per held-out
    batch (a forward pass)."""

    step: float

    def seconds(self, config: TrainConfig) -> float:
        evaluations = math.ceil(config.steps / config.eval_every) + 1
        held_out_batches = math.ceil(config.val_size / config.batch)
        return self.step * (config.steps + evaluations * held_out_batches / 3)


TASK = TaskKind(network=make_model, workload=TaskWorkload, require=require_training,
                probe=lambda config: TaskRunCost(step_seconds(config)))
# every kind a task registers as (registry.TASK_KINDS) -> how it trains
KINDS = {"sequence": TASK, "classification": TASK, "language-model": LANGUAGE_MODEL}


def trained_as(config: TrainConfig) -> TaskKind:
    """How ``config``'s task trains: the :class:`~rnnmem.loop.TaskKind` of its kind."""
    return KINDS[config.task_kind]


def probe_diverged(summary: dict, blowup: float = 2.0) -> bool:
    """The LR protocol's divergence test for a short probe run.

    Diverged: a non-finite loss, or a mean training loss over the last tenth of the probe above
    ``blowup`` × the first step's loss. (Henaff §4.1 does not define "diverge"; this is ours.)
    """
    if summary["status"] == "diverged":
        return True
    final, first = summary["final_train_loss"], summary["initial_train_loss"]
    return not math.isfinite(final) or final > blowup * first


def train_or_resume(config: TrainConfig, run_dir: str | Path, *, progress=False) -> dict:
    """Skip a finished run (its summary, marked ``reused``), resume an interrupted one, else
    start it (``progress``: as :func:`train`'s). A directory holding a run of another config
    or other code is never trained over: :class:`RunChanged` (:meth:`RunDir.set_aside` moves
    it away)."""
    finished = finished_summary(config, run_dir)
    if finished is not None:
        return {**finished, "reused": True}
    if (change := RunDir(run_dir).change(config)) is not None:
        raise RunChanged(f"{run_dir}: {change}; rerun with --rerun-changed")
    return train(config, run_dir, resume=True, progress=progress)


def find_learning_rate(
    config: TrainConfig,
    run_root: str | Path,
    *,
    grid: tuple[float, ...] = LR_GRID,
    probe_steps: int = 200,
) -> tuple[float | None, list[dict]]:
    """Henaff §4.1's protocol: the largest learning rate in ``grid`` whose loss does not diverge.

    Each candidate, largest first, trains a probe run of ``probe_steps`` steps under
    ``run_root/lr-<value>``; a search run again skips its finished probes and resumes an
    interrupted one. Returns the chosen rate (None if every one diverged) and one record per
    probe.
    """
    trials = []
    for lr in sorted(grid, reverse=True):
        probe = dataclasses.replace(config, lr=lr, steps=probe_steps,
                                    eval_every=max(probe_steps, 1), stop_ratio=None)
        summary = train_or_resume(probe, Path(run_root) / f"lr-{lr:g}")
        diverged = probe_diverged(summary)
        trials.append(dict(lr=lr, diverged=diverged, status=summary["status"],
                           initial_train_loss=summary["initial_train_loss"],
                           final_train_loss=summary["final_train_loss"]))
        if not diverged:
            return lr, trials
    return None, trials
