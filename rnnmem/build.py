"""A run configuration built into its task and model (config.py stays data)."""

from __future__ import annotations

import torch

from .config import READOUT_OPTIONS, TrainConfig
from .errors import RnnmemError
from .registry import task_spec


def make_task(config: TrainConfig):
    """The task a config describes, built by its registration (MNIST loads its data here)."""
    return task_spec(config.task).build(config.task_options)


def layer_options(config: TrainConfig) -> dict:
    """The model options its layer takes (the rest are its readout's)."""
    return {k: v for k, v in config.model_options.items() if k not in READOUT_OPTIONS}


class ModelBuildError(RnnmemError):
    """A layer's constructor refused the config's options (e.g. the LRU's r_max = 2): one line
    naming the model, as the CLI prints it."""


def make_model(config: TrainConfig, task, generator: torch.Generator | None = None):
    """The model a config describes, sized for ``task`` (as :func:`~rnnmem.nn.build_model`).
    A layer constructor's ValueError (its own check of its options) is a
    :class:`ModelBuildError`."""
    from .nn import RecurrentNet, build_layer, build_readout  # rnnmem.nn registers through here

    try:
        rnn = build_layer(config.model, task.n_inputs, config.hidden, generator=generator,
                          **layer_options(config))
    except ValueError as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ModelBuildError(f"model {config.model}: {reason}") from None
    options = config.model_options
    return RecurrentNet(rnn, build_readout(
        config.model, config.hidden, task.n_outputs, pool=options.get("pool", 2),
        bias=options.get("readout_bias") is not False,
        classifier=config.task_kind == "classification", generator=generator), task.n_inputs)
