"""The scan kernel of a git revision against the working tree's, interleaved in one process.

    python benchmarks/scan_before_after.py [REV]        # default 5c0d317, the old-style Function

Forward + backward of ``scan`` alone (clipping at 1000, one thread), median of 100 after 5
warm-up calls, at the copy (T = 120, B = 50, H = 80) and psMNIST (T = 784, H = 128) sizes.
"""

from __future__ import annotations

import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from rnnmem.nn import scan as current_scan


def scan_of(rev: str):
    source = subprocess.run(["git", "show", f"{rev}:rnnmem/nn/scan.py"], check=True,
                            capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp()) / "scan_at_rev.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("scan_at_rev", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.scan


def main(rev: str = "5c0d317") -> None:
    torch.set_num_threads(1)
    kernels = {rev: scan_of(rev), "working tree": current_scan}
    for T, B, H in ((120, 50, 80), (784, 50, 128)):
        g = torch.Generator().manual_seed(0)
        a = torch.randn(T, B, H, generator=g).requires_grad_()
        V = torch.linalg.qr(torch.randn(H, H, generator=g)).Q.requires_grad_()
        times: dict[str, list[float]] = {name: [] for name in kernels}
        for i in range(105):
            for name, scan in kernels.items():
                start = time.perf_counter()
                scan(a, V, clip=1000.0).sum().backward()
                if i >= 5:
                    times[name].append(time.perf_counter() - start)
        print(f"T={T} B={B} H={H}: " + ", ".join(
            f"{name} {statistics.median(t) * 1e3:.2f} ms" for name, t in times.items()))


if __name__ == "__main__":
    main(*sys.argv[1:])
