"""The memory horizon of every registered model (beyond both papers): the longest copy delay T,
and the longest adding length, that it solves within a fixed step budget.

For each model and task, first the fair-comparison search (:mod:`rnnmem.experiments.tuning`):
at one reference length (the bisection's first probe), every point of the model's registered
search (its learning rate; at the paper budget also its knobs) trains on a tuning seed that no
probe uses, and the point with the lowest final val loss / chance is the model's setting for
that task. Then a bisection over a grid of lengths at that setting: a length is *solved* when at
least 2 of 3 seeds end below half of chance (the tasks' ``solved``: the median of the last 5
evaluations); solved, the search goes longer, else shorter. The bisection assumes that what a
model solves at T it solves below T, so it is then tested: one more length is probed, the one
after the first unsolved (2× it), and the horizon is the longest length solved with every
shorter probed length solved too; a longer length solved anyway is reported beside it. Every
round trains the current probe of every (model, task) together (one sweep, resumable: finished
runs are reused). Beside each horizon, the memory of the trained network at the longest length
solved (seed 0; the shortest probed if none), through its interface
(:mod:`rnnmem.layer_memory`): J_tot of its linearization at rest (× ε/‖v‖², 1 for a normal
network) and its memory capacity. Plugin models join by their registration alone.

Choices of ours (no paper has this experiment): one hidden size for all, each model's recipe
(optimizer, clipping) under the searched settings, early stopping once solved, the copy task's
S and K per budget, the reference length of the search.
"""

from __future__ import annotations

import math
from pathlib import Path

from ..io import write_json_atomic
from ..plot import save_png
from ..registry import model_spec, model_specs
from ..rundir import finished_summary
from ..sweep import clear_changed, run_all
from ..train import TrainConfig
from .estimate import (
    Lines,
    Progress,
    describe_seconds,
    estimate_seconds,
    length_scaled_steps,
    relative_step_costs,
)
from .jobs import Job, job_dir
from .tuning import (
    chosen_options,
    finished_choice,
    points,
    search_space,
    tune,
    tuning_table,
)
from .variants import CHAIN_VARIANTS

SEEDS = (0, 1, 2)
NEEDED = 2  # seeds of 3 that must solve a length
TUNING_SEED = 100  # the search's seed: never a probe's

BUDGETS = dict(
    quick=dict(hidden=16, steps=500, eval_every=25, val_size=100, lr=3e-3, knobs=False,
               copy=dict(S=3, K=4, grid=(4, 8, 16, 32, 64)),
               adding=dict(grid=(10, 20, 40, 80, 160))),
    paper=dict(hidden=64, steps=3000, eval_every=100, val_size=500, lr=1e-3, knobs=True,
               copy=dict(S=5, K=8, grid=(10, 20, 40, 80, 160, 320, 640)),
               adding=dict(grid=(25, 50, 100, 200, 400, 800))),
    full=dict(hidden=128, steps=20000, eval_every=500, val_size=1000, lr=1e-3, knobs=True,
              copy=dict(S=10, K=8, grid=(25, 50, 100, 200, 400, 800, 1600)),
              adding=dict(grid=(50, 100, 200, 400, 750, 1500, 3000))),
)
TASKS = ("copy", "adding")
VARIANTS = CHAIN_VARIANTS  # Orhan & Pitkow's chains: inits, entered as variants of models


def horizon_models() -> list[str]:
    """Every registered model (a plugin's too), then the chain variants."""
    return [*model_specs(), *VARIANTS]


