"""How long an experiment's grid will take, measured on this machine before it starts.

Each distinct run shape in the grid (task and its sizes, model, width, batch) trains a few real
steps on one thread, as a sweep worker does (its kind's ``probe``, :class:`rnnmem.loop.TaskKind`);
the estimate multiplies by the steps of every job and adds the evaluations (for a task, a
forward pass costs about a third of a training step; a language model's evaluations read whole
splits: one is timed on a slice of the validation text).
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
import time

from ..config import TrainConfig
from ..loop import RunCost
from ..train import trained_as


def _shape(config: TrainConfig) -> str:
    """What a step's time depends on: the task and model with their options, sizes."""
    return json.dumps([config.task, config.task_options, config.model, config.model_options,
                       config.hidden, config.batch], sort_keys=True, default=str)


_COSTS: dict[str, RunCost | None] = {}  # a run's shape -> its measured cost (None: it failed)


def _cost(config: TrainConfig) -> RunCost | None:
    key = _shape(config)
    if key not in _COSTS:
        try:
            _COSTS[key] = trained_as(config).probe(config)
        except Exception:  # noqa: BLE001 - no corpus, or a plugin's bug: its runs fail, each
            _COSTS[key] = None  # in one line, and the estimate counts them as not estimated
    return _COSTS[key]


def step_cost(config: TrainConfig) -> float | None:
    """Seconds of one training step of ``config`` on one thread, measured here once per run
    shape (a few real steps); None where it cannot be (a corpus not installed, a model that
    fails)."""
    cost = _cost(config)
    return cost.step if cost else None


def length_scaled_steps(configs: list[TrainConfig], reference) -> list[float]:
    """Each run's step cost, in one unit for a sweep's time left (:class:`Progress`): its
    shape's step measured at length ``reference(config)`` × its T over that length, the memory
    horizon's plan estimate's model (an S6 step at adding T = 800 weighs 80 copy steps at
    T = 10 of a model as fast). A shape that cannot be measured weighs the others' mean."""
    scaled = []
    for config in configs:
        T = reference(config)
        at_reference = dataclasses.replace(config, task_options={**config.task_options, "T": T})
        scaled.append((step_cost(at_reference), config.task_options["T"] / T))
    known = [step * ratio for step, ratio in scaled if step]
    mean = sum(known) / len(known) if known else 1.0
    return [step * ratio if step else mean for step, ratio in scaled]


def relative_step_costs(configs: list[TrainConfig]) -> list[float]:
    """Each config's step cost relative to the mean of every step :func:`estimate_seconds`
    timed in this process (1 where its shape was not timed): the weights of a sweep's time
    left (:class:`Progress`), in one unit however many lists are asked."""
    measured = [c.step for c in _COSTS.values() if c and c.step]
    mean = sum(measured) / len(measured) if measured else 1.0
    costs = [_COSTS.get(_shape(c)) for c in configs]
    return [cost.step / mean if cost and cost.step else 1.0 for cost in costs]


def estimate_seconds(configs: list[TrainConfig]) -> tuple[float, int]:
    """(estimated core-seconds of training every config, configs not estimated: language
    models whose corpus is not installed, a model that fails)."""
    costs = [_cost(c) for c in configs]
    total = sum(cost.seconds(c) for c, cost in zip(configs, costs, strict=True) if cost)
    return total, sum(cost is None for cost in costs)


def describe_estimate(configs: list[TrainConfig], workers: int | None) -> str:
    """One line: estimated core-hours and wall time on ``workers`` processes."""
    seconds, skipped = estimate_seconds(configs)
    text = describe_seconds(seconds, workers, len(configs))
    if skipped:
        text += f"; {skipped} runs not estimated (a corpus not installed, or a model that fails)"
    return text


def describe_seconds(seconds: float, workers: int | None, runs: int) -> str:
    """Core-seconds of ``runs`` runs said as core time and wall time on ``workers`` processes."""
    workers = max(1, min(workers or os.cpu_count() or 1, runs))
    return (f"estimated training time {_duration(seconds)} of one core, about "
            f"{_duration(seconds / workers)} on {workers} worker process"
            f"{'es' if workers > 1 else ''} (measured here)")


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
