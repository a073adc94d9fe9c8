"""Bytes a job needs, estimated before anything large is allocated, so that a size the machine
cannot hold is refused in one line instead of failing deep inside PyTorch (or swapping)."""

from __future__ import annotations

import os

from .errors import RnnmemError

_FLOAT32, _FLOAT64 = 4, 8


def available_bytes() -> int:
    """The memory this process may use: the least of the machine's physical memory, its
    address-space limit (``ulimit -v``, RLIMIT_AS) and its cgroup's ``memory.max``."""
    return min(_physical(), _rlimit(), _cgroup())


def _physical() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not on this platform: do not refuse
        return 2**62


def _rlimit() -> int:
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, ValueError, OSError):
        return 2**62
    return 2**62 if soft == resource.RLIM_INFINITY or soft < 0 else soft


CGROUP_FILES = ("/sys/fs/cgroup/memory.max",  # cgroup v2
                "/sys/fs/cgroup/memory/memory.limit_in_bytes")  # v1


def _cgroup(files=CGROUP_FILES) -> int:
    for name in files:
        try:
            with open(name) as f:
                text = f.read().strip()
        except OSError:
            continue
        if text.isdigit():  # "max": no limit
            return int(text)
    return 2**62


def _gib(n: float) -> str:
    return f"{n / 2**30:.3g} GiB"


class TooLarge(RnnmemError):
    """A job that this machine's memory cannot hold."""


def require(needed: float, what: str, advice: str) -> None:
    """Raise :class:`TooLarge` if ``needed`` bytes exceed the machine's memory."""
    have = available_bytes()
    if needed > have:
        raise TooLarge(f"{what} needs about {_gib(needed)} of memory, more than the "
                       f"{_gib(have)} this process may use (RAM, ulimit -v, cgroup); {advice}")


def training_bytes(config, task) -> float:
    """The largest tensors of a synthetic-task or MNIST run: hidden states of a training
    batch with their gradients and gate pre-activations, the validation inputs and the
    states of one evaluation chunk (``train.evaluate``: 500 sequences), and the recurrent
    weights with their gradient and two optimizer buffers."""
    from .registry import model_spec

    width = model_spec(config.model).state_blocks * config.hidden
    length = getattr(task, "length", None)  # a plugin's task need not say: one sequence does
    if length is None:
        import torch

        length = task.sample(1, torch.Generator().manual_seed(0))[0].shape[0]
    train_states = 4 * length * config.batch * (width + task.n_outputs)
    val_inputs = length * config.val_size * task.n_inputs
    val_states = length * min(config.val_size, 500) * (width + task.n_outputs)
    weights = 4 * config.hidden * width
    options = config.model_options  # Henaff §4.2's penalty points, where the model has them
    penalty = 3 * options.get("penalty_points", 0) * config.hidden if options.get(
        "penalty_lr", 0) > 0 else 0
    return _FLOAT32 * (train_states + val_inputs + val_states + weights + penalty)


def require_training(config, task) -> None:
    require(training_bytes(config, task), "this run",
            "reduce T, hidden, batch, val_size or penalty_points")


def lm_bytes(config, vocab: int) -> float:
    """A language model's largest tensors: embedding, recurrent layers and decoder with their
    gradients and two Adam buffers, the activations of one BPTT window (with gradients), and an
    evaluation window's logits."""
    from .registry import model_spec

    options = config.task_options
    emb, layers, bptt = options["embedding"] or config.hidden, options["layers"], options["bptt"]
    blocks = model_spec(config.model).state_blocks
    params = vocab * emb + config.hidden * vocab + layers * blocks * config.hidden * (
        emb + config.hidden)
    window = bptt * config.batch * (emb + layers * blocks * config.hidden + vocab)
    return _FLOAT32 * (4 * params + 4 * window + bptt * 10 * vocab)


def require_lm(config, vocab: int, train_tokens: int) -> None:
    if 2 * config.batch > train_tokens:
        raise TooLarge(f"batch {config.batch} asks for more parallel streams than the "
                       f"{train_tokens} training tokens can fill; reduce batch")
    require(lm_bytes(config, vocab), "this language model",
            "reduce hidden, embedding, layers, batch or bptt")


def require_square(n: int, copies: int, what: str, flag: str) -> None:
    """``copies`` dense float64 n × n matrices (the linear-theory and construction tools)."""
    require(copies * _FLOAT64 * float(n) ** 2, what, f"reduce {flag}")
