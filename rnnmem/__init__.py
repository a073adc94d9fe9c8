"""rnnmem: long-memory tasks, recurrent networks and their initializations."""

__version__ = "0.1.0"

from .registry import (  # noqa: E402
    register_experiment,
    register_init,
    register_model,
    register_task,
)

# (``rnnmem.train`` is the module of ``train(config, run_dir)``: from rnnmem.train import train)
__all__ = ["Job", "TrainConfig", "load_plugin", "load_runs", "register_experiment", "register_init",
           "register_model", "register_task"]


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
