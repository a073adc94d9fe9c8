"""Jobs of an experiment: one training run each, its directory, and the best grid point.

Below both the registry (which defines the jobs) and ``reproduce`` (which reports them).
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass
from pathlib import Path

from ..rundir import finished_summary
from ..sweep import run_all
from ..train import TrainConfig


@dataclass(frozen=True)
class Job:
    panel: str  # one subplot / table block, e.g. "copy T = 100"
    group: str  # one line / table row, e.g. "LT-ORNN"
    seed: int
    config: TrainConfig
    variant: str = ""  # a hyper-parameter point within the group, e.g. "lr=0.0003 alpha=1.02"
    tuning: bool = False  # a run of the fair-comparison search (never reported): tuning.py
    point: tuple = ()  # a tuning run's (option, value) pairs: what ``variant`` names


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.=-]+", "_", text).strip("_")


def job_dir(root: Path, job: Job) -> Path:
    group = root / ("tuning" if job.tuning else "runs") / _slug(job.panel) / _slug(job.group)
    return (group / _slug(job.variant) if job.variant else group) / f"seed{job.seed}"


def run_experiment_jobs(name: str, jobs: list[Job], root: Path, workers: int | None,
                        backend: str = "local", on_done=None, on_beat=None, *,
                        weights: bool = True) -> list[Path]:
    """Train (or skip, or resume) every job under ``root``; return their run directories.
    ``on_done``, ``on_beat``: :func:`rnnmem.sweep.run_all`'s. ``weights=False``: a run whose
    committed record (config, metrics, summary) is finished is reused without its model.pt,
    which a table does not read (committed runs keep no weights)."""
    dirs = [job_dir(root, j) for j in jobs]
    run_all([(j.config, d) for j, d in zip(jobs, dirs, strict=True)], workers=workers,
            backend=backend, on_done=on_done, on_beat=on_beat, weights=weights)
    return dirs


def job_summaries(jobs: list[Job], dirs: list[Path], *, weights: bool = True
                  ) -> list[dict | None]:
    """Each job's summary, or None where its directory holds no finished run of the job's own
    config: a failed run, or a stale one of a config the registry has since changed.
    ``weights=False``: from the committed record of the runs (no model.pt)."""
    return [finished_summary(j.config, d, weights=weights)
            for j, d in zip(jobs, dirs, strict=True)]


def best_variant(jobs: list[Job], dirs: list[Path], *, weights: bool = True
                 ) -> tuple[str, list[Path]]:
    """The grid point with the lowest mean final val loss / chance over its seeds, and its runs.

    Orhan & Pitkow's Fig. 3a-c show each initializer at its best hyper-parameters; a group
    without a grid has one variant, "". A non-finite or missing result counts as infinite.
    """
    by_variant: dict[str, list[Path]] = {}
    results: dict[str, list[dict | None]] = {}
    for j, d, s in zip(jobs, dirs, job_summaries(jobs, dirs, weights=weights), strict=True):
        by_variant.setdefault(j.variant, []).append(d)
        results.setdefault(j.variant, []).append(s)

    def score(variant: str) -> float:
        ratios = [math.inf if s is None else s["final_val_ratio"] for s in results[variant]]
        ratios = [r if math.isfinite(r) else math.inf for r in ratios]
        return sum(ratios) / len(ratios)

    best = min(by_variant, key=score)
    return best, by_variant[best]


MAX_JOBS = 100_000  # training runs in one experiment: about a core-year at a minute each


def checked_jobs(name: str, jobs):
    """``jobs(budget)`` of experiment ``name`` (a plugin's code), whose failures are one line
    naming the experiment: an error it raises, something not a :class:`Job`, or no job."""
    def checked(budget: str) -> list[Job]:
        try:  # at most one past the bound: a grid of 10**7 jobs is refused, not expanded
            made = list(itertools.islice(jobs(budget), MAX_JOBS + 1))
        except Exception as err:  # noqa: BLE001 - the experiment's code: any error, one line
            reason = str(err).strip().splitlines()[0] if str(err).strip() else ""
            raise ValueError(f"experiment {name}: jobs({budget!r}) failed: "
                             f"{type(err).__name__}" + (f": {reason}" if reason else "")) from None
        stray = next((j for j in made if not isinstance(j, Job)), None)
        if stray is not None:
            raise ValueError(f"experiment {name}: jobs({budget!r}) must return Job objects, "
                             f"not {type(stray).__name__}")
        if not made:
            raise ValueError(f"experiment {name}: jobs({budget!r}) returned no job: nothing "
                             "to run")
        if len(made) > MAX_JOBS:
            raise ValueError(f"experiment {name}: jobs({budget!r}) gives more than {MAX_JOBS} "
                             "jobs; a grid that size is beyond rnnmem reproduce (split it)")
        return made

    return checked


def weights_backing(runs: int, names: str) -> str:
    """An analysis report's backing line."""
    return (f"Computed from the trained weights (model.pt) of {runs} runs of {names}; where "
            "their weights are committed beside their runs, `rnnmem report --check` computes "
            "it again from them (else the command above trains those missing).")
