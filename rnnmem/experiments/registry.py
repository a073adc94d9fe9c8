"""One definition per figure and table of both papers: ``rnnmem reproduce --list``.

A training experiment is a grid of :class:`Job` s per budget: ``quick`` (minutes on a 2-core
CPU: shorter sequences, fewer seeds and steps, still aimed at the paper's effect), ``paper``
(the budget that decides a claim: ≥ 3 seeds, the papers' T where affordable and enough steps for
the slow learners the paper describes, about an hour or less on a 2-core CPU) and ``full`` (the
paper's settings, where it states them; our documented choice where it does not: for a GPU or a
cluster). Other experiments (constructions, memory theory, analyses of trained runs) are a
function of the output directory and the budget.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ..registry import Experiment, experiments, model_spec, register_experiment
from ..train import TrainConfig
from .jobs import Job, best_variant, job_summaries, run_experiment_jobs

BUDGETS = ("quick", "paper", "full")


# A run's final figure is the median of its last ``final_evals`` (5) evaluations; each experiment
# evaluates at least 20 times, so those five lie in the last quarter of training, not in the middle
# of a still-falling curve (tests/test_reproduce.py checks every job of every budget).


def _pick(budget: str, quick, paper, full):
    """The value of a setting under ``budget``, given in the order of :data:`BUDGETS`."""
    if budget not in BUDGETS:
        raise ValueError(f"budget must be one of {', '.join(BUDGETS)}; got {budget!r}")
    return dict(zip(BUDGETS, (quick, paper, full), strict=True))[budget]


def _seeds(budget: str, quick: int, paper: int, full: int) -> range:
    return range(_pick(budget, quick, paper, full))


# ---------------------------------------------------------------- Henaff et al. 2016

HENAFF_MODELS = {  # §4.1: RMSProp 1e-4 for the LT-RNNs, 1e-3 for the LSTM (their lr protocol)
    "LT-ORNN": dict(model="lt-rnn", init="orthogonal", lr=1e-4),
    "LT-IRNN": dict(model="lt-rnn", init="identity", lr=1e-4),
    "LSTM": dict(model="lstm", init="gaussian", lr=1e-3),  # §4.1's N(0, 1/n), eqs. 3-5: no bias
    "LT-ORNN + l2 pool": dict(model="lt-rnn-pool", init="orthogonal", lr=1e-4, pool=2,
                              ortho_lr=1e-2, ortho_points=50),  # step size: ours
    # §4.2's control: the same soft orthogonality penalty, no pooling
    "LT-ORNN + penalty": dict(model="lt-rnn", init="orthogonal", lr=1e-4, ortho_lr=1e-2,
                              ortho_points=50),
}


def _henaff_jobs(budget, panels, models, hidden, steps, seeds, **common) -> list[Job]:
    """Every (panel, model, seed) with Henaff's protocol; the LT-RNN's σ on adding (relu) and
    its initial bias are the config's defaults (docs/protocol.md)."""
    jobs = []
    for panel, task in panels:
        for group in models:
            spec = HENAFF_MODELS.get(group) or HENAFF_READINGS[group]
            for seed in seeds:
                jobs.append(Job(panel, group, seed, TrainConfig(
                    hidden=hidden, batch=50, steps=steps, eval_every=max(1, steps // 40),
                    seed=seed, **{**common, **task, **spec})))
    return jobs


def henaff_fig2(budget: str) -> list[Job]:
    # Henaff gives no T for copy: Arjovsky's values
    Ts = _pick(budget, (100,), (100, 200), (100, 200, 300, 500))
    return _henaff_jobs(budget, [(f"copy T = {T}", dict(task="copy", T=T)) for T in Ts],
                        ("LT-ORNN", "LT-IRNN", "LSTM"), 80, _pick(budget, 3000, 6000, 20000),
                        _seeds(budget, 2, 3, 8))


def henaff_fig3(budget: str) -> list[Job]:
    Ts = _pick(budget, (200,), (200, 400), (200, 400, 750))
    return _henaff_jobs(budget, [(f"adding T = {T}", dict(task="adding", T=T)) for T in Ts],
                        ("LT-ORNN", "LT-IRNN", "LSTM"), 128, _pick(budget, 1500, 4000, 20000),
                        _seeds(budget, 2, 3, 8))


def henaff_fig4(budget: str) -> list[Job]:
    """The pooled LT-ORNN against its controls: the same penalty without pooling, no penalty
    and no pooling (Fig. 3's LT-ORNN), the LT-IRNN; on adding also the penalty's step size."""
    copy_T, adding_T = _pick(budget, 100, 100, 500), _pick(budget, 200, 200, 750)
    models = ("LT-ORNN + l2 pool", "LT-IRNN", "LT-ORNN", "LT-ORNN + penalty")
    penalty_steps = () if budget == "quick" else ("LT-ORNN + l2 pool, penalty step 1e-3",
                                                  "LT-ORNN + l2 pool, no penalty")
    jobs = []
    for panel, task, hidden, steps, groups in (
            (f"copy T = {copy_T}", dict(task="copy", T=copy_T), 80,
             _pick(budget, 1500, 3000, 20000), models),
            (f"adding T = {adding_T}", dict(task="adding", T=adding_T), 128,
             _pick(budget, 1500, 6000, 20000),  # the pooled LT-ORNN learns adding slowly
             models + penalty_steps)):
        jobs += _henaff_jobs(budget, [(panel, task)], groups, hidden, steps,
                             _seeds(budget, 2, 3, 8))
    return jobs


def henaff_fig5(budget: str) -> list[Job]:
    return _henaff_jobs(budget, [("variable-length copy T = 100", dict(task="varcopy", T=100))],
                        ("LT-IRNN", "LT-ORNN", "LT-ORNN + l2 pool", "LSTM"), 80,
                        # paper: Fig. 5's own horizon, where the slow LSTM must have solved it
                        _pick(budget, 2000, 20000, 20000), _seeds(budget, 2, 3, 8))


# The reading choices where Henaff §4.1 is silent, each against its alternatives.
HENAFF_READINGS = {
    "LT-IRNN, b = -1": dict(model="lt-rnn", init="identity", lr=1e-4),  # the default
    "LT-IRNN, b = 0": dict(model="lt-rnn", init="identity", lr=1e-4, input_bias=0.0),
    "LT-ORNN, b = -1": dict(model="lt-rnn", init="orthogonal", lr=1e-4),
    "LT-ORNN, b = 0": dict(model="lt-rnn", init="orthogonal", lr=1e-4, input_bias=0.0),
    "LSTM gaussian, no bias": dict(model="lstm", init="gaussian", lr=1e-3),  # the default
    "LSTM gaussian + biases": dict(model="lstm", init="gaussian", gate_bias=True, lr=1e-3),
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
                                                 ortho_lr=1e-3),
    "LT-ORNN + l2 pool, no penalty": dict(HENAFF_MODELS["LT-ORNN + l2 pool"], ortho_lr=0.0),
}


