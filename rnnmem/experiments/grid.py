"""Training experiments as data: a :class:`Grid` declares one, :func:`expand` makes its jobs.

A job's options are, later ones winning: the grid's ``base``, its panel's, its group's, its grid
point's (``variants``) and any ``overrides`` of its (panel, group). Any value may be a
:class:`ByBudget` (``quick``, ``paper``, ``full``), resolved when the grid is expanded for a
budget. Jobs come in the order panel, group, grid point, seed; each evaluates
``eval_points`` times (``eval_every = steps // eval_points``).

Example (a user's comparison, registered with ``rnnmem.register_experiment``):
    >>> mine = Grid(base=dict(task="copy", T=10, S=3, K=4, hidden=16, batch=16, lr=1e-3,
    ...                       steps=ByBudget(60, 2000, 6000)),
    ...             panels=[Panel("copy T = 10")],
    ...             groups={"LT-ORNN": dict(model="lt-rnn", init="orthogonal")},
    ...             seeds=ByBudget(2, 3, 8), eval_points=20)
    >>> [(j.group, j.seed, j.config.steps) for j in mine("quick")]
    [('LT-ORNN', 0, 60), ('LT-ORNN', 1, 60)]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..config import TrainConfig
from .jobs import Job

BUDGETS = ("quick", "paper", "full")


@dataclass(frozen=True)
class ByBudget:
    """A setting with one value per budget."""

    quick: Any
    paper: Any
    full: Any

    def at(self, budget: str):
        if budget not in BUDGETS:
            raise ValueError(f"budget must be one of {', '.join(BUDGETS)}; got {budget!r}")
        return getattr(self, budget)


def resolve(value, budget: str):
    """``value`` with every :class:`ByBudget` in it (dicts, lists, tuples) taken at ``budget``."""
    if isinstance(value, ByBudget):
        return resolve(value.at(budget), budget)
    if isinstance(value, dict):
        return {k: resolve(v, budget) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(resolve(v, budget) for v in value)
    return value


@dataclass(frozen=True)
class Panel:
    """One subplot / table block: its options, and the groups that run in it (default all)."""

    name: str
    options: dict = field(default_factory=dict)
    groups: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Grid:
    """A training experiment: ``grid(budget)`` is its list of :class:`Job` s."""

    base: dict
    panels: list[Panel] | ByBudget
    groups: dict[str, dict]
    seeds: int | ByBudget
    eval_points: int = 40
    # (budget, panel, group) -> [(grid point name, options)]; default one unnamed point
    variants: Callable | None = None
    # (panel, group) -> options over everything else (a model's own settings on one task)
    overrides: Callable | None = None

    def __call__(self, budget: str) -> list[Job]:
        return expand(self, budget)


def expand(grid: Grid, budget: str) -> list[Job]:
    """Every job of ``grid`` under ``budget``."""
    jobs = []
    for panel in resolve(grid.panels, budget):
        for group in panel.groups or tuple(grid.groups):
            points = grid.variants(budget, panel, group) if grid.variants else [("", {})]
            for variant, point in points:
                extra = grid.overrides(panel, group) if grid.overrides else {}
                options = resolve({**grid.base, **panel.options, **grid.groups[group], **point,
                                   **extra}, budget)
                for seed in range(resolve(grid.seeds, budget)):
                    jobs.append(Job(panel.name, group, seed, TrainConfig(
                        eval_every=max(1, options["steps"] // grid.eval_points), seed=seed,
                        **options), variant=variant))
    return jobs
