"""The suite runs on pytest-xdist's workers (``-n auto``, pyproject.toml): one process per
core. Each worker, and every command a test starts, computes on one thread, as rnnmem's own
sweep workers do: two processes with an OpenMP pool of all the cores each, on the same cores,
make a small product ~10× slower (measured: a 7 s command took 190 s beside a busy sweep)."""

import os

if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OMP_NUM_THREADS"] = "1"  # the commands a test starts (before torch loads)
    import torch

    torch.set_num_threads(1)
