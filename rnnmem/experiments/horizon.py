"""The memory horizon of every registered model (beyond both papers): the longest copy delay T,
and the longest adding length, that it solves within a fixed step budget.

For each model, at its own recipe (its registered defaults) and one hidden size for all, and
each task, a bisection over a grid of lengths: a length is *solved* when at least 2 of 3 seeds
end below half of chance (the tasks' ``solved``: the median of the last 5 evaluations); solved,
the search goes longer, else shorter, assuming that what a model solves at T it solves below T.
Every round trains the current probe of every (model, task) together (one sweep, resumable:
finished runs are reused). Beside each horizon, the memory of the trained network at the
longest length solved (seed 0; the shortest probed if none), through its interface
(:mod:`rnnmem.layer_memory`): J_tot of its linearization at rest (× ε/‖v‖², 1 for a normal
network) and its memory capacity. Plugin models join by their registration alone.

Choices of ours (no paper has this experiment): one learning rate for all models (Adam would be
the modern default; RMSProp at the recipe's decay is what every model here was tuned for),
early stopping once solved, the copy task's S and K per budget.
"""

from __future__ import annotations

from pathlib import Path

from ..io import write_json_atomic
from ..registry import model_specs
from ..rundir import finished_summary
from ..sweep import run_all
from ..train import TrainConfig

SEEDS = (0, 1, 2)
NEEDED = 2  # seeds of 3 that must solve a length

BUDGETS = dict(
    quick=dict(hidden=16, steps=500, eval_every=25, val_size=100, lr=3e-3,
               copy=dict(S=3, K=4, grid=(4, 8, 16, 32, 64)),
               adding=dict(grid=(10, 20, 40, 80, 160))),
    paper=dict(hidden=64, steps=3000, eval_every=100, val_size=500, lr=1e-3,
               copy=dict(S=5, K=8, grid=(10, 20, 40, 80, 160, 320, 640)),
               adding=dict(grid=(25, 50, 100, 200, 400, 800))),
    full=dict(hidden=128, steps=20000, eval_every=500, val_size=1000, lr=1e-3,
              copy=dict(S=10, K=8, grid=(25, 50, 100, 200, 400, 800, 1600)),
              adding=dict(grid=(50, 100, 200, 400, 750, 1500, 3000))),
)
TASKS = ("copy", "adding")
# Orhan & Pitkow's non-normal transitions are inits of the sRNN and LT-RNN, not models: they
# enter as variants (label -> model and options), the chain with its input at the source unit.
VARIANTS = {
    "srnn chain": ("srnn", dict(activation="elu", init="chain", gain=1.0, input_init="source",
                                input_gain=0.9, clip=None)),
    "lt-rnn chain": ("lt-rnn", dict(init="chain", gain=1.0, input_init="source")),
}


def horizon_models() -> list[str]:
    """Every registered model (a plugin's too), then the chain variants."""
    return [*model_specs(), *VARIANTS]


def job_config(entry: str, task: str, T: int, seed: int, budget: dict) -> TrainConfig:
    """The run of model (or variant) ``entry`` at length ``T``."""
    model, model_options = VARIANTS.get(entry, (entry, {}))
    options = {k: v for k, v in budget[task].items() if k != "grid"}
    return TrainConfig(task=task, model=model, T=T, **options, **model_options,
                       hidden=budget["hidden"], lr=budget["lr"], steps=budget["steps"],
                       eval_every=budget["eval_every"], val_size=budget["val_size"],
                       stop_ratio=0.5, seed=seed)


def run_dir(root: Path, entry: str, task: str, T: int, seed: int) -> Path:
    return root / "runs" / task / entry.replace(" ", "-") / f"T{T}" / f"seed{seed}"


def memory_horizon(out: Path, budget: str = "quick", workers: int | None = None, *,
                   models: list[str] | None = None, progress=print) -> dict:
    """Bisect every (model, task)'s horizon; returns the searches and the memory measures."""
    spec = BUDGETS[budget]
    models = horizon_models() if models is None else list(models)
    searches = {(m, t): dict(lo=-1, hi=len(spec[t]["grid"]), probes={})
                for m in models for t in TASKS}
    round_ = 0
    while True:
        todo = {key: (s["lo"] + s["hi"]) // 2 for key, s in searches.items()
                if s["hi"] - s["lo"] > 1}
        if not todo:
            break
        round_ += 1
        jobs = [((m, t), spec[t]["grid"][i], seed) for (m, t), i in todo.items()
                for seed in SEEDS]
        progress(f"memory horizon, round {round_}: {len(todo)} searches, {len(jobs)} runs "
                 f"({', '.join(sorted({f'{t} T={T}' for (_, t), T, _ in jobs}))})")
        summaries = run_all([(job_config(m, t, T, seed, spec), run_dir(out, m, t, T, seed))
                             for (m, t), T, seed in jobs], workers=workers)
        for ((m, t), T, seed), summary in zip(jobs, summaries, strict=True):
            searches[(m, t)]["probes"].setdefault(T, {})[seed] = dict(
                solved=bool(summary.get("solved")), status=summary["status"],
                final_val_ratio=summary["final_val_ratio"], error=summary.get("error"))
        for key, i in todo.items():
            s = searches[key]
            solved = sum(p["solved"] for p in s["probes"][spec[key[1]]["grid"][i]].values())
            if solved >= NEEDED:
                s["lo"] = i
            else:
                s["hi"] = i
    result = dict(budget=budget, settings={k: v for k, v in spec.items()}, models={})
    for m in models:
        entry = result["models"][m] = {}
        for t in TASKS:
            s, grid = searches[(m, t)], spec[t]["grid"]
            horizon = grid[s["lo"]] if s["lo"] >= 0 else None
            measured_T = horizon if horizon is not None else grid[0]
            entry[t] = dict(horizon=horizon, probes={str(T): p for T, p in s["probes"].items()},
                            memory=_memory_of(run_dir(out, m, t, measured_T, 0),
                                              job_config(m, t, measured_T, 0, spec)),
                            measured_at=measured_T)
    write_json_atomic(out / "horizon.json", result)
    result["figures"] = [str(plot_horizons(result, out / "figure.png"))]
    return result


