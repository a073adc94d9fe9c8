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
from .tuning import points, search_space

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
class Tune:
    """The fair-comparison protocol of a grid (:mod:`rnnmem.experiments.tuning`): each (panel,
    group) searched over its model's registered space on ``seeds`` tuning seeds from
    ``first_seed`` (disjoint from the reported seeds 0, 1, ...); ``knobs``: whether the search
    covers the model's knobs besides the learning rate (per budget)."""

    seeds: int | ByBudget = 1
    first_seed: int = 100
    knobs: bool | ByBudget = ByBudget(False, True, True)


@dataclass(frozen=True)
class Grid:
    """A training experiment: ``grid(budget)`` is its list of :class:`Job` s; a tuned grid's
    (``tune``) are those of ``grid(budget, chosen)`` after the search of ``grid.tuning(budget)``.
    """

    base: dict
    panels: list[Panel] | ByBudget
    groups: dict[str, dict]
    seeds: int | ByBudget
    eval_points: int = 40
    # (budget, panel, group) -> [(grid point name, options)]; default one unnamed point
    variants: Callable | None = None
    # (panel, group) -> options over everything else (a model's own settings on one task)
    overrides: Callable | None = None
    tune: Tune | None = None  # the fair-comparison protocol, if the grid is tuned

    def __post_init__(self):
        if self.tune is not None and self.variants is not None:
            raise ValueError("a tuned grid searches its models' spaces: give tune or variants, "
                             "not both")

    def __call__(self, budget: str, chosen: dict | None = None) -> list[Job]:
        """The reported jobs; of a tuned grid, at ``chosen[(panel, group)]``'s options (from
        :func:`~rnnmem.experiments.tuning.choose`; None: the groups' own, untuned)."""
        return expand(self, budget, chosen)

    def tuning(self, budget: str) -> list[Job]:
        """The search's jobs ([] for a grid that is not tuned)."""
        if self.tune is None:
            return []
        first, n = self.tune.first_seed, resolve(self.tune.seeds, budget)
        if first < resolve(self.seeds, budget):
            raise ValueError(f"the tuning seeds (from {first}) must not be reported seeds "
                             f"(0-{resolve(self.seeds, budget) - 1})")
        knobs = resolve(self.tune.knobs, budget)
        jobs = []
        for panel, group, options in _cells(self, budget):
            for variant, point in points(search_space(options, knobs=knobs)):
                jobs += [Job(panel.name, group, seed, _config({**options, **point}, seed, self),
                             variant=variant, tuning=True, point=tuple(point.items()))
                         for seed in range(first, first + n)]
        return jobs


def _cells(grid: Grid, budget: str):
    """(panel, group, options) of every block and row of the grid."""
    for panel in resolve(grid.panels, budget):
        for group in panel.groups or tuple(grid.groups):
            yield panel, group, resolve({**grid.base, **panel.options, **grid.groups[group],
                                         **(grid.overrides(panel, group) if grid.overrides
                                            else {})}, budget)


def _config(options: dict, seed: int, grid: Grid) -> TrainConfig:
    return TrainConfig(eval_every=max(1, options["steps"] // grid.eval_points), seed=seed,
                       **options)


def expand(grid: Grid, budget: str, chosen: dict | None = None) -> list[Job]:
    """Every job of ``grid`` under ``budget`` (a tuned grid's at the ``chosen`` points: only
    the groups that have one, as after a ``--models`` search of some of them)."""
    jobs = []
    for panel in resolve(grid.panels, budget):
        for group in panel.groups or tuple(grid.groups):
            if chosen is not None and (panel.name, group) not in chosen:
                continue
            points = grid.variants(budget, panel, group) if grid.variants else [("", {})]
            for variant, point in points:
                extra = grid.overrides(panel, group) if grid.overrides else {}
                options = resolve({**grid.base, **panel.options, **grid.groups[group], **point,
                                   **extra}, budget)
                if chosen is not None:  # the search's point wins over the group's own
                    options.update(chosen[(panel.name, group)])
                for seed in range(resolve(grid.seeds, budget)):
                    jobs.append(Job(panel.name, group, seed, _config(options, seed, grid),
                                    variant=variant))
    return jobs
