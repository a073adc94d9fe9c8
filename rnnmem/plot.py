"""Learning curves of one or more run directories on one PNG, chance baseline dashed."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .config import saved_options, task_label
from .io import write_bytes_atomic
from .registry import task_specs
from .rundir import RunDir, RunDirError  # noqa: F401 - RunDirError: plot's errors
from .stats import mean_se

CURVES = {"val_ratio": "validation loss / chance", "val_loss": "validation loss",
          "val_metric": "validation metric", "train_loss": "training loss"}

# Distinct line styles and markers, so that coinciding curves (two models both at chance, or
# identity exactly under orthogonal) stay visible, each drawn over the last.
STYLES = (dict(ls="-", marker="o", ms=4, lw=2.2), dict(ls="--", marker="s", ms=4, lw=1.8),
          dict(ls=":", marker="^", ms=4, lw=1.6), dict(ls="-.", marker="x", ms=5, lw=1.4),
          dict(ls="-", marker="d", ms=4, lw=1.0))
COINCIDE = 0.01  # curves within 1 % of each other at every shared step are said to coincide
OFF_SCALE = 1e5  # loss / chance drawn up to this; a higher spike is clipped, and said so


def save_png(fig, path: str | Path, dpi: int = 110) -> None:
    """A figure as a PNG, written atomically (a temporary renamed over ``path``): never
    through a symlink at ``path``, never half a file."""
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    write_bytes_atomic(path, buffer.getvalue())


def style(i: int) -> dict:
    """Series i's colour, line style and marker: distinct for the first 50 series (the 10
    colours cycle; each pass over them shifts the styles)."""
    return dict(STYLES[(i + i // 10) % len(STYLES)], color=f"C{i % 10}")


def marks(n: int, i: int) -> tuple[int, int]:
    """About 12 markers per curve, series i's shifted so that coinciding curves show both."""
    step = max(1, n // 12)
    return (i * step // len(STYLES) % step, step)


def coinciding(curves: dict[str, tuple]) -> dict[str, str]:
    """label -> the earlier label whose curve (steps, values) it coincides with, where any."""
    same, seen = {}, []
    for label, (steps, values) in curves.items():
        for other, (other_steps, other_values) in seen:
            if (list(steps) == list(other_steps) and len(values) and np.allclose(
                    values, other_values, rtol=COINCIDE, atol=0.0)):
                same[label] = other
                break
        seen.append((label, (steps, values)))
    return same


def legend_columns(labels) -> int:
    """Two legend columns under a panel, one where a label is too long to share a line."""
    return 2 if max(map(len, labels), default=0) <= 32 else 1


def legend_below(ax, fontsize: int = 7, ncol: int = 2) -> None:
    """The legend under the axes, where it covers no data."""
    ax.legend(fontsize=fontsize, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=ncol,
              frameon=False)


def load_run(run_dir: str | Path) -> dict:
    """Config, metric rows and (if finished) summary of a run directory."""
    run = RunDir(run_dir)
    rows, config = run.metrics(), run.config()
    missing = sorted({"task", "model", "seed"} - config.keys())  # what a label needs
    if missing:
        raise RunDirError(f"{run.config_file} is not a run config (no {', '.join(missing)})")
    summary = run.summary()
    if summary is not None and not isinstance(summary, dict):
        raise RunDirError(f"{run.summary_file} is not a run summary (a JSON object)")
    if summary is not None:  # a finished run's files must agree with its summary's checksums
        run.verify(weights=False)
    return dict(path=run.path, config=config, rows=rows, summary=summary)


def _require_curve(runs: list[dict], curve: str) -> None:
    for r in runs:
        if curve not in r["rows"][0]:
            raise RunDirError(f"{r['path'] / 'metrics.csv'} has no {curve} column")


def run_label(config: dict) -> str:
    """A curve's label: the model, its init (where it has one), the seed."""
    init = saved_options(config, "model").get("init")
    return f"{config['model']}{'' if init is None else f' {init}'} (seed {config['seed']})"


def _settings(config: dict) -> dict:
    """A saved config's settings by name (any version): the run's, its task's, its model's."""
    run = {k: v for k, v in config.items() if not k.endswith("_options")
           and not isinstance(v, dict)}
    return {**saved_options(config, "task"), **saved_options(config, "model"), **run}


def differing_labels(configs: list[dict], ignore: tuple = ()) -> tuple[list[str], str]:
    """(one label per run naming the settings in which the runs differ, those in ``ignore``
    aside, the settings they share as a title): two runs of different learning rates are told
    apart by ``lr``."""
    settings = [{k: v for k, v in _settings(c).items() if k not in ignore} for c in configs]
    # settings all runs have (another model's own options say nothing once "model" differs)
    keys = [k for k in dict.fromkeys(k for s in settings for k in s)
            if all(k in s for s in settings) or k in ("task", "model")]
    differ = [k for k in keys if len({repr(s.get(k)) for s in settings}) > 1
              and k != "eval_every"]
    first = ("task", "model", "init")  # read first where they differ
    differ = [k for k in first if k in differ] + [k for k in differ if k not in first]
    labels = [", ".join(f"{k}={s.get(k)}" for k in differ) or run_label(c)
              for s, c in zip(settings, configs, strict=True)]
    shared = configs[0]
    title = (f"{task_label(shared)}, {shared.get('hidden')} hidden units"
             if "task" not in differ and "hidden" not in differ else "")
    if "task" not in differ and "hidden" in differ:
        title = task_label(shared)
    if "model" not in differ and len(configs) > 1:
        title = f"{title}; {shared.get('model')}" if title else str(shared.get("model"))
    return labels, title or "runs of different tasks"


GROUP_BY_RUN = ("run",)  # --group-by run: every run its own curve


def plot_runs(run_dirs, out: str | Path, *, curve: str = "val_ratio", title: str | None = None,
              group_by: tuple[str, ...] | None = None):
    """Draw ``curve`` against step on one PNG; returns the path written. Runs with the same
    settings but their seed (``group_by``: the same values of these settings) are one group:
    one curve, mean ± s.e. over its runs, as the reproduce figures draw them. Each curve is
    labelled by the settings in which the groups differ; the title says what they share.
    ``group_by=GROUP_BY_RUN``: every run alone."""
    runs = [load_run(d) for d in run_dirs]
    _require_curve(runs, curve)
    if group_by != GROUP_BY_RUN:
        return _plot_grouped(runs, out, curve=curve, title=title, group_by=group_by)
    labels, shared = differing_labels([r["config"] for r in runs])
    if len(set(labels)) < len(labels):  # same settings in different directories
        labels = [f"{label} [{r['path'].name}]" for label, r in zip(labels, runs, strict=True)]
    return plot_curves({label: [r] for label, r in zip(labels, runs, strict=True)}, out,
                       curve=curve, title=title or shared)


def _plot_grouped(runs: list[dict], out, *, curve: str, title: str | None,
                  group_by: tuple[str, ...] | None):
    groups, shared = group_runs(runs, group_by)
    # a group of one run is named by its directory first: the name its user gave it
    groups = {f"{members[0]['path'].name} ({label})" if len(members) == 1 else label: members
              for label, members in groups.items()}
    return plot_curves(groups, out, curve=curve, title=title or shared)


def group_runs(runs: list[dict], group_by: tuple[str, ...] | None = None
               ) -> tuple[dict[str, list[dict]], str]:
    """({label: runs} with one group per value of the ``group_by`` settings (default: of every
    setting but the seed), the title of what they share). Labels name only the settings in
    which the groups differ."""
    settings = [_settings(r["config"]) for r in runs]
    if group_by:
        unknown = [k for k in group_by if not any(k in s for s in settings)]
        if unknown:
            raise RunDirError(f"--group-by {unknown[0]}: no run has that setting; settings: "
                              f"{', '.join(sorted(set().union(*settings)))}")
    keys = list(group_by or dict.fromkeys(k for s in settings for k in s if k != "seed"))
    groups: dict[tuple, list[dict]] = {}
    for run, s in zip(runs, settings, strict=True):
        groups.setdefault(tuple(repr(s.get(k)) for k in keys), []).append(run)
    firsts = [members[0]["config"] for members in groups.values()]
    labels, shared = differing_labels(firsts, ignore=("seed",))
    if group_by:
        labels = [", ".join(f"{k}={_settings(c).get(k)}" for k in keys) for c in firsts]
    elif len(groups) == 1:
        labels = [run_label(firsts[0]).split(" (seed")[0]]
    return dict(zip(labels, groups.values(), strict=True)), shared


def plot_groups(groups: dict[str, list], out: str | Path, **kwargs):
    """Like :func:`plot_runs`, one line per group of run directories: mean ± s.e. over seeds."""
    groups = {k: [load_run(d) for d in v] for k, v in groups.items()}
    _require_curve([r for runs in groups.values() for r in runs], kwargs.get("curve", "val_ratio"))
    return plot_curves(groups, out, **kwargs)


def _mean_and_se(runs: list[dict], curve: str):
    """Mean and standard error at each evaluation step over the runs with a finite value there.

    A run that stopped early (diverged or early-stopped) leaves the mean from its last step on,
    instead of cutting the whole group's curve short."""
    longest = max(runs, key=lambda r: len(r["rows"]))
    steps, means, ses = [], [], []
    for i, row in enumerate(longest["rows"]):
        values = [r["rows"][i][curve] for r in runs if i < len(r["rows"])]
        values = [v for v in values if np.isfinite(v)]
        if values:
            mean, se = mean_se(values)
            steps.append(row["step"])
            means.append(mean)
            ses.append(se)
    return steps, np.array(means), np.array(ses)


def _draw_groups(ax, groups: dict[str, list[dict]], curve: str) -> None:
    from matplotlib.ticker import MaxNLocator

    curves = {label: _mean_and_se(runs, curve) for label, runs in groups.items()}
    same = coinciding({label: c[:2] for label, c in curves.items()})
    for i, (label, runs) in enumerate(groups.items()):
        steps, mean, se = curves[label]
        stopped = sum(r["summary"] is not None and r["summary"].get("status") == "diverged"
                      for r in runs)
        n = f" (n = {len(runs)}{f', {stopped} diverged' if stopped else ''})" \
            if len(runs) > 1 else ""
        under = f" [on {same[label]}]" if label in same else ""
        (line,) = ax.plot(steps, mean, label=label + n + under, markevery=marks(len(steps), i),
                          **style(i))
        if len(runs) > 1:
            ax.fill_between(steps, mean - se, mean + se, color=line.get_color(), alpha=0.25)
    first = next(iter(groups.values()))[0]
    if curve == "val_ratio":
        ax.axhline(1.0, color="k", ls="--", lw=1, label="chance baseline")
        spec = task_specs().get(first["config"].get("task"))
        try:
            lines = (spec.reference_lines(saved_options(first["config"], "task"))
                     if spec is not None and spec.reference_lines else [])
        except (ValueError, KeyError, TypeError) as err:  # a hand-edited config
            raise RunDirError(f"{first['path'] / 'config.json'} is not a valid "
                              f"{spec.name} config ({err})") from None
        for ratio, text in lines:
            ax.axhline(ratio, color="k", ls=":", lw=1, label=text)
    elif curve in ("val_loss", "train_loss") and first["summary"]:
        ax.axhline(first["summary"]["baseline"], color="k", ls="--", lw=1,
                   label="chance baseline")
    if curve != "val_metric":
        ax.set_yscale("log")
        top = max((float(np.max(c[1])) for c in curves.values() if len(c[1])), default=0.0)
        if curve == "val_ratio" and top > OFF_SCALE:  # one spike would flatten every curve
            ax.set_ylim(top=OFF_SCALE)
            ax.text(0.99, 0.98, f"off scale above {OFF_SCALE:.0e} (up to {top:.0e})",
                    transform=ax.transAxes, ha="right", va="top", fontsize=7)
        readable_log_ticks(ax)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5, integer=True))  # 16000-step labels apart
    ax.set_xlabel("training step")
    ax.set_ylabel(CURVES[curve])
    legend_below(ax, ncol=legend_columns(groups))


