"""Henaff Fig. 6: hidden activations of the l2-pooling LT-RNN on one adding sequence."""

from __future__ import annotations

from pathlib import Path

import torch

from ..analysis import load_run_model
from ..io import write_json_atomic
from ..nn import l2_pool


def plot_pool_activations(run_dir: str | Path, out: str | Path, *, seed: int = 0) -> dict:
    """Raw and pooled hidden states over one adding sequence, marks drawn as lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    config, task, model = load_run_model(run_dir)
    x, y = task.sample(1, torch.Generator().manual_seed(seed))
    with torch.no_grad():
        output, h = model(x)
    h = h[:, 0]  # (T, H)
    pooled = l2_pool(h, config.pool)
    mark_channel = 1 if config.channels == "value-mark" else 0
    marks = x[:, 0, mark_channel].nonzero()[:, 0].tolist()
    fig, axes = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    for ax, data, title in ((axes[0], h, "hidden state h_t (each line one unit)"),
                            (axes[1], pooled, f"l2-pooled P(h_t), pool {config.pool}")):
        ax.plot(data.numpy(), lw=0.7)
        for m in marks:
            ax.axvline(m, color="k", ls="--", lw=1)
        ax.set_title(title, fontsize=9)
    axes[1].set_xlabel("time step (dashed: the two marked numbers)")
    fig.suptitle(f"Pooling LT-RNN on adding T = {config.T}: target {y.item():.3f}, "
                 f"output {output[-1, 0, 0].item():.3f}", fontsize=10)
    fig.tight_layout()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "activations.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    numbers = dict(run=str(run_dir), marks=marks, target=y.item(),
                   output=output[-1, 0, 0].item())
    write_json_atomic(out / "activations.json", numbers)
    table = (f"| marks at steps | target | network output |\n|---|---|---|\n"
             f"| {marks[0]}, {marks[1]} | {numbers['target']:.4f} | {numbers['output']:.4f} |")
    return dict(figures=[str(path)], table=table)
