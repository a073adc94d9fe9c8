"""One definition per figure and table of both papers: ``rnnmem reproduce --list``.

A training experiment is declared as a :class:`~rnnmem.experiments.grid.Grid` (base options,
panels, groups, seeds, grid points, with :class:`~rnnmem.experiments.grid.ByBudget` values),
expanded into :class:`Job` s per budget: ``quick`` (minutes on a 2-core
CPU: shorter sequences, fewer seeds and steps, still aimed at the paper's effect), ``paper``
(the budget that decides a claim: ≥ 3 seeds, the papers' T where affordable and enough steps for
the slow learners the paper describes, about an hour or less on a 2-core CPU) and ``full`` (the
paper's settings, where it states them; our documented choice where it does not: for a GPU or a
cluster). Other experiments (constructions, memory theory, analyses of trained runs) are a
function of the output directory and the budget, whose result ``tables`` turns into Markdown.
Every experiment is registered with :func:`rnnmem.register_experiment`, as a plugin's is.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..registry import Experiment, experiments, model_spec, register_experiment
from .grid import BUDGETS, ByBudget, Grid, Panel, Tune
from .jobs import Job, best_variant, job_summaries, run_experiment_jobs
from .tables import analysis_table, decoding_toy_table, memory_curves_table

# A run's final figure is the median of its last ``final_evals`` (5) evaluations; each experiment
# evaluates at least 20 times, so those five lie in the last quarter of training, not in the middle
# of a still-falling curve (tests/test_reproduce.py checks every job of every budget).


# ---------------------------------------------------------------- Henaff et al. 2016

HENAFF_MODELS = {  # §4.1: RMSProp 1e-4 for the LT-RNNs, 1e-3 for the LSTM (their lr protocol)
    "LT-ORNN": dict(model="lt-rnn", init="orthogonal", lr=1e-4),
    "LT-IRNN": dict(model="lt-rnn", init="identity", lr=1e-4),
    "LSTM": dict(model="lstm", init="gaussian", lr=1e-3),  # §4.1's N(0, 1/n), eqs. 3-5: no bias
    "LT-ORNN + l2 pool": dict(model="lt-rnn-pool", init="orthogonal", lr=1e-4, pool=2,
                              penalty_lr=1e-2, penalty_points=50),  # step size: ours
    # §4.2's control: the same soft orthogonality penalty, no pooling
    "LT-ORNN + penalty": dict(model="lt-rnn", init="orthogonal", lr=1e-4, penalty_lr=1e-2,
                              penalty_points=50),
}

# The reading choices where Henaff §4.1 is silent, each against its alternatives.
HENAFF_READINGS = {
    "LT-IRNN, b = -1": dict(model="lt-rnn", init="identity", lr=1e-4),  # the default
    "LT-IRNN, b = 0": dict(model="lt-rnn", init="identity", lr=1e-4, input_bias=0.0),
    "LT-ORNN, b = -1": dict(model="lt-rnn", init="orthogonal", lr=1e-4),
    "LT-ORNN, b = 0": dict(model="lt-rnn", init="orthogonal", lr=1e-4, input_bias=0.0),
    "LSTM gaussian, no bias": dict(model="lstm", init="gaussian", lr=1e-3),  # the default
    "LSTM gaussian + biases": dict(model="lstm", init="gaussian", bias=True, lr=1e-3),
    "LSTM plain (PyTorch)": dict(model="lstm", init="plain", lr=1e-3),
    # eq. 2 writes y = W h: the readout bias c, on the models that solve each task
    "LT-IRNN, b = -1, no readout bias": dict(model="lt-rnn", init="identity", lr=1e-4,
                                             readout_bias=False),
    "LSTM gaussian, no bias, no readout bias": dict(model="lstm", init="gaussian", lr=1e-3,
                                                    readout_bias=False),
    "LT-ORNN, no readout bias": dict(model="lt-rnn", init="orthogonal", lr=1e-4,
                                     readout_bias=False),
    # §4.2 gives no step size for the penalty's SGD step (ours: 1e-2)
    "LT-ORNN + l2 pool, penalty step 1e-3": dict(HENAFF_MODELS["LT-ORNN + l2 pool"],
                                                 penalty_lr=1e-3),
    "LT-ORNN + l2 pool, no penalty": dict(HENAFF_MODELS["LT-ORNN + l2 pool"], penalty_lr=0.0),
}
_HENAFF_GROUPS = {**HENAFF_MODELS, **HENAFF_READINGS}
_HENAFF_SEEDS = ByBudget(2, 3, 8)
# Henaff's protocol: batch 50; the LT-RNN's σ on adding (relu) and its initial bias are the
# config's defaults (docs/protocol.md). Fig. 2-3's three models in every panel.
_FIG23 = ("LT-ORNN", "LT-IRNN", "LSTM")


def _panels(name: str, task: str, Ts: ByBudget, groups=_FIG23, **options) -> ByBudget:
    """One panel per length T of each budget."""
    return ByBudget(*[[Panel(f"{name} T = {T}", dict(task=task, T=T, **options), groups)
                       for T in Ts.at(b)] for b in BUDGETS])


# Henaff gives no T for copy: Arjovsky's values
henaff_fig2 = Grid(base=dict(hidden=80, batch=50, steps=ByBudget(3000, 6000, 20000)),
                   panels=_panels("copy", "copy", ByBudget((100,), (100, 200),
                                                           (100, 200, 300, 500))),
                   groups=_HENAFF_GROUPS, seeds=_HENAFF_SEEDS)

henaff_fig3 = Grid(base=dict(hidden=128, batch=50, steps=ByBudget(1500, 4000, 20000)),
                   panels=_panels("adding", "adding", ByBudget((200,), (200, 400),
                                                               (200, 400, 750))),
                   groups=_HENAFF_GROUPS, seeds=_HENAFF_SEEDS)

# The pooled LT-ORNN against its controls: the same penalty without pooling, no penalty and no
# pooling (Fig. 3's LT-ORNN), the LT-IRNN; on adding also the penalty's step size.
_FIG4 = ("LT-ORNN + l2 pool", "LT-IRNN", "LT-ORNN", "LT-ORNN + penalty")
_FIG4_STEPS = ("LT-ORNN + l2 pool, penalty step 1e-3", "LT-ORNN + l2 pool, no penalty")


def _fig4_panels(budget: str) -> list[Panel]:
    copy_T, adding_T = ByBudget(100, 100, 500).at(budget), ByBudget(200, 200, 750).at(budget)
    return [Panel(f"copy T = {copy_T}", dict(task="copy", T=copy_T, hidden=80,
                                             steps=ByBudget(1500, 3000, 20000)), _FIG4),
            # the pooled LT-ORNN learns adding slowly
            Panel(f"adding T = {adding_T}", dict(task="adding", T=adding_T, hidden=128,
                                                 steps=ByBudget(1500, 6000, 20000)),
                  _FIG4 + (() if budget == "quick" else _FIG4_STEPS))]


henaff_fig4 = Grid(base=dict(batch=50), panels=ByBudget(*map(_fig4_panels, BUDGETS)),
                   groups=_HENAFF_GROUPS, seeds=_HENAFF_SEEDS)

# paper: Fig. 5's own horizon, where the slow LSTM must have solved it
henaff_fig5 = Grid(base=dict(hidden=80, batch=50, steps=ByBudget(2000, 20000, 20000)),
                   panels=[Panel("variable-length copy T = 100", dict(task="varcopy", T=100),
                                 ("LT-IRNN", "LT-ORNN", "LT-ORNN + l2 pool", "LSTM"))],
                   groups=_HENAFF_GROUPS, seeds=_HENAFF_SEEDS)

# Adding T = 200 under each reading of what §4.1 leaves open (docs/protocol.md).
henaff_readings = Grid(
    base=dict(batch=50),
    panels=[Panel("adding T = 200: input bias b",
                  dict(task="adding", T=200, hidden=128, steps=ByBudget(1000, 3000, 20000)),
                  ("LT-IRNN, b = -1", "LT-IRNN, b = 0", "LT-ORNN, b = -1", "LT-ORNN, b = 0",
                   "LT-IRNN, b = -1, no readout bias")),
            Panel("adding T = 200: LSTM init",
                  dict(task="adding", T=200, hidden=128, steps=ByBudget(1000, 4000, 20000)),
                  ("LSTM gaussian, no bias", "LSTM gaussian + biases", "LSTM plain (PyTorch)",
                   "LSTM gaussian, no bias, no readout bias")),
            Panel("copy T = 100: readout bias c",
                  dict(task="copy", T=100, hidden=80, steps=ByBudget(1000, 3000, 20000)),
                  ("LT-ORNN", "LT-ORNN, no readout bias"))],
    groups=_HENAFF_GROUPS, seeds=ByBudget(1, 3, 8))


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


# ---------------------------------------------------------------- peers (issue: beyond both)

PEER_MODELS = {  # learning rates from each paper; decay and clipping from each model's recipe
    "LT-ORNN": dict(model="lt-rnn", init="orthogonal", lr=1e-4),
    "chain sRNN": dict(model="srnn", activation="elu", init="chain", input_init="source",
                       input_gain=0.9, lr=1e-4, clip=None, grad_clip=10.0),
    "LSTM": dict(model="lstm", init="plain", lr=1e-3),
    "IRNN": dict(model="irnn", lr=1e-4, clip=None, grad_clip=10.0),
    "uRNN": dict(model="urnn", lr=1e-3),
    "expRNN": dict(model="exprnn", init="henaff", lr=2e-4, lr_orth=2e-5),
    "nnRNN": dict(model="nnrnn", init="henaff", lr=5e-4, lr_orth=1e-6),
}
# their own MNIST settings: expRNN 2_mnist.py:15-16,24-27 (Cayley init); nnRNN sMNIST.py:34-35
# and its README's sMNIST table (Cayley init, δ = 0.1, T decay 1e-4)
PEER_PSMNIST = {"expRNN": dict(init="cayley", lr=7e-4, lr_orth=7e-5),
                "nnRNN": dict(init="cayley", lr=2e-4, lr_orth=2e-5, gamma_penalty=0.1,
                              t_decay=1e-4)}


def _peer_panels(budget: str) -> list[Panel]:
    L = ByBudget(100, 200, 1000).at(budget)
    return [Panel(f"copy L = {L} (expRNN layout)",
                  dict(task="copy", T=L, convention="exprnn", batch=ByBudget(32, 64, 128),
                       steps=ByBudget(600, 2000, 4000))),
            # paper: 1000 steps of 32 (the uRNN and the LSTM cost 4-8x the others here)
            Panel("psMNIST", dict(task="psmnist", permutation="exprnn",
                                  batch=ByBudget(32, 32, 128), steps=ByBudget(300, 1000, 27000),
                                  val_size=ByBudget(500, 2000, 10000),
                                  train_subset=ByBudget(5000, 20000, None)))]


# Copy in the expRNN/nnRNN setting (L = 1000, first answer at the marker) and psMNIST
peers_comparison = Grid(
    base=dict(hidden=ByBudget(64, 128, 128)), panels=ByBudget(*map(_peer_panels, BUDGETS)),
    groups=PEER_MODELS, seeds=ByBudget(1, 3, 3), eval_points=20,
    overrides=lambda panel, group: (PEER_PSMNIST.get(group, {})
                                    if panel.options["task"] == "psmnist" else {}))


# ---------------------------------------------------------------- equal state (issue: beyond both)

# Issue #29's question: at equal state size, does a non-normal transition (a chain) remember
# longer than a normal one (orthogonal; the LRU's diagonal)? N real numbers carried from step to
# step for every model: the LRU's state is complex and the LSTM's is (h, c), so they get N/2
# units. Each model is tuned (the fair-comparison protocol, experiments/tuning.py: its learning
# rate, and at the paper budget its registered knobs, on a tuning seed) and reported on fresh
# seeds; the lr given here is only where the search starts from for a model without a search.
# The bare LRU and minGRU layers beside their papers' blocks, each block one layer deep so its
# state is one layer's: the LRU block's N/2 complex units, the minGRU block's N at expansion 1.
EQUAL_STATE, HALF_STATE = ByBudget(32, 64, 128), ByBudget(16, 32, 64)
STATE_MODELS = {
    "LRU": dict(model="lru", hidden=HALF_STATE, lr=1e-3),  # minimal-LRU's
    "LRU block": dict(model="lru-block", hidden=HALF_STATE, depth=1, lr=1e-3),
    "minGRU": dict(model="mingru", lr=1e-3),  # ours: Feng et al. state none for these tasks
    "minGRU block": dict(model="mingru-block", depth=1, expansion=1.0, lr=1e-3),
    "LT-ORNN": HENAFF_MODELS["LT-ORNN"],
    "chain LT-RNN": dict(model="lt-rnn", init="chain", gain=1.0, input_init="source",
                         lr=1e-4),  # no paper has it: the LT-RNN's rate
    "chain sRNN": PEER_MODELS["chain sRNN"],
    "LSTM": dict(model="lstm", init="plain", hidden=HALF_STATE, lr=1e-3),
}

# Henaff's copy (delay T = 100, S = 10, K = 8, batch 50) and psMNIST as in the peer comparison
equal_state = Grid(
    base=dict(hidden=EQUAL_STATE),
    panels=[Panel("copy T = 100", dict(task="copy", T=100, batch=50,
                                       steps=ByBudget(600, 3000, 20000))),
            Panel("psMNIST", dict(task="psmnist", batch=32, steps=ByBudget(200, 1000, 27000),
                                  val_size=ByBudget(500, 2000, 10000),
                                  train_subset=ByBudget(5000, 20000, None)))],
    groups=STATE_MODELS, seeds=ByBudget(1, 3, 5), eval_points=20, tune=Tune())


def _say(line: str) -> None:
    print(line, flush=True)


def _construct(out, budget, workers):
    from .construct import copy_report, format_grid

    r = copy_report(out, trials=500, figure=True, progress=_say)
    return dict(figures=r["figures"], table=format_grid(r))  # construct.py's own table


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
    first, as its own ``reproduce`` would."""
    def run(out, budget, workers):
        from .memory import analyze_runs

        dirs = []
        for source, select in sources:
            jobs = [j for j in experiments()[source].jobs(budget) if select(j)]
            all_dirs = run_experiment_jobs(source, jobs, out.parent / f"{source}-{budget}",
                                           workers)
            by_group: dict[tuple, tuple[list, list]] = {}
            for j, d in zip(jobs, all_dirs, strict=True):
                entry = by_group.setdefault((j.panel, j.group), ([], []))
                entry[0].append(j)
                entry[1].append(d)
            current = {d for j, d, s in zip(jobs, all_dirs, job_summaries(jobs, all_dirs),
                                            strict=True)
                       if s is not None}  # a failed or stale run has nothing to analyse
            dirs += [d for entry in by_group.values() for d in best_variant(*entry)[1]
                     if d in current]
        r = analyze_runs(dirs, out, memory=False)  # the papers' weight analysis
        figures = [str(out / e["figure"]) for e in r.values() if "figure" in e]
        for old in set(out.glob("analysis-*.png")) - {Path(f) for f in figures}:
            old.unlink()  # a run no longer selected (another best grid point): not a result
        names = " and ".join(f"`{source}`" for source, _ in sources)
        return dict(figures=figures, result=r, backing=(
            f"Computed from the trained weights (model.pt) of {len(dirs)} runs of {names}, "
            "which are not committed: the command above recomputes it after those runs (it "
            "trains those missing)."))

    return run


