"""Figures of ``rnnmem memory``: Orhan & Pitkow Figs. 1, 2 and 5, drawn from result dicts."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..analysis import near_span
from ..config import saved_options, task_label
from ..plot import STYLES, coinciding, legend_below, marks, save_png


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_memory_curves(results: dict, networks: dict, out: Path) -> Path:
    plt = _pyplot()
    fig = plt.figure(figsize=(13, 7.6))
    grid = fig.add_gridspec(2, 4)
    letters = iter("abcdefgh")
    for i, (name, (W, _)) in enumerate(networks.items()):
        ax = fig.add_subplot(grid[0, i])
        corner = W.numpy()[:16, :16]  # a corner: a full 100×100 map hides the diagonals
        limit = float(np.abs(corner).max()) or 1.0
        image = ax.imshow(corner, cmap="RdBu_r", vmin=-limit, vmax=limit)
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.03).ax.tick_params(labelsize=6)
        ax.set_title(f"({next(letters)}) {name}\n$W$[:16, :16]", fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    ax_j, ax_p, ax_a, ax_b = (fig.add_subplot(grid[1, i]) for i in range(4))
    networks_r = results["networks"]
    same = coinciding({name: (range(len(r["J"])), r["J"]) for name, r in networks_r.items()})
    for i, ((name, r), style) in enumerate(zip(networks_r.items(), STYLES, strict=False)):
        k = np.arange(len(r["J"]))
        under = f" [on {same[name]}]" if name in same else ""
        ax_j.plot(k, np.maximum(r["J"], 1e-12), markevery=marks(len(k), i),
                  label=f"{name}: J_tot = {r['J_tot']:.2f}{under}", **style)
        ax_p.plot(k, r["pulse"], label=name, markevery=marks(len(k), i), **style)
    ax_j.set_yscale("log")
    ax_j.set_ylim(1e-4, 1.5)
    ax_j.set_xlabel("$k$ (steps back)")
    ax_j.set_ylabel("Fisher memory $J(k)$")
    ax_j.set_title(f"({next(letters)}) memory curves, N = {results['N']}", fontsize=9)
    legend_below(ax_j, ncol=1)
    ax_p.set_yscale("log")
    ax_p.set_ylim(1e-3, None)
    ax_p.set_xlabel("$t$")
    ax_p.set_ylabel(r"$\Vert W^t v \Vert$")
    ax_p.set_title(f"({next(letters)}) pulse response", fontsize=9)
    # one panel per knob, one x-axis each (a twin axis reads as one curve's)
    for ax, key, what, color in (
            (ax_a, "J_tot_vs_alpha", r"chain: $J_{tot}$ against $\alpha$", "C0"),
            (ax_b, "J_tot_vs_beta", r"feedback chain ($\alpha$ = " f"{results['forward']}): "
             r"against $\beta$", "C3")):
        ax.plot([float(v) for v in results[key]], list(results[key].values()), color=color,
                marker="o", ms=3)
        ax.axhline(1.0, color="k", ls=":", lw=1, label="every normal W")
        ax.set_xlabel(r"$\alpha$" if key.endswith("alpha") else r"$\beta$")
        ax.set_ylabel(r"$J_{tot}$")
        ax.set_yscale("log")
        ax.set_title(f"({next(letters)}) {what}", fontsize=9)
        legend_below(ax, ncol=1)
    fig.suptitle("Fisher memory of linear networks (Orhan & Pitkow Fig. 1), unit noise",
                 fontsize=10)
    fig.tight_layout()
    path = out / "memory-curves.png"
    save_png(fig, path, dpi=110)
    plt.close(fig)
    return path


def plot_decoding_toy(results: dict, out: Path) -> Path:
    plt = _pyplot()
    panels = results["panels"]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 4.0), sharey=True)
    for ax, panel in zip(axes, panels, strict=True):
        for i, ((name, r2), style) in enumerate(zip(panel["r2"].items(), STYLES, strict=False)):
            ax.plot(np.arange(len(r2)), r2, label=name, markevery=marks(len(r2), i), **style)
        noise = f", noise std {panel['noise']}" if panel["noise"] else ", no noise"
        # the legend is shared, so a coincidence (it differs by panel) goes in the title
        same = coinciding({name: (range(len(r2)), r2) for name, r2 in panel["r2"].items()})
        on = "".join(f"\n{a.split(' (')[0]} on {b.split(' (')[0]}" for a, b in same.items())
        ax.set_title(f"{panel['nonlinearity']}{noise}{on}", fontsize=9)
        ax.set_xlabel(r"lag $k$ (decode $s_{L-k}$ from $h_L$)")
        ax.set_ylim(-0.05, 1.05)
    axes[0].set_ylabel("held-out R²")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=8, loc="lower center", ncol=len(labels), frameon=False)
    fig.suptitle(f"Linear decoding of past inputs, N = {results['N']}, L = {results['length']} "
                 f"(Orhan & Pitkow Fig. 2)", fontsize=10)
    fig.tight_layout(rect=(0, 0.07, 1, 1))  # room for the shared legend below
    path = out / "decoding-toy.png"
    save_png(fig, path, dpi=110)
    plt.close(fig)
    return path


def plot_analysis(name: str, entry: dict, responses: np.ndarray, out: Path) -> Path:
    """One run's analysis; ``responses``: the trained network's |pulse response| (steps, N)."""
    plt = _pyplot()
    # the plain matrix, or the gate that writes the state (LSTM cell / GRU new; Orhan Fig. 6)
    block = next(b for b in ("W", "cell", "new") if b in entry["trained"])
    fig, axes = plt.subplots(1, 4, figsize=(16, 4.6))
    for label, style in (("initial", "C0"), ("trained", "C1")):
        r = entry[label][block]
        eig = np.array(r["eigenvalues"])
        axes[0].scatter(eig[:, 0], eig[:, 1], s=6, color=style,
                        label=f"{label}: Henrici {r['henrici']:.2f}")
        axes[1].plot(np.arange(1, len(r["by_offset"]) + 1), r["by_offset"], color=style,
                     label=f"{label}: {100 * r['offdiag_fraction']:.1f}% above diagonal")
        axes[3].plot(r["offsets"], r["diagonal_means"], color=style,
                     label=f"{label}: chain score {r['chain_score']:.3f}")
    theta = np.linspace(0, 2 * np.pi, 200)
    axes[0].plot(np.cos(theta), np.sin(theta), "k:", lw=0.8)
    axes[0].set_aspect("equal")
    axes[0].set_title(f"eigenvalues ({block}), unit circle dotted", fontsize=9)
    axes[0].set_xlabel("real part")
    axes[0].set_ylabel("imaginary part")
    axes[1].set_yscale("symlog", linthresh=1e-3)
    axes[1].set_xlabel("distance above the diagonal")
    axes[1].set_ylabel(r"$\sum_i |T_{i,i+o}|^2$ (symlog)")
    axes[1].set_title(r"Schur form $T$: weight at distance $o$ above the diagonal", fontsize=9)
    order = entry["trained"][block]["order"]
    shown = np.abs(np.asarray(responses)[:, order].T)
    image = axes[2].imshow(shown, aspect="auto", cmap="magma", norm=_log_norm(shown))
    fig.colorbar(image, ax=axes[2], label="|h| after the pulse (log scale)")
    axes[2].set_xlabel("step after the pulse")
    axes[2].set_ylabel("unit (ordered by peak time)")
    axes[2].set_title("trained: |pulse response|", fontsize=9)
    axes[3].axvline(0, color="k", lw=0.5)
    span = near_span(len(order))
    axes[3].set_xlim(-span, span)
    visible = [m for label in ("initial", "trained")
               for o, m in zip(entry[label][block]["offsets"],
                               entry[label][block]["diagonal_means"], strict=True)
               if abs(o) <= span]
    pad = 0.1 * (max(visible) - min(visible) or 1.0)
    axes[3].set_ylim(min(visible) - pad, max(visible) + pad)
    axes[3].set_xlabel("i − j (units ordered by peak time)")
    axes[3].set_ylabel("mean W_ij")
    axes[3].set_title("hidden chain (Orhan & Pitkow Fig. 5)", fontsize=9)
    for ax in (axes[0], axes[1], axes[3]):  # outside the axes: no data hide behind them
        legend_below(ax, ncol=1)
    gates = [b for b in entry["trained"] if b != "W"]
    if gates:  # LSTM: every gate's trained weights against i − j (Orhan & Pitkow Fig. 6)
        axes[3].cla()
        for gate in gates:
            r = entry["trained"][gate]
            axes[3].plot(r["offsets"], r["diagonal_means"], label=gate)
        axes[3].axvline(0, color="k", lw=0.5)
        axes[3].set_xlim(-span, span)
        axes[3].set_xlabel("i − j (units ordered by peak time)")
        axes[3].set_ylabel("mean W_ij (trained)")
        axes[3].set_title("gate weights against i − j (Orhan & Pitkow Fig. 6)", fontsize=9)
        legend_below(axes[3], ncol=1)
    c = entry["config"]
    init = saved_options(c, "model").get("init")
    fig.suptitle(f"{name}: {c['model']} {init or ''} on {task_label(c)}", fontsize=10)
    fig.tight_layout()
    path = out / f"analysis-{name}.png"
    save_png(fig, path, dpi=110)
    plt.close(fig)
    return path


def _log_norm(values: np.ndarray):
    """A log colour scale over the finite, positive values, 8 decades at most below the top:
    a response that grows by 10^30 and one that decays both stay visible (a linear scale leaves
    all but the largest black)."""
    from matplotlib.colors import LogNorm

    finite = values[np.isfinite(values) & (values > 0)]
    if not finite.size:
        return None
    top = float(finite.max())
    return LogNorm(vmin=max(float(finite.min()), top * 1e-8), vmax=top, clip=True)
