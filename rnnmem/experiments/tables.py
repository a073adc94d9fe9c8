"""The Markdown tables of the experiments that are not grids of training runs (reproduce's
report shows them; grids get :func:`~rnnmem.experiments.reproduce.results_table`)."""

from __future__ import annotations


def memory_curves_table(r: dict) -> str:
    """Orhan Fig. 1: J_tot of each network."""
    rows = ["| network | J_tot |", "|---|---|"] + [
        f"| {k} | {v['J_tot']:.4f} |" for k, v in r["networks"].items()]
    return "\n".join(rows)


def decoding_toy_table(r: dict) -> str:
    """Orhan Fig. 2: mean held-out R² over lags, per panel and network."""
    rows = ["| panel | " + " | ".join(r["panels"][0]["r2"]) + " |",
            "|---" * (len(r["panels"][0]["r2"]) + 1) + "|"]
    for p in r["panels"]:
        means = [sum(v) / len(v) for v in p["r2"].values()]
        rows.append(f"| {p['nonlinearity']}, noise {p['noise']} | "
                    + " | ".join(f"{m:.3f}" for m in means) + " |")
    return "mean held-out R² over lags\n\n" + "\n".join(rows)


def analysis_table(r: dict) -> str:
    """Orhan Table 2 / Fig. 6: non-normality, chain score and trend, initial → trained."""
    rows = ["| run | block | Henrici: init → trained | chain score: init → trained "
            "| trend in i − j: init → trained | band score (shuffled orders: mean, p) "
            "| band score of untrained nets (mean, p) |",
            "|---|---|---|---|---|---|---|"]
    for name, e in r.items():
        for block, t in e["trained"].items():
            i = e["initial"][block]
            band = (f"{t['band_score']:.4f} ({t['band_null']:.4f}, p = {t['band_p']:.3f})"
                    if "band_score" in t else "—")  # analyses written before the band test
            untrained = (f"{t['untrained_band_mean']:.4f}, p = {t['untrained_band_p']:.2f}"
                         if "untrained_band_p" in t else "—")
            rows.append(f"| {name} | {block} | {i['henrici']:.3f} → {t['henrici']:.3f} | "
                        f"{i['chain_score']:.4f} → {t['chain_score']:.4f} | "
                        f"{i['trend']:+.2f} → {t['trend']:+.2f} | {band} | {untrained} |")
    return "\n".join(rows)
