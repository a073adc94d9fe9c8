"""Learning curves of one or more run directories on one PNG, chance baseline dashed."""

from __future__ import annotations

import csv
from pathlib import Path

from .io import read_json

CURVES = {"val_ratio": "validation loss / chance", "val_loss": "validation loss",
          "val_metric": "validation metric", "train_loss": "training loss"}


class RunDirError(ValueError):
    """A path that is not a finished or running rnnmem run directory."""


def load_run(run_dir: str | Path) -> dict:
    """Config, metric rows and (if finished) summary of a run directory."""
    run_dir = Path(run_dir)
    for name in ("config.json", "metrics.csv"):
        if not (run_dir / name).is_file():
            raise RunDirError(f"{run_dir} is not a run directory (no {name})")
    with open(run_dir / "metrics.csv") as f:
        rows = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
    summary_path = run_dir / "summary.json"
    summary = read_json(summary_path) if summary_path.is_file() else None
    return dict(path=run_dir, config=read_json(run_dir / "config.json"), rows=rows,
                summary=summary)


def run_label(config: dict) -> str:
    return f"{config['model']} {config['init']} (seed {config['seed']})"


def plot_runs(run_dirs, out: str | Path, *, curve: str = "val_ratio", title: str | None = None):
    """Draw ``curve`` against step for every run; write ``out`` (PNG). Returns the path."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if curve not in CURVES:
        raise ValueError(f"unknown curve {curve!r}; valid: {', '.join(CURVES)}")
    runs = [load_run(d) for d in run_dirs]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for run in runs:
        steps = [r["step"] for r in run["rows"]]
        ax.plot(steps, [r[curve] for r in run["rows"]], label=run_label(run["config"]))
    if curve == "val_ratio":
        ax.axhline(1.0, color="k", ls="--", lw=1, label="chance baseline")
    elif curve in ("val_loss", "train_loss") and runs[0]["summary"]:
        ax.axhline(runs[0]["summary"]["baseline"], color="k", ls="--", lw=1,
                   label="chance baseline")
    if curve != "val_metric":
        ax.set_yscale("log")
    c = runs[0]["config"]
    ax.set_title(title or f"{c['task']}, T = {c['T']}, {c['hidden']} hidden units")
    ax.set_xlabel("training step")
    ax.set_ylabel(CURVES[curve])
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