def reference_length(grid) -> int:
    """Where a (model, task) is tuned: the bisection's first probe, the middle of the grid."""
    return grid[(len(grid) - 1) // 2]


def _options(entry: str, task: str, budget: dict) -> dict:
    """The run options of model (or variant) ``entry`` on ``task``, before the search."""
    model, model_options = VARIANTS.get(entry, (entry, {}))
    options = {k: v for k, v in budget[task].items() if k != "grid"}
    return dict(task=task, model=model, **options, **model_options, hidden=budget["hidden"],
                lr=budget["lr"], steps=budget["steps"], eval_every=budget["eval_every"],
                val_size=budget["val_size"], stop_ratio=0.5)


def job_config(entry: str, task: str, T: int, seed: int, budget: dict,
               chosen: dict | None = None) -> TrainConfig:
    """The run of model (or variant) ``entry`` at length ``T``, at its ``chosen`` setting."""
    return TrainConfig(**{**_options(entry, task, budget), **(chosen or {}), "T": T,
                          "seed": seed})


def tuning_jobs(models: list[str], budget: dict) -> list[Job]:
    """The search of every (model, task) at its reference length, on the tuning seed."""
    jobs = []
    for entry in models:
        for task in TASKS:
            T = reference_length(budget[task]["grid"])
            space = search_space(_options(entry, task, budget), knobs=budget["knobs"])
            jobs += [Job(task, entry, TUNING_SEED,
                         job_config(entry, task, T, TUNING_SEED, budget, point),
                         variant=variant, tuning=True, point=tuple(point.items()))
                     for variant, point in points(space)]
    return jobs


def plan_estimate(models: list[str], budget: dict, out: Path, search: list[Job],
                  workers: int | None) -> str | None:
    """One line: the training still to do, measured here (:mod:`.estimate`), or None when
    nothing is left: the unfinished tuning runs, and for each (model, task) the probes its
    bisection has still to run (replayed over its finished probes where the search has chosen:
    its rounds left and the probe past the first unsolved length, :func:`_lengths_left`). A
    probe at length T is timed as its reference-length run scaled by T, for its whole step
    budget (a solved run stops early)."""
    todo = [j.config for j in search
            if finished_summary(j.config, job_dir(out, j), weights=False) is None]
    records = None if todo else finished_choice(search, out)
    chosen = None if records is None else chosen_options(records)
    seconds, runs = estimate_seconds(todo)[0] if todo else 0.0, len(todo)
    for entry in models:
        for task in TASKS:
            grid = budget[task]["grid"]
            lengths = _lengths_left(grid, None if chosen is None else (
                lambda T, seed, e=entry, t=task: finished_summary(
                    job_config(e, t, T, seed, budget, chosen[(t, e)]),
                    run_dir(out, e, t, T, seed), weights=False)))
            if lengths:
                reference = reference_length(grid)
                one = estimate_seconds([job_config(entry, task, reference, 0, budget)])[0]
                seconds += len(SEEDS) * one * sum(lengths) / reference
                runs += len(SEEDS) * len(lengths)
    if not runs:
        return None
    return (f"about {runs} runs to train; " + describe_seconds(seconds, workers, runs)
            + ", less where solved runs stop early")


def _lengths_left(grid, summary) -> list[float]:
    """The lengths a bisection over ``grid`` has still to probe, given ``summary(T, seed)`` of
    its finished probes (None: none): the next, then the mean length of the rest."""
    lo, hi = -1, len(grid)
    while hi - lo > 1:
        i = (lo + hi) // 2
        found = [summary(grid[i], seed) for seed in SEEDS] if summary else [None]
        if any(s is None for s in found):  # unknown from here: this probe, then as many as
            # rounds are left and the probe past them, each at the mean length they could take
            rounds = math.ceil(math.log2(hi - lo))
            rest = grid[lo + 1:min(hi + 2, len(grid))]
            return [grid[i]] + [sum(rest) / len(rest)] * rounds
        if sum(bool(s.get("solved")) for s in found) >= NEEDED:
            lo = i
        else:
            hi = i
    past = hi + 1  # the length after the first unsolved one
    if past >= len(grid):
        return []
    if all(summary(grid[past], seed) is not None for seed in SEEDS):
        return []
    return [grid[past]]


def run_dir(root: Path, entry: str, task: str, T: int, seed: int) -> Path:
    return root / "runs" / task / entry.replace(" ", "-") / f"T{T}" / f"seed{seed}"


def longest_first(jobs: list[tuple], spec: dict) -> list[tuple]:
    """A round's ((model, task), T, seed) probes, the longest expected first: T over the
    task's reference length × the step cost that the plan's estimate measured at that length
    (1 where it measured none). The round's last runs to start are then short ones, so a
    worker idles least at its end; the runs and what they give are the same in any order."""
    refs = {t: reference_length(spec[t]["grid"]) for (_, t), _, _ in jobs}
    steps = relative_step_costs([job_config(m, t, refs[t], 0, spec) for (m, t), _, _ in jobs])
    return [job for _, job in sorted(zip(steps, jobs, strict=True),
                                     key=lambda pair: -pair[0] * pair[1][1] / refs[pair[1][0][1]])]


def horizon_of(solved: dict[int, bool]) -> int | None:
    """The longest length solved with every shorter probed length solved too (None: not even
    the shortest probed)."""
    horizon = None
    for T in sorted(solved):
        if not solved[T]:
            break
        horizon = T
    return horizon


def memory_horizon(out: Path, budget: str = "quick", workers: int | None = None, *,
                   models: list[str] | None = None, progress=print,
                   rerun_changed: bool = False, report_dir: Path | None = None) -> dict:
    """Tune, then bisect every (model, task)'s horizon; returns the searches, the tuning and
    the memory measures. The runs go under ``out``, horizon.json and the figure to
    ``report_dir`` (default ``out``). A run directory of another config or code is refused,
    or with ``rerun_changed`` moved aside (:func:`~rnnmem.sweep.clear_changed`)."""
    spec = BUDGETS[budget]
    models = horizon_models() if models is None else list(models)
    report_dir = out if report_dir is None else Path(report_dir)
    progress = progress if isinstance(progress, Lines) else Lines(progress)  # live on a tty

    def sweep(runs: list, **kw) -> list[dict]:
        moved = clear_changed(runs, rerun_changed)
        if moved:
            progress(f"  {len(moved)} changed run(s) moved aside to retrain, e.g. "
                     f"{moved[0][1]} ({moved[0][2]})")
        weights = length_scaled_steps([c for c, _ in runs],
                                      lambda c: reference_length(spec[c.task]["grid"]))
        counter = Progress(len(runs), sum(w * c.steps for w, (c, d) in zip(weights, runs,
                                                                          strict=True)
                                          if finished_summary(c, d, weights=False) is None),
                           weight=weights.__getitem__)

        def done(i, summary):
            counter(not summary.get("reused"), i, runs[i][0].steps)

        def beat(in_flight):
            getattr(progress, "beat", progress)(counter.beat([
                (i, str(Path(runs[i][1]).relative_to(out)), step, steps)
                for i, step, steps in in_flight]))
        # the bisection reads each run's record: a committed run (no model.pt) is not retrained
        return run_all(runs, workers=workers, on_done=done, on_beat=beat, weights=False, **kw)

    search = tuning_jobs(models, spec)
    where = ", ".join(f"{t} T={reference_length(spec[t]['grid'])}" for t in TASKS)
    estimate = plan_estimate(models, spec, out, search, workers)
    progress(f"memory horizon, tuning: {len(search)} runs at {where} on seed {TUNING_SEED}, "
             "never a probe's (docs/protocol.md)" + (f"; {estimate}" if estimate else ""))
    def tune_runs(jobs: list[Job]) -> list[Path]:
        sweep([(j.config, job_dir(out, j)) for j in jobs])
        return [job_dir(out, j) for j in jobs]

    _, _, records = tune(search, tune_runs, weights=False)
    chosen = chosen_options(records)
    searches = {(m, t): dict(lo=-1, hi=len(spec[t]["grid"]), probes={})
                for m in models for t in TASKS}

    def probe(todo: dict, what: str) -> None:
        jobs = [((m, t), spec[t]["grid"][i], seed) for (m, t), i in todo.items()
                for seed in SEEDS]
        jobs = longest_first(jobs, spec)
        progress(f"memory horizon, {what}: {len(todo)} searches, {len(jobs)} runs "
                 f"({', '.join(sorted({f'{t} T={T}' for (_, t), T, _ in jobs}))})")
        summaries = sweep([(job_config(m, t, T, seed, spec, chosen[(t, m)]),
                            run_dir(out, m, t, T, seed)) for (m, t), T, seed in jobs])
        for ((m, t), T, seed), summary in zip(jobs, summaries, strict=True):
            searches[(m, t)]["probes"].setdefault(T, {})[seed] = dict(
                solved=bool(summary.get("solved")), status=summary["status"],
                final_val_ratio=summary["final_val_ratio"], error=summary.get("error"))

    round_ = 0
    while True:
        todo = {key: (s["lo"] + s["hi"]) // 2 for key, s in searches.items()
                if s["hi"] - s["lo"] > 1}
        if not todo:
            break
        round_ += 1
        probe(todo, f"round {round_}")
        for key, i in todo.items():
            s = searches[key]
            solved = sum(p["solved"] for p in s["probes"][spec[key[1]]["grid"][i]].values())
            if solved >= NEEDED:
                s["lo"] = i
            else:
                s["hi"] = i
    # the bisection's assumption tested: the length after the first unsolved one
    beyond = {key: s["hi"] + 1 for key, s in searches.items()
              if s["hi"] + 1 < len(spec[key[1]]["grid"])
              and spec[key[1]]["grid"][s["hi"] + 1] not in s["probes"]}
    if beyond:
        probe(beyond, "past the first unsolved length")
    result = dict(budget=budget, settings={k: v for k, v in spec.items()}, tuning=records,
                  models={})
    for m in models:
        entry = result["models"][m] = {}
        for t in TASKS:
            s, grid = searches[(m, t)], spec[t]["grid"]
            solved = _solved(s["probes"])
            horizon = horizon_of(solved)
            measured_T = horizon if horizon is not None else grid[0]
            entry[t] = dict(horizon=horizon, probes={str(T): p for T, p in s["probes"].items()},
                            beyond=sorted(T for T, ok in solved.items()
                                          if ok and (horizon is None or T > horizon)),
                            tuned=next(r["chosen"] for r in records
                                       if (r["panel"], r["group"]) == (t, m)),
                            memory=_memory_of(run_dir(out, m, t, measured_T, 0),
                                              job_config(m, t, measured_T, 0, spec,
                                                         chosen[(t, m)])),
                            measured_at=measured_T)
    write_json_atomic(report_dir / "horizon.json", result)
    result["figures"] = [str(plot_horizons(result, report_dir / "figure.png"))]
    return result


def _solved(probes: dict) -> dict[int, bool]:
    """length -> solved by at least NEEDED seeds, of a (model, task)'s probes."""
    return {int(T): sum(p["solved"] for p in seeds.values()) >= NEEDED
            for T, seeds in probes.items()}


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


def form(entry: str) -> str:
    """How the table names a model's form: the bare layer, or its paper's block."""
    model = VARIANTS.get(entry, (entry, {}))[0]
    try:
        return model_spec(model).form
    except ValueError:  # a plugin's model that is not loaded: its record still reads
        return "layer"


def horizon_table(result: dict) -> str:
    settings = result["settings"]
    head = ("| rank | model | form | copy: longest T solved | adding: longest T solved | "
            "setting (copy; adding) | state size | J_tot·ε/‖v‖² (copy net) | MC (copy net) |\n"
            "|---|---|---|---|---|---|---|---|---|")
    rows = []
    for rank, (model, entry) in enumerate(sorted(result["models"].items(), key=_rank_key), 1):
        mem = entry["copy"]["memory"] or {}
        j, mc = mem.get("J_tot_normalized"), mem.get("MC")
        rows.append(f"| {rank} | {model} | {form(model)} | "
                    f"{_fmt_horizon(entry['copy'], settings['copy'])} | "
                    f"{_fmt_horizon(entry['adding'], settings['adding'])} | "
                    f"{entry['copy']['tuned']}; {entry['adding']['tuned']} | "
                    f"{mem.get('state_size', 'n/a')} | "
                    f"{'n/a' if j is None else f'{j:.2f}'} | "
                    f"{'n/a' if mc is None else f'{mc:.1f}'} |")
    copy = settings["copy"]
    note = (f"\n\nHidden {settings['hidden']}, {settings['steps']} steps (early stop once "
            f"solved), each model's recipe at the setting its search chose (below; "
            f"{'learning rate and knobs' if settings['knobs'] else 'learning rate only'}, at "
            f"copy T = {reference_length(copy['grid'])} and adding T = "
            f"{reference_length(settings['adding']['grid'])}); copy S = {copy['S']}, "
            f"K = {copy['K']}. A length is solved when {NEEDED} of {len(SEEDS)} seeds end "
            "below half of chance (on copy that can be a recall accuracy little above one "
            "half, not a perfect copy); bisection over "
            f"copy T ∈ {list(copy['grid'])}, adding T ∈ {list(settings['adding']['grid'])}, "
            "then one probe past the first unsolved length. The longest T solved is the longest "
            "probed length solved with every shorter probed length solved too ('< x': not even "
            "the shortest; 'also y': a longer length solved after an unsolved one). form: "
            "'layer', the bare recurrent layer under a linear readout; 'block', its paper's "
            "block (normalization, non-linear mixing, residual). Memory of seed 0's trained "
            "copy network at its longest solved T: J_tot of its linearization at rest over the "
            "task's length, and its memory capacity (100 lags, state noise 0.1).")
    return head + "\n" + "\n".join(rows) + note + "\n\n" + tuning_table(result["tuning"])


def _fmt_horizon(entry: dict, task: dict) -> str:
    text = f"< {task['grid'][0]}" if entry["horizon"] is None else f"{entry['horizon']}"
    if entry["horizon"] is not None and not [T for T in task["grid"] if T > entry["horizon"]]:
        text += " (the longest probed)"
    if entry["beyond"]:
        text += f" (also {', '.join(map(str, entry['beyond']))})"
    return text


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
    save_png(fig, path, dpi=110)
    plt.close(fig)
    return path


def run(out: Path, budget: str, workers: int | None, *, selection=None,
        rerun_changed: bool = False, report_dir: Path | None = None) -> dict:
    """The experiment registry's entry point; ``selection``: ``--models`` alone (every model
    has its own searches; the seeds and settings are the protocol's)."""
    models = None
    if selection is not None:
        if selection.seeds or selection.overrides or selection.panels:
            raise ValueError("memory-horizon takes --models only: its seeds (3, of which 2 "
                             "must solve a length), tasks and settings are its protocol's")
        if selection.models:
            known = {m.lower(): m for m in horizon_models()}
            missing = [m for m in selection.models if m.lower() not in known]
            if missing:
                raise ValueError(f"--models {','.join(missing)}: not in memory-horizon's "
                                 f"models; they are: {', '.join(known.values())}")
            models = [known[m.lower()] for m in selection.models]
    result = memory_horizon(Path(out), budget, workers, models=models,
                            rerun_changed=rerun_changed, report_dir=report_dir)
    runs = sum(len(seeds) for entry in result["models"].values() for task in TASKS
               for seeds in entry[task]["probes"].values())
    return dict(figures=result.pop("figures"), result=result, backing=(
        f"Backed by the files of its {runs} runs under `runs/` (config.json, metrics.csv, "
        "summary.json) and horizon.json (every probe, per seed); the memory columns read the "
        "weights of seed 0's runs at the lengths measured: where those are committed beside "
        "them, `rnnmem report --check` computes the columns again from them. Rerunning the "
        "command reuses every finished run."))

