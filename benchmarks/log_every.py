"""What losses.csv costs a run: the same run with ``log_every`` 1 (a point every step, the most
that can be asked) and 10 (the default), interleaved ROUNDS times, against a log so sparse it
writes nothing (``log_every`` = 10⁹). The curve is written at each evaluation from the losses the
checkpoint keeps anyway, so no step waits on it; what is left is the file written per
evaluation.

    python benchmarks/log_every.py [STEPS] [ROUNDS]

Prints the median wall time of each setting and its difference to the sparse log.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from rnnmem.config import TrainConfig
from rnnmem.train import train

SETTINGS = {"every step": 1, "default (10)": 10, "none written": 10**9}


def seconds(config: TrainConfig, log_every: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        train(config, Path(tmp) / "run", log_every=log_every)
        return time.perf_counter() - start


def main(steps: int = 2000, rounds: int = 3) -> None:
    torch.set_num_threads(1)
    config = TrainConfig(task="copy", T=100, S=10, K=8, model="lt-rnn", hidden=80,
                         steps=steps, eval_every=50, val_size=100)
    times = {name: [] for name in SETTINGS}
    for _ in range(rounds):
        for name, every in SETTINGS.items():
            times[name].append(seconds(config, every))
    base = statistics.median(times["none written"])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:14s} {median:7.2f} s  ({100 * (median - base) / base:+.1f} % against "
              "none written)")


if __name__ == "__main__":
    main(*map(int, sys.argv[1:3]))