def readable_log_ticks(ax, decades: float = 1.5) -> None:
    """On a log y-axis spanning fewer than ``decades`` decades, labels at 1, 2 and 5 × 10^k in
    plain numbers: matplotlib's default there may label one power of ten alone."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    low, high = ax.get_ylim()
    if low > 0 and np.log10(high / low) < decades:
        ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())


def plot_panels(panels: dict[str, dict[str, list[dict]]], out: str | Path, *,
                curve: str = "val_ratio", title: str | None = None) -> Path:
    """One subplot per panel, one line per group (mean ± s.e. over its runs); writes a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if curve not in CURVES:
        raise ValueError(f"unknown curve {curve!r}; valid: {', '.join(CURVES)}")
    n = len(panels)
    cols = min(n, 3)
    rows = (n + cols - 1) // cols
    legend_rows = max(-(-(len(groups) + 2) // legend_columns(groups))  # + chance, a reference
                      for groups in panels.values())
    legend_h = 0.16 * legend_rows  # inches under each row of axes
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, (3.8 + legend_h) * rows),
                             squeeze=False)
    for ax, (name, groups) in zip(axes.flat, panels.items(), strict=False):
        _draw_groups(ax, groups, curve)
        ax.set_title(name, fontsize=9)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_png(fig, out, dpi=110)
    plt.close(fig)
    return out


def plot_curves(groups: dict[str, list[dict]], out: str | Path, *, curve: str = "val_ratio",
                title: str | None = None) -> Path:
    """One panel of groups; the title defaults to the first run's task."""
    c = next(iter(groups.values()))[0]["config"]
    title = title or f"{task_label(c)}, {c['hidden']} hidden units"
    return plot_panels({title: groups}, out, curve=curve)
