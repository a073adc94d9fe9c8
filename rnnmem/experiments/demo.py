"""The README's main job: Henaff §4.1's initialization effect on the copy task, in a minute.

LT-RNN, copy T = 100 (S = 10, K = 8), 80 hidden units, batch 50, RMSProp lr 1e-4 (decay 0.9),
activation clipping 1000; orthogonal (LT-ORNN) against identity (LT-IRNN) initialization.
"""

from __future__ import annotations

from pathlib import Path

from ..io import write_text_atomic
from ..plot import plot_runs
from ..sweep import run_all
from ..train import TrainConfig

INITS = {"orthogonal": "LT-ORNN", "identity": "LT-IRNN"}


def demo_configs(steps: int = 3000, seed: int = 0) -> dict[str, TrainConfig]:
    return {init: TrainConfig(task="copy", T=100, model="lt-rnn", init=init, hidden=80,
                              batch=50, lr=1e-4, clip=1000.0, steps=steps,
                              eval_every=max(1, steps // 20), seed=seed)
            for init in INITS}


def format_table(summaries: dict[str, dict]) -> str:
    """A Markdown table of the runs' final validation numbers."""
    lines = ["| model | init | val loss | loss / chance | accuracy | solved | seconds |",
             "|---|---|---|---|---|---|---|"]
    for init, s in summaries.items():
        lines.append(f"| {INITS[init]} | {init} | {s['final_val_loss']:.4f} | "
                     f"{s['final_val_ratio']:.3f} | {s['final_val_metric']:.3f} | "
                     f"{'yes' if s['solved'] else 'no'} | {s['seconds']:.1f} |")
    return "\n".join(lines)


def run_demo(out: str | Path, *, steps: int = 3000, seed: int = 0,
             workers: int | None = None) -> str:
    """Train both runs under ``out``, write ``out/curves.png`` and ``out/results.md``.

    Returns the report text (table, chance baseline, where the files are).
    """
    out = Path(out)
    configs = demo_configs(steps, seed)
    jobs = [(config, out / init) for init, config in configs.items()]

    def done(i, summary):
        print(f"  {INITS[list(configs)[i]]}: {summary['status']} in {summary['seconds']:.1f} s",
              flush=True)

    print(f"training LT-ORNN and LT-IRNN on copy T=100 for {steps} steps each ...", flush=True)
    results = run_all(jobs, workers=workers, on_done=done)
    summaries = dict(zip(configs, results, strict=True))
    figure = plot_runs([d for _, d in jobs], out / "curves.png",
                       title="Copy T = 100: LT-RNN, 80 units, RMSProp 1e-4")
    baseline = results[0]["baseline"]
    report = (f"{format_table(summaries)}\n\nchance baseline (S ln K / (T + 2S)): "
              f"{baseline:.4f} nats per step\nfigure: {figure}\n")
    write_text_atomic(out / "results.md", report)
    return report
