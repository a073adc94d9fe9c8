"""Where a run computes: ``cpu`` (the default, on which every committed result was made),
``cuda`` (``cuda:N``), ``mps``, or ``auto`` (the first of cuda, mps, cpu this machine has).

Random numbers are drawn on the CPU whatever the device: every generator of a run (its
initialization, its batches, Henaff's penalty vectors) is a CPU ``torch.Generator``, and what
it draws is moved to the run's device. So a CPU run's numbers are those of rnnmem before
devices existed, and a run on any device starts from the same weights and sees the same data;
what differs on a GPU is the arithmetic (docs/reliability.md).
"""

from __future__ import annotations

import contextlib
import platform

import torch

from .errors import RnnmemError

KINDS = ("cpu", "cuda", "mps")
CHOICES = ("auto", *KINDS)


class DeviceUnavailable(RnnmemError):
    """A device this machine does not have (one line, for ``rnnmem``'s exit status 2)."""


def check_device(name) -> str:
    """``name`` if it names a device kind rnnmem runs on (``cuda:1`` included), else
    ValueError. Whether this machine has it is :func:`require_device`'s question."""
    if name == "auto":
        return name
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        device = None
    if device is None or device.type not in KINDS or (device.type == "cpu"
                                                      and device.index not in (None, 0)):
        raise ValueError(f"device must be one of {', '.join(CHOICES)} (or cuda:N), "
                         f"got {name!r}")
    return name


def available(kind: str) -> bool:
    if kind == "cuda":
        return torch.cuda.is_available()
    if kind == "mps":
        return torch.backends.mps.is_available()
    return kind == "cpu"


def resolve_device(name: str) -> str:
    """``auto`` as the device it picks here (cuda, else mps, else cpu); any other name as it is."""
    if name != "auto":
        return check_device(name)
    return next(kind for kind in KINDS[1:] + ("cpu",) if available(kind))


def require_device(name: str) -> torch.device:
    """The ``torch.device`` a run of ``name`` computes on; DeviceUnavailable if this machine
    has none (``cuda:3`` on a machine with 2 GPUs included)."""
    device = torch.device(resolve_device(name))
    if not available(device.type):
        raise DeviceUnavailable(f"device {name!r} is not available on this machine (torch "
                                f"{torch.__version__} sees no {device.type}); use --device cpu")
    if device.type == "cuda" and device.index is not None \
            and device.index >= torch.cuda.device_count():
        raise DeviceUnavailable(f"device {name!r} is not available: this machine has "
                                f"{torch.cuda.device_count()} CUDA device(s)")
    return device


def model_device(module: torch.nn.Module) -> torch.device:
    """The device of a module's parameters (the CPU for one without any)."""
    parameter = next(module.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def kernel_path(device: torch.device | str = "cpu") -> str:
    """What decides a run's arithmetic beyond its config and seed: the CPU's instruction set
    as PyTorch dispatches it (``AVX512``, ``AVX2``, ...) or the GPU's name, and the torch build.
    Runs agree bit for bit only on the same kernel path (docs/reliability.md); an LSTM trained
    on an AVX-512 and an AVX2 machine can end apart in the second digit."""
    device = torch.device(device)
    if device.type == "cuda":
        where = f"cuda {torch.cuda.get_device_name(device)}, CUDA {torch.version.cuda}"
    elif device.type == "mps":
        where = f"mps {platform.machine()}"
    else:
        where = f"cpu {platform.machine()} {torch.backends.cpu.get_cpu_capability()}"
    return f"{where}, torch {torch.__version__}"


@contextlib.contextmanager
def run_arithmetic(threads: int):
    """How a run computes on the CPU, set while it trains and undone after: torch's intra-op
    threads at ``threads``, and denormal floats flushed to zero.

    A gradient that decays through a long backward pass (an LSTM's at T = 400, the adding
    task's at init) reaches the denormal range (below 1.2e-38 in float32), where x86
    arithmetic is ~100× slower: a step took 2–5× longer at T = 800 (docs/bench.md). Flushed,
    such a value is 0; every committed run retrained with it gave the same weights, byte for
    byte (docs/reliability.md): below 1e-38, it never moved a sum of larger numbers. It
    applies to the calling thread (torch's backward runs there on the CPU); a run on several
    threads keeps its workers' default. Afterwards denormals are kept again, Python's default
    (torch has no getter for the previous setting)."""
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)
        torch.set_num_threads(saved)