def _memory_of(path: Path, config: TrainConfig) -> dict | None:
    """J_tot of the linearization and MC of a finished run's trained network, or None."""
    from ..analysis import load_run_model, recurrent_core
    from ..layer_memory import fisher_summary, memory_capacity

    if finished_summary(config, path) is None:
        return None
    _, task, model = load_run_model(path)
    layer, n_inputs = recurrent_core(model)
    fisher = fisher_summary(layer, n_inputs, horizon=task.length)
    capacity = memory_capacity(layer, n_inputs, length=100, noise=0.1)
    return dict(J_tot_normalized=fisher["J_tot_normalized"], state_size=fisher["state_size"],
                fisher_error=fisher["error"], MC=capacity["MC"])


def _rank_key(item) -> tuple:
    model, entry = item  # longest copy, then adding horizon; ties by name (horizon.json's order)
    return (*(-(entry[t]["horizon"] or 0) for t in TASKS), model)


def horizon_table(result: dict) -> str:
    settings = result["settings"]
    head = ("| rank | model | copy: longest T solved | adding: longest T solved | state size | "
            "J_tot·ε/‖v‖² (copy net) | MC (copy net) |\n|---|---|---|---|---|---|---|")
    rows = []
    for rank, (model, entry) in enumerate(sorted(result["models"].items(), key=_rank_key), 1):
        mem = entry["copy"]["memory"] or {}
        j, mc = mem.get("J_tot_normalized"), mem.get("MC")
        rows.append(f"| {rank} | {model} | {_fmt_horizon(entry['copy'], settings['copy'])} | "
                    f"{_fmt_horizon(entry['adding'], settings['adding'])} | "
                    f"{mem.get('state_size', 'n/a')} | "
                    f"{'n/a' if j is None else f'{j:.2f}'} | "
                    f"{'n/a' if mc is None else f'{mc:.1f}'} |")
    copy = settings["copy"]
    note = (f"\n\nHidden {settings['hidden']}, {settings['steps']} steps (early stop once "
            f"solved), lr {settings['lr']:g}, each model's recipe; copy S = {copy['S']}, "
            f"K = {copy['K']}. A length is solved when {NEEDED} of {len(SEEDS)} seeds end "
            "below half of chance; bisection over "
            f"copy T ∈ {list(copy['grid'])}, adding T ∈ {list(settings['adding']['grid'])} "
            "('< x': not even the shortest). Memory of seed 0's trained copy network at its "
            "longest solved T: J_tot of its linearization at rest over the task's length, and "
            "its memory capacity (100 lags, state noise 0.1).")
    return head + "\n" + "\n".join(rows) + note


def _fmt_horizon(entry: dict, task: dict) -> str:
    if entry["horizon"] is None:
        return f"< {task['grid'][0]}"
    longer = [T for T in task["grid"] if T > entry["horizon"]]
    return f"{entry['horizon']}" + ("" if longer else " (the longest probed)")


def plot_horizons(result: dict, path: Path) -> Path:
    """Two bar panels (copy, adding): each model's horizon, ranked; log-scaled lengths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ranked = sorted(result["models"].items(), key=_rank_key)
    names = [m for m, _ in ranked][::-1]
    fig, axes = plt.subplots(1, 2, figsize=(10, 0.4 * len(names) + 1.6), sharey=True)
    for ax, task in zip(axes, TASKS, strict=True):
        grid = result["settings"][task]["grid"]
        values = [result["models"][m][task]["horizon"] for m in names]
        floor = grid[0] / 2
        ax.barh(names, [v if v is not None else floor for v in values],
                color=["tab:blue" if v is not None else "lightgray" for v in values])
        ax.set_xscale("log", base=2)
        ax.set_xlim(floor / 1.5, grid[-1] * 1.5)
        ax.set_xticks(list(grid), [str(g) for g in grid])
        ax.set_title(f"{task}: longest T solved (grey: none of {grid[0]}+)")
        ax.set_xlabel("T")
    fig.suptitle(f"Memory horizon of every model ({result['budget']} budget, hidden "
                 f"{result['settings']['hidden']}, {result['settings']['steps']} steps)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def run(out: Path, budget: str, workers: int | None) -> dict:
    """The experiment registry's entry point."""
    result = memory_horizon(Path(out), budget, workers)
    runs = sum(len(seeds) for entry in result["models"].values() for task in TASKS
               for seeds in entry[task]["probes"].values())
    return dict(figures=result.pop("figures"), result=result, backing=(
        f"Backed by the files of its {runs} runs under `runs/` (config.json, metrics.csv, "
        "summary.json) and horizon.json (every probe, per seed); the memory columns read the "
        "weights of seed 0's runs, which are not committed. Rerunning the command reuses every "
        "finished run."))

