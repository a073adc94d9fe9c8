"""A run configuration built into its task and model (config.py stays data)."""

from __future__ import annotations

import torch

from .config import READOUT_OPTIONS, TrainConfig
from .errors import RnnmemError
from .plugins import time_limit
from .registry import model_spec, task_spec


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
    A layer constructor's ValueError (its own check of its options), or any exception of a
    plugin's constructor, is a :class:`ModelBuildError`."""
    from .nn import RecurrentNet, build_layer, build_readout  # rnnmem.nn registers through here

    spec = model_spec(config.model)
    try:
        rnn = build_layer(config.model, task.n_inputs, config.hidden, generator=generator,
                          **layer_options(config))
    except ValueError as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ModelBuildError(f"model {config.model}: {reason}") from None
    except Exception as err:  # noqa: BLE001 - a plugin's code: any error, one line
        if spec.builtin:
            raise  # rnnmem's own bug: its traceback
        raise ModelBuildError(f"model {config.model}: its constructor fails: "
                              f"{_first_line(err)}") from None
    if not spec.builtin:
        check_layer_output(rnn, config.model, task.n_inputs, spec.output_blocks * config.hidden)
    options = config.model_options
    return RecurrentNet(rnn, build_readout(
        config.model, config.hidden, task.n_outputs, pool=options.get("pool", 2),
        bias=options.get("readout_bias") is not False,
        classifier=config.task_kind == "classification", generator=generator), task.n_inputs)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0]}" if text else type(err).__name__


def check_layer_output(layer, name: str, n_inputs: int, width: int) -> None:
    """A plugin's layer, run once on a tiny batch (T = 3 ≠ B = 2, zeros): its states must be a
    float32 tensor (T, B, width), or :class:`ModelBuildError` says what it returned (a layer
    returning (B, T, H) would otherwise train, wrongly, wherever B = T). The random state is
    left as it was."""
    from .nn.protocol import all_states

    x = torch.zeros(3, 2, n_inputs)
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        try:
            with time_limit("its forward on a (3, 2) batch"):
                h = all_states(layer, x)
        except Exception as err:  # noqa: BLE001 - the plugin's code: any error, one line
            raise ModelBuildError(f"model {name}: its layer fails on a (T, B, n_inputs) = "
                                  f"(3, 2, {n_inputs}) input: {_first_line(err)}") from None
    if not isinstance(h, torch.Tensor):
        raise ModelBuildError(f"model {name}: its layer returned {type(h).__name__}, not a "
                              "tensor of hidden states (T, B, H)")
    if tuple(h.shape) != (3, 2, width):
        raise ModelBuildError(f"model {name}: its layer returned states of shape "
                              f"{tuple(h.shape)} for T = 3, B = 2; expected (T, B, H) = "
                              f"(3, 2, {width}) (time first)")
    if h.dtype != torch.float32:
        raise ModelBuildError(f"model {name}: its layer returned {h.dtype} states; the harness "
                              "trains in torch.float32")
