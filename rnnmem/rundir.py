"""The run directory: one owner for its files, how they are written and how they are read.

``config.json`` (the resolved config, written first), ``metrics.csv`` (one row per evaluation),
``checkpoint.pt`` (to resume from), ``model.pt`` (final weights), ``summary.json`` (final
numbers, written last: its presence, with weights and a matching config, marks a finished run).
Every write is atomic (:mod:`rnnmem.io`); every reader goes through :class:`RunDir`, whose
errors name the file.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import torch

from .io import read_json, write_bytes_atomic, write_json_atomic, write_text_atomic

CONFIG = "config.json"
METRICS = "metrics.csv"
CHECKPOINT = "checkpoint.pt"
WEIGHTS = "model.pt"
SUMMARY = "summary.json"
METRIC_COLUMNS = ("step", "seconds", "train_loss", "val_loss", "val_ratio", "val_metric")


class RunDirError(ValueError):
    """A path that is not a finished or running rnnmem run directory, or a damaged file in one."""


class RunDir:
    """One run's directory. ``RunDir(path).summary()`` etc.; the paths are attributes."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.config_file = self.path / CONFIG
        self.metrics_file = self.path / METRICS
        self.checkpoint_file = self.path / CHECKPOINT
        self.weights_file = self.path / WEIGHTS
        self.summary_file = self.path / SUMMARY

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    # --- reading -------------------------------------------------------------------------

    def is_finished(self) -> bool:
        """A summary is present (written last; see :meth:`finished_summary` for the full test)."""
        return self.summary_file.is_file()

    def config(self) -> dict:
        """config.json as a dict; RunDirError if missing or not a JSON object."""
        config = self._json(self.config_file, required=True)
        if not isinstance(config, dict):
            raise RunDirError(f"{self.config_file} is not a run config")
        return config

    def holds_other_config(self, config) -> bool:
        """Whether this directory holds a run (finished or not) of a config other than
        ``config`` (a TrainConfig): resuming it fails, and it is not ``config``'s result."""
        try:
            return self.config_file.is_file() and not config.matches(self.config())
        except RunDirError:
            return True

    def summary(self) -> dict | None:
        """summary.json, or None while the run is unfinished."""
        return self._json(self.summary_file, required=False)

    def metrics(self) -> list[dict]:
        """metrics.csv's rows as floats; RunDirError if missing or malformed."""
        if not self.metrics_file.is_file():
            raise RunDirError(f"{self.path} is not a run directory (no {METRICS})")
        try:
            with open(self.metrics_file) as f:
                rows = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
            if not rows or not {"step", "val_ratio"} <= rows[0].keys():
                raise ValueError("no metric rows")
        except (ValueError, TypeError, UnicodeDecodeError) as err:
            raise RunDirError(f"{self.metrics_file} is malformed ({err})") from None
        return rows

    def weights(self) -> dict:
        """model.pt's state dict; RunDirError if missing or not loadable."""
        if not self.weights_file.is_file():
            raise RunDirError(f"{self.path} is not a finished run directory (no {WEIGHTS})")
        try:
            return torch.load(self.weights_file, weights_only=True)
        except Exception as err:  # torch raises many types for a damaged or foreign file
            reason = str(err).strip().split(". ")[0] if str(err).strip() else type(err).__name__
            raise RunDirError(f"{self.weights_file} is not this run's weights ({reason})") from None

    def finished_summary(self, config) -> dict | None:
        """The summary if this directory holds a finished run of ``config`` (a TrainConfig):
        same config, weights and summary present (a copy without weights reruns); else None."""
        try:
            if config.matches(read_json(self.config_file)) and self.weights_file.is_file():
                return read_json(self.summary_file)
        except (OSError, ValueError):
            pass
        return None

    def _json(self, path: Path, *, required: bool):
        if not path.is_file():
            if required:
                raise RunDirError(f"{self.path} is not a run directory (no {path.name})")
            return None
        try:
            return read_json(path)
        except (ValueError, UnicodeDecodeError) as err:  # JSONDecodeError is a ValueError
            raise RunDirError(f"{path} is not valid JSON ({err})") from None

    # --- writing (each file atomically) --------------------------------------------------

    def start(self, config: dict, *, fresh: bool) -> None:
        """Ready the directory for a run of ``config``: stale temporary files of a killed write
        go; a ``fresh`` start first removes the summary, then the weights and checkpoint of a
        previous run, so the directory never claims to be finished with a summary that is not
        its config's; config.json is (re)written."""
        self.path.mkdir(parents=True, exist_ok=True)
        for stale in self.path.glob(".*.tmp"):
            stale.unlink(missing_ok=True)
        if fresh:
            for path in (self.summary_file, self.weights_file, self.checkpoint_file):
                path.unlink(missing_ok=True)
        write_json_atomic(self.config_file, config)

    def write_metrics(self, rows: list[dict]) -> None:
        lines = [",".join(METRIC_COLUMNS)]
        lines += [",".join(f"{row[c]:.6g}" for c in METRIC_COLUMNS) for row in rows]
        write_text_atomic(self.metrics_file, "\n".join(lines) + "\n")

    def finish(self, state_dict: dict, summary: dict) -> None:
        """The weights, then the summary: written last, it marks the run finished."""
        buffer = io.BytesIO()
        torch.save(state_dict, buffer)
        write_bytes_atomic(self.weights_file, buffer.getvalue())
        write_json_atomic(self.summary_file, summary)


def finished_summary(config, run_dir: str | Path) -> dict | None:
    """:meth:`RunDir.finished_summary` of ``run_dir``."""
    return RunDir(run_dir).finished_summary(config)
