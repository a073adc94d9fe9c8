"""The one training loop: :func:`train_loop` over a :class:`Workload`.

A workload is what differs between a task run (``train``: synthetic tasks, MNIST) and a
language model (``lm``: PTB): how a training batch's loss is drawn, how held-out data are
evaluated, and what a checkpoint must carry besides the model and optimizer. Everything else is
here, once: the optimizer of a config's recipe, setup and resume (:func:`open_run`), the step
loop with its divergence rule and evaluations, the stopping rule, the robust final figure, and
the finish (:func:`finish`: weights, then the summary, written last).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch

from .checkpoint import (
    CheckpointError,
    checkpoint_config,
    load_checkpoint,
    restore,
    save_checkpoint,
)
from .config import TrainConfig
from .device import kernel_path, model_device
from .io import read_json
from .provenance import code_change, code_record
from .rundir import RunDir, RunExists, require_path


class Workload(Protocol):
    """What :func:`train_loop` needs from a task or a corpus."""

    metric_name: str
    generators: dict  # name -> torch.Generator: the random streams a checkpoint carries

    def baseline(self) -> float:
        """The chance loss (val loss / chance is every curve's y-axis)."""

    def solved(self, val_loss: float) -> bool | None:
        """The success criterion; None where there is none (language models)."""

    def batch_loss(self, model) -> torch.Tensor:
        """The loss of the next training batch."""

    def evaluate(self, model) -> tuple[float, float]:
        """(loss, metric) on the held-out data."""

    def test(self, model) -> dict:
        """``test_loss`` and ``test_metric`` where there is a test split, else {}."""

    def extra(self) -> dict | None:
        """What else a checkpoint must carry to continue exactly (a stream's position)."""

    def load_extra(self, extra: dict) -> None:
        """Take back what :meth:`extra` gave."""


class RunCost(Protocol):
    """A run's training time on one thread, from a few steps measured here."""

    step: float  # seconds of one training step

    def seconds(self, config: TrainConfig) -> float:
        """Seconds of a whole run of ``config`` (its steps and every evaluation)."""


@dataclass(frozen=True)
class TaskKind:
    """How a task of one kind (``register_task``'s ``kind``) is trained, so that training,
    analysis and estimates never ask which kind a task is (the language model is one more
    kind, not a branch).

    ``network(config, task, generator)``: the untrained model; ``workload(task, config,
    device)``: the :class:`Workload` that :func:`train_loop` runs it on; ``require(config,
    task)``: refuses a size this machine cannot hold; ``probe(config)``: a :class:`RunCost`
    measured here (raises where it cannot be: a corpus not installed, a plugin's bug)."""

    network: Callable
    workload: Callable
    require: Callable
    probe: Callable


LOG_EVERY = 10  # steps per point of losses.csv: a training curve between the evaluations


def train_loop(config: TrainConfig, run_dir: str | Path, workload: Workload,
               model: torch.nn.Module, *, progress=False, resume: bool = False,
               overwrite: bool = False, regularizer=None, after_update=None,
               loggers=(), log_every: int = LOG_EVERY) -> dict:
    """Train ``model`` on ``workload`` as ``config`` says; write the run directory; return the
    summary (see :func:`rnnmem.train.train`; ``progress``: :func:`progress_bar`).
    ``regularizer`` and ``after_update``: see :func:`run_steps`. Each of ``loggers`` is called
    with every row metrics.csv gets, as it gets it (and closed at the end if it has ``close``);
    one with ``train_points`` is also given the new ``(step, training loss)`` points of
    losses.csv (the mean loss over each ``log_every`` steps), written at each evaluation from
    the losses the checkpoint keeps anyway: no step waits on it. The run directory's lock is
    held throughout (one writer per run)."""
    if isinstance(log_every, bool) or not isinstance(log_every, int) or log_every < 1:
        raise ValueError(f"log_every must be a positive integer, got {log_every!r}")
    run_dir = RunDir(require_path(run_dir))
    with run_dir.lock():
        if not (resume or overwrite) and run_dir.is_finished():
            raise RunExists(f"{run_dir.path} already holds a finished run; pass overwrite=True "
                            "(--overwrite) or another run directory")
        if not (resume or overwrite) and run_dir.config_file.is_file():  # as the CLI refuses
            raise RunExists(f"{run_dir.path} holds an unfinished run; continue it with "
                            "resume=True (--resume), or pass overwrite=True (--overwrite) or "
                            "another run directory")
        try:
            return _train_locked(config, run_dir, workload, model, progress=progress,
                                 resume=resume, regularizer=regularizer,
                                 after_update=after_update, loggers=loggers,
                                 log_every=log_every)
        finally:
            for log in loggers:
                if hasattr(log, "close"):
                    log.close()


def _train_locked(config, run_dir: RunDir, workload, model, *, progress, resume, regularizer,
                  after_update, loggers, log_every) -> dict:
    optimizer = make_optimizer(config, model)
    saved = open_run(config, run_dir.path, resume)
    baseline = workload.baseline()
    rows, train_losses, window, first_step = [], [], [], 1
    logged = [0]  # training-loss points given to the loggers so far

    def log_losses() -> None:
        points = run_dir.write_losses(train_losses, log_every)
        for log in loggers:
            if hasattr(log, "train_points"):
                log.train_points(points[logged[0]:])
        logged[0] = len(points)

    def record(step: int) -> list[dict]:  # an evaluation: its row, losses and checkpoint
        # (``start`` and ``bar`` are set below, before the first evaluation)
        val_loss, val_metric = workload.evaluate(model)
        train_loss = sum(window) / len(window) if window else val_loss
        window.clear()
        rows.append(dict(step=step, seconds=time.perf_counter() - start, train_loss=train_loss,
                         val_loss=val_loss, val_ratio=val_loss / baseline, val_metric=val_metric))
        run_dir.write_metrics(rows)
        for log in loggers:
            log(rows[-1])
        log_losses()
        save_checkpoint(run_dir.checkpoint_file, config=config.to_dict(), model=model,
                        optimizer=optimizer, generators=workload.generators, step=step,
                        rows=rows, train_losses=train_losses,
                        elapsed=time.perf_counter() - start, extra=workload.extra())
        if bar is not None:
            bar.set_postfix_str(f"val/chance={val_loss / baseline:.3f} "
                                f"{workload.metric_name}={val_metric:.3f}")
        return rows

    if saved is not None:
        restore(saved, model=model, optimizer=optimizer, generators=workload.generators)
        workload.load_extra(saved["extra"])
        rows, train_losses = list(saved["rows"]), saved["train_losses"].tolist()
        first_step = saved["step"] + 1
    status, diverged_at = "completed", None
    if saved is not None and (stopped := stop_reason(rows, config, baseline)):
        # killed after its stopping evaluation was saved, before the summary was
        status, first_step = stopped, config.steps + 1
    start = time.perf_counter() - (saved["elapsed"] if saved is not None else 0.0)
    bar = progress_bar(config.steps, progress, initial=first_step - 1)
    if saved is None:
        record(0)
    if status == "completed":
        status, diverged_at = run_steps(
            config, model, optimizer, first_step, lambda: workload.batch_loss(model), record,
            baseline, train_losses, window, bar, regularizer=regularizer,
            after_update=after_update)
    if bar is not None:
        bar.close()
    log_losses()  # a diverged run's losses after its last evaluation
    test = workload.test(model) if status != "diverged" else {}
    return finish(run_dir, model, workload, rows, train_losses, status, diverged_at,
                  time.perf_counter() - start, test, config.final_evals,
                  code=code_record(config))


def make_optimizer(config: TrainConfig, model: torch.nn.Module):
    """RMSProp with the run's ``decay`` (Henaff §4.1's 0.9: the recipe's), Adam, or AdamW.

    A recurrent layer with its own parameter groups (:mod:`rnnmem.nn.protocol`: expRNN's and
    nnRNN's orthogonal parameter at its own rate, nnRNN's triangular part with weight decay)
    gets them; every other parameter uses ``lr``.
    """
    groups = [dict(params=list(model.parameters()), lr=config.lr)]
    rnn = getattr(model, "rnn", None)
    if hasattr(rnn, "param_groups"):
        groups = rnn.param_groups(lr=config.lr)
        taken = {id(p) for g in groups for p in g["params"]}
        groups.append(dict(params=[p for p in model.parameters() if id(p) not in taken],
                           lr=config.lr))
    if config.optimizer == "adam":
        return torch.optim.Adam(groups, lr=config.lr)
    if config.optimizer == "adamw":  # a group's own weight_decay (the LRU's: 0) is kept
        return torch.optim.AdamW(groups, lr=config.lr,
                                 weight_decay=config.optimizer_options["weight_decay"])
    options = config.optimizer_options
    return torch.optim.RMSprop(groups, lr=config.lr, alpha=options["decay"], eps=options["eps"])


def run_steps(config, model, optimizer, first_step: int, batch_loss, record, baseline: float,
              train_losses: list, window: list, bar, *, regularizer=None,
              after_update=None) -> tuple[str, int | None]:
    """The training loop shared by task and language-model runs; returns (status, diverged_at).

    Each step: ``batch_loss()`` → divergence check → :func:`update`; ``record(step)`` every
    ``eval_every`` steps evaluates, checkpoints and returns the rows so far, which may stop
    the run.
    """
    for step in range(first_step, config.steps + 1):
        loss = batch_loss()
        if exploded(loss.item(), baseline, config.explosion):
            return "diverged", step
        update(config, model, optimizer, loss, regularizer=regularizer,
               after_update=after_update)
        train_losses.append(loss.item())
        window.append(train_losses[-1])
        if bar is not None:
            bar.update()
        if step % config.eval_every == 0 or step == config.steps:
            stopped = stop_reason(record(step), config, baseline)
            if stopped:
                return stopped, None
    return "completed", None


def update(config, model, optimizer, loss: torch.Tensor, *, regularizer=None,
           after_update=None) -> None:
    """One update from a batch's loss: backward (plus ``regularizer()``), gradient-norm
    clipping, the optimizer's step, then ``after_update()``. No host sync: on a GPU the step
    is queued whole."""
    optimizer.zero_grad(set_to_none=True)
    if regularizer is not None:  # nnRNN's δ·Σ(γ−1)²; the task loss is what is logged
        (loss + regularizer()).backward()
    else:
        loss.backward()
    if config.grad_clip is not None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
    optimizer.step()
    if after_update is not None:
        after_update()


def exploded(loss: float, baseline: float, explosion: float | None = None) -> bool:
    """Divergence: a non-finite loss, or, if ``explosion`` is given, one above explosion × the
    chance baseline.

    Only the first is the default: under activation clipping a huge loss can be a bounded
    transient (an identity-initialized LT-RNN's first RMSProp update pushes its largest
    eigenvalue just above 1 and its state to the clip norm), and the papers train on through it.
    """
    return not math.isfinite(loss) or (explosion is not None and loss > explosion * baseline)


def stop_reason(rows: list[dict], config: TrainConfig, baseline: float) -> str | None:
    """Why training stops after the evaluation ``rows[-1]``, or None.

    Early stopping asks the same robust figure as the verdict: the median of the last
    ``final_evals`` evaluations below ``stop_ratio`` × chance. A non-finite val loss does not
    stop a run: divergence is judged on the training loss alone (:func:`run_steps`), so how
    often a run is evaluated cannot change its training. (A language model whose state
    overflows on a 50,000-token val stream during a loss spike trains on and recovers, as the
    papers' code does.)
    """
    if config.stop_ratio is not None and rows[-1]["step"] > 0:
        if final_figures(rows, config.final_evals)["final_val_loss"] < config.stop_ratio * baseline:
            return "early-stopped"
    return None


def final_figures(rows: list[dict], k: int) -> dict:
    """A run's final figures: the medians of its last ``k`` evaluations (rows after step 0).

    One evaluation can sit on a loss spike (an LT-ORNN on copy went 0.14 → 0.71 → 0.05 × chance
    over three evaluations); the median of the last k is what the run has learned. A diverged
    run's last evaluation is non-finite: its median is too, by design, so it is never "solved".
    """
    trained = [r for r in rows if r["step"] > 0] or rows
    last = trained[-k:]

    def median(key: str) -> float:
        values = sorted(r[key] for r in last)
        if any(not math.isfinite(v) for v in values):
            return math.nan
        mid = len(values) // 2
        return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2

    return dict(final_val_loss=median("val_loss"), final_val_ratio=median("val_ratio"),
                final_val_metric=median("val_metric"), final_evals=len(last),
                last_val_ratio=rows[-1]["val_ratio"])


def finish(run_dir: RunDir, model, task, rows, train_losses, status, diverged_at, seconds,
           test: dict, final_evals: int, code: dict | None = None) -> dict:
    """Write model.pt, then summary.json (last: its presence marks a finished run), which
    records ``code`` (:func:`rnnmem.provenance.code_record`)."""
    final = final_figures(rows, final_evals)
    tail = train_losses[-max(1, len(train_losses) // 10):]
    summary = dict(
        status=status, diverged_at=diverged_at, steps=len(train_losses), seconds=seconds,
        baseline=task.baseline(), **final, metric_name=task.metric_name,
        solved=_solved(task, final["final_val_loss"], status),
        initial_train_loss=train_losses[0] if train_losses else None,
        final_train_loss=sum(tail) / len(tail) if train_losses else None,
        parameters=sum(p.numel() for p in model.parameters()),
        kernel_path=kernel_path(model_device(model)),
        **test,
    )
    if code is not None:
        summary["code"] = code
    if status == "completed" and (warning := unread_final(rows, final_evals,
                                                          len(train_losses))) is not None:
        summary["warning"] = warning
    run_dir.write_metrics(rows)  # again: a resumed run re-finishes a damaged metrics.csv too
    run_dir.finish(model.state_dict(), summary)
    return summary


def unread_final(rows: list[dict], k: int, steps: int) -> str | None:
    """Why a run's final figure (and so "solved") is not read from the end of its training:
    its last ``k`` evaluations reach back beyond the last quarter of ``steps``; else None."""
    trained = [r for r in rows if r["step"] > 0]
    if steps < 1 or not trained:
        return None
    first = trained[-k:][0]["step"]
    if first >= 0.75 * steps:
        return None
    return (f"the final figure is the median of the evaluations from step {first:g} of "
            f"{steps} on, more than the last quarter of training: 'solved' does not describe "
            "the end of training (evaluate more often: --eval-every)")


def _solved(task, val_loss: float, status: str) -> bool | None:
    """The task's success criterion; None where it has none (language models)."""
    verdict = task.solved(val_loss)  # a NaN median compares False: never solved
    return None if verdict is None else (status != "diverged" and bool(verdict))


def open_run(config: TrainConfig, run_dir: Path, resume: bool) -> dict | None:
    """Prepare ``run_dir`` for ``config``; return the checkpoint to resume from, or None.

    A checkpoint is resumed only if both config.json and the checkpoint's own record say it is
    ``config``'s, and code.json says it ran today's code (:mod:`rnnmem.provenance`);
    otherwise the run starts afresh (:meth:`RunDir.start`).
    """
    run = RunDir(run_dir)
    code = code_record(config)
    run.path.mkdir(parents=True, exist_ok=True)
    state = None
    if resume and run.checkpoint_file.exists():
        state = load_checkpoint(run.checkpoint_file)
        recorded = checkpoint_config(state)
        on_disk = read_json(run.config_file) if run.config_file.is_file() else None
        if not config.matches(on_disk) or (recorded is not None
                                           and not config.matches(recorded)):
            raise CheckpointError(f"{run.checkpoint_file} belongs to a different config; "
                                  "resume it with its own config.json or use another run "
                                  "directory")
        if (change := code_change(run.code(), code)) is not None:
            raise CheckpointError(f"{run.checkpoint_file} cannot be resumed: {change}; "
                                  "start it afresh in another run directory")
    run.start(config.to_dict(), fresh=state is None, code=code)
    return state


def progress_bar(total: int, enabled, initial: int = 0):
    """A tqdm bar on a terminal; elsewhere (a log file, a pipe) plain lines, one per
    evaluation, instead of a bar's carriage returns. ``enabled`` may also be a callable, given
    ``(step, total)`` after every step (a sweep's worker reports its run's progress so)."""
    if callable(enabled):
        return StepReporter(total, initial, enabled)
    if not enabled:
        return None
    import sys

    if not sys.stderr.isatty():
        return PlainProgress(total, initial)
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True, leave=True)


class StepReporter:
    """A progress bar's interface that calls ``report(step, total)`` instead of drawing."""

    def __init__(self, total: int, initial: int, report):
        self.total, self.n, self.report = total, initial, report
        report(initial, total)

    def update(self, n: int = 1) -> None:
        self.n += n
        self.report(self.n, self.total)

    def set_postfix_str(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


class PlainProgress:
    """What a progress bar says, as one line per evaluation on stderr."""

    def __init__(self, total: int, initial: int = 0):
        self.total, self.n, self.start = total, initial, time.perf_counter()

    def update(self, n: int = 1) -> None:
        self.n += n

    def set_postfix_str(self, text: str) -> None:
        import sys

        print(f"step {self.n}/{self.total} ({time.perf_counter() - self.start:.0f} s): {text}",
              file=sys.stderr, flush=True)

    def close(self) -> None:
        pass
