"""Henaff, Szlam & LeCun 2016, "Recurrent Orthogonal Networks and Long-Memory Tasks": one
declaration per figure and table (the budgets: :mod:`rnnmem.experiments.registry`)."""

from __future__ import annotations

import functools

from ..registry import Experiment, register_experiment
from .grid import BUDGETS, ByBudget, Grid, Panel
from .jobs import run_experiment_jobs, weights_backing

_say = functools.partial(print, flush=True)  # a long run's progress lines


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


def _construct(out, budget, workers):
    from .construct import copy_report, format_grid

    r = copy_report(out, trials=500, figure=True, progress=_say)
    return dict(figures=r["figures"], table=format_grid(r))  # construct.py's own table


def _pool_activations(out, budget, workers):
    from .activations import plot_pool_activations

    jobs = [j for j in henaff_fig4(budget) if j.group == "LT-ORNN + l2 pool"
            and j.config.task == "adding"]
    run_dirs = run_experiment_jobs("henaff-fig4", jobs, out.parent / f"henaff-fig4-{budget}",
                                   workers)
    return dict(plot_pool_activations(run_dirs, out),
                backing=weights_backing(len(run_dirs), "`henaff-fig4`"))


# The built-in experiments, registered as a plugin's are.
for _e in [
    Experiment("henaff-fig1", "Henaff et al. 2016", "Fig. 1",
               "the copy construction succeeds for small S and degrades as S (and K) grow",
               run=_construct, computed=True),
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
               run=_pool_activations, reads=("henaff-fig4",)),
]:
    register_experiment(_e.name, _e.jobs, run=_e.run, paper=_e.paper, target=_e.target,
                        claim=_e.claim, curve=_e.curve, table=_e.table, computed=_e.computed,
                        reads=_e.reads, _builtin=True)
