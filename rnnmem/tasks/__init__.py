"""Long-memory benchmark tasks: copy and variable-length copy (``copy.py``), adding
(``adding.py``), the token-recall tasks, sequential and permuted sequential MNIST
(``pixel_mnist.py``) and PTB language modelling (``ptb.py``), whose data ``rnnmem.data`` loads.

Every task is a frozen dataclass of sizes. ``task.sample(batch, generator)`` draws a batch from
an explicit ``torch.Generator`` (same seed, same batch; no global random state). Tensors are
time-first: inputs ``(L, B, n_inputs)``, model outputs ``(L, B, n_outputs)``.

Each task also knows its loss, its metric, its chance baseline (the loss of the best predictor
that does not look at the input, computed exactly) and when it counts as solved.

Example:
    >>> task = CopyTask(T=100)
    >>> x, y = task.sample(50, torch.Generator().manual_seed(0))
    >>> x.shape, y.shape
    (torch.Size([120, 50, 10]), torch.Size([120, 50]))
"""

from __future__ import annotations

# in this order: it is the registry's, which --help and listings show (copy, varcopy, adding)
from .common import SOLVED_RATIO
from .copy import COPY_CONVENTIONS, CopyTask, VariableCopyTask

# isort: split
from .adding import ADDING_CHANNELS, ADDING_PLACEMENTS, AddingTask

# isort: split
# the token-recall tasks of 2022-2024 (tokens.py): each file registers its task
from .flipflop import FlipFlopTask
from .induction import InductionTask
from .mqar import MQARTask
from .parity import ParityTask
from .selective_copy import SelectiveCopyTask

# isort: split
# the tasks on data (rnnmem/data loads it): psMNIST, then PTB language modelling
from . import pixel_mnist, ptb  # noqa: F401

__all__ = ["ADDING_CHANNELS", "ADDING_PLACEMENTS", "COPY_CONVENTIONS", "SOLVED_RATIO",
           "AddingTask", "CopyTask", "FlipFlopTask", "InductionTask", "MQARTask", "ParityTask",
           "SelectiveCopyTask", "VariableCopyTask"]
# a task by name: rnnmem.registry.task_spec(name) (one task registry, plugins' included)
