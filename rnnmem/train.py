"""Training with Henaff et al.'s protocol: ``train(config, run_dir)``.

Protocol (Henaff §4.1, §4.2):
- RMSProp with a fixed learning rate and decay 0.9, batch 50, fresh batches every step.
- The copy losses are averaged over all time steps. That mean is the paper's "1/T gradient
  normalization": every step's gradient w.r.t. the hidden activations carries a factor 1/L.
  (The adding loss sits on the last step only; a constant factor on the loss changes RMSProp's
  updates only through its ε.)
- Activation clipping at norm l = 1000 (``clip``) inside the recurrence.
- Optionally the soft orthogonality penalty of §4.2: after each update, one SGD step on
  ``mean_i ‖(VᵀV − I) x_i‖²`` at m random unit vectors x_i.
- Learning rate by :func:`find_learning_rate`: the largest in a grid that does not diverge.

A run directory holds ``config.json`` (the resolved config), ``metrics.csv`` (one row per
evaluation) and ``summary.json``; each is written atomically.
"""

from __future__ import annotations

import dataclasses
import io
import math
import time
from pathlib import Path

import torch

from . import footprint
from .checkpoint import (
    CheckpointError,
    checkpoint_config,
    load_checkpoint,
    restore,
    save_checkpoint,
)
from .config import (  # noqa: F401 - also importable from here, next to train()
    ALL_TASKS,
    LM_TASKS,
    MNIST_TASKS,
    OPTIMIZERS,
    TrainConfig,
    make_model,
    make_task,
)
from .io import read_json, write_bytes_atomic, write_json_atomic, write_text_atomic
from .rundir import CHECKPOINT, CONFIG, METRICS, SUMMARY, WEIGHTS, finished_summary

VALIDATION_SEED = 2**31 - 1  # one fixed held-out set, the same for every training seed
LR_GRID = (1.0, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5)  # Henaff §4.1
METRIC_COLUMNS = ("step", "seconds", "train_loss", "val_loss", "val_ratio", "val_metric")


def make_optimizer(config: TrainConfig, model: torch.nn.Module):
    """RMSProp with decay ``rms_decay`` (Henaff §4.1), or Adam.

    A recurrent layer with its own parameter groups (expRNN, nnRNN: the orthogonal parameter at
    ``lr_orth``, default lr/10; nnRNN's triangular part with weight decay) gets them; every
    other parameter uses ``lr``.
    """
    groups = [dict(params=list(model.parameters()), lr=config.lr)]
    rnn = getattr(model, "rnn", None)
    if hasattr(rnn, "param_groups"):
        lr_orth = config.lr_orth if config.lr_orth is not None else config.lr / 10
        groups = rnn.param_groups(lr=config.lr, lr_orth=lr_orth, t_decay=config.t_decay)
        taken = {id(p) for g in groups for p in g["params"]}
        groups.append(dict(params=[p for p in model.parameters() if id(p) not in taken],
                           lr=config.lr))
    if config.optimizer == "adam":
        return torch.optim.Adam(groups, lr=config.lr)
    return torch.optim.RMSprop(groups, lr=config.lr, alpha=config.rms_decay, eps=config.rms_eps)


