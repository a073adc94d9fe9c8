"""The README's main job: Henaff §4.1's initialization effect on the copy task, in a minute.

LT-RNN, copy T = 100 (S = 10, K = 8), 80 hidden units, batch 50, RMSProp lr 1e-4 (decay 0.9),
activation clipping 1000; orthogonal (LT-ORNN) against identity (LT-IRNN) initialization.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from ..device import kernel_path
from ..io import write_text_atomic
from ..plot import plot_groups
from ..rundir import RunDir
from ..stats import format_mean_se
from ..sweep import run_all
from ..tasks import CopyTask
from ..train import TrainConfig
from .estimate import Lines, Progress

INITS = {"orthogonal": "LT-ORNN", "identity": "LT-IRNN"}


def demo_config(init: str, steps: int = 3000, seed: int = 0) -> TrainConfig:
    # the default model is the LT-RNN, under Henaff's recipe (clipping at 1000, RMSProp 0.9)
    return TrainConfig(task="copy", T=100, init=init, hidden=80, batch=50, lr=1e-4,
                       steps=steps, eval_every=max(1, steps // 20), seed=seed)


def format_table(summaries: dict[str, list[dict]]) -> str:
    """Markdown table of final validation numbers per initialization (mean ± s.e. over seeds)."""
    lines = ["| model | init | seeds | val loss / chance | recall accuracy | solved |",
             "|---|---|---|---|---|---|"]
    for init, runs in summaries.items():
        finished = [s for s in runs if s["status"] != "failed"]
        failed = len(runs) - len(finished)
        if not finished:
            lines.append(f"| {INITS[init]} | {init} | {len(runs)} | failed | failed | "
                         f"0/{len(runs)} |")
            continue
        solved = sum(bool(s.get("solved")) for s in finished)
        lines.append(
            f"| {INITS[init]} | {init} | {len(finished)}"
            f"{f' (+{failed} failed)' if failed else ''} | "
            f"{format_mean_se([s['final_val_ratio'] for s in finished], '.3f', '.3f')} | "
            f"{format_mean_se([s['final_val_metric'] for s in finished], '.3f', '.3f')} | "
            f"{solved}/{len(runs)} |")
    return "\n".join(lines)


def run_demo(out: str | Path, *, steps: int = 3000, seeds: int = 1, seed: int = 0,
             workers: int | None = None) -> tuple[str, int]:
    """Train ``seeds`` runs per init under ``out``; write ``curves.png`` and ``results.md``.

    Returns the report (table, chance baseline, time, machine, the files written) and the
    number of runs that failed (an error, not a divergence; they are in the table).
    """
    out = Path(out)
    jobs = [(init, seed + k) for init in INITS for k in range(seeds)]
    run_dirs = {job: out / "runs" / f"{job[0]}-seed{job[1]}" for job in jobs}

    configs = {job: demo_config(job[0], steps, job[1]) for job in jobs}
    counter = Progress(len(jobs), sum(configs[j].steps for j in jobs
                                      if RunDir(run_dirs[j]).finished_summary(configs[j]) is None))

    say = Lines()  # the heartbeat live on a terminal

    def done(i, summary):
        init, s = jobs[i]
        took = (f"reused: trained earlier in {summary['seconds']:.1f} s" if summary.get("reused")
                else f"{summary.get('seconds', 0.0):.1f} s")
        what = summary.get("error") or (
            f"final val loss / chance {summary['final_val_ratio']:.3f} ({took})")
        done_text = counter(not summary.get("reused"), jobs[i], configs[jobs[i]].steps)
        say(f"  {done_text} {INITS[init]} seed {s}: {summary['status']}, {what}")

    for job in jobs:  # never overwritten, never counted failed without a word
        if (why := RunDir(run_dirs[job]).change(configs[job])) is not None:
            raise ValueError(f"{run_dirs[job]}: {why} (another --steps?); pass another "
                             f"--out, or remove {out / 'runs'}")
    say(f"training LT-ORNN and LT-IRNN on copy T=100: {seeds} seed(s) each, {steps} steps")
    start = time.perf_counter()
    results = run_all([(configs[job], run_dirs[job]) for job in jobs],
                      workers=workers, on_done=done, on_beat=lambda in_flight: say.beat(
                          counter.beat([(jobs[i], f"{INITS[jobs[i][0]]} seed {jobs[i][1]}", step,
                                         total) for i, step, total in in_flight])))
    elapsed = time.perf_counter() - start
    summaries = {init: [r for (i, _), r in zip(jobs, results, strict=True) if i == init]
                 for init in INITS}
    groups = {INITS[init]: [run_dirs[job] for job, r in zip(jobs, results, strict=True)
                            if job[0] == init and r["status"] != "failed"] for init in INITS}
    groups = {k: v for k, v in groups.items() if v}  # failed runs are in the table only
    figure = (plot_groups(groups, out / "curves.png",
                          title="Copy T = 100: LT-RNN, 80 units, RMSProp 1e-4")
              if groups else "none (every run failed)")
    baseline = CopyTask(T=100).baseline()
    report = (
        f"{format_table(summaries)}\n\n"
        f"Chance baseline S·ln K / (T + 2S) = {baseline:.4f} nats per step; "
        f"'solved' = final validation loss below half of it.\n"
        f"{len(jobs)} runs of {steps} steps ({sum(bool(r.get('reused')) for r in results)} "
        f"reused from {out / 'runs'}) in {elapsed:.0f} s on {kernel_path()} "
        f"(up to {workers or os.cpu_count()} worker processes, one thread each).\n"
        f"Figure: {figure}\n")
    write_text_atomic(out / "results.md", report)
    return report, sum(r["status"] == "failed" for r in results)
