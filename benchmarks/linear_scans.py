"""The diagonal models' two kernels side by side: sequential (fused loop) and parallel scan.

    python benchmarks/linear_scans.py [REPEATS]      # default 6

Forward + backward of the LRU and minGRU layers (loss = sum of all states, one thread) at
rnnmem bench's sizes, every row of one size interleaved in one process (so a loaded machine
slows them alike), median of REPEATS after 2 warm-up calls. The faster kernel is the layers'
default (``rnnmem.nn.linear_scan.DEFAULT_SCAN``; docs/bench.md).
"""

from __future__ import annotations

import statistics
import sys
import time

import torch

from rnnmem.bench import SIZES
from rnnmem.nn import build_layer
from rnnmem.nn.linear_scan import SCANS
from rnnmem.nn.protocol import all_states


def main(repeats: int = 6) -> None:
    torch.set_num_threads(1)
    print(f"{'size (B, H, T)':<28}" + "".join(f"{m + ' ' + s:>20}" for m in ("lru", "mingru")
                                               for s in SCANS) + "  (ms, fwd+bwd)")
    for label, B, H, T, n in SIZES:
        layers = {(m, s): build_layer(m, n, H, scan=s, generator=torch.Generator().manual_seed(0))
                  for m in ("lru", "mingru") for s in SCANS}
        x = torch.randn(T, B, n, generator=torch.Generator().manual_seed(1))
        times = {k: [] for k in layers}
        for i in range(repeats + 2):
            for k, layer in layers.items():
                layer.zero_grad(set_to_none=True)
                start = time.perf_counter()
                all_states(layer, x).sum().backward()
                if i >= 2:
                    times[k].append(time.perf_counter() - start)
        print(f"{f'{label} ({B}, {H}, {T})':<28}" + "".join(
            f"{statistics.median(times[k]) * 1e3:>20.1f}" for k in layers), flush=True)


if __name__ == "__main__":
    main(*map(int, sys.argv[1:]))
