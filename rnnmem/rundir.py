"""The run directory's layout: one owner for its file names.

``config.json`` (the resolved config, written first), ``metrics.csv`` (one row per evaluation),
``checkpoint.pt`` (to resume from), ``model.pt`` (final weights), ``summary.json`` (final
numbers, written last: its presence, with weights and a matching config, marks a finished run).
"""

from __future__ import annotations

from pathlib import Path

from .io import read_json

CONFIG = "config.json"
METRICS = "metrics.csv"
CHECKPOINT = "checkpoint.pt"
WEIGHTS = "model.pt"
SUMMARY = "summary.json"


def finished_summary(config, run_dir: str | Path) -> dict | None:
    """The summary of a finished run of ``config`` (a TrainConfig) in ``run_dir``, or None."""
    run_dir = Path(run_dir)
    try:  # finished = same config, summary and weights present (a copy without weights reruns)
        if config.matches(read_json(run_dir / CONFIG)) and (run_dir / WEIGHTS).is_file():
            return read_json(run_dir / SUMMARY)
    except (OSError, ValueError):
        pass
    return None


def summaries(dirs: list[Path]) -> list[dict]:
    """The summaries of the finished runs among ``dirs``."""
    return [read_json(d / SUMMARY) for d in dirs if (Path(d) / SUMMARY).is_file()]
