"""The public registry: models, initializers and tasks by name.

One path for everything: the built-in models (``rnnmem/nn``), initializers (``rnnmem/init.py``)
and tasks (``rnnmem/tasks.py``, ``rnnmem/data``) register through the same three calls a
user's plugin makes, and every list of valid names (validation, ``--help``, defaults) is read
from here when it is needed, never copied at import time.

Example (a plugin; docs/extending.md has the whole walk-through):
    >>> import rnnmem
    >>> rnnmem.register_model("my-cell", MyCell, default_init="orthogonal")  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field

# Henaff's recipe (§4.1): RMSProp decay 0.9, activation clipping at norm 1000.
HENAFF_RECIPE = dict(rms_decay=0.9, clip=1000.0)
# What a registered layer gets from the harness when its signature names it: the run's
# recurrent init and its scale, and the generator that draws the initial weights.
HARNESS_ARGS = ("init", "gain", "generator")
INIT_KINDS = ("recurrent", "input", "gated")
TASK_KINDS = ("sequence", "classification", "language-model")


@dataclass(frozen=True, eq=False)
class ModelSpec:
    """What a model name means to the config, the CLI, the harness and the benchmark.

    ``layer(n_inputs, hidden, **keywords)`` returns an ``nn.Module`` mapping ``x (T, B,
    n_inputs)`` to all hidden states ``(T, B, H)`` (see :mod:`rnnmem.nn.protocol`).
    """

    name: str
    layer: Callable
    layer_args: dict  # the harness's knob -> the layer's keyword, for the knobs it takes
    inits: tuple[str, ...] | None  # valid recurrent inits; None: every registered one
    default_init: str | None
    options: dict = field(default_factory=dict)  # the layer's own keywords: model_options
    # the sRNN's φ or the LT-RNN's σ, the first is the default; (None,): the layer's own
    activations: tuple = (None,)
    # takes the task's input non-linearity when none is given (the LT-RNN's σ: TaskSpec)
    task_activation: bool = False
    scaled_init: bool = True  # its inits take a scale: ``gain`` applies
    input_bias: bool = False  # an input bias b whose start ``input_bias`` sets
    state_blocks: int = 1  # hidden-size blocks of state per step (gates; uRNN: Re and Im)
    output_blocks: int = 1  # hidden-size blocks the readout sees (uRNN: [Re h, Im h])
    gemm_blocks: int = 1  # a step's product is (B, H) @ (H, gemm_blocks·H) (gates; complex: 4)
    gate_bias: bool = False  # ``gate_bias`` applies (the LSTM's gate biases)
    pooled: bool = False  # Henaff eq. 6's l2-pooled readout: ``pool`` applies
    even_hidden: bool = False  # needs an even hidden size (2×2 rotation blocks)
    language_model: bool = False  # can be the layer of a PTB language model
    # options with a default that act on this model only: given explicitly for any other model
    # they are an error (see config.check_given)
    knobs: frozenset = frozenset()
    # the optimizer recipe of the model's own paper (TrainConfig takes it unless given)
    recipe: dict = field(default_factory=lambda: dict(HENAFF_RECIPE))
    # the readout init of the model's own code, (W, classifier, generator); None: Readout's
    readout_init: Callable | None = None
    kernel: str = "fused scan"  # what runs the recurrence (the benchmark's row)
    reference: str | None = None  # what ``fused=False`` runs instead, if anything (benchmark)
    builtin: bool = False  # registered by rnnmem itself (benchmarked)

    def valid_inits(self) -> tuple[str, ...]:
        """The recurrent inits this model takes, its default first."""
        names = self.inits if self.inits is not None else tuple(init_names("recurrent"))
        if self.default_init is None or self.default_init not in names:
            return names
        return (self.default_init, *[n for n in names if n != self.default_init])


@dataclass(frozen=True, eq=False)
class TaskSpec:
    """What a task name means: how its task object is built, and how it is trained.

    ``kind``: ``sequence`` (a target per step or at the end, drawn fresh each step),
    ``classification`` (one label per sequence: the peers' own classifier readouts) or
    ``language-model`` (a token stream, trained with truncated BPTT). ``build(config)`` returns
    the task object; ``options``: the keywords of a plugin task's class (``task_options``).
    """

    name: str
    build: Callable
    task: Callable | None = None  # a plugin's task class; None for a built-in's build
    kind: str = "sequence"
    options: dict = field(default_factory=dict)
    check: Callable | None = None  # check(config): ValueError on bad options; default: build
    # the σ of a model with an input non-linearity (task_activation) when the run gives none
    input_activation: str | None = None
    label: Callable | None = None  # label(config dict) -> e.g. "copy T = 100" (figures)
    # lines(config dict) -> [(val loss / chance, label)]: references beside the chance line
    reference_lines: Callable | None = None
    builtin: bool = False

    def validate(self, config) -> None:
        (self.check or self.build)(config)


_MODELS: dict[str, ModelSpec] = {}
_INITS: dict[str, dict[str, Callable]] = {kind: {} for kind in INIT_KINDS}
_TASKS: dict[str, TaskSpec] = {}
_BUILTIN_MODULES = ("rnnmem.init", "rnnmem.nn", "rnnmem.tasks", "rnnmem.data.mnist",
                    "rnnmem.data.ptb")
_loading = False


def _builtins() -> None:
    """Import the modules that register rnnmem's own models, inits and tasks (once)."""
    global _loading
    if _loading:
        return
    _loading = True
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)


