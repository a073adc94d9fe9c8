"""A registered layer of a git revision against the working tree's, in alternating processes.

    python benchmarks/layer_before_after.py REV MODEL [T,B,H] [--rounds 3]

Each round times the layer once with REV's rnnmem (``git archive`` into a temporary folder) and
once with this tree's, each in a fresh process on one thread: forward + backward of a batch of
T sequences (default copy's 520 × 50 at width 80, the paper budget's S6 on copy) with 2 inputs,
the least of 5 calls after 2 warm-up calls; then the median and the least over rounds. The same
seed builds the same weights in both, so the printed sums also show the two agree.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).parents[1]
TIMING = """
import statistics, sys, time
import torch
from rnnmem.nn.model import build_layer
torch.set_num_threads(1)
T, B, H = {size}
layer = build_layer({model!r}, 2, H, generator=torch.Generator().manual_seed(0))
x = torch.randn(T, B, 2, generator=torch.Generator().manual_seed(1))
times = []
for i in range(7):
    start = time.perf_counter()
    y, _ = layer(x)
    y.square().mean().backward()
    times.append(time.perf_counter() - start)
print(min(times[2:]) * 1e3, float(y.detach().double().sum()))
"""


def tree_at(rev: str) -> Path:
    """rnnmem/ as it was at ``rev``, in a temporary folder."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "rnnmem"], check=True,
                             capture_output=True).stdout
    folder = Path(tempfile.mkdtemp())
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def timed(tree: Path, model: str, size: tuple) -> tuple[float, float]:
    """(ms of forward + backward, the output's sum) with ``tree``'s rnnmem."""
    done = subprocess.run([sys.executable, "-c", TIMING.format(size=size, model=model)],
                          check=True, capture_output=True, text=True, cwd=tree,
                          env={"PYTHONPATH": str(tree), "OMP_NUM_THREADS": "1",
                               "PATH": "/usr/bin:/bin"})
    ms, total = done.stdout.split()
    return float(ms), float(total)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rev")
    parser.add_argument("model")
    parser.add_argument("size", nargs="?", default="520,50,80")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    size = tuple(int(n) for n in args.size.split(","))
    trees = {args.rev: tree_at(args.rev), "this tree": ROOT}
    times: dict[str, list[float]] = {name: [] for name in trees}
    for _ in range(args.rounds):
        for name, tree in trees.items():
            ms, total = timed(tree, args.model, size)
            times[name].append(ms)
            print(f"  {name}: {ms:.1f} ms (output sum {total:.6g})", file=sys.stderr)
    for name, values in times.items():  # on a busy machine the least is the truest
        print(f"{args.model} {size} {name}: {statistics.median(values):.1f} ms median, "
              f"{min(values):.1f} least of {len(values)} rounds "
              f"({', '.join(f'{v:.1f}' for v in values)})")


if __name__ == "__main__":
    main()