def orthogonality_penalty(V: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Henaff §4.2: ``mean_i ‖(VᵀV − I) x_i‖²`` at the unit vectors ``points`` (m, H)."""
    residual = (points @ V.t()) @ V - points  # rows: (VᵀV − I) x_i
    return residual.pow(2).sum(1).mean()


def _random_unit_vectors(m: int, n: int, generator: torch.Generator) -> torch.Tensor:
    x = torch.randn(m, n, generator=generator)
    return x / x.norm(dim=1, keepdim=True)


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


def _metrics_csv(rows: list[dict]) -> str:
    lines = [",".join(METRIC_COLUMNS)]
    lines += [",".join(f"{row[c]:.6g}" for c in METRIC_COLUMNS) for row in rows]
    return "\n".join(lines) + "\n"


def train(config: TrainConfig, run_dir: str | Path, *, progress: bool = False,
          resume: bool = False) -> dict:
    """Train one model as ``config`` says; write the run directory; return the summary.

    The summary's ``status`` is ``completed``, ``early-stopped`` (validation loss fell below
    ``stop_ratio`` × baseline) or ``diverged`` (a non-finite loss; ``diverged_at`` gives the step).
    A checkpoint is written at every evaluation; with ``resume=True`` a run directory holding one
    continues from it, and ends with exactly the numbers of an uninterrupted run.
    """
    if config.task in LM_TASKS:
        from .lm import train_lm

        return train_lm(config, run_dir, progress=progress, resume=resume)
    task = make_task(config)  # first: missing data fails before anything is written
    footprint.require_training(config, task)  # and a size this machine cannot hold
    run_dir = Path(run_dir)
    checkpoint_path = run_dir / CHECKPOINT
    state = open_run(config, run_dir, resume)
    baseline = task.baseline()
    generators = dict(data=torch.Generator().manual_seed(config.seed + 1),
                      ortho=torch.Generator().manual_seed(config.seed + 2))
    model = make_model(config, task, torch.Generator().manual_seed(config.seed))
    optimizer = make_optimizer(config, model)
    x_val, y_val = validation_set(task, config.val_size)
    V = getattr(model.rnn, "V", None)  # the plain recurrent matrix, for the ortho penalty
    regularizer = getattr(model.rnn, "regularization", None)

    rows, train_losses, window, first_step = [], [], [], 1
    if state is not None:
        restore(state, model=model, optimizer=optimizer, generators=generators)
        rows, train_losses = list(state["rows"]), state["train_losses"].tolist()
        first_step = state["step"] + 1
    status, diverged_at = "completed", None
    if state is not None and (stopped := _stop_reason(rows, config, baseline)):
        # killed after its stopping evaluation was saved, before the summary was
        status, first_step = stopped, config.steps + 1
        diverged_at = rows[-1]["step"] if stopped == "diverged" else None
    start = time.perf_counter() - (state["elapsed"] if state is not None else 0.0)
    bar = _progress_bar(config.steps, progress, initial=first_step - 1)

    def record(step: int) -> list[dict]:
        val_loss, val_metric = evaluate(model, task, x_val, y_val)
        train_loss = sum(window) / len(window) if window else val_loss
        window.clear()
        rows.append(dict(step=step, seconds=time.perf_counter() - start, train_loss=train_loss,
                         val_loss=val_loss, val_ratio=val_loss / baseline, val_metric=val_metric))
        write_text_atomic(run_dir / METRICS, _metrics_csv(rows))
        save_checkpoint(checkpoint_path, config=config.to_dict(), model=model,
                        optimizer=optimizer, generators=generators, step=step, rows=rows,
                        train_losses=train_losses, elapsed=time.perf_counter() - start)
        if bar is not None:
            bar.set_postfix_str(f"val/chance={val_loss / baseline:.3f} "
                                f"{task.metric_name}={val_metric:.3f}")
        return rows

    if state is None:
        record(0)
    def batch_loss() -> torch.Tensor:
        x, y = task.sample(config.batch, generators["data"])
        output, _ = model(x)
        return task.loss(output, y)

    def ortho_step() -> None:  # Henaff §4.2: one SGD step on the penalty after each update
        points = _random_unit_vectors(config.ortho_points, config.hidden, generators["ortho"])
        (grad,) = torch.autograd.grad(orthogonality_penalty(V, points), V)
        with torch.no_grad():
            V.sub_(config.ortho_lr * grad)

    if status == "completed":
        status, diverged_at = run_steps(
            config, model, optimizer, first_step, batch_loss, record, baseline, train_losses,
            window, bar, regularizer=regularizer,
            after_update=ortho_step if config.ortho_lr > 0 and V is not None else None)
    if bar is not None:
        bar.close()
    test = {}
    if hasattr(task, "test_set") and status != "diverged":
        test_loss, test_metric = evaluate(model, task, *task.test_set())
        test = dict(test_loss=test_loss, test_metric=test_metric)
    return _finish(run_dir, model, task, rows, train_losses, status, diverged_at,
                   time.perf_counter() - start, test, config.final_evals)


def run_steps(config, model, optimizer, first_step: int, batch_loss, record, baseline: float,
              train_losses: list, window: list, bar, *, regularizer=None,
              after_update=None) -> tuple[str, int | None]:
    """The training loop shared by task and language-model runs; returns (status, diverged_at).

    Each step: ``batch_loss()`` → divergence check → backward (plus ``regularizer``) → gradient
    clipping → optimizer step → ``after_update()``; ``record(step)`` every ``eval_every`` steps
    evaluates, checkpoints and returns the rows so far, which may stop the run.
    """
    for step in range(first_step, config.steps + 1):
        loss = batch_loss()
        if exploded(loss.item(), baseline, config.explosion):
            return "diverged", step
        optimizer.zero_grad(set_to_none=True)
        if regularizer is not None:  # nnRNN's δ·mean((γ−1)²); the task loss is what is logged
            (loss + regularizer(gamma_penalty=config.gamma_penalty)).backward()
        else:
            loss.backward()
        if config.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        if after_update is not None:
            after_update()
        train_losses.append(loss.item())
        window.append(train_losses[-1])
        if bar is not None:
            bar.update()
        if step % config.eval_every == 0 or step == config.steps:
            stopped = _stop_reason(record(step), config, baseline)
            if stopped:
                return stopped, (step if stopped == "diverged" else None)
    return "completed", None


def exploded(loss: float, baseline: float, explosion: float | None = None) -> bool:
    """Divergence: a non-finite loss, or, if ``explosion`` is given, one above explosion × the
    chance baseline.

    Only the first is the default: under activation clipping a huge loss can be a bounded
    transient (an identity-initialized LT-RNN's first RMSProp update pushes its largest
    eigenvalue just above 1 and its state to the clip norm), and the papers train on through it.
    """
    return not math.isfinite(loss) or (explosion is not None and loss > explosion * baseline)


def _stop_reason(rows: list[dict], config: TrainConfig, baseline: float) -> str | None:
    """Why training stops after the evaluation ``rows[-1]``, or None.

    Early stopping asks the same robust figure as the verdict: the median of the last
    ``final_evals`` evaluations below ``stop_ratio`` × chance.
    """
    if exploded(rows[-1]["val_loss"], baseline, config.explosion):
        return "diverged"
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


def _finish(run_dir, model, task, rows, train_losses, status, diverged_at, seconds,
            test: dict, final_evals: int) -> dict:
    """Write model.pt, then summary.json (last: its presence marks a finished run)."""
    final = final_figures(rows, final_evals)
    tail = train_losses[-max(1, len(train_losses) // 10):]
    summary = dict(
        status=status, diverged_at=diverged_at, steps=len(train_losses), seconds=seconds,
        baseline=task.baseline(), **final, metric_name=task.metric_name,
        solved=_solved(task, final["final_val_loss"], status),
        initial_train_loss=train_losses[0] if train_losses else None,
        final_train_loss=sum(tail) / len(tail) if train_losses else None,
        parameters=sum(p.numel() for p in model.parameters()),
        **test,
    )
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    write_bytes_atomic(run_dir / WEIGHTS, buffer.getvalue())
    write_json_atomic(run_dir / SUMMARY, summary)
    return summary


def _solved(task, val_loss: float, status: str) -> bool | None:
    """The task's success criterion; None where it has none (language models)."""
    verdict = task.solved(val_loss)  # a NaN median compares False: never solved
    return None if verdict is None else (status != "diverged" and bool(verdict))


