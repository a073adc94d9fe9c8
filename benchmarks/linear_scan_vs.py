"""The sequential linear scan (rnnmem.nn.linear_scan) of this checkout against that of another
commit, forward + backward, one thread, alternating old and new in one process (median of 7).

    python benchmarks/linear_scan_vs.py 6ebc798

Sizes: the LRU's at copy and psMNIST (complex), S6's state at the memory benchmark's MQAR and
at copy d=80 (real, H·d_state = 1024 and 1280 numbers per sequence).
"""

import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from rnnmem.nn import linear_scan as new

SIZES = [(520, 50, 80, False), (520, 50, 80, True), (784, 50, 128, True), (128, 32, 1024, False),
         (520, 50, 1280, False)]


def load_old(rev: str):
    source = subprocess.run(["git", "show", f"{rev}:rnnmem/nn/linear_scan.py"], check=True,
                            capture_output=True, text=True).stdout
    source = source.replace("from .scan import", "from rnnmem.nn.scan import")
    path = Path(tempfile.mkdtemp()) / "old_linear_scan.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("old_linear_scan", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def median_ms(fn, n: int = 7) -> float:
    fn()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * sorted(times)[n // 2]


def main(rev: str) -> None:
    torch.set_num_threads(1)
    old = load_old(rev)
    for T, B, N, is_complex in SIZES:
        dtype = torch.complex64 if is_complex else torch.float32
        a = (torch.rand(T, B, N) * 0.9).to(dtype).requires_grad_()
        b = torch.randn(T, B, N).to(dtype).requires_grad_()
        times = {}
        for name, module in (("old", old), ("new", new), ("old", old), ("new", new)):
            def step(m=module):
                x = m.sequential_scan(a, b)
                (x.real.sum() if is_complex else x.sum()).backward()
            times.setdefault(name, []).append(median_ms(step))
        kind = "complex" if is_complex else "real"
        print(f"(T, B, N) = ({T}, {B}, {N}) {kind}: {rev} "
              f"{' / '.join(f'{t:.1f}' for t in times['old'])} ms, this checkout "
              f"{' / '.join(f'{t:.1f}' for t in times['new'])} ms")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "HEAD")
