"""``rnnmem reproduce memory-benchmark``: every registered model on the memory tasks of
2022–2024 (selective copying, MQAR, induction heads, flip-flop, parity), each model tuned by the
fair-comparison protocol (its learning rate, and its knobs at the paper budget, on tuning seeds)
and reported on fresh seeds, with the accuracy at the training length and at 2× and 4× it
(the tasks' ``length_x2_metric``, ...).

The groups are read from the registry when the grid is expanded: a plugin's model joins by its
registration alone (``--plugin``), as in the memory horizon. Every model runs at its own
defaults and recipe, at one hidden size. The papers' sizes are wider than a 2-core CPU trains
in an hour (Mamba's selective copying: length 4096; Zoology: vocabulary 8192); the sizes per
budget below are ours, named in docs/protocol.md.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..registry import model_specs, register_experiment
from .grid import ByBudget, Grid, Panel, Tune
from .variants import CHAIN_VARIANTS


class RegisteredModels(Mapping):
    """group name -> its options: one group per registered model (its registry name), read
    from the registry when asked, so that a plugin loaded later is in; then Orhan & Pitkow's
    chains (:data:`~rnnmem.experiments.variants.CHAIN_VARIANTS`: inits, not models)."""

    def __getitem__(self, name: str) -> dict:
        if name in CHAIN_VARIANTS:
            model, options = CHAIN_VARIANTS[name]
            return dict(model=model, **options)
        if name not in model_specs():
            raise KeyError(name)
        return dict(model=name)

    def __iter__(self):
        return iter([*model_specs(), *CHAIN_VARIANTS])

    def __len__(self) -> int:
        return len(model_specs()) + len(CHAIN_VARIANTS)


MEMORY_TASKS = [
    Panel("selective copying", dict(task="selective-copy", T=ByBudget(32, 128, 4096),
                                    S=ByBudget(4, 8, 16))),
    Panel("MQAR", dict(task="mqar", L=ByBudget(32, 64, 256), pairs=ByBudget(4, 8, 32),
                       V=ByBudget(32, 64, 512))),
    Panel("induction heads", dict(task="induction", T=ByBudget(32, 128, 256))),
    Panel("flip-flop", dict(task="flipflop", n=ByBudget(32, 128, 256))),
    Panel("parity", dict(task="parity", T=ByBudget(16, 32, 64))),
]

memory_benchmark = Grid(
    base=dict(hidden=ByBudget(32, 64, 128), batch=32, steps=ByBudget(300, 3000, 20000),
              val_size=ByBudget(256, 1000, 2000)),
    panels=MEMORY_TASKS, groups=RegisteredModels(), seeds=ByBudget(1, 3, 3), eval_points=20,
    tune=Tune())

register_experiment(
    "memory-benchmark", memory_benchmark, paper="rnnmem (issue #41)",
    target="the memory tasks of 2022-2024",
    claim="on which memory tasks does an input-dependent (selective) transition (S6, the "
          "Mamba block) beat a fixed one (LRU, LT-RNN, chain), at the training length and "
          "at 2x and 4x it", _builtin=True)
