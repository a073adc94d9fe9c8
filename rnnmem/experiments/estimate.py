"""How long an experiment's grid will take, measured on this machine before it starts.

Each distinct run shape in the grid (task and its sizes, model, width, batch) trains a few real
steps on one thread, as a sweep worker does; the estimate multiplies by the steps of every job
and adds the evaluations (a forward pass costs about a third of a training step). A language
model's evaluations read whole splits: one is timed on a slice of the validation text.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time

import torch

from ..build import make_model, make_task
from ..config import TrainConfig
from ..loop import make_optimizer
from ..tasks.ptb import EVAL_STREAMS


def _shape(config: TrainConfig) -> str:
    """What a step's time depends on: the task and model with their options, sizes."""
    return json.dumps([config.task, config.task_options, config.model, config.model_options,
                       config.hidden, config.batch], sort_keys=True, default=str)


def step_seconds(config: TrainConfig, probe_steps: int = 3) -> float:
    """Seconds of one training step of ``config`` on one thread (after one warm-up step)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
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
    finally:
        torch.set_num_threads(threads)


def lm_seconds(config: TrainConfig, probe_steps: int = 3) -> tuple[float, float, dict]:
    """(seconds of one training step, seconds per evaluated token, tokens per split) of a
    language model, on one thread; raises :class:`~rnnmem.data.DataError` if its corpus is
    not installed."""
    from ..lm import LanguageModel, LMWorkload, evaluate_stream

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        corpus = make_task(config)
        model = LanguageModel(len(corpus.vocab), config, torch.Generator().manual_seed(0))
        workload, optimizer = LMWorkload(corpus, config), make_optimizer(config, model)
        for i in range(probe_steps + 1):
            if i == 1:
                start = time.perf_counter()
            loss = workload.batch_loss(model)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        step = (time.perf_counter() - start) / probe_steps
        bptt = config.task_options["bptt"]
        tokens = corpus.ids["valid"][: 4 * bptt * EVAL_STREAMS + 1]
        start = time.perf_counter()
        evaluate_stream(model, tokens, bptt)
        per_token = (time.perf_counter() - start) / (tokens.numel() - 1)
        return step, per_token, {split: ids.numel() for split, ids in corpus.ids.items()}
    finally:
        torch.set_num_threads(threads)


def _lm_run_seconds(c: TrainConfig, step: float, per_token: float, splits: dict) -> float:
    evaluations = math.ceil(c.steps / c.eval_every) + 1
    val = min(c.task_options["val_tokens"] or math.inf, splits["valid"])
    return step * c.steps + per_token * (evaluations * val + splits["test"])


_STEP_SECONDS: dict[str, float | None] = {}  # a step's shape -> its measured seconds (or None)


def relative_step_costs(configs: list[TrainConfig]) -> list[float]:
    """Each config's step cost relative to the mean of every step :func:`estimate_seconds`
    timed in this process (1 where its shape was not timed): the weights of a sweep's time
    left (:class:`Progress`), in one unit however many lists are asked."""
    measured = [s for s in _STEP_SECONDS.values() if s]
    mean = sum(measured) / len(measured) if measured else 1.0
    return [s / mean if (s := _STEP_SECONDS.get(_shape(c))) else 1.0 for c in configs]


def estimate_seconds(configs: list[TrainConfig]) -> tuple[float, int]:
    """(estimated core-seconds of training every config, configs not estimated: language
    models whose corpus is not installed)."""
    from ..data import DataError

    per_step = _STEP_SECONDS
    per_lm: dict[tuple, tuple | None] = {}
    total, skipped = 0.0, 0
    for c in configs:
        if c.task_kind == "language-model":
            key = _shape(c)
            if key not in per_lm:
                try:
                    per_lm[key] = lm_seconds(c)
                except DataError:
                    per_lm[key] = None
            if per_lm[key] is None:
                skipped += 1
            else:
                total += _lm_run_seconds(c, *per_lm[key])
            continue
        key = _shape(c)
        if key not in per_step:
            try:
                per_step[key] = step_seconds(c)
            except Exception:  # noqa: BLE001 - a plugin's bug: its runs fail, each in one line
                per_step[key] = None
        if per_step[key] is None:
            skipped += 1
            continue
        evaluations = math.ceil(c.steps / c.eval_every) + 1
        eval_steps = evaluations * math.ceil(c.val_size / c.batch) / 3
        total += per_step[key] * (c.steps + eval_steps)
    return total, skipped


def describe_estimate(configs: list[TrainConfig], workers: int | None) -> str:
    """One line: estimated core-hours and wall time on ``workers`` processes."""
    seconds, skipped = estimate_seconds(configs)
    workers = max(1, min(workers or os.cpu_count() or 1, len(configs)))
    text = (f"estimated training time {_duration(seconds)} of one core, about "
            f"{_duration(seconds / workers)} on {workers} worker process"
            f"{'es' if workers > 1 else ''} (measured here)")
    if skipped:
        text += f"; {skipped} runs not estimated (a corpus not installed, or a model that fails)"
    return text


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class Progress:
    """What a sweep says: "[done/total]" as each run finishes, and a heartbeat line with the
    runs in flight while they train (:func:`rnnmem.sweep.run_all`'s ``on_beat``).

    The time left is the training steps still to run over the measured step rate of the runs
    in flight (steps per second, summed over the workers): neither a run's start-up nor the
    runs already finished, which return at once, distort it. Before a first heartbeat it is
    not known, and not shown. ``weight(run)``: the cost of one of its steps relative to the
    others' (:func:`relative_step_costs`; default 1), so psMNIST runs queued behind copy runs
    count for what they cost; ``steps`` is then the weighted sum.
    """

    def __init__(self, total: int, steps: float, weight=None):
        self.total, self.done, self.steps = total, 0, steps  # steps: still to train in all
        self.weight = weight or (lambda run: 1.0)
        self.seen: dict = {}  # run -> (first time, first step, last time, last step)
        self.rate = 0.0

    def __call__(self, trained: bool, run=None, steps: int = 0) -> str:
        """A run finished (``trained``: not reused); ``run`` and its ``steps``: as in beat()."""
        self.done += 1
        if trained and run is not None:
            self.steps -= (steps - self.seen.pop(run, (0, 0, 0, 0))[3]) * self.weight(run)
        return f"[{self.done}/{self.total}]" + self.left()

    def beat(self, in_flight: list[tuple[object, str, int, int]]) -> str:
        """``in_flight``: (run, label, step, steps) of each run training now."""
        now, rate = time.monotonic(), 0.0
        for run, _, step, _ in in_flight:
            first_t, first_step, _, last_step = self.seen.get(run, (now, step, now, 0))
            self.steps -= (step - last_step) * self.weight(run)
            self.seen[run] = (first_t, first_step, now, step)
            if now > first_t + 1.0:
                rate += (step - first_step) * self.weight(run) / (now - first_t)
        self.rate = rate or self.rate
        runs = ", ".join(f"{label} step {step}/{steps}" for _, label, step, steps in in_flight)
        return f"  ... [{self.done}/{self.total}] done; training {runs}" + self.left()

    def left(self) -> str:
        if self.rate <= 0 or self.steps <= 0:
            return ""
        return f" (about {_duration(self.steps / self.rate)} left at the current step rate)"


class Lines:
    """A sweep's progress lines, said by ``say`` (print by default). On a terminal the
    heartbeat is one live line, rewritten in place until the next line; elsewhere (a log, a
    pipe, a test's list) every heartbeat is a line of its own, so a log shows the sweep alive."""

    def __init__(self, say=print):
        self.say = say
        self.live = say is print and sys.stdout.isatty()
        self.shown = False  # a live line is on the terminal now

    def __call__(self, text: str) -> None:
        self._clear()
        self.say(text)
        if self.say is print:
            sys.stdout.flush()

    def beat(self, text: str) -> None:
        if not self.live:
            return self(text)
        width = shutil.get_terminal_size().columns
        sys.stdout.write("\r\033[K" + text.strip()[: max(width - 1, 20)])
        sys.stdout.flush()
        self.shown = True

    def _clear(self) -> None:
        if self.shown:
            sys.stdout.write("\r\033[K")
            sys.stdout.flush()
            self.shown = False
