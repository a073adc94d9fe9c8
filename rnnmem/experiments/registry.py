"""One definition per figure and table of both papers: ``rnnmem reproduce --list``.

A training experiment is declared as a :class:`~rnnmem.experiments.grid.Grid` (base options,
panels, groups, seeds, grid points, with :class:`~rnnmem.experiments.grid.ByBudget` values),
expanded into :class:`Job` s per budget: ``quick`` (minutes on a 2-core
CPU: shorter sequences, fewer seeds and steps, still aimed at the paper's effect), ``paper``
(the budget that decides a claim: ≥ 3 seeds, the papers' T where affordable and enough steps for
the slow learners the paper describes, about an hour or less on a 2-core CPU) and ``full`` (the
paper's settings, where it states them; our documented choice where it does not: for a GPU or a
cluster). Other experiments (constructions, memory theory, analyses of trained runs) are a
function of the output directory and the budget, whose result ``tables`` turns into Markdown.
Every experiment is registered with :func:`rnnmem.register_experiment`, as a plugin's is.
"""

from __future__ import annotations

from .grid import BUDGETS  # noqa: F401 - the budgets, beside the declarations that use them

# A run's final figure is the median of its last ``final_evals`` (5) evaluations; each experiment
# evaluates at least 20 times, so those five lie in the last quarter of training, not in the middle
# of a still-falling curve (tests/test_reproduce.py checks every job of every budget).

# Each paper's declarations register when imported, in the listing's order: Henaff's, Orhan's,
# rnnmem's own comparisons, then the memory benchmark (#41)
# isort: off
from . import henaff, orhan, beyond, benchmark  # noqa: F401
# isort: on