def _check_name(name) -> None:
    if not isinstance(name, str) or not name or name != name.strip() or any(
            c.isspace() or c in "/\\" for c in name):
        raise ValueError(f"a registered name must be a non-empty word without spaces or "
                         f"slashes, got {name!r}")


def _store(table: dict, name: str, entry, same, replace: bool, what: str) -> None:
    _check_name(name)
    if name in table and not replace and not same(table[name]):
        raise ValueError(f"{what} {name!r} is already registered; pass replace=True to "
                         "replace it")
    table[name] = entry


def _keyword_parameters(fn: Callable) -> dict[str, inspect.Parameter]:
    """A callable's keyword parameters after its first two (n_inputs, hidden)."""
    params = list(inspect.signature(fn).parameters.values())
    return {p.name: p for p in params[2:]
            if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}


# ---------------------------------------------------------------------------- models

def register_model(name: str, layer: Callable, *, default_init: str | None = None,
                   inits: tuple[str, ...] | None = None, layer_args: dict | None = None,
                   recipe: dict | None = None, replace: bool = False, _builtin: bool = False,
                   **spec) -> Callable:
    """Register a recurrent layer under ``name``; returns ``layer`` (usable as a decorator's
    body). ``layer(n_inputs, hidden, **keywords) -> nn.Module`` maps ``(T, B, n_inputs)`` to
    ``(T, B, hidden)``.

    The harness passes ``init`` (the run's recurrent init name: ``default_init`` unless the
    run gives one; ``inits`` lists the valid ones, default: every registered recurrent init),
    ``gain`` and ``generator`` where the layer's signature names them; every other keyword of
    the layer is one of its options, set by a run's ``model_options`` and, on the command line,
    by a flag of the same name. ``recipe``: the optimizer settings of the model's own paper
    (``rms_decay``, ``clip``). Further keywords are :class:`ModelSpec` fields (``readout_init``,
    ``state_blocks``, ``language_model``, ...).
    """
    if not callable(layer):
        raise ValueError(f"register_model({name!r}): layer must be callable, got {layer!r}")
    keywords = _keyword_parameters(layer)
    if layer_args is None:  # a plugin: the harness's knobs its signature names, by name
        layer_args = {k: k for k in HARNESS_ARGS if k in keywords}
        options = {k: p for k, p in keywords.items() if k not in layer_args}
        _check_options(name, options, "model")
        spec.setdefault("scaled_init", "gain" in keywords)
        recipe = {**dict(rms_decay=HENAFF_RECIPE["rms_decay"], clip=None), **(recipe or {})}
    else:
        options = {}
        recipe = dict(HENAFF_RECIPE) if recipe is None else {**HENAFF_RECIPE, **recipe}
    if "init" not in layer_args and inits is None:
        inits = ()  # the layer has no init to choose
    entry = ModelSpec(name=name, layer=layer, layer_args=dict(layer_args), inits=inits,
                      default_init=default_init, options=options, recipe=recipe,
                      builtin=_builtin, **spec)
    _store(_MODELS, name, entry, lambda old: old.layer is layer, replace, "model")
    return layer