def henaff_readings(budget: str) -> list[Job]:
    """Adding T = 200 under each reading of what §4.1 leaves open (docs/protocol.md)."""
    T, seeds = 200, _seeds(budget, 1, 3, 8)
    lt = ["LT-IRNN, b = -1", "LT-IRNN, b = 0", "LT-ORNN, b = -1", "LT-ORNN, b = 0",
          "LT-IRNN, b = -1, no readout bias"]
    lstm = ["LSTM gaussian, no bias", "LSTM gaussian + biases", "LSTM plain (PyTorch)",
            "LSTM gaussian, no bias, no readout bias"]
    return (_henaff_jobs(budget, [(f"adding T = {T}: input bias b", dict(task="adding", T=T))],
                         lt, 128, _pick(budget, 1000, 3000, 20000), seeds)
            + _henaff_jobs(budget, [(f"adding T = {T}: LSTM init", dict(task="adding", T=T))],
                           lstm, 128, _pick(budget, 1000, 4000, 20000), seeds)
            + _henaff_jobs(budget, [("copy T = 100: readout bias c", dict(task="copy", T=100))],
                           ("LT-ORNN", "LT-ORNN, no readout bias"), 80,
                           _pick(budget, 1000, 3000, 20000), seeds))


# ---------------------------------------------------------------- Orhan & Pitkow 2020