def open_run(config: TrainConfig, run_dir: Path, resume: bool) -> dict | None:
    """Prepare ``run_dir`` for ``config``; return the checkpoint to resume from, or None.

    Stale temporary files of a killed write go first. A checkpoint is resumed only if both
    config.json and the checkpoint's own record say it is ``config``'s. Starting afresh removes
    the summary first, then the weights and checkpoint of a previous run, so the directory
    never claims to be finished with a summary that is not its config's.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    for stale in run_dir.glob(".*.tmp"):
        stale.unlink(missing_ok=True)
    checkpoint_path = run_dir / CHECKPOINT
    state = load_checkpoint(checkpoint_path) if resume and checkpoint_path.exists() else None
    if state is not None:
        path = run_dir / CONFIG
        recorded = checkpoint_config(state)
        if not config.matches(read_json(path) if path.is_file() else None) or (
                recorded is not None and not config.matches(recorded)):
            raise CheckpointError(f"{checkpoint_path} belongs to a different config; resume it "
                                  "with its own config.json or use another run directory")
    else:
        for name in (SUMMARY, WEIGHTS, CHECKPOINT):
            (run_dir / name).unlink(missing_ok=True)
    write_json_atomic(run_dir / CONFIG, config.to_dict())
    return state


def _progress_bar(total: int, enabled: bool, initial: int = 0):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True, leave=True)


def probe_diverged(summary: dict, blowup: float = 2.0) -> bool:
    """The LR protocol's divergence test for a short probe run.

    Diverged: a non-finite loss, or a mean training loss over the last tenth of the probe above
    ``blowup`` × the first step's loss. (Henaff §4.1 does not define "diverge"; this is ours.)
    """
    if summary["status"] == "diverged":
        return True
    final, first = summary["final_train_loss"], summary["initial_train_loss"]
    return not math.isfinite(final) or final > blowup * first


def train_or_resume(config: TrainConfig, run_dir: str | Path) -> dict:
    """Skip a finished run, resume an interrupted one, else start it."""
    return finished_summary(config, run_dir) or train(config, run_dir, resume=True)


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
