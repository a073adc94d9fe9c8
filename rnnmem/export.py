"""Runs out as data: one tidy row per run, and one per (run, evaluation).

``rnnmem export DIR... --out OUT [--format csv|json|parquet]`` writes ``OUT/runs.<ext>`` and
``OUT/evaluations.<ext>``; :func:`load_runs` gives the same rows as a pandas DataFrame
(``pip install 'rnnmem[pandas]'``). Every setting of a run's config.json is a column (the
options of its task, model and optimizer beside the run-level ones); a run of a ``reproduce``
directory also carries its experiment, budget, panel, group, grid point and whether it is a
tuning run. Runs moved aside by ``--rerun-changed`` (``seed0.changed-1``) are not results, and
are left out.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from .io import read_json, write_json_atomic, write_text_atomic
from .rundir import CONFIG, METRICS, RunDir, RunDirError

FORMATS = ("csv", "json", "parquet")
SUMMARY_COLUMNS = ("status", "final_val_ratio", "final_val_loss", "final_val_metric",
                   "metric_name", "solved", "test_loss", "test_metric", "steps", "seconds",
                   "diverged_at", "baseline", "parameters", "kernel_path", "warning")
OPTION_FIELDS = ("task_options", "model_options", "optimizer_options")


def find_runs(paths) -> list[Path]:
    """The run directories at or under ``paths`` (config.json and metrics.csv), in order;
    RunDirError for a path that holds none."""
    found = []
    for path in map(Path, paths):
        if not path.exists():
            raise RunDirError(f"{path}: no such file or directory")
        runs = [path] if (path / CONFIG).is_file() else sorted(
            p.parent for p in path.rglob(CONFIG))
        runs = [r for r in runs if (r / METRICS).is_file() and ".changed-" not in r.name]
        if not runs:
            raise RunDirError(f"{path} holds no run directories (config.json and metrics.csv)")
        found += runs
    return list(dict.fromkeys(found))


def _settings(config: dict) -> dict:
    """config.json's settings as columns: the options beside the run-level fields (an option
    named like another column keeps its dict's name as a prefix)."""
    columns = {k: v for k, v in config.items() if k not in OPTION_FIELDS}
    for field in OPTION_FIELDS:
        for key, value in (config.get(field) or {}).items():
            columns[key if key not in columns else f"{field}.{key}"] = value
    return {k: json.dumps(v) if isinstance(v, (dict, list)) else v for k, v in columns.items()}


def _job_labels(paths) -> dict[Path, dict]:
    """run directory -> its job's labels, for every reproduce directory at or under ``paths``
    whose experiment is registered."""
    from .experiments.jobs import job_dir
    from .experiments.tuning import read_tuning, reported_jobs, tuning_jobs
    from .registry import experiments

    labels, roots = {}, {}
    for path in map(Path, paths):
        for results in [path / "results.json", *path.glob("*/results.json"),
                        *path.glob("parts/*/results.json"), *path.glob("*/parts/*/results.json")]:
            if results.is_file():  # a part's report (--models, --seeds) labels its grid's runs
                part = results.parent.parent.name == "parts"
                roots.setdefault(results.parent.parent.parent if part else results.parent,
                                 results)
    for root, results in roots.items():
        recorded = read_json(results)
        exp = experiments().get(recorded.get("experiment"))
        if exp is None or exp.jobs is None:
            continue
        budget = recorded["budget"]
        jobs = tuning_jobs(exp.jobs, budget) + reported_jobs(exp.jobs, budget,
                                                             read_tuning(root))
        for j in jobs:
            labels[job_dir(root, j).resolve()] = dict(
                experiment=exp.name, budget=budget, panel=j.panel, group=j.group,
                variant=j.variant, tuning=j.tuning)
    return labels


def run_rows(paths) -> tuple[list[dict], list[dict]]:
    """(one row per run, one row per evaluation) of the runs at or under ``paths``."""
    labels = _job_labels(paths)
    runs, evaluations = [], []
    for path in find_runs(paths):
        run = RunDir(path)
        head = dict(run=str(path), **labels.get(path.resolve(), {}),
                    **_settings(run.config()))
        summary = run.verify(weights=False) if run.is_finished() else {}  # files that agree
        runs.append({**head, **{k: summary.get(k) for k in SUMMARY_COLUMNS},
                     "finished": run.is_finished()})
        if not summary:
            runs[-1]["status"] = "unfinished"
        evaluations += [{**head, **row} for row in run.metrics()]
    return runs, evaluations


def write_export(paths, out: str | Path, fmt: str = "csv") -> list[Path]:
    """``out/runs.<fmt>`` and ``out/evaluations.<fmt>``; returns them."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    runs, evaluations = run_rows(paths)
    if fmt == "parquet":
        frames = [_frame(rows) for rows in (runs, evaluations)]  # pandas first: no half export
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, rows in (("runs", runs), ("evaluations", evaluations)):
        path = out / f"{name}.{fmt}"
        if fmt == "csv":
            write_text_atomic(path, _csv(rows))
        elif fmt == "json":
            write_json_atomic(path, [{k: _json_value(v) for k, v in r.items()} for r in rows])
        else:
            _parquet(frames.pop(0), path)
        written.append(path)
    return written


def load_runs(*paths, evaluations: bool = False):
    """The runs at or under ``paths`` as a pandas DataFrame, one row per run (``evaluations``:
    one per evaluation). Needs pandas: ``pip install 'rnnmem[pandas]'``."""
    runs, rows = run_rows(paths)
    return _frame(rows if evaluations else runs)


def _frame(rows: list[dict]):
    try:
        import pandas as pd
    except ImportError:
        raise ImportError("rnnmem.load_runs and --format parquet need pandas: pip install "
                          "'rnnmem[pandas]'") from None
    return pd.DataFrame(rows)


def _parquet(frame, path: Path) -> None:
    try:
        frame.to_parquet(path)
    except ImportError:
        raise ImportError("--format parquet needs pyarrow: pip install pyarrow") from None


def _csv(rows: list[dict]) -> str:
    import io

    columns = list(dict.fromkeys(k for r in rows for k in r))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: "" if v is None else v for k, v in r.items()} for r in rows)
    return buffer.getvalue()


def _json_value(value):
    return None if isinstance(value, float) and not math.isfinite(value) else value