ORHAN_INITS = {  # §2.3.1: input weights N(0, 0.9/√N) for identity/orthogonal, 0.9·I for chains
    "identity": dict(init="identity", gain=1.0, input_init="gaussian", input_gain=0.9),
    "orthogonal": dict(init="orthogonal", gain=1.0, input_init="gaussian", input_gain=0.9),
    "chain": dict(init="chain", gain=1.0, input_init="source", input_gain=0.9),
    "feedback chain": dict(init="feedback-chain", gain=0.99, feedback=0.05,
                           input_init="source", input_gain=0.9),
}


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


def _orhan_grid(budget: str, group: str, grid: bool) -> list[tuple[str, dict]]:
    """(variant name, config values) of each grid point of ``group`` under ``budget``."""
    if not grid:
        return [("", dict(lr=_pick(budget, 3e-4, 3e-4, 1e-4)))]
    field_name, symbol, values = ORHAN_SCALES[group]
    lrs = ORHAN_PAPER_GRID["lrs"] if budget == "paper" else ORHAN_LRS
    if budget == "paper":
        values = ORHAN_PAPER_GRID["scales"][group]
    return [(f"lr={lr:g} {symbol}={v:g}", {"lr": lr, field_name: v})
            for lr in lrs for v in values]


def orhan_fig3(budget: str) -> list[Job]:
    """Copy, adding, psMNIST with vanilla RNNs (elu / relu / elu), RMSProp, batch 16, clip 10.

    Copy and adding run the paper's grid of learning rates × scales (``full``: all of it;
    ``paper``: the sub-grid :data:`ORHAN_PAPER_GRID`, copy at total length 100) and count the
    runs that end below half the baseline, as Fig. 3d-e do; psMNIST takes one point per init
    except under ``full``.
    """
    copy_length = _pick(budget, 200, 100, 500)
    panels = [
        (f"copy, total length {copy_length}",
         dict(task="copy", T=copy_length, convention="total", activation="elu", hidden=100)),
        (f"adding T = {_pick(budget, 200, 200, 750)}",
         dict(task="adding", T=_pick(budget, 200, 200, 750), placement="halves",
              channels="mark-value", activation="relu", hidden=100)),
        ("psMNIST", dict(task="psmnist", activation="elu", hidden=25,
                         train_subset=_pick(budget, 10000, 20000, None), val_size=1000)),
    ]
    jobs = []
    for panel, task in panels:
        # full: 100 epochs of 60,000 sequences at batch 16
        steps = _pick(budget, 1500, 4000, 375000)
        grid = budget == "full" or (budget == "paper" and task["task"] in ("copy", "adding"))
        for group, init in ORHAN_INITS.items():
            for variant, point in _orhan_grid(budget, group, grid):
                for seed in _seeds(budget, 2, 3, 6):
                    jobs.append(Job(panel, group, seed, TrainConfig(
                        model="srnn", batch=16, grad_clip=10.0, clip=None, steps=steps,
                        eval_every=max(1, steps // 20), seed=seed, **{**task, **init, **point}),
                        variant=variant))
    return jobs


def orhan_fig3_t750(budget: str) -> list[Job]:
    """Adding at the paper's T = 750 at the original code's default point (learning rate 1e-4,
    chain scale α = 1.02; train.py of nonnormal-init), λ = 1, β = 0.05.

    ``orhan-fig3`` runs adding at T = 200 (its 4000 steps learn nothing at 750); this trains
    longer at the paper's length. ``paper`` gives the two chains a second chance at the next
    smaller rate of the paper's grid, 5e-5 (at 1e-4 the chain learns, then blows up), and shows
    each at its better rate; ``full`` is 100 epochs at the default point, as the paper's runs.
    """
    steps = _pick(budget, 1000, 20000, 375000)
    inits = {**ORHAN_INITS, "chain": {**ORHAN_INITS["chain"], "gain": 1.02}}

    def rates(group: str) -> dict[str, float]:  # variant name -> learning rate
        if budget != "paper":
            return {"": 1e-4}
        return {f"lr={lr:g}": lr for lr in ((1e-4, 5e-5) if "chain" in group else (1e-4,))}

    return [Job("adding T = 750", group, seed, TrainConfig(
        task="adding", T=750, placement="halves", channels="mark-value", activation="relu",
        hidden=100, model="srnn", batch=16, grad_clip=10.0, clip=None, lr=lr, steps=steps,
        eval_every=max(1, steps // 40), seed=seed, **init), variant=variant)
        for group, init in inits.items() for variant, lr in rates(group).items()
        for seed in _seeds(budget, 1, 3, 6)]


def _lm_jobs(budget: str, model: str, inits: dict, levels) -> list[Job]:
    jobs = []
    for level in levels:
        is_char = level == "char"
        # paper: PTB char 16,000 steps of 32 × 100 characters (about 10 epochs), where the val
        # loss flattens; PTB word 2000 steps of 20 × 35 words (about 1.5 epochs)
        steps = _pick(budget, 800 if is_char else 400, 16000 if is_char else 2000, 20000)
        for group, init in inits.items():
            for seed in _seeds(budget, 1, 3, 3):
                jobs.append(Job(f"PTB {level} level", group, seed, TrainConfig(
                    task=f"ptb-{level}", model=model, hidden=_pick(budget, 128, 128, 512),
                    layers=_pick(budget, 1, 1, 3),
                    batch=_pick(budget, 32 if is_char else 20, 32 if is_char else 20, 80),
                    bptt=100 if is_char else 35, optimizer="adam", lr=2e-3, grad_clip=0.25,
                    steps=steps, eval_every=max(1, steps // 40),
                    val_tokens=_pick(budget, 20000, 50000, None), seed=seed,
                    # no activation clipping, where the model has any (the vanilla RNN)
                    **({"clip": None} if "clip" in model_spec(model).knobs else {}), **init)))
    return jobs


def orhan_table1(budget: str) -> list[Job]:
    inits = {k: {**v, "activation": "elu"} for k, v in ORHAN_INITS.items()}
    return _lm_jobs(budget, "srnn", inits, ("char", "word"))


def orhan_table3(budget: str) -> list[Job]:
    inits = {"plain": dict(init="plain"), "orthogonal": dict(init="orthogonal"),
             "chain": dict(init="chain", gain=1.0), "mixed": dict(init="mixed", gain=1.02)}
    return _lm_jobs(budget, "lstm", inits, ("char",) if budget != "full" else ("char", "word"))


# ---------------------------------------------------------------- peers (issue: beyond both)

PEER_MODELS = {  # learning rates from each paper; decay and clipping from MODEL_RECIPES
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


def peers_comparison(budget: str) -> list[Job]:
    """Copy in the expRNN/nnRNN setting (L = 1000, first answer at the marker) and psMNIST."""
    L = _pick(budget, 100, 200, 1000)
    panels = [(f"copy L = {L} (expRNN layout)",
               dict(task="copy", T=L, convention="exprnn", batch=_pick(budget, 32, 64, 128),
                    steps=_pick(budget, 600, 2000, 4000))),
              # paper: 1000 steps of 32 (the uRNN and the LSTM cost 4-8x the others here)
              ("psMNIST", dict(task="psmnist", permutation="exprnn",
                               batch=_pick(budget, 32, 32, 128),
                               steps=_pick(budget, 300, 1000, 27000),
                               val_size=_pick(budget, 500, 2000, 10000),
                               train_subset=_pick(budget, 5000, 20000, None)))]
    jobs = []
    for panel, task in panels:
        for group, model in PEER_MODELS.items():
            for seed in _seeds(budget, 1, 3, 3):
                kw = {**task, **model}  # clipping and RMSProp decay: each model's recipe
                if task["task"] == "psmnist":
                    kw.update(PEER_PSMNIST.get(group, {}))
                jobs.append(Job(panel, group, seed, TrainConfig(
                    hidden=_pick(budget, 64, 128, 128), eval_every=max(1, kw["steps"] // 20),
                    seed=seed, **kw)))
    return jobs


def _say(line: str) -> None:
    print(line, flush=True)


def _construct(out, budget, workers):
    from .construct import copy_report, format_grid

    r = copy_report(out, trials=500, figure=True, progress=_say)
    return dict(figures=r["figures"], table=format_grid(r))


def _memory_curves(out, budget, workers):
    from .memory import memory_curves

    r = memory_curves(out)
    rows = ["| network | J_tot |", "|---|---|"] + [
        f"| {k} | {v['J_tot']:.4f} |" for k, v in r["networks"].items()]
    return dict(figures=r["figures"], table="\n".join(rows))


def _decoding_toy(out, budget, workers):
    from .memory import decoding_toy

    r = decoding_toy(out, progress=_say)
    rows = ["| panel | " + " | ".join(r["panels"][0]["r2"]) + " |",
            "|---" * (len(r["panels"][0]["r2"]) + 1) + "|"]
    for p in r["panels"]:
        means = [sum(v) / len(v) for v in p["r2"].values()]
        rows.append(f"| {p['nonlinearity']}, noise {p['noise']} | "
                    + " | ".join(f"{m:.3f}" for m in means) + " |")
    return dict(figures=r["figures"], table="mean held-out R² over lags\n\n" + "\n".join(rows))


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
        r = analyze_runs(dirs, out)
        figures = [e["figure"] for e in r.values()]
        for old in set(out.glob("analysis-*.png")) - {Path(f) for f in figures}:
            old.unlink()  # a run no longer selected (another best grid point): not a result
        rows = ["| run | block | Henrici: init → trained | chain score: init → trained "
                "| trend in i − j: init → trained |", "|---|---|---|---|---|"]
        for name, e in r.items():
            for block, t in e["trained"].items():
                i = e["initial"][block]
                rows.append(f"| {name} | {block} | {i['henrici']:.3f} → {t['henrici']:.3f} | "
                            f"{i['chain_score']:.4f} → {t['chain_score']:.4f} | "
                            f"{i['trend']:+.2f} → {t['trend']:+.2f} |")
        return dict(figures=figures, table="\n".join(rows))

    return run


def _pool_activations(out, budget, workers):
    from .activations import plot_pool_activations

    jobs = [j for j in henaff_fig4(budget) if j.group == "LT-ORNN + l2 pool"
            and j.config.task == "adding"]
    run_dirs = run_experiment_jobs("henaff-fig4", jobs, out.parent / f"henaff-fig4-{budget}",
                                   workers)
    return plot_pool_activations(run_dirs, out)


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
               "J_tot = 1 for normal networks; chains exceed it, up to N", run=_memory_curves),
    Experiment("orhan-fig2", "Orhan & Pitkow 2020", "Fig. 2",
               "with noise or a non-linearity, a chain keeps past inputs decodable longer than "
               "an orthogonal network", run=_decoding_toy),
    Experiment("orhan-fig3", "Orhan & Pitkow 2020", "Fig. 3",
               "chain initializations learn copy, adding and psMNIST better than identity and "
               "orthogonal ones; only chains solve copy", jobs=orhan_fig3),
    Experiment("orhan-fig3-t750", "Orhan & Pitkow 2020", "Fig. 3b at T = 750",
               "on adding at T = 750 the chain initializations learn better than identity and "
               "orthogonal ones", jobs=orhan_fig3_t750),
    Experiment("orhan-table1", "Orhan & Pitkow 2020", "Table 1 and Fig. 4",
               "in vanilla-RNN language models the (feedback) chain inits reach slightly lower "
               "test loss than identity and orthogonal", jobs=orhan_table1),
    Experiment("orhan-table2", "Orhan & Pitkow 2020", "Table 2 and Fig. 5",
               "training makes identity/orthogonal networks non-normal, with hidden chains",
               run=_analysis_of(("orhan-fig3", lambda j: j.group in ("identity", "orthogonal")
                                 and "copy" not in j.panel))),
    Experiment("orhan-table3", "Orhan & Pitkow 2020", "Table 3",
               "LSTM language models: the mixed init is competitive with plain, orthogonal and "
               "chain", jobs=orhan_table3),
    Experiment("peers-comparison", "rnnmem (beyond both papers)", "peer comparison",
               "orthogonal/unitary models (uRNN, expRNN, nnRNN, LT-ORNN) solve copy; gated "
               "and non-normal ones compete on psMNIST", jobs=peers_comparison),
    Experiment("orhan-fig6", "Orhan & Pitkow 2020", "Fig. 6",
               "trained LSTM gates: input/forget/output weights monotone in i−j, a chain in "
               "the cell (update) gate",
               # the LM networks of every init, and LSTMs that learned a memory task
               run=_analysis_of(("orhan-table3", lambda j: True),
                                ("henaff-fig5", lambda j: j.group == "LSTM"))),
]:
    register_experiment(_e.name, _e.jobs, run=_e.run, paper=_e.paper, target=_e.target,
                        claim=_e.claim, curve=_e.curve, _builtin=True)
