"""Orhan & Pitkow 2020, "Improved memory in RNNs with sequential non-normal dynamics": one
declaration per figure and table (the budgets: :mod:`rnnmem.experiments.registry`)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

from ..registry import Experiment, experiments, model_spec, register_experiment
from .grid import BUDGETS, ByBudget, Grid, Panel
from .jobs import Job, best_variant, job_summaries, run_experiment_jobs, weights_backing
from .tables import analysis_table, decoding_toy_table, memory_curves_table

_say = functools.partial(print, flush=True)  # a long run's progress lines


# ---------------------------------------------------------------- Orhan & Pitkow 2020

# §2.3.1: input weights N(0, 0.9/√N) for identity/orthogonal, 0.9·I for chains. N is the number
# of hidden units in the original code (nonnormal-init utils.py, InitLoader: RandomNormal(
# stddev=0.9/np.sqrt(hidden_units))): the gaussian-fan-out input init.
ORHAN_INITS = {
    "identity": dict(init="identity", gain=1.0, input_init="gaussian-fan-out", input_gain=0.9),
    "orthogonal": dict(init="orthogonal", gain=1.0, input_init="gaussian-fan-out",
                       input_gain=0.9),
    "chain": dict(init="chain", gain=1.0, input_init="source", input_gain=0.9),
    "feedback chain": dict(init="feedback-chain", gain=0.99, feedback=0.05,
                           input_init="source", input_gain=0.9),
}
# The language models' input is an embedding; their original (awd-lstm-lm with
# NonnormalInit_torchrnn.py) sets only the recurrent weights: these keep rnnmem's earlier draw,
# N(0, 0.9/√inputs), which Table 1 was run with.
ORHAN_LM_INITS = {**ORHAN_INITS,
                  "identity": {**ORHAN_INITS["identity"], "input_init": "gaussian"},
                  "orthogonal": {**ORHAN_INITS["orthogonal"], "input_init": "gaussian"}}


# §2.3.1's grid (shared/papers/orhan2020-notes.md): learning rates, and one scale per init
ORHAN_LRS = (8e-4, 5e-4, 3e-4, 1e-4, 8e-5, 5e-5, 3e-5, 1e-5, 8e-6, 5e-6, 3e-6)
_LAMBDAS = (0.01, 0.96, 0.99, 1.0, 1.01, 1.02, 1.03, 1.04, 1.05)
ORHAN_SCALES = {  # init -> (config field, its name in the paper, values)
    "identity": ("gain", "lambda", _LAMBDAS),
    "orthogonal": ("gain", "lambda", _LAMBDAS),
    "chain": ("gain", "alpha", (0.99, 1.0, 1.01, 1.02, 1.03, 1.04, 1.05)),
    "feedback chain": ("feedback", "beta", (0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07)),
}
# The paper budget's copy sub-grid: the two largest rates and three scales per init.
ORHAN_PAPER_GRID = dict(lrs=(8e-4, 5e-4), scales={
    "identity": (0.99, 1.0, 1.02), "orthogonal": (0.99, 1.0, 1.02),
    "chain": (1.0, 1.02, 1.05), "feedback chain": (0.01, 0.04, 0.07)})


def _orhan_grid(budget: str, panel: Panel, group: str) -> list[tuple[str, dict]]:
    """(variant name, config values) of each grid point of ``group`` under ``budget``: the
    paper's grid of learning rates × scales (``full``: all of it; ``paper``: the sub-grid
    :data:`ORHAN_PAPER_GRID`, on copy and adding), else one point per init."""
    if not (budget == "full" or budget == "paper" and panel.options["task"] in ("copy",
                                                                                "adding")):
        return [("", dict(lr=ByBudget(3e-4, 3e-4, 1e-4).at(budget)))]
    field_name, symbol, values = ORHAN_SCALES[group]
    lrs = ORHAN_PAPER_GRID["lrs"] if budget == "paper" else ORHAN_LRS
    if budget == "paper":
        values = ORHAN_PAPER_GRID["scales"][group]
    return [(f"lr={lr:g} {symbol}={v:g}", {"lr": lr, field_name: v})
            for lr in lrs for v in values]


def _fig3_panels(budget: str) -> list[Panel]:
    copy_length, adding_T = ByBudget(200, 100, 500).at(budget), ByBudget(200, 200, 750).at(budget)
    return [Panel(f"copy, total length {copy_length}",
                  dict(task="copy", T=copy_length, convention="total", activation="elu",
                       hidden=100)),
            Panel(f"adding T = {adding_T}",
                  dict(task="adding", T=adding_T, placement="halves", channels="mark-value",
                       activation="relu", hidden=100)),
            Panel("psMNIST", dict(task="psmnist", activation="elu", hidden=25,
                                  train_subset=ByBudget(10000, 20000, None), val_size=1000))]


# Copy, adding, psMNIST with vanilla RNNs (elu / relu / elu), RMSProp, batch 16, clip 10; count
# the runs that end below half the baseline, as Fig. 3d-e do. full: 100 epochs of 60,000
# sequences at batch 16.
orhan_fig3 = Grid(base=dict(model="srnn", batch=16, grad_clip=10.0, clip=None,
                            steps=ByBudget(1500, 4000, 375000)),
                  panels=ByBudget(*map(_fig3_panels, BUDGETS)), groups=ORHAN_INITS,
                  seeds=ByBudget(2, 3, 6), eval_points=20, variants=_orhan_grid)


def _t750_rates(budget: str, panel: Panel, group: str) -> list[tuple[str, dict]]:
    """``paper`` gives the two chains a second chance at the next smaller rate of the paper's
    grid, 5e-5 (at 1e-4 the chain learns, then blows up); each is shown at its better rate."""
    if budget != "paper":
        return [("", dict(lr=1e-4))]
    return [(f"lr={lr:g}", dict(lr=lr)) for lr in ((1e-4, 5e-5) if "chain" in group else (1e-4,))]


# Adding at the paper's T = 750 at the original code's default point (learning rate 1e-4, chain
# scale α = 1.02; train.py of nonnormal-init), λ = 1, β = 0.05; full: 100 epochs.
orhan_fig3_t750 = Grid(
    base=dict(task="adding", T=750, placement="halves", channels="mark-value",
              activation="relu", hidden=100, model="srnn", batch=16, grad_clip=10.0, clip=None,
              steps=ByBudget(1000, 20000, 375000)),
    panels=[Panel("adding T = 750")],
    groups={**ORHAN_INITS, "chain": {**ORHAN_INITS["chain"], "gain": 1.02}},
    seeds=ByBudget(1, 3, 6), variants=_t750_rates)


def _lm_grid(model: str, inits: dict, levels: ByBudget) -> Grid:
    """PTB language models. paper: char 16,000 steps of 32 × 100 characters (about 10 epochs),
    where the val loss flattens; word 2000 steps of 20 × 35 words (about 1.5 epochs)."""
    def panels(budget: str) -> list[Panel]:
        return [Panel(f"PTB {level} level", dict(
            task=f"ptb-{level}", bptt=100 if level == "char" else 35,
            batch=ByBudget(32, 32, 80) if level == "char" else ByBudget(20, 20, 80),
            steps=ByBudget(800, 16000, 20000) if level == "char" else ByBudget(400, 2000, 20000)))
            for level in levels.at(budget)]

    # no activation clipping, where the model has any (the vanilla RNN)
    clip = {"clip": None} if "clip" in model_spec(model).options else {}
    return Grid(base=dict(model=model, hidden=ByBudget(128, 128, 512), layers=ByBudget(1, 1, 3),
                          optimizer="adam", lr=2e-3, grad_clip=0.25,
                          val_tokens=ByBudget(20000, 50000, None), **clip),
                panels=ByBudget(*map(panels, BUDGETS)), groups=inits, seeds=ByBudget(1, 3, 3))


orhan_table1 = _lm_grid("srnn", {k: {**v, "activation": "elu"} for k, v in ORHAN_LM_INITS.items()},
                        ByBudget(("char", "word"), ("char", "word"), ("char", "word")))
# Which non-linearity Orhan & Pitkow's vanilla-RNN LMs had is not in their code (they ran
# awd-lstm-lm, whose recurrent layers are torch's: tanh by default, relu, never elu): ablated.
orhan_lm_activation = _lm_grid(
    "srnn", {f"{init}, {activation}": {**ORHAN_LM_INITS[init], "activation": activation}
             for init in ("orthogonal", "chain") for activation in ("elu", "tanh")},
    ByBudget(("char",), ("char",), ("char",)))
orhan_table3 = _lm_grid("lstm", {"plain": dict(init="plain"),
                                 "orthogonal": dict(init="orthogonal"),
                                 "chain": dict(init="chain", gain=1.0),
                                 "mixed": dict(init="mixed", gain=1.02)},
                        ByBudget(("char",), ("char",), ("char", "word")))


def _memory_curves(out, budget, workers):
    from .memory import memory_curves

    r = memory_curves(out)
    return dict(figures=r["figures"], result=r)


def _decoding_toy(out, budget, workers):
    from .memory import decoding_toy

    r = decoding_toy(out, progress=_say)
    return dict(figures=r["figures"], result=r)


def _analysis_of(*sources: tuple[str, Callable[[Job], bool]]):
    """Analyse the trained weights of each (source experiment, selection): of each selected
    (panel, group), every seed of its best grid point (see
    :func:`~rnnmem.experiments.reproduce.best_variant`). A source's missing runs are trained
    first, as its own ``reproduce`` would; of a finished run only the analysed ones need their
    weights (committed beside their runs, or trained again)."""
    def run(out, budget, workers):
        from .memory import analyze_runs

        dirs = []
        for source, select in sources:
            jobs = [j for j in experiments()[source].jobs(budget) if select(j)]
            root = out.parent / f"{source}-{budget}"
            all_dirs = run_experiment_jobs(source, jobs, root, workers, weights=False)
            by_group: dict[tuple, tuple[list, list]] = {}
            job_of = {}
            for j, d in zip(jobs, all_dirs, strict=True):
                entry = by_group.setdefault((j.panel, j.group), ([], []))
                entry[0].append(j)
                entry[1].append(d)
                job_of[d] = j
            current = {d for j, d, s in zip(jobs, all_dirs, job_summaries(
                jobs, all_dirs, weights=False), strict=True)
                       if s is not None}  # a failed or stale run has nothing to analyse
            analysed = [d for entry in by_group.values()
                        for d in best_variant(*entry, weights=False)[1] if d in current]
            run_experiment_jobs(source, [job_of[d] for d in analysed], root, workers)
            dirs += analysed
        r = analyze_runs(dirs, out, memory=False)  # the papers' weight analysis
        figures = [str(out / e["figure"]) for e in r.values() if "figure" in e]
        for old in set(out.glob("analysis-*.png")) - {Path(f) for f in figures}:
            old.unlink()  # a run no longer selected (another best grid point): not a result
        names = " and ".join(f"`{source}`" for source, _ in sources)
        return dict(figures=figures, result=r, backing=weights_backing(len(dirs), names))

    return run


# The built-in experiments, registered as a plugin's are.
for _e in [
    Experiment("orhan-fig1", "Orhan & Pitkow 2020", "Fig. 1",
               "J_tot = 1 for normal networks; chains exceed it, up to N", run=_memory_curves,
               table=memory_curves_table, computed=True),
    Experiment("orhan-fig2", "Orhan & Pitkow 2020", "Fig. 2",
               "with noise or a non-linearity, a chain keeps past inputs decodable longer than "
               "an orthogonal network", run=_decoding_toy, table=decoding_toy_table,
               computed=True),
    Experiment("orhan-fig3", "Orhan & Pitkow 2020", "Fig. 3",
               "chain initializations learn copy, adding and psMNIST better than identity and "
               "orthogonal ones; only chains solve copy", jobs=orhan_fig3),
    Experiment("orhan-fig3-t750", "Orhan & Pitkow 2020", "Fig. 3b at T = 750",
               "on adding at T = 750 the chain initializations learn better than identity and "
               "orthogonal ones", jobs=orhan_fig3_t750),
    Experiment("orhan-table1", "Orhan & Pitkow 2020", "Table 1 and Fig. 4",
               "in vanilla-RNN language models the (feedback) chain inits reach slightly lower "
               "test loss than identity and orthogonal", jobs=orhan_table1),
    Experiment("orhan-lm-activation", "Orhan & Pitkow 2020", "Table 1's non-linearity",
               "the vanilla-RNN language models' ranking of inits does not depend on the "
               "non-linearity the paper leaves unnamed (elu here, tanh in torch's RNN)",
               jobs=orhan_lm_activation),
    Experiment("orhan-table2", "Orhan & Pitkow 2020", "Table 2 and Fig. 5",
               "training makes identity/orthogonal networks non-normal, with hidden chains",
               table=analysis_table, reads=("orhan-fig3",),
               run=_analysis_of(("orhan-fig3", lambda j: j.group in ("identity", "orthogonal")
                                 and "copy" not in j.panel))),
    Experiment("orhan-table3", "Orhan & Pitkow 2020", "Table 3",
               "LSTM language models: the mixed init is competitive with plain, orthogonal and "
               "chain", jobs=orhan_table3),
    Experiment("orhan-fig6", "Orhan & Pitkow 2020", "Fig. 6",
               "trained LSTM gates: input/forget/output weights monotone in i−j, a chain in "
               "the cell (update) gate",
               # the LM networks of every init, and LSTMs that learned a memory task
               table=analysis_table, reads=("orhan-table3", "henaff-fig5"),
               run=_analysis_of(("orhan-table3", lambda j: True),
                                ("henaff-fig5", lambda j: j.group == "LSTM"))),
]:
    register_experiment(_e.name, _e.jobs, run=_e.run, paper=_e.paper, target=_e.target,
                        claim=_e.claim, curve=_e.curve, table=_e.table, computed=_e.computed,
                        reads=_e.reads, _builtin=True)
