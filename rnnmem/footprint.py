"""Bytes a job needs, estimated before anything large is allocated, so that a size the machine
cannot hold is refused in one line instead of failing deep inside PyTorch (or swapping)."""

from __future__ import annotations

import os

_FLOAT32, _FLOAT64 = 4, 8


def available_bytes() -> int:
    """Physical memory of this machine."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not on this platform: do not refuse
        return 2**62


def _gib(n: float) -> str:
    return f"{n / 2**30:.3g} GiB"


class TooLarge(ValueError):
    """A job that this machine's memory cannot hold."""


def require(needed: float, what: str, advice: str) -> None:
    """Raise :class:`TooLarge` if ``needed`` bytes exceed the machine's memory."""
    have = available_bytes()
    if needed > have:
        raise TooLarge(f"{what} needs about {_gib(needed)} of memory, more than this "
                         f"machine's {_gib(have)}; {advice}")


def training_bytes(config, task) -> float:
    """The largest tensors of a synthetic-task or MNIST run: hidden states of a training
    batch with their gradients and gate pre-activations, the validation inputs and the
    states of one evaluation chunk (``train.evaluate``: 500 sequences), and the recurrent
    weights with their gradient and two optimizer buffers."""
    from .registry import model_spec

    width = model_spec(config.model).state_blocks * config.hidden
    length = task.length
    train_states = 4 * length * config.batch * (width + task.n_outputs)
    val_inputs = length * config.val_size * task.n_inputs
    val_states = length * min(config.val_size, 500) * (width + task.n_outputs)
    weights = 4 * config.hidden * width
    return _FLOAT32 * (train_states + val_inputs + val_states + weights)


def require_training(config, task) -> None:
    require(training_bytes(config, task), "this run",
            "reduce T, hidden, batch or val_size")


def require_square(n: int, copies: int, what: str, flag: str) -> None:
    """``copies`` dense float64 n × n matrices (the linear-theory and construction tools)."""
    require(copies * _FLOAT64 * float(n) ** 2, what, f"reduce {flag}")
