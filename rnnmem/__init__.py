"""rnnmem: long-memory tasks, recurrent networks and their initializations."""

from . import registry
from ._version import __version__  # noqa: F401 - rnnmem.__version__
from .errors import RnnmemError
from .registry import (
    register_experiment,
    register_init,
    register_model,
    register_task,
)

# What registers the built-ins, handed to the registry, which imports nothing above it (the
# models, inits and tasks register where they are defined, on first lookup; so do experiments)
registry.declare_builtins(("rnnmem.init", "rnnmem.nn", "rnnmem.tasks"),
                          experiments=("rnnmem.experiments.registry",))

# (``rnnmem.train`` is the module of ``train(config, run_dir)``: from rnnmem.train import train)
__all__ = ["Job", "RnnmemError", "TrainConfig", "load_plugin", "load_runs",
           "register_experiment", "register_init", "register_model", "register_task"]


def __getattr__(name: str):
    """The training API on first use (``import rnnmem`` stays light: no torch import)."""
    if name == "TrainConfig":
        from .config import TrainConfig

        return TrainConfig
    if name == "Job":
        from .experiments.jobs import Job

        return Job
    if name == "load_runs":
        from .export import load_runs

        return load_runs
    if name == "load_plugin":
        from .plugins import load_plugin

        return load_plugin
    raise AttributeError(f"module 'rnnmem' has no attribute {name!r}")
