"""The fair-comparison protocol: every model at its best settings, chosen on validation, reported
on unseen seeds (docs/protocol.md, "Tuning").

Each (panel, group) of a tuned experiment is first trained at every point of its model's search
space (the registration's ``search``: the learning rate, and where the budget allows, the knobs its
paper sets per task) on *tuning seeds*, which no reported run uses, at the experiment's own step
budget. A point's score is the mean over those seeds of the run's final val loss / chance (the
median of its last evaluations on the held-out set; a failed or non-finite run scores infinity);
the lowest wins, ties going to the first point in the space's order. A learning rate chosen at
the end of its range is extended past it (:func:`tune`: one more rate at the range's own ratio,
up to ``EXTEND`` times per side), so that the best rate is bracketed rather than cut off. Only
then are the reported seeds trained, at the chosen point: no number in the table took part in
choosing it.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable
from pathlib import Path

from ..io import read_json
from ..registry import model_spec
from ..rundir import finished_summary
from .jobs import Job, best_variant, job_dir

LR_AROUND = (1 / 3, 1.0, 3.0)  # a model that registers no search: the run's lr times these
EXTEND = 2  # rates added past an end of the range at most, per (panel, group)


def search_space(options: dict, *, knobs: bool = True) -> dict:
    """option (or tuple of options) -> candidate values, for a run's ``options``: the model's
    registered search, the learning rate around the run's where it names none; ``knobs=False``
    keeps only the learning rate (and what is tied to it)."""
    spec = model_spec(options["model"])
    space = spec.search(options) if callable(spec.search) else dict(spec.search)
    if not any("lr" in (k if isinstance(k, tuple) else (k,)) for k in space):
        lr = options.get("lr", 1e-4)
        space = {"lr": tuple(float(f"{lr * f:.3g}") for f in LR_AROUND), **space}
    if not knobs:
        space = {k: v for k, v in space.items() if "lr" in (k if isinstance(k, tuple) else (k,))}
    return space


def points(space: dict) -> list[tuple[str, dict]]:
    """Every point of ``space`` (its product, in order) as (name, options)."""
    axes = []
    for key, values in space.items():
        names = key if isinstance(key, tuple) else (key,)
        axes.append([dict(zip(names, v if isinstance(key, tuple) else (v,), strict=True))
                     for v in values])
    found = []
    for combo in itertools.product(*axes):
        point = {k: v for part in combo for k, v in part.items()}
        found.append((point_name(point), point))
    return found


def point_name(point: dict) -> str:
    return " ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                    for k, v in point.items())


def choose(jobs: list[Job], dirs: list[Path], *, weights: bool = True) -> list[dict]:
    """The chosen point of every (panel, group) of the tuning ``jobs``, with every point's score:
    one record each, in the jobs' order."""
    records = []
    for panel, group in dict.fromkeys((j.panel, j.group) for j in jobs):
        mine = [(j, d) for j, d in zip(jobs, dirs, strict=True) if (j.panel, j.group) == (
            panel, group)]
        chosen, _ = best_variant([j for j, _ in mine], [d for _, d in mine], weights=weights)
        scores = []  # [variant, score] pairs in the space's order (JSON keeps a list's order)
        for variant in dict.fromkeys(j.variant for j, _ in mine):
            runs = [(j, d) for j, d in mine if j.variant == variant]
            scores.append([variant, _score(*map(list, zip(*runs, strict=True)),
                                           weights=weights)])
        point = next(dict(j.point) for j, _ in mine if j.variant == chosen)
        records.append(dict(panel=panel, group=group, chosen=chosen, options=point,
                            seeds=sorted({j.seed for j, _ in mine}), scores=scores,
                            edge=_edges(point, [dict(j.point) for j, _ in mine])))
    return records


def _edges(point: dict, searched: list[dict]) -> list[str]:
    """The options whose chosen value is the smallest or largest of three or more searched: the
    best may lie beyond the search."""
    edges = []
    for option, value in point.items():
        values = sorted({p[option] for p in searched})
        if len(values) >= 3 and value in (values[0], values[-1]):
            edges.append(option)
    return edges


def _score(jobs: list[Job], dirs: list[Path], *, weights: bool) -> float | None:
    from .jobs import job_summaries

    ratios = [math.inf if s is None or not math.isfinite(s["final_val_ratio"])
              else s["final_val_ratio"] for s in job_summaries(jobs, dirs, weights=weights)]
    mean = sum(ratios) / len(ratios)
    return None if math.isinf(mean) else mean  # JSON has no infinity: None is "failed"


