"""Henaff Fig. 6: hidden activations of the l2-pooling LT-RNN on one adding sequence.

§4.2 reads the figure as "the network stores information stably through the radius of its
hidden state's rotations along different 2-dimensional subspaces", recovered by pooling, which
discards the phase. :func:`radius_steadiness` measures that reading: after the last mark, how
much amplitudes move from step to step, for single units, for the pooled pairs, and for the
radii in the rotation planes of the trained V (its real Schur form).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import scipy.linalg
import torch

from ..analysis import load_run_model
from ..io import write_json_atomic
from ..nn import l2_pool
from ..plot import save_png


def rotation_planes(V: torch.Tensor) -> tuple[torch.Tensor, list[list[int]]]:
    """(Z, blocks): V = Z T Zᵀ in real Schur form; each block lists the coordinates of one
    invariant subspace (two for a rotation, one for a real eigenvalue)."""
    T, Z = scipy.linalg.schur(V.detach().double().numpy(), output="real")
    blocks, i, n = [], 0, T.shape[0]
    while i < n:
        pair = i + 1 < n and abs(T[i + 1, i]) > 1e-12
        blocks.append([i, i + 1] if pair else [i])
        i += 2 if pair else 1
    return torch.from_numpy(np.ascontiguousarray(Z)), blocks


def _variation(a: torch.Tensor) -> float:
    """Σ_u std_t(a_u) / Σ_u mean_t(a_u) over a (t, units) segment: 0 for constant amplitudes."""
    return (a.std(0).sum() / a.mean(0).sum().clamp_min(1e-12)).item()


def radius_steadiness(config, task, model, *, sequences: int = 100, seed: int = 0) -> dict:
    """Mean relative variation after the last mark of |h_u|, the pooled P(h), and the radii
    in V's rotation planes, over ``sequences`` adding sequences (lower is steadier)."""
    Z, blocks = rotation_planes(model.recurrent_weight)
    x, _ = task.sample(sequences, torch.Generator().manual_seed(seed))
    with torch.no_grad():
        _, h = model(x)
    z = h.double() @ Z  # coordinates in the Schur basis
    radii = torch.stack([z[..., b].norm(dim=-1) for b in blocks], dim=-1)
    mark_channel = 1 if task.channels == "value-mark" else 0
    pool = config.model_options["pool"]
    kinds = ("single units", "pooled pairs P(h)", "rotation planes of V")
    values: dict[str, list[float]] = {k: [] for k in kinds}
    for i in range(sequences):
        last = int(x[:, i, mark_channel].nonzero()[-1]) + 1
        if last > h.shape[0] - 3:  # too few steps after the last mark to vary
            continue
        for kind, a in zip(kinds, (h[last:, i].abs(), l2_pool(h[last:, i], pool),
                                   radii[last:, i]), strict=True):
            values[kind].append(_variation(a.double()))
    return dict({k: float(np.mean(v)) for k, v in values.items()},
                planes=sum(len(b) == 2 for b in blocks), sequences=len(values[kinds[0]]))


def plot_pool_activations(run_dirs: list[str | Path], out: str | Path, *, seed: int = 0) -> dict:
    """Raw and pooled hidden states of the first run over one adding sequence (marks drawn as
    lines), and :func:`radius_steadiness` of every run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    config, task, model = load_run_model(run_dirs[0])
    x, y = task.sample(1, torch.Generator().manual_seed(seed))
    with torch.no_grad():
        output, h = model(x)
    h = h[:, 0]  # (T, H)
    pool = config.model_options["pool"]
    pooled = l2_pool(h, pool)
    mark_channel = 1 if task.channels == "value-mark" else 0
    marks = x[:, 0, mark_channel].nonzero()[:, 0].tolist()
    fig, axes = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
    for ax, data, title in ((axes[0], h, "hidden state h_t (each line one unit)"),
                            (axes[1], pooled, f"l2-pooled P(h_t), pool {pool}")):
        ax.plot(data.numpy(), lw=0.7)
        for m in marks:
            ax.axvline(m, color="k", ls="--", lw=1)
        ax.set_title(title, fontsize=9)
    axes[1].set_xlabel("time step (dashed: the two marked numbers)")
    fig.suptitle(f"Pooling LT-RNN on adding T = {task.T}: target {y.item():.3f}, "
                 f"output {output[-1, 0, 0].item():.3f}", fontsize=10)
    fig.tight_layout()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "activations.png"
    save_png(fig, path, dpi=110)
    plt.close(fig)
    # runs named relative to the report's folder, so a committed report names no machine's path
    name = {d: os.path.relpath(d, out) for d in run_dirs}
    steadiness = {name[d]: radius_steadiness(*load_run_model(d)) for d in run_dirs}
    numbers = dict(run=name[run_dirs[0]], marks=marks, target=y.item(),
                   output=output[-1, 0, 0].item(), steadiness=steadiness)
    write_json_atomic(out / "activations.json", numbers)
    kinds = [k for k in next(iter(steadiness.values())) if k not in ("planes", "sequences")]
    rows = [f"Figure: {numbers['run']}, marks at steps {marks[0]}, {marks[1]}, target "
            f"{numbers['target']:.4f}, network output {numbers['output']:.4f}.", "",
            "Relative variation of amplitudes after the last mark (Σ std_t / Σ mean_t, mean "
            f"over {next(iter(steadiness.values()))['sequences']} sequences; 0 = constant):", "",
            "| run | " + " | ".join(kinds) + " |", "|---" * (len(kinds) + 1) + "|"]
    rows += [f"| {Path(d).name} | " + " | ".join(f"{v[k]:.3f}" for k in kinds) + " |"
             for d, v in steadiness.items()]
    return dict(figures=[str(path)], table="\n".join(rows))
