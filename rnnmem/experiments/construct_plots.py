"""Figures of ``rnnmem construct copy``: Henaff Fig. 1 heat map, success vs d, interference."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..plot import save_png


def plot_copy_report(results: dict, out: str | Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    Ks, Ss = results["Ks"], results["Ss"]
    grid = np.array([[100 * results["answers_success"][f"{K},{S}"] for S in Ss] for K in Ks])
    fig, ax = plt.subplots(figsize=(5.6, 4.4))
    image = ax.imshow(grid, cmap="viridis", vmin=0, vmax=100, origin="lower", aspect="auto")
    for i in range(len(Ks)):
        for j in range(len(Ss)):
            ax.text(j, i, f"{grid[i, j]:.0f}", ha="center", va="center", fontsize=8,
                    color="w" if grid[i, j] < 60 else "k")
    ax.set_xticks(range(len(Ss)), Ss)
    ax.set_yticks(range(len(Ks)), Ks)
    ax.set_xlabel("S (sequence length to remember)")
    ax.set_ylabel("K (dictionary size)")
    ax.set_title(f"Copy construction: % of {results['trials']} trials with all answers right\n"
                 f"T = {results['T']}, d = {results['d']} (2d+1 = {2 * results['d'] + 1} units)",
                 fontsize=9)
    fig.colorbar(image, ax=ax, label="success %")
    fig.tight_layout()
    heat = out / "copy-fig1.png"
    save_png(fig, heat, dpi=120)
    plt.close(fig)

    fig, (left, right) = plt.subplots(1, 2, figsize=(9.6, 3.8))
    for key, by_d in results["success_vs_d"].items():
        K, S = key.split(",")
        ds = sorted(int(d) for d in by_d)
        left.plot(ds, [100 * by_d[str(d)] for d in ds], marker="o", label=f"K = {K}, S = {S}")
    left.set_xscale("log", base=2)
    left.set_xlabel("d (rotation blocks)")
    left.set_ylabel("success %")
    left.set_title(f"Success against d (T = {results['T']})", fontsize=9)
    left.legend(fontsize=8)
    inter = results["interference"]
    S_values = sorted(int(s) for s in inter)
    row = [inter[str(s)] for s in S_values]
    right.errorbar(S_values, [r["measured"] for r in row],
                   yerr=[r["standard_error"] for r in row], marker="o", label="measured")
    right.plot(S_values, [r["paper"] for r in row], "k--", label="(S−1)/d (paper)")
    right.plot(S_values, [r["paper"] / 2 for r in row], "k:", label="(S−1)/(2d)")
    right.set_xlabel("S")
    right.set_ylabel(r"mean $|u_{i_1}^\top \sum_{j \geq 2} Q^{1-j} u_{i_j}|^2$")
    right.set_title(f"Interference at the first answer, d = {results['d']}, K = 8", fontsize=9)
    right.legend(fontsize=8)
    fig.tight_layout()
    curves = out / "copy-vs-d.png"
    save_png(fig, curves, dpi=120)
    plt.close(fig)
    return [heat, curves]