def chosen_options(records: list[dict]) -> dict[tuple[str, str], dict]:
    """(panel, group) -> the options of its chosen point, from :func:`choose`'s records."""
    return {(r["panel"], r["group"]): dict(r["options"]) for r in records}


def read_tuning(root: Path) -> list[dict] | None:
    """The tuning records a report directory holds (tuning.json), or None."""
    path = Path(root) / "tuning.json"
    return read_json(path)["groups"] if path.is_file() else None


def tuning_table(records: list[dict]) -> str:
    """Markdown: each (panel, group)'s search, every point's tuning score, the chosen in bold."""
    seeds = sorted({s for r in records for s in r["seeds"]})
    lines = [f"Tuning (docs/protocol.md): each group searched on tuning seed"
             f"{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))} (never reported), "
             "at the same step budget; the mean final val loss / chance of each setting (—: "
             "failed or diverged), the lowest (bold) trained on the reported seeds above; a rate "
             f"chosen at the end of its range was extended past it (up to {EXTEND} times); "
             "*edge*: still chosen at an end, so the best may lie beyond it.", "",
             "| panel | group | settings searched: tuning val loss / chance |", "|---|---|---|"]
    for r in records:
        cells = []
        for variant, score in r["scores"]:
            text = f"{variant}: {'—' if score is None else f'{score:.3f}'}"
            cells.append(f"**{text}**" if variant == r["chosen"] else text)
        edge = f" (*edge*: {', '.join(r['edge'])})" if r["edge"] else ""
        lines.append(f"| {r['panel']} | {r['group']}{edge} | {'; '.join(cells)} |")
    return "\n".join(lines)


def tune(first: list[Job], run: Callable[[list[Job]], list[Path]], *, extend: int = EXTEND,
         weights: bool = True) -> tuple[list[Job], list[Path], list[dict]]:
    """The search: ``first`` (every point of each space), then, while a group's chosen rate is
    the smallest or largest it tried, one rate further (up to ``extend`` times); returns every
    tuning job, its run directory and :func:`choose`'s records. ``run(jobs)`` trains jobs (or,
    for ``report --check``, checks their committed files) and returns their directories."""
    jobs, dirs = list(first), list(run(first))
    for _ in range(extend):
        more = _past_the_edge(jobs, choose(jobs, dirs, weights=weights))
        if not more:
            break
        jobs += more
        dirs += run(more)
    return jobs, dirs, choose(jobs, dirs, weights=weights)


def finished_choice(search: list[Job], root: Path) -> list[dict] | None:
    """The choice of a search whose runs under ``root`` are finished (:func:`tune`'s records,
    read from them, extensions past an edge included); None while any of them is not."""
    class Unfinished(Exception):
        pass

    def finished(jobs: list[Job]) -> list[Path]:
        dirs = [job_dir(root, j) for j in jobs]
        if any(finished_summary(j.config, d, weights=False) is None
               for j, d in zip(jobs, dirs, strict=True)):
            raise Unfinished
        return dirs

    try:
        return tune(search, finished, weights=False)[2]
    except Unfinished:
        return None


def _past_the_edge(jobs: list[Job], records: list[dict]) -> list[Job]:
    """A further rate for each group whose chosen rate ends its range: the chosen point's jobs
    at lr × (the ratio of the range's last two rates), the point's other options kept."""
    more = []
    for r in records:
        if r["scores"][[v for v, _ in r["scores"]].index(r["chosen"])][1] is None:
            continue  # nothing finished: no direction to go
        mine = [j for j in jobs if (j.panel, j.group) == (r["panel"], r["group"])]
        rates = sorted({dict(j.point).get("lr") for j in mine} - {None})
        lr = r["options"].get("lr")
        if lr is None or len(rates) < 2 or lr not in (rates[0], rates[-1]):
            continue
        step = rates[-1] / rates[-2] if lr == rates[-1] else rates[0] / rates[1]
        new = float(f"{lr * step:.3g}")
        for j in mine:
            if j.variant == r["chosen"]:
                point = {**dict(j.point), "lr": new}
                more.append(dataclasses.replace(
                    j, config=dataclasses.replace(j.config, lr=new), variant=point_name(point),
                    point=tuple(point.items())))
    return more


def tuning_jobs(jobs, budget: str) -> list[Job]:
    """The search's jobs of an experiment's ``jobs`` (a tuned :class:`Grid`'s), else []."""
    tuning = getattr(jobs, "tuning", None)
    return tuning(budget) if tuning is not None else []


def reported_jobs(jobs, budget: str, records: list[dict] | None) -> list[Job]:
    """An experiment's reported jobs: a tuned grid's at the points its ``records`` chose."""
    return jobs(budget) if records is None else jobs(budget, chosen_options(records))
