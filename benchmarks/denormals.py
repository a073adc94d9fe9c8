"""Training with denormals flushed (a run's default, rnnmem.device.run_arithmetic) and kept.

    python benchmarks/denormals.py --steps 10 --rounds 2 lstm:adding:800 s6:adding:800

Each round trains every given run (model:task:T at the paper horizon's sizes: hidden 64,
batch 50, one thread) for ``--steps`` steps twice, denormals kept then flushed, into a temporary
directory, and prints seconds per step of each; at the end, whether both gave the same weights
(summary.json's checksum of model.pt).
"""

import argparse
import contextlib
import dataclasses
import tempfile
from pathlib import Path
from unittest import mock

import torch

from rnnmem.experiments.horizon import BUDGETS, job_config
from rnnmem.io import read_json
from rnnmem.train import train


def run(entry: str, steps: int, out: Path, flush: bool) -> tuple[float, str]:
    model, task, T = entry.split(":")
    config = job_config(model, task, int(T), 0, BUDGETS["paper"])
    config = dataclasses.replace(config, steps=steps, eval_every=steps, val_size=50,
                                 stop_ratio=None)
    kept = mock.patch.object(torch, "set_flush_denormal", lambda on: True)  # run_arithmetic's
    with contextlib.nullcontext() if flush else kept:
        train(config, out, overwrite=True)
    summary = read_json(out / "summary.json")
    return summary["seconds"] / steps, summary["integrity"]["weights"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", help="model:task:T, e.g. lstm:adding:800")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for entry in args.runs:
            seen = {}
            for r in range(args.rounds):
                for flush in (False, True):
                    seconds, weights = run(entry, args.steps, Path(tmp) / "run", flush)
                    seen.setdefault(flush, set()).add(weights)
                    print(f"{entry} round {r} {'flushed' if flush else 'kept   '} "
                          f"{seconds:.3f} s/step", flush=True)
            print(f"{entry} same weights: {seen[False] == seen[True] and len(seen[True]) == 1}")


if __name__ == "__main__":
    main()
