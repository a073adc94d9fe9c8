"""The suite runs on pytest-xdist's workers (``-n auto``, pyproject.toml): one process per
core. Each worker, and every command a test starts, computes on one thread, as rnnmem's own
sweep workers do: two processes with an OpenMP pool of all the cores each, on the same cores,
make a small product ~10× slower (measured: a 7 s command took 190 s beside a busy sweep)."""

import os

import pytest

if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OMP_NUM_THREADS"] = "1"  # the commands a test starts (before torch loads)
    import torch

    torch.set_num_threads(1)


@pytest.fixture
def forget_registrations():
    """What a test's plugins register is gone after it: the registry, the loaded plugins and
    $RNNMEM_PLUGINS as they were. An xdist worker runs many test files in one process; a
    hostile plugin left registered there (an experiment of 10**7 jobs) made every later test
    that walks the experiments on that worker fail or hang."""
    from rnnmem import plugins, registry

    # rnnmem's own entries first: registered during the test (on a first import of their
    # module, never repeated), the restore below would drop them for the rest of the worker
    registry._builtins()
    registry.experiments()
    tables = [registry._MODELS, registry._TASKS, registry._EXPERIMENTS, plugins._loaded,
              *registry._INITS.values()]
    saved = [dict(table) for table in tables]
    env = os.environ.get(plugins.ENV)
    yield
    for table, before in zip(tables, saved, strict=True):
        table.clear()
        table.update(before)
    if env is None:
        os.environ.pop(plugins.ENV, None)
    else:
        os.environ[plugins.ENV] = env