def _pool_activations(out, budget, workers):
    from .activations import plot_pool_activations

    jobs = [j for j in henaff_fig4(budget) if j.group == "LT-ORNN + l2 pool"
            and j.config.task == "adding"]
    run_dirs = run_experiment_jobs("henaff-fig4", jobs, out.parent / f"henaff-fig4-{budget}",
                                   workers)
    return dict(plot_pool_activations(run_dirs, out), backing=(
        f"Computed from the trained weights (model.pt) of {len(run_dirs)} `henaff-fig4` runs, "
        "which are not committed: the command above recomputes it after those runs (it trains "
        "those missing)."))


def _memory_horizon(out, budget, workers, *, selection=None, rerun_changed=False,
                    report_dir=None):
    from .horizon import run

    return run(out, budget, workers, selection=selection, rerun_changed=rerun_changed,
               report_dir=report_dir)


def _horizon_table(result):
    from .horizon import horizon_table

    return horizon_table(result)


# The built-in experiments, registered as a plugin's are.
for _e in [
    Experiment("henaff-fig1", "Henaff et al. 2016", "Fig. 1",
               "the copy construction succeeds for small S and degrades as S (and K) grow",
               run=_construct),
    Experiment("henaff-fig2", "Henaff et al. 2016", "Fig. 2",
               "on copy, LT-ORNN solves the task almost at once, LT-IRNN never, LSTM slowly",
               jobs=henaff_fig2),
    Experiment("henaff-fig3", "Henaff et al. 2016", "Fig. 3",
               "on adding, LT-IRNN and LSTM learn easily, LT-ORNN slowly or not at all",
               jobs=henaff_fig3),
    Experiment("henaff-fig4", "Henaff et al. 2016", "Fig. 4",
               "with l2 pooling and the soft orthogonality penalty, one LT-ORNN solves both "
               "copy and (approximately) adding", jobs=henaff_fig4),
    Experiment("henaff-fig5", "Henaff et al. 2016", "Fig. 5",
               "on variable-length copy no LT-RNN beats the baseline; the LSTM solves it "
               "slowly", jobs=henaff_fig5),
    Experiment("henaff-readings", "Henaff et al. 2016", "§4.1 reading choices",
               "ablation of what §4.1 leaves open: the LT-RNN's initial input bias b and the "
               "LSTM's init and biases decide whether LT-IRNN and LSTM learn adding",
               jobs=henaff_readings),
    Experiment("henaff-fig6", "Henaff et al. 2016", "Fig. 6",
               "the pooling network stores the marked numbers in the radius of rotations",
               run=_pool_activations),
    Experiment("orhan-fig1", "Orhan & Pitkow 2020", "Fig. 1",
               "J_tot = 1 for normal networks; chains exceed it, up to N", run=_memory_curves,
               table=memory_curves_table),
    Experiment("orhan-fig2", "Orhan & Pitkow 2020", "Fig. 2",
               "with noise or a non-linearity, a chain keeps past inputs decodable longer than "
               "an orthogonal network", run=_decoding_toy, table=decoding_toy_table),
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
               table=analysis_table,
               run=_analysis_of(("orhan-fig3", lambda j: j.group in ("identity", "orthogonal")
                                 and "copy" not in j.panel))),
    Experiment("orhan-table3", "Orhan & Pitkow 2020", "Table 3",
               "LSTM language models: the mixed init is competitive with plain, orthogonal and "
               "chain", jobs=orhan_table3),
    Experiment("peers-comparison", "rnnmem (beyond both papers)", "peer comparison",
               "orthogonal/unitary models (uRNN, expRNN, nnRNN, LT-ORNN) solve copy; gated "
               "and non-normal ones compete on psMNIST", jobs=peers_comparison),
    Experiment("equal-state", "rnnmem (beyond both papers)", "equal state size",
               "at equal state size a non-normal transition (chain LT-RNN, chain sRNN) "
               "remembers longer than a normal one (LT-ORNN, the LRU's diagonal), beside "
               "minGRU and the LSTM, on copy and psMNIST", jobs=equal_state),
    Experiment("memory-horizon", "rnnmem (beyond both papers)", "memory horizon",
               "at equal hidden size, which models remember longest: the longest copy delay "
               "and adding length each solves within a fixed step budget, beside the J_tot "
               "and memory capacity of its trained network", run=_memory_horizon,
               table=_horizon_table),
    Experiment("orhan-fig6", "Orhan & Pitkow 2020", "Fig. 6",
               "trained LSTM gates: input/forget/output weights monotone in i−j, a chain in "
               "the cell (update) gate",
               # the LM networks of every init, and LSTMs that learned a memory task
               table=analysis_table,
               run=_analysis_of(("orhan-table3", lambda j: True),
                                ("henaff-fig5", lambda j: j.group == "LSTM"))),
]:
    register_experiment(_e.name, _e.jobs, run=_e.run, paper=_e.paper, target=_e.target,
                        claim=_e.claim, curve=_e.curve, table=_e.table, _builtin=True)

# registered by their own modules, after the papers' (the listing's order)
from . import benchmark  # noqa: E402, F401 - memory-benchmark (#41)
