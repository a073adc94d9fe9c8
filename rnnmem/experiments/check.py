"""``rnnmem report --check``: every number of a reproduce directory recomputed from the runs'
committed files.

A report is *backed* when its directory holds the run files of every job of its experiment
(``runs/<panel>/<group>/seed<k>/``: config.json, metrics.csv, summary.json; the weights are not
committed). For each run the check verifies the files against the checksums summary.json
records, that config.json is the job's config, and that the summary's final figures are the
median of the last ``final_evals`` evaluations of metrics.csv; then it rebuilds the table and
results.json from those summaries and compares them with the committed ones, character for
character. A report without runs is listed as not backed, never as checked. The
memory-horizon experiment (``horizon.json``) is checked probe by probe
(:func:`_check_horizon`). A report computed from nothing committed (a construction) is computed
again, and so is an analysis of trained weights (its experiment's ``reads``) where the analysed
runs' weights are committed beside them; one whose weights are not is listed as not backed.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from ..io import read_json
from ..loop import final_figures
from ..registry import experiments
from ..rundir import RunDir, RunDirError
from ..sweep import TrainingRefused, no_training
from .jobs import job_dir
from .tuning import chosen_options, read_tuning, reported_jobs, tune, tuning_jobs

FIGURES = ("final_val_loss", "final_val_ratio", "final_val_metric")
CSV_DIGITS = 1e-5  # metrics.csv keeps 6 significant digits; the summary the full floats


@dataclass
class CheckResult:
    backed: list[str] = field(default_factory=list)  # reports recomputed from their runs
    unbacked: list[str] = field(default_factory=list)  # reports with no committed runs
    problems: list[str] = field(default_factory=list)  # one line each

    @property
    def ok(self) -> bool:
        return not self.problems


def check_reports(out: str | Path, progress=None, *, compute: bool = True) -> CheckResult:
    """Check every ``<experiment>-<budget>/`` under ``out`` that has a results.json or a
    horizon.json, and every part of one (``parts/<selection>/``, from ``--models``,
    ``--panels``, ``--seeds``); ``compute``: also compute every report of a ``computed``
    experiment again (a construction, the linear theory), and every analysis of trained
    weights whose weights are committed (the memory horizon's memory columns among them;
    nothing is trained: :func:`~rnnmem.sweep.no_training`), and compare its table; the others
    are listed as not checked. ``progress(line)`` hears of each before it is checked."""
    from .reproduce import results_table
    from .selection import Selection

    result = CheckResult()
    results_files = sorted(Path(out).glob("*/results.json")) + sorted(
        Path(out).glob("*/parts/*/results.json"))
    horizon_files = sorted(Path(out).glob("*/horizon.json")) + sorted(
        Path(out).glob("*/parts/*/horizon.json"))
    total = len(results_files) + len(horizon_files)
    memory = {}  # a whole grid's analysed networks are its parts': computed once
    for i, results_file in enumerate(results_files):
        home = results_file.parent  # the report's directory; its runs are its experiment's
        root = _experiment_dir(home)
        name = _report_name(home)
        if progress:
            progress(f"[{i + 1}/{total}] {name}")
        recorded = read_json(results_file)
        if not (root / "runs").is_dir() or (home != root and "selection" not in recorded):
            result.unbacked.append(name)  # a part written before parts recorded their choice
            continue
        exp = experiments().get(recorded.get("experiment"))
        if exp is None or exp.jobs is None:
            result.problems.append(f"{results_file}: no training experiment "
                                   f"{recorded.get('experiment')!r}")
            continue
        before = len(result.problems)
        selection = Selection.from_record(recorded.get("selection", {}))
        name_of = recorded["experiment"]
        search = selection.jobs(tuning_jobs(exp.jobs, recorded["budget"]), reported=False,
                                experiment=name_of)
        tuning = None
        if search:  # the fair-comparison search first: its runs, then what it chose
            broken, tuning = _check_search(search, root)
            if broken:
                result.problems += _few(broken, root)
                continue
            if json.loads(json.dumps(tuning)) != read_tuning(home):
                result.problems.append(f"{home / 'tuning.json'} differs from the choice its "
                                       "tuning runs give")
                continue
        jobs = selection.jobs(reported_jobs(exp.jobs, recorded["budget"], tuning),
                              reported=True, experiment=name_of)
        dirs = [job_dir(root, j) for j in jobs]
        broken = [p for job, d in zip(jobs, dirs, strict=True) for p in _check_run(job, d)]
        if broken:  # the first few, and how many
            result.problems += _few(broken, root)
            continue
        table, records = results_table(jobs, dirs, weights=False, tuning=tuning)
        if records != recorded["groups"]:
            result.problems.append(f"{results_file} differs from the table its runs give")
        table_file = home / "table.md"
        if not table_file.is_file() or table_file.read_text() != table + "\n":
            result.problems.append(f"{table_file} differs from the table its runs give")
        report = home / "report.md"
        if report.is_file() and table not in report.read_text():
            result.problems.append(f"{report} does not hold the table its runs give")
        if len(result.problems) == before:
            result.backed.append(name)
    for i, horizon_file in enumerate(horizon_files, len(results_files)):
        if progress:
            progress(f"[{i + 1}/{total}] {_report_name(horizon_file.parent)}")
        before = len(result.problems)
        result.problems += _check_horizon(horizon_file, memory, weights=compute)
        if len(result.problems) == before:
            result.backed.append(_report_name(horizon_file.parent))
    checked = {p.parent for p in results_files + horizon_files}
    for report in sorted(Path(out).glob("*/report.md")):
        home = report.parent
        if home in checked:
            continue
        exp, budget = _experiment_of(home.name)
        if exp is None or not (exp.computed or exp.reads) or not compute:
            result.unbacked.append(home.name)
            continue
        if progress:
            progress(f"computing {home.name} again")
        try:
            problem = _check_computed(exp, budget, home)
        except TrainingRefused:  # an analysis whose weights are not all committed
            result.unbacked.append(home.name)
            continue
        if problem:
            result.problems.append(problem)
        else:
            result.backed.append(home.name)
    return result


def _experiment_of(name: str):
    """(the experiment, its budget) of a report directory named ``<experiment>-<budget>``."""
    from .grid import BUDGETS

    for budget in BUDGETS:
        if name.endswith(f"-{budget}"):
            return experiments().get(name.removesuffix(f"-{budget}")), budget
    return None, None


def _check_computed(exp, budget: str, home: Path) -> str | None:
    """A computed report's table made again (in a scratch directory) against its table.md; an
    analysis's from a copy of the runs it reads (beside ``home``), training nothing
    (:class:`~rnnmem.sweep.TrainingRefused` where a run or its weights are not there)."""
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        for source in exp.reads:
            runs = home.parent / f"{source}-{budget}"
            if runs.is_dir():
                shutil.copytree(runs, Path(scratch) / runs.name,
                                ignore=shutil.ignore_patterns("checkpoint.pt", ".lock", "*.png"))
        out = Path(scratch) / home.name
        out.mkdir()
        with no_training():
            made = exp.run(out, budget, 1)
    table = exp.table(made["result"]) if exp.table is not None else made["table"]
    table_file = home / "table.md"
    if not table_file.is_file() or table_file.read_text() != table + "\n":
        return f"{table_file} differs from the table computed again"
    return None


def _experiment_dir(home: Path) -> Path:
    """The ``<experiment>-<budget>/`` of a report directory (itself, or a part's)."""
    return home.parent.parent if home.parent.name == "parts" else home


def _report_name(home: Path) -> str:
    root = _experiment_dir(home)
    return root.name if root == home else f"{root.name}/parts/{home.name}"


def _check_search(search: list, root: Path) -> tuple[list[str], list[dict]]:
    """(problems, the choice) of a search replayed on its committed runs, the extensions past
    an edge included (:func:`~rnnmem.experiments.tuning.tune`)."""
    problems = []

    def check(jobs):
        dirs = [job_dir(root, j) for j in jobs]
        problems.extend(p for j, d in zip(jobs, dirs, strict=True) for p in _check_run(j, d))
        return dirs

    _, _, records = tune(search, check, weights=False)
    return problems, records


def _by_cell(records: list[dict]) -> dict:
    return {(r["panel"], r["group"]): r for r in records}


def _few(problems: list[str], root: Path) -> list[str]:
    """The first three problems, and how many more."""
    return problems[:3] + ([f"{root.name}: {len(problems) - 3} more problems like these"]
                           if len(problems) > 3 else [])


def _check_horizon(horizon_file: Path, memory: dict | None = None, *, weights: bool = True
                   ) -> list[str]:
    """The memory-horizon experiment: its search is what its tuning runs choose (each run
    checked as any job's), each probe's per-seed verdict in horizon.json is its run's committed
    summary, each horizon the longest length solved with every shorter probed one solved, and
    table.md the table of horizon.json. The memory columns are recomputed from the analysed
    network's committed weights (seed 0 at the measured length); where its model.pt is not
    committed they are compared as horizon.json records them. ``memory``: the columns already
    recomputed, by run directory and config (a whole table's and its parts' are the same);
    ``weights=False``: not recomputed (minutes for the Mamba block's 4864-number state)."""
    from .horizon import (
        BUDGETS,
        _solved,
        horizon_of,
        horizon_table,
        job_config,
        run_dir,
        tuning_jobs,
    )
    from .jobs import Job

    root = _experiment_dir(horizon_file.parent)  # a part's runs are its experiment's
    recorded = read_json(horizon_file)
    spec = BUDGETS[recorded["budget"]]
    problems, records = _check_search(tuning_jobs(list(recorded["models"]), spec), root)
    if problems:
        return _few(problems, root)
    # horizon.json's models are stored by name, so its search replays in another order
    if _by_cell(json.loads(json.dumps(records))) != _by_cell(recorded.get("tuning") or []):
        return [f"{horizon_file}: its tuning differs from the choice its tuning runs give"]
    chosen = chosen_options(records)
    for model, entry in recorded["models"].items():
        for task, found in entry.items():
            for T, seeds in found["probes"].items():
                for seed, probe in seeds.items():
                    job = Job(task, model, int(seed), job_config(
                        model, task, int(T), int(seed), spec, chosen[(task, model)]))
                    path = run_dir(root, model, task, int(T), int(seed))
                    broken = _check_run(job, path)
                    if broken:
                        problems += broken
                        continue
                    summary = RunDir(path).summary()
                    if bool(summary.get("solved")) != probe["solved"]:
                        problems.append(f"{horizon_file}: {model} {task} T = {T} seed {seed} "
                                        f"says solved = {probe['solved']}, its run "
                                        f"{summary.get('solved')}")
            if weights:
                problems += _check_memory(found, model, task, root, spec, chosen,
                                          {} if memory is None else memory)
            horizon = horizon_of(_solved(found["probes"]))
            if horizon != found["horizon"]:
                problems.append(f"{horizon_file}: {model} {task} horizon {found['horizon']} "
                                f"is not the longest solved probe below every unsolved one "
                                f"({horizon})")
    table_file = horizon_file.parent / "table.md"
    if not table_file.is_file() or table_file.read_text() != horizon_table(recorded) + "\n":
        problems.append(f"{table_file} differs from the table of {horizon_file.name}")
    return _few(problems, root)


def _check_memory(found: dict, model: str, task: str, root: Path, spec: dict,
                  chosen: dict, memo: dict) -> list[str]:
    """J_tot and MC of the analysed network recomputed from its committed weights (none
    committed: nothing to recompute)."""
    from .horizon import _memory_of, job_config, run_dir

    T = found.get("measured_at")
    path = run_dir(root, model, task, T, 0) if T is not None else None
    if path is None or not (path / "model.pt").is_file():
        return []
    config = job_config(model, task, T, 0, spec, chosen[(task, model)])
    key = (path.resolve(), json.dumps(config.to_dict(), sort_keys=True))
    if key not in memo:
        memo[key] = _memory_of(path, config)
    memory = memo[key]
    recorded = found.get("memory") or {}
    if memory is None:
        return [f"{path}: its weights do not verify against its summary's checksum"]
    wrong = [k for k in ("J_tot_normalized", "MC")
             if not _close(memory[k], recorded.get(k, math.nan), rel=1e-3)]
    return [f"{path}: {wrong[0]} {recorded.get(wrong[0])} in horizon.json, {memory[wrong[0]]} "
            "from its weights"] if wrong else []


def _check_run(job, run_dir: Path) -> list[str]:
    run = RunDir(run_dir)
    try:
        summary = run.verify(weights=False)
        if not job.config.matches(run.config()):
            return [f"{run.config_file} is not the config of its job ({job.panel} / "
                    f"{job.group} / seed {job.seed})"]
        rows = [{k: float(v) for k, v in r.items()} for r in run.metrics()]
    except (RunDirError, ValueError, OSError) as err:
        return [f"{run_dir}: {err}"]
    figures = final_figures(rows, job.config.final_evals)
    wrong = [k for k in FIGURES if not _close(figures[k], summary[k])]
    if wrong:
        return [f"{run.summary_file}: {wrong[0]} {summary[wrong[0]]} is not the median of the "
                f"last {job.config.final_evals} evaluations of metrics.csv "
                f"({figures[wrong[0]]})"]
    return []


def _close(a: float, b: float, rel: float = CSV_DIGITS) -> bool:
    a, b = (math.nan if v is None else float(v) for v in (a, b))
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-12)


def describe(result: CheckResult) -> str:
    lines = [f"{len(result.backed)} reports recomputed from their committed runs (or, a "
             f"construction or the linear theory, computed again): "
             f"{', '.join(result.backed) or 'none'}",
             f"{len(result.unbacked)} reports without committed runs or weights to recompute "
             f"them from (not checked): {', '.join(result.unbacked) or 'none'}"]
    lines += [f"  problem: {p}" for p in result.problems]
    return "\n".join(lines)
