"""A scan kernel of a git revision against the working tree's, interleaved in one process.

    python benchmarks/scan_before_after.py [REV]        # default 5c0d317, the old-style Function
    python benchmarks/scan_before_after.py REV --linear # the diagonal/selective linear scan

Forward + backward, one thread, median after 5 warm-up calls: of ``scan`` (clipping at 1000;
100 calls) at the copy (T = 120, B = 50, H = 80) and psMNIST (T = 784, H = 128) sizes; with
``--linear``, of ``linear_scan.sequential_scan`` (20 calls) at the LRU's copy and psMNIST sizes
(complex) and S6's state at MQAR's and copy's (real, 1024 and 1280 numbers per sequence).
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

from rnnmem.nn import linear_scan as current_linear
from rnnmem.nn import scan as current_scan

LINEAR_SIZES = ((520, 50, 80, True), (784, 50, 128, True), (128, 32, 1024, False),
                (520, 50, 1280, False))


def module_at(rev: str, name: str):
    """rnnmem/nn/<name>.py as it was at ``rev``."""
    source = subprocess.run(["git", "show", f"{rev}:rnnmem/nn/{name}.py"], check=True,
                            capture_output=True, text=True).stdout
    source = source.replace("from .scan import", "from rnnmem.nn.scan import")
    path = Path(tempfile.mkdtemp()) / f"{name}_at_rev.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(f"{name}_at_rev", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def interleaved(kernels: dict, call, calls: int) -> dict[str, float]:
    """Median ms of ``call(kernel)`` per kernel, the kernels taking turns."""
    times: dict[str, list[float]] = {name: [] for name in kernels}
    for i in range(calls + 5):
        for name, kernel in kernels.items():
            start = time.perf_counter()
            call(kernel)
            if i >= 5:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) * 1e3 for name, t in times.items()}


def main(rev: str = "5c0d317", *flags: str) -> None:
    torch.set_num_threads(1)
    if "--linear" in flags:
        kernels = {rev: module_at(rev, "linear_scan").sequential_scan,
                   "working tree": current_linear.sequential_scan}
        for T, B, N, is_complex in LINEAR_SIZES:
            dtype = torch.complex64 if is_complex else torch.float32
            a = (torch.rand(T, B, N) * 0.9).to(dtype).requires_grad_()
            b = torch.randn(T, B, N).to(dtype).requires_grad_()

            def call(scan, a=a, b=b, is_complex=is_complex):
                x = scan(a, b)
                (x.real.sum() if is_complex else x.sum()).backward()
            ms = interleaved(kernels, call, 20)
            print(f"T={T} B={B} N={N} {'complex' if is_complex else 'real'}: "
                  + ", ".join(f"{name} {t:.1f} ms" for name, t in ms.items()))
        return
    kernels = {rev: module_at(rev, "scan").scan, "working tree": current_scan}
    for T, B, H in ((120, 50, 80), (784, 50, 128)):
        g = torch.Generator().manual_seed(0)
        a = torch.randn(T, B, H, generator=g).requires_grad_()
        V = torch.linalg.qr(torch.randn(H, H, generator=g)).Q.requires_grad_()
        ms = interleaved(kernels, lambda scan, a=a, V=V: scan(a, V, clip=1000.0).sum().backward(),
                         100)
        print(f"T={T} B={B} H={H}: " + ", ".join(f"{name} {t:.2f} ms" for name, t in ms.items()))


if __name__ == "__main__":
    main(*sys.argv[1:])