def _check_options(name: str, options: dict, what: str) -> None:
    from .config import run_level_fields

    taken = sorted(set(options) & run_level_fields())
    if taken:
        raise ValueError(f"register_{what}({name!r}): option {taken[0]!r} has the name of a "
                         f"run setting; rename it")
    for option, p in options.items():
        if p.kind is p.VAR_KEYWORD or p.kind is p.VAR_POSITIONAL:
            raise ValueError(f"register_{what}({name!r}): **{option} is not an option")


def model_names() -> tuple[str, ...]:
    """Every registered model, in registration order (built-ins first)."""
    _builtins()
    return tuple(_MODELS)


def model_spec(name: str) -> ModelSpec:
    """The registered :class:`ModelSpec` of ``name``; ValueError naming the valid ones."""
    _builtins()
    if name not in _MODELS:
        raise ValueError(f"unknown model {name!r}; valid models: {', '.join(_MODELS)} (a "
                         "plugin's model needs --plugin)")
    return _MODELS[name]


def model_specs() -> dict[str, ModelSpec]:
    _builtins()
    return dict(_MODELS)


# ---------------------------------------------------------------------------- inits

def register_init(name: str, fn: Callable | None = None, *, kind: str = "recurrent",
                  replace: bool = False):
    """Register an initializer ``fn(tensor, gain=..., *, generator=None)`` (``torch.nn.init``
    style: fills ``tensor`` in place and returns it) under ``name``.

    ``kind``: ``recurrent`` (a square hidden-to-hidden matrix: every model that takes any
    registered init can use it), ``input`` (input weights, shape (hidden, n_inputs)) or
    ``gated`` (a gated layer's stacked recurrent weights). Usable as a decorator:
    ``@register_init("my-init")``.
    """
    if kind not in INIT_KINDS:
        raise ValueError(f"init kind must be one of {', '.join(INIT_KINDS)}; got {kind!r}")

    def register(fn: Callable) -> Callable:
        if not callable(fn):
            raise ValueError(f"register_init({name!r}): fn must be callable, got {fn!r}")
        _store(_INITS[kind], name, fn, lambda old: old is fn, replace, f"{kind} init")
        return fn

    return register if fn is None else register(fn)


def init_names(kind: str = "recurrent") -> tuple[str, ...]:
    _builtins()
    return tuple(_INITS[kind])


def get_init(name: str, kind: str = "recurrent") -> Callable:
    """The registered initializer ``name`` of ``kind``; ValueError naming the valid ones."""
    _builtins()
    if name not in _INITS[kind]:
        raise ValueError(f"unknown initializer {name!r}; valid names: "
                         f"{', '.join(_INITS[kind])}")
    return _INITS[kind][name]


def find_init(name: str) -> Callable | None:
    """The initializer called ``name`` of any kind (recurrent first), or None."""
    _builtins()
    return next((table[name] for table in _INITS.values() if name in table), None)


# ---------------------------------------------------------------------------- tasks

