"""The Markdown tables of the experiments: a grid of training runs' (:func:`results_table`,
one row per panel and group) and those of the experiments that are not grids."""

from __future__ import annotations

from pathlib import Path

from ..layer_memory import MEMORY_KEYS
from ..stats import format_mean_se
from .jobs import Job, best_variant, job_summaries
from .tuning import tuning_table


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


MEMORY_COLUMNS = dict(memory_J_rest="J_tot·ε/‖v‖² at rest",
                      memory_J_input="J_tot·ε/‖v‖² along an input", memory_MC="memory capacity")
MEMORY_NOTE = ("Memory of each trained network (docs/memory.md): J_tot of its linearization at "
               "rest and along an N(0, 1) input over the task's length, × ε/‖v‖² (1 for a "
               "normal LTI network; n/a above 1,024 state numbers), and its memory capacity "
               "(100 lags, state noise 0.1).")
SE_NOTE = ("x ± y: the mean over a row's seeds ± one standard error of that mean; n = its "
           "runs (a row that names its best grid point: that point's seeds).")


def results_table(jobs: list[Job], dirs: list[Path], *, weights: bool = True,
                  tuning: list[dict] | None = None) -> tuple[str, list[dict]]:
    """Markdown table: one row per (panel, group), mean ± s.e. over seeds.

    A tuned experiment's rows (``tuning``: :func:`~rnnmem.experiments.tuning.choose`'s records)
    name their chosen setting, and the search follows the table.

    A group that runs a hyper-parameter grid shows its best grid point's seeds (see
    :func:`best_variant`) and counts solved runs over the whole grid, as Orhan & Pitkow's
    Fig. 3d-f do. A run that failed (an error, not a divergence) has no summary; it is counted,
    not averaged. ``weights=False``: from the runs' committed record (no model.pt).
    """
    rows, records = [], []
    chosen = {(r["panel"], r["group"]): r["chosen"] for r in tuning or []}
    keys = list(dict.fromkeys((j.panel, j.group) for j in jobs))
    factors = _length_factors(job_summaries(jobs, dirs, weights=weights))
    memory = [k for k in MEMORY_KEYS  # the trained networks' memory (the memory benchmark's)
              if any(s and k in s for s in job_summaries(jobs, dirs, weights=weights))]
    for panel, group in keys:
        pairs = [(j, d) for j, d in zip(jobs, dirs, strict=True) if (j.panel, j.group) == (panel,
                                                                                       group)]
        mine = [d for _, d in pairs]
        variant, best = best_variant([j for j, _ in pairs], mine, weights=weights)
        results = job_summaries([j for j, _ in pairs], mine, weights=weights)
        finished = [s for s in results if s is not None]
        shown = [s for (j, _), s in zip(pairs, results, strict=True)
                 if s is not None and j.variant == variant]
        failed = len(mine) - len(finished)
        solved = [s["solved"] for s in finished if s["solved"] is not None]
        record = dict(panel=panel, group=group, runs=len(mine), failed=failed,
                      best_variant=variant, best_runs=len(best),
                      val_ratio=[s["final_val_ratio"] for s in shown],
                      val_metric=[s["final_val_metric"] for s in shown],
                      test_metric=[s.get("test_metric") for s in shown],
                      diverged=sum(s["status"] == "diverged" for s in finished),
                      solved=sum(solved) if solved else None,
                      metric_name=finished[0]["metric_name"] if finished else "")
        for f in factors:  # held out at f × the training length (token-recall tasks)
            record[f"length_x{f}_metric"] = [s.get(f"length_x{f}_metric") for s in shown]
        for k in memory:
            record[k] = [s.get(k) for s in shown]
        records.append(record)
        solved_text = "n/a" if record["solved"] is None else f"{record['solved']}/{len(mine)}"
        name = f"{group} (best: {variant}, {len(best)} seeds)" if variant else group
        if tuning is not None:
            record["tuned"] = chosen[(panel, group)]
            name = f"{group} (tuned: {chosen[(panel, group)]})"
        rows.append(f"| {panel} | {name} | {len(mine)} | {format_mean_se(record['val_ratio'])} | "
                    f"{format_mean_se(record['val_metric'])} ({record['metric_name']}) | "
                    f"{format_mean_se(record['test_metric'])} | {solved_text} | "
                    f"{record['diverged']} | {failed} |"
                    + "".join(f" {format_mean_se(record[f'length_x{f}_metric'])} |"
                              for f in factors)
                    + "".join(f" {format_mean_se(record[k])} |" for k in memory))
    header = ["| panel | group | runs | final val loss / chance | final val metric | test metric "
              "| solved | diverged | failed |" + "".join(f" metric at {f}× length |"
                                                          for f in factors)
              + "".join(f" {MEMORY_COLUMNS[k]} |" for k in memory),
              "|---|---|---|---|---|---|---|---|---|" + "---|" * (len(factors) + len(memory))]
    table = "\n".join(header + rows) + "\n\n" + SE_NOTE
    if memory:
        table += "\n\n" + MEMORY_NOTE
    if tuning is not None:
        table += "\n\n" + tuning_table(tuning)
    return table, records


def _length_factors(summaries: list[dict | None]) -> list[int]:
    """The f of the runs' ``length_x{f}_metric``: the lengths they were held out at."""
    keys = {k for s in summaries if s for k in s
            if k.startswith("length_x") and k.endswith("_metric")}
    return sorted(int(k.removeprefix("length_x").removesuffix("_metric")) for k in keys)
