"""One training job of every registered model on CUDA and on the CPU, side by side.

    python benchmarks/gpu_check.py [--steps 300] [--cpu-steps 30] [--T 100] [--json FILE]

For each model: the copy task (T = 100, Henaff's sizes: 80 units, batch 50, the model's
recipe), ``--steps`` training steps on ``cuda`` and ``--cpu-steps`` on the CPU (one thread),
through ``rnnmem.train.train``, the whole harness (batches drawn on the CPU and moved,
evaluations, checkpoints). Prints steps per second on each and their ratio, and checks what the
device must not change: the first step's training loss (the same initial weights and batch on
both devices) agrees to 1e-4 relative. Exits 1 if any job fails or disagrees, 2 without CUDA.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

from rnnmem.registry import model_specs
from rnnmem.train import TrainConfig, train


def timed_run(model: str, device: str, steps: int, T: int, root: Path) -> dict:
    config = TrainConfig(task="copy", T=T, model=model, steps=steps, eval_every=steps,
                         val_size=100, device=device, seed=0)
    start = time.perf_counter()
    summary = train(config, root / f"{model}-{device}")
    seconds = time.perf_counter() - start
    return dict(steps_per_s=steps / seconds, first_loss=summary["initial_train_loss"],
                status=summary["status"])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=300, help="steps on cuda (default: 300)")
    p.add_argument("--cpu-steps", type=int, default=30, help="steps on the CPU (default: 30)")
    p.add_argument("--T", type=int, default=100, help="copy delay (default: 100)")
    p.add_argument("--json", type=Path, help="also write the rows to this file")
    args = p.parse_args(argv)
    if not torch.cuda.is_available():
        print(f"gpu_check: torch {torch.__version__} sees no CUDA device", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    print(f"{torch.cuda.get_device_name()} (torch {torch.__version__}, CUDA "
          f"{torch.version.cuda}) against 1 CPU thread; copy T = {args.T}, B = 50, H = 80")
    print(f"{'model':<12} {'cuda steps/s':>12} {'cpu steps/s':>12} {'cuda/cpu':>9} "
          f"{'first loss cuda':>16} {'cpu':>10}")
    rows, bad = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for model in model_specs():
            try:
                gpu = timed_run(model, "cuda", args.steps, args.T, Path(tmp))
                cpu = timed_run(model, "cpu", args.cpu_steps, args.T, Path(tmp))
            except Exception as err:  # noqa: BLE001 - one model's failure is a row, not the end
                print(f"{model:<12} FAILED: {type(err).__name__}: {err}")
                rows.append(dict(model=model, error=f"{type(err).__name__}: {err}"))
                bad += 1
                continue
            agree = abs(gpu["first_loss"] - cpu["first_loss"]) <= 1e-4 * abs(cpu["first_loss"])
            bad += not agree
            rows.append(dict(model=model, cuda=gpu, cpu=cpu, first_loss_agrees=agree))
            print(f"{model:<12} {gpu['steps_per_s']:>12.1f} {cpu['steps_per_s']:>12.1f} "
                  f"{gpu['steps_per_s'] / cpu['steps_per_s']:>9.2f} {gpu['first_loss']:>16.6f} "
                  f"{cpu['first_loss']:>10.6f}" + ("" if agree else "  DISAGREE"))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
