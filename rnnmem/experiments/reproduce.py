"""``rnnmem reproduce``: run an experiment's grid (resumable), then draw its figure and table.

Layout of an output directory::

    OUT/<experiment>-<budget>/runs/<panel>/<group>/seed<k>/   one run directory per job
    OUT/<experiment>-<budget>/figure.png, table.md, report.md, results.json
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import re
import time
from pathlib import Path

from ..device import kernel_path, resolve_device
from ..io import write_json_atomic, write_text_atomic
from ..plot import load_run, plot_panels
from ..registry import experiments
from ..rundir import RunDir, finished_summary, require_path
from ..sweep import clear_changed
from .estimate import Lines, Progress, describe_estimate, relative_step_costs
from .grid import BUDGETS
from .jobs import (
    Job,
    best_variant,
    checked_jobs,
    job_dir,
    job_summaries,
    run_experiment_jobs,
)
from .selection import WHOLE, Selection
from .tables import SE_NOTE, results_table  # noqa: F401 - reproduce's own, and check's
from .tuning import finished_choice, read_tuning, reported_jobs, tune, tuning_jobs

# A grid's table and figure read each run's record (config, metrics, summary), never its
# weights: a committed run (its model.pt not kept) is finished, not a run to train again
RECORD = dict(weights=False)


class RunsFailed(RuntimeError):
    """Runs of a reproduce that failed (an error, not a divergence) where a report already
    stood: the report is left as it was."""


def reproduce(name: str, *, budget: str = "quick", out: str | Path = "reproduce",
              workers: int | None = None, backend: str = "local", device: str = "cpu",
              rerun_changed: bool = False, selection: Selection = WHOLE,
              progress=print) -> Path:
    """Run one experiment; write figure, table and report under ``out``; return the report.

    ``device``: where its training runs compute (the experiments without training runs compute
    on the CPU). Runs on another device than the CPU, whose numbers differ in their last bits
    and then more, go to their own directory, ``<name>-<budget>-<device>``.

    A run directory holding a run of another config or other code (a plugin edited since:
    :mod:`rnnmem.provenance`) is refused (:class:`~rnnmem.rundir.RunChanged`, before any
    training) unless ``rerun_changed``: then it is moved aside (``seed0.changed-1``) and
    trained afresh. Where a report already stands and a run fails, the report, table and
    figure are left as they were (:class:`RunsFailed`).

    ``selection``: part of the grid (``--models``, ``--panels``, ``--seeds``: its report goes to
    ``parts/<selection>/``) or changed runs (``--set``: their own directory); see
    :mod:`~rnnmem.experiments.selection`.
    """
    if name not in experiments():
        raise ValueError(f"unknown experiment {name!r}; see rnnmem reproduce --list")
    progress = progress if isinstance(progress, Lines) else Lines(progress)  # live on a tty
    if budget not in BUDGETS:
        raise ValueError(f"budget must be one of {', '.join(BUDGETS)}; got {budget!r}")
    exp = experiments()[name]
    device = resolve_device(device)
    suffix = "" if device == "cpu" or exp.jobs is None else "-" + device.replace(":", "")
    root = require_path(out, "output directory") / f"{name}-{budget}{suffix}{selection.suffix()}"
    home = root / "parts" / selection.part() if selection.partial else root  # the report's
    start = time.perf_counter()
    if exp.jobs is not None:
        checked_jobs(name, exp.jobs)(budget)  # a plugin's jobs() that fails: one line, first

        def select(jobs: list[Job], reported: bool = True) -> list[Job]:
            return selection.jobs(_on_device(jobs, device), reported=reported, experiment=name)

        search = select(tuning_jobs(exp.jobs, budget), reported=False)
        # the reported runs at the search's choice where its runs are all finished, else at
        # the untuned settings (which of them the search will choose is not known yet)
        known = finished_choice(search, root) if search else None
        plan = search + select(reported_jobs(exp.jobs, budget, known) if known is not None
                               else exp.jobs(budget))
        finished = {i for i, j in enumerate(plan)
                    if finished_summary(j.config, job_dir(root, j), **RECORD) is not None}
        todo = [j.config for i, j in enumerate(plan) if i not in finished]
        _require_data(todo)  # missing data: one DataError here, not a table of failed runs
        estimate = describe_estimate(todo, workers) if todo and backend == "local" else None
        tuned = f" ({len(search)} of them tuning runs)" if search else ""
        progress(f"{name} ({budget}): {len(plan)} runs{tuned}, {len(finished)} already "
                 f"finished" + (f"; {estimate}" if estimate else ""))
        cost = dict(zip(map(id, plan), relative_step_costs([j.config for j in plan]),
                        strict=True))  # measured by the estimate: runs weigh what they cost
        counter = Progress(len(plan), sum(j.config.steps * cost[id(j)] for i, j in
                                          enumerate(plan) if i not in finished),
                           weight=lambda run: cost.get(run, 1.0))
        records, searched, failures = None, [], []
        if search:
            progress(f"  tuning: {len(search)} runs on seeds never reported (docs/protocol.md)")

            def train(jobs):
                if jobs is not search:  # rates past an edge of the range (tuning.tune)
                    counter.total += len(jobs)
                    cost.update(zip(map(id, jobs), relative_step_costs([j.config for j in jobs]),
                                    strict=True))
                    counter.steps += sum(j.config.steps * cost[id(j)] for j in jobs)
                _clear_changed(jobs, root, rerun_changed, progress)
                return run_experiment_jobs(name, jobs, root, workers, backend, **_reporter(
                    jobs, finished if jobs is search else set(), counter, progress,
                    "tuning / ", failures), **RECORD)

            searched, _, records = tune(search, train, **RECORD)
            write_json_atomic(home / "tuning.json", dict(experiment=name, budget=budget,
                                                         groups=records))
            progress("  chosen: " + "; ".join(f"{r['panel']} / {r['group']}: {r['chosen']}"
                                              for r in records))
        jobs = select(reported_jobs(exp.jobs, budget, records))
        cost.update(zip(map(id, jobs), relative_step_costs([j.config for j in jobs]),
                        strict=True))
        finished = {i for i, j in enumerate(jobs)
                    if finished_summary(j.config, job_dir(root, j), **RECORD) is not None}
        _clear_changed(jobs, root, rerun_changed, progress)
        damaged = [(d, RunDir(d).damage(**RECORD)) for d in (job_dir(root, j) for j in jobs)]
        damaged = [(d, why) for d, why in damaged if why]
        if damaged:  # resumed from their checksummed checkpoints, never shown as results
            progress(f"  {len(damaged)} finished runs are damaged and are re-finished from "
                     f"their checkpoints, e.g. {damaged[0][1]}")
        dirs = run_experiment_jobs(name, jobs, root, workers, backend, **_reporter(
            jobs, finished, counter, progress, failures=failures), **RECORD)
        if failures and (home / "table.md").is_file():
            raise RunsFailed(f"{len(failures)} run(s) failed, e.g. {failures[0]}; "
                             f"{home / 'table.md'} and its report are left as they were")
        figures = draw_figure(exp, budget, jobs, dirs, home, tuning=records, **RECORD)
        table, groups = results_table(jobs, dirs, tuning=records, **RECORD)
        train_seconds = sum(s.get("seconds", 0.0) for s in job_summaries(jobs, dirs, **RECORD)
                            if s)
        write_json_atomic(home / "results.json", dict(
            experiment=name, budget=budget, groups=groups,
            **(dict(selection=selection.record()) if selection.partial else {})))
        searched = (f" and of its {len(searched)} tuning runs under `tuning/` (tuning.json: "
                    "the search and what it chose)" if search else "")
        backing = (f"Backed by the files of its {len(jobs)} runs under `runs/`{searched} "
                   "(config.json, metrics.csv and summary.json of each; the weights are not "
                   "kept): `rnnmem report --check` recomputes this table from them.")
    else:
        home.mkdir(parents=True, exist_ok=True)
        result = _run(exp, root, budget, workers, selection, rerun_changed, home)
        figures = result["figures"]
        table = exp.table(result["result"]) if exp.table is not None else result["table"]
        train_seconds = None
        backing = result.get("backing", NO_RUNS)
    seconds = time.perf_counter() - start
    write_text_atomic(home / "table.md", table + "\n")
    report = home / "report.md"
    write_text_atomic(report, _report_text(exp, budget, figures, table, seconds, home,
                                           train_seconds, backing, device, selection))
    return report


def _run(exp, root: Path, budget: str, workers, selection: Selection, rerun_changed: bool,
         home: Path) -> dict:
    """An experiment of its own ``run`` (no job grid): a selection and ``rerun_changed`` go to
    a ``run`` that takes them (memory-horizon's), and are refused by one that does not."""
    takes = inspect.signature(exp.run).parameters
    if selection != WHOLE and "selection" not in takes:
        raise ValueError(f"{exp.name} has no grid of runs to select from (--models, --panels, "
                         "--seeds, --set)")
    extra = dict(selection=selection, report_dir=home) if "selection" in takes else {}
    if "rerun_changed" in takes:
        extra["rerun_changed"] = rerun_changed
    return exp.run(root, budget, workers, **extra)


def _on_device(jobs: list[Job], device: str) -> list[Job]:
    return [j if device == "cpu" else dataclasses.replace(
        j, config=dataclasses.replace(j.config, device=device)) for j in jobs]


def _clear_changed(jobs: list[Job], root: Path, rerun_changed: bool, progress) -> None:
    moved = clear_changed([(j.config, job_dir(root, j)) for j in jobs], rerun_changed)
    if moved:
        progress(f"  {len(moved)} changed run(s) moved aside to retrain, e.g. {moved[0][1]} "
                 f"({moved[0][2]})")


def _reporter(jobs: list[Job], finished: set, counter: Progress, progress, prefix: str = "",
              failures: list | None = None) -> dict:
    """The on_done and on_beat of a sweep of ``jobs``: one line per run as it ends (a
    failure's also appended to ``failures``), and the runs in flight when none ended lately."""
    def where(j: Job) -> str:
        return f"{j.panel} / {j.group} / " + (f"{j.variant} / " if j.variant else "")

    def done(i, summary):
        j = jobs[i]
        if summary.get("error") and failures is not None:
            failures.append(f"{job_dir(Path('.'), j)}: {summary['error']}")
        what = summary.get("error") or f"val loss / chance {summary['final_val_ratio']:.3f}"
        if summary.get("reused"):
            what += " (reused)"
        trained = i not in finished and not summary.get("reused")
        progress(f"  {counter(trained, id(j), j.config.steps)} {prefix}{where(j)}seed {j.seed}: "
                 f"{summary['status']}, {what}")

    def beat(in_flight):
        getattr(progress, "beat", progress)(counter.beat([
            (id(jobs[i]), f"{prefix}{where(jobs[i])}seed {jobs[i].seed}", step, steps)
            for i, step, steps in in_flight]))
    return dict(on_done=done, on_beat=beat)


def draw_figure(exp, budget: str, jobs: list[Job], dirs: list[Path], root: Path, *,
                weights: bool = True, tuning: list[dict] | None = None) -> list[str]:
    """``root/figure.png``: each panel's groups at their best grid point (mean ± s.e. over
    seeds); [] where every run failed (the table says so). ``weights=False``: from the runs'
    committed files alone."""
    panels: dict[str, dict[str, list]] = {}
    chosen = {(r["panel"], r["group"]): r["chosen"] for r in tuning or []}
    for panel, group in dict.fromkeys((j.panel, j.group) for j in jobs):
        pairs = [(j, d) for j, d in zip(jobs, dirs, strict=True)
                 if (j.panel, j.group) == (panel, group)]
        variant, _ = best_variant(*map(list, zip(*pairs, strict=True)), weights=weights)
        label = f"{group} ({variant})" if variant else group
        if (panel, group) in chosen:
            label = f"{group} ({chosen[(panel, group)]})"
        runs = [load_run(d) for j, d in pairs if j.variant == variant
                and finished_summary(j.config, d, weights=weights) is not None]
        if runs:  # failed runs are in the table, not the plot
            panels.setdefault(panel, {})[label] = runs
    if not panels:
        return []
    return [str(plot_panels(panels, root / "figure.png", curve=exp.curve,
                            title=f"{exp.paper}, {exp.target} ({budget} budget)"))]


def redraw_figures(out: str | Path, progress=None) -> list[Path]:
    """``rnnmem report --redraw``: the figure of every backed report under ``out`` drawn anew
    from its committed files (the runs' config, metrics and summary; horizon.json), with no
    weights and no training: what ``reproduce`` would draw. Returns the figures written."""
    from ..io import read_json
    from .horizon import plot_horizons

    written = []
    for results in sorted(Path(out).glob("*/results.json")):
        root, recorded = results.parent, read_json(results)
        exp = experiments().get(recorded.get("experiment"))
        if not (root / "runs").is_dir() or exp is None or exp.jobs is None:
            continue  # not backed: its figure needs runs that are not committed
        tuning = read_tuning(root)
        jobs = reported_jobs(exp.jobs, recorded["budget"], tuning)
        dirs = [job_dir(root, j) for j in jobs]
        unfinished = sum(not (d / "summary.json").is_file() for d in dirs)
        if unfinished:  # a grid still training (or cut short): its figure would be partial
            if progress:
                progress(f"not redrawing {root.name}: {unfinished} of {len(dirs)} runs "
                         "unfinished")
            continue
        if progress:
            progress(f"redrawing {root.name}")
        written += map(Path, draw_figure(exp, recorded["budget"], jobs, dirs, root,
                                         weights=False, tuning=tuning))
    for horizon in sorted(Path(out).glob("*/horizon.json")):
        if progress:
            progress(f"redrawing {horizon.parent.name}")
        written.append(plot_horizons(read_json(horizon), horizon.parent / "figure.png"))
    return written


NO_RUNS = ("No training runs of its own: the command above recomputes every number from "
           "nothing but the code.")


def _report_text(exp, budget, figures, table, seconds, root: Path, train_seconds,
                 backing: str = NO_RUNS, device: str = "cpu",
                 selection: Selection = WHOLE) -> str:
    trained = ("" if train_seconds is None else
               f" Training time summed over the runs: {train_seconds:.0f} s.")
    images = "\n".join(f"![{exp.target}]({Path(f).relative_to(root)})" for f in figures)
    return (f"## {exp.name}: {exp.paper}, {exp.target} ({budget} budget)\n\n"
            f"Claim: {exp.claim}.\n\n"
            f"```bash\n{reproduce_command(exp, budget, selection)}\n```\n\n"
            f"{images}\n\n{table}\n\n{backing}\n\n"
            f"Wall time of this command {seconds:.0f} s (runs already finished in the output "
            f"directory are not redone) on {kernel_path(device)}, {os.cpu_count()} CPU "
            f"cores.{trained}\n")


def _require_data(configs) -> None:
    """Build one task of each data-backed kind the runs to do need (MNIST, PTB): a missing
    data package raises its DataError before any worker starts."""
    from ..build import make_task

    seen = set()
    for c in configs:
        key = (c.task, c.task_options.get("data_dir"))
        if c.task_kind != "sequence" and key not in seen:
            seen.add(key)
            make_task(c)


def reproduce_command(exp, budget: str, selection: Selection = WHOLE) -> str:
    """The command that regenerates an experiment's report (a plugin's names its file, a
    selection its flags)."""
    plugin = f" --plugin {exp.plugin}" if exp.plugin else ""
    panels = ",".join(selection.panels)
    chosen = (f" --models {','.join(selection.models)}" if selection.models else "") + (
        (f" --panels '{panels}'" if " " in panels else f" --panels {panels}")
        if selection.panels else "") + (
        f" --seeds {','.join(map(str, selection.seeds))}" if selection.seeds else "") + "".join(
        f" --set {k}={'none' if v is None else json.dumps(v) if not isinstance(v, str) else v}"
        for k, v in selection.overrides)
    return f"rnnmem reproduce{plugin} {exp.name} --budget {budget}{chosen}"


def write_report(out: str | Path) -> Path:
    """``rnnmem report``: one Markdown file gathering every experiment report under ``out``."""
    out = Path(out)
    reports = sorted(out.glob("*/report.md"))
    if not reports:
        raise FileNotFoundError(f"{out} holds no experiment reports (run rnnmem reproduce first)")
    parts = ["# rnnmem reproduction report\n"]
    for r in reports:
        try:
            text = r.read_text()
        except UnicodeDecodeError:
            raise ValueError(f"{r} is not UTF-8 text (not a report rnnmem wrote)") from None
        # image links are relative to each experiment's directory
        prefix = r.parent.name
        text = re.sub(r"\]\((?!http)([^)]+\.png)\)",
                      lambda m, prefix=prefix: f"]({prefix}/{m.group(1)})", text)
        parts.append(text)
    path = out / "REPORT.md"
    write_text_atomic(path, "\n".join(parts))
    return path


RESULTS = Path(__file__).resolve().parents[2] / "docs" / "results.md"


def verdicts(path: Path = RESULTS) -> dict[str, str]:
    """experiment -> its current verdict word, from the table of docs/results.md (a checkout's;
    an installed package without the docs has none)."""
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError):
        return {}
    found, section = {}, None
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and cells[1].startswith("**"):  # the table at a glance
            word = cells[1].split("**")[1].split(" (")[0]
            for name in re.findall(r"`([a-z0-9-]+)`", cells[3]):
                found.setdefault(name, word)
        elif line.startswith("#"):  # an experiment's own section: its first bold word
            names = re.findall(r"\(`([a-z0-9-]+)`\)", line)
            section = names[0] if names else None
        elif section and line.startswith("**"):
            word = line.split("**")[1].split(":")[0].split(" (")[0].rstrip(".")
            found[section] = word[0].lower() + word[1:]
            section = None
    return found


def list_experiments(name: str | None = None) -> str:
    """The experiments (or the one called ``name``) as a Markdown table, each with its current
    verdict in docs/results.md."""
    words = verdicts()
    lines = ["| experiment | paper | target | verdict (docs/results.md) | claim |",
             "|---|---|---|---|---|"]
    for e in experiments().values():
        if name is not None and e.name != name:
            continue
        lines.append(f"| {e.name} | {e.paper} | {e.target} | {words.get(e.name, '—')} | "
                     f"{e.claim} |")
    return "\n".join(lines)

