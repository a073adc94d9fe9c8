"""Per-iteration time of expRNN's own copy script against rnnmem's exprnn, side by side.

Same setting (copy L = 1000, hidden 190, batch 128, RMSprop 2e-4 / 2e-5), 1 thread, the two
interleaved ROUNDS times; median of the iterations after the first two of each run. The
original (github.com/Lezcano/expRNN) needs three small patches to run on current PyTorch and the
CPU, applied by ``prepare`` below to a copy of it:

    git clone https://github.com/Lezcano/expRNN /tmp/exprnn_orig
    python benchmarks/exprnn_side_by_side.py /tmp/exprnn_orig [ITERATIONS] [ROUNDS]

``--mode exprnn`` (a static matrix exponential, as rnnmem's parametrization) is timed; the
script's default "dtriv" re-bases every 100 iterations and costs the same in between.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch


def prepare(repo: Path) -> None:
    """torch.solve → torch.linalg.solve, the CPU instead of CUDA, one thread, a timestamp per
    iteration (idempotent)."""
    edits = {
        "expm32.py": [("torch.solve(P, Q)[0]", "torch.linalg.solve(Q, P)")],
        "trivializations.py": [("torch.solve(Id - X, Id + X)[0]",
                                "torch.linalg.solve(Id + X, Id - X)")],
        "1_copying.py": [
            ("torch.device('cuda')", "torch.device('cpu')"),
            ("import argparse\n", "import argparse\ntorch.set_num_threads(1)\n"),
            ('print("Iter {}: Loss= {:.6f}, Accuracy= {:.5f}".format(step, loss, accuracy))',
             'import time as _t; print("ITER", step, _t.perf_counter(), flush=True)')],
    }
    for name, pairs in edits.items():
        path = repo / name
        text = path.read_text()
        for old, new in pairs:
            text = text.replace(old, new)
        path.write_text(text)


def original(repo: Path, iterations: int) -> list[float]:
    out = subprocess.run([sys.executable, "1_copying.py", "--T", str(iterations), "--mode",
                          "exprnn"], cwd=repo, capture_output=True, text=True, check=True).stdout
    stamps = [float(line.split()[2]) for line in out.splitlines() if line.startswith("ITER")]
    return [b - a for a, b in zip(stamps, stamps[1:], strict=False)][1:]


def ours(iterations: int) -> list[float]:
    from rnnmem.build import make_model, make_task
    from rnnmem.config import TrainConfig
    from rnnmem.loop import make_optimizer
    from rnnmem.train import TaskWorkload

    torch.set_num_threads(1)
    config = TrainConfig(task="copy", convention="exprnn", T=1000, model="exprnn", hidden=190,
                         batch=128, lr=2e-4, lr_orth=2e-5)
    task = make_task(config)
    model = make_model(config, task, torch.Generator().manual_seed(0))
    optimizer, workload = make_optimizer(config, model), TaskWorkload(task, config)
    times = []
    for _ in range(iterations):
        start = time.perf_counter()
        loss = workload.batch_loss(model)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return times[2:]


def main() -> None:
    repo = Path(sys.argv[1])
    iterations, rounds = (int(a) for a in (sys.argv[2:] + ["10", "2"])[:2])
    prepare(repo)
    theirs, mine = [], []
    for _ in range(rounds):
        theirs += original(repo, iterations)
        mine += ours(iterations)
    a, b = statistics.median(theirs), statistics.median(mine)
    print(f"expRNN's 1_copying.py: {1000 * a:.0f} ms/iteration; rnnmem exprnn: "
          f"{1000 * b:.0f} ms/iteration; rnnmem is {a / b:.2f}x faster")


if __name__ == "__main__":
    main()
