"""Freed memory kept for the next training step: glibc's allocator set for whole-sequence tensors.

glibc serves every allocation above its mmap threshold (adjusted at run time, at most 32 MiB)
with fresh pages from the OS and hands them back at free, so a step's large tensors (the
(T, B, ·) activations and their gradients, S6's (T, B, H·16) states) are page-faulted in again
at every step: 8–9 % of a Mamba block's run at copy T = 320 (docs/bench.md). Raising the
mmap and trim thresholds keeps that memory in the process instead. Only where memory comes
from changes, so every value computed is bit for bit the same; the process keeps its peak
memory (up to a sixth more there).

It is a setting of the whole process, so the library never makes it on its own: the ``rnnmem``
command does, for its process and, through the environment, the sweep workers it spawns; a
Python user calls :func:`keep_freed_memory` (or sets the two variables before starting).
"""

from __future__ import annotations

import ctypes
import os

KEEP = 1 << 30  # bytes: above any tensor of the papers' sizes, far below a machine's memory
VARIABLES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")  # glibc reads them at start
OPT_OUT = "RNNMEM_KEEP_MEMORY"  # "0": leave the allocator as it is
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)


def keep_freed_memory(limit: int = KEEP) -> bool:
    """Keep freed blocks up to ``limit`` bytes in this process (glibc's ``mallopt``), and in
    the processes it spawns (the environment); True where this call set it.

    Nothing is changed off glibc, where ``RNNMEM_KEEP_MEMORY=0``, or where the environment
    already names either glibc threshold (that choice stands)."""
    if os.environ.get(OPT_OUT) == "0" or any(name in os.environ for name in VARIABLES):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError, TypeError):  # not glibc (macOS, Windows)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    if not (mallopt(_M_MMAP_THRESHOLD, limit) == 1 and mallopt(_M_TRIM_THRESHOLD, limit) == 1):
        return False  # musl's mallopt is a no-op returning 0
    os.environ.update(dict.fromkeys(VARIABLES, str(limit)))
    return True