def register_task(name: str, task: Callable, *, kind: str = "sequence", build=None,
                  check=None, replace: bool = False, _builtin: bool = False,
                  **spec) -> Callable:
    """Register a task class (or factory) under ``name``; returns ``task``.

    ``task(**options)`` builds the task object: ``n_inputs``, ``n_outputs``, ``metric_name``,
    ``sample(batch, generator) -> (x (T, B, n_inputs), target)``, ``loss(output, target)``,
    ``metric(output, target)``, ``baseline()`` and ``solved(val_loss)`` (see
    :class:`rnnmem.tasks.CopyTask`). Its keywords are the task's options, set by a run's
    ``task_options``. ``build(config)``: how a built-in reads its options from the run config
    instead, and ``check(config)`` how it validates them without loading data (default: build
    it). Further keywords are :class:`TaskSpec` fields (``label``, ``reference_lines``,
    ``input_activation``).
    """
    if kind not in TASK_KINDS:
        raise ValueError(f"task kind must be one of {', '.join(TASK_KINDS)}; got {kind!r}")
    options = {}
    if build is None:
        params = inspect.signature(task).parameters.values()
        options = {p.name: p for p in params
                   if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
        _check_options(name, options, "task")

        def build(config, task=task):
            return task(**config.task_options)
    entry = TaskSpec(name=name, build=build, task=task, kind=kind, options=options,
                     check=check, builtin=_builtin, **spec)
    _store(_TASKS, name, entry, lambda old: old.task is task, replace, "task")
    return task


def task_names(kind: str | None = None) -> tuple[str, ...]:
    _builtins()
    return tuple(n for n, s in _TASKS.items() if kind is None or s.kind == kind)


def task_specs() -> dict[str, TaskSpec]:
    _builtins()
    return dict(_TASKS)


def task_label(config: dict) -> str:
    """How figures name a run's task: its registration's label, else the name."""
    spec = task_specs().get(config.get("task"))
    return spec.label(config) if spec is not None and spec.label else str(config.get("task"))


def task_spec(name: str) -> TaskSpec:
    _builtins()
    if name not in _TASKS:
        raise ValueError(f"unknown task {name!r}; valid tasks: {', '.join(_TASKS)} (a "
                         "plugin's task needs --plugin)")
    return _TASKS[name]


# ---------------------------------------------------------------------------- experiments

@dataclass(frozen=True)
class Experiment:
    """A comparison that ``rnnmem reproduce NAME`` runs: ``jobs(budget) -> [Job]`` (training
    runs, drawn and tabulated by reproduce), or ``run(out_dir, budget, workers) ->
    dict(figures, result)`` for anything else, whose Markdown ``table(result)`` makes (or
    ``dict(figures, table)``). ``plugin``: the plugin that registered it (its report's command
    names it)."""

    name: str
    paper: str
    target: str
    claim: str
    jobs: Callable | None = None
    run: Callable | None = None
    curve: str = "val_ratio"
    plugin: str | None = None
    table: Callable | None = None


_EXPERIMENTS: dict[str, Experiment] = {}


def register_experiment(name: str, jobs: Callable | None = None, *, run: Callable | None = None,
                        paper: str = "", target: str = "", claim: str = "",
                        curve: str = "val_ratio", table: Callable | None = None,
                        replace: bool = False, _builtin: bool = False) -> Experiment:
    """Register an experiment for ``rnnmem reproduce [--plugin FILE] NAME``: ``jobs(budget)``
    returns its :class:`~rnnmem.experiments.jobs.Job` s for the budget ``quick``, ``paper`` or
    ``full``; the figure, table and report are made as for a built-in experiment."""
    from .plugins import current

    if (jobs is None) == (run is None):
        raise ValueError(f"register_experiment({name!r}): give exactly one of jobs and run")
    plugin = None if _builtin else current()
    entry = Experiment(name, paper or (f"plugin {plugin}" if plugin else "user"),
                       target or name, claim or name, jobs=jobs, run=run, curve=curve,
                       plugin=plugin, table=table)
    _store(_EXPERIMENTS, name, entry,
           lambda old: (old.jobs, old.run) == (jobs, run), replace, "experiment")
    return entry


def experiments() -> dict[str, Experiment]:
    """The registered experiments by name (the live table: built-ins first)."""
    importlib.import_module("rnnmem.experiments.registry")
    return _EXPERIMENTS
