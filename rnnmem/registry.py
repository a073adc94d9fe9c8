"""The public registry: models, initializers and tasks by name.

One path for everything: the built-in models (``rnnmem/nn``), initializers (``rnnmem/init.py``)
and tasks (``rnnmem/tasks/``, ``rnnmem/data``) register through the same three calls a
user's plugin makes, and every list of valid names (validation, ``--help``, defaults) is read
from here when it is needed, never copied at import time.

Example (a plugin; docs/extending.md has the whole walk-through):
    >>> import rnnmem
    >>> rnnmem.register_model("my-cell", MyCell, default_init="orthogonal")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
from collections.abc import Callable

from .specs import (  # noqa: F401 - the specs and constants, where their registrations are
    DEFAULT_RECIPE,
    HARNESS_ARGS,
    HELP,
    HENAFF_RECIPE,
    INIT_KINDS,
    POOL,
    READOUT_BIAS,
    RECIPE_KEYS,
    TASK_KINDS,
    Experiment,
    ModelSpec,
    TaskSpec,
)

_MODELS: dict[str, ModelSpec] = {}
_INITS: dict[str, dict[str, Callable]] = {kind: {} for kind in INIT_KINDS}
_TASKS: dict[str, TaskSpec] = {}
# Handed from above (the floor names no module above it): the modules whose import registers
# rnnmem's own models, inits and tasks, and its experiments (rnnmem/__init__.py); the names a
# registered option may not take (the run configuration's fields: rnnmem/config.py)
_BUILTIN_MODULES: list[str] = []
_EXPERIMENT_MODULES: list[str] = []
_RESERVED: set[str] = set()
_plugins: list[str] = []  # the plugin being imported now (register_experiment records it)
_loading = False
_OWN: set[tuple[str, str]] = set()  # (what, name) of rnnmem's own registrations
# a run's task and model when it names none (Henaff §4.1's): named, not the first registered,
# which depends on which module a process happened to import first
DEFAULT_TASK, DEFAULT_MODEL = "copy", "lt-rnn"


def declare_builtins(modules=(), experiments=()) -> None:
    """Name the modules whose import registers the built-in models, inits and tasks
    (``modules``) and experiments; each is imported on the first lookup that needs it."""
    _BUILTIN_MODULES.extend(m for m in modules if m not in _BUILTIN_MODULES)
    _EXPERIMENT_MODULES.extend(m for m in experiments if m not in _EXPERIMENT_MODULES)


def reserve_option_names(names) -> None:
    """Refuse ``names`` as a model's or task's option (a run's own settings), from now on and in
    what is registered already."""
    _RESERVED.update(names)
    for what, table in (("model", _MODELS), ("task", _TASKS)):
        for spec in table.values():
            _check_options(spec.name, spec.options, what)


@contextlib.contextmanager
def registering_from(plugin: str):
    """Registrations made inside are ``plugin``'s (an experiment's report names it)."""
    _plugins.append(plugin)
    try:
        yield
    finally:
        _plugins.pop()


def current_plugin() -> str | None:
    """The plugin being imported right now, or None."""
    return _plugins[-1] if _plugins else None


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


def _store(table: dict, name: str, entry, same, replace: bool, what: str,
           builtin: bool) -> None:
    _check_name(name)
    if not builtin:  # the built-ins first: a user's name never shadows one of them
        experiments() if what == "experiment" else _builtins()
        if (what, name) in _OWN:
            raise ValueError(f"{what} {name!r} is one of rnnmem's own and cannot be "
                             "replaced; register yours under another name")
    if name in table and not replace and not same(table[name]):
        raise ValueError(f"{what} {name!r} is already registered; pass replace=True to "
                         "replace it")
    table[name] = entry
    if builtin:
        _OWN.add((what, name))


def _keyword_parameters(fn: Callable, skip: int) -> dict[str, inspect.Parameter]:
    """A callable's keyword parameters after its first ``skip`` (a layer's n_inputs, hidden);
    a class whose ``__init__`` passes ``**kwargs`` on also has its bases' keywords."""
    params = list(inspect.signature(fn).parameters.values())
    found = {p.name: p for p in params[skip:]
             if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
    if inspect.isclass(fn) and any(p.kind is p.VAR_KEYWORD for p in params):
        for base in fn.__mro__[1:]:
            init = base.__dict__.get("__init__")
            if init is None or base is object:
                continue
            base_params = list(inspect.signature(init).parameters.values())[1 + skip:]
            for p in base_params:
                if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD):
                    found.setdefault(p.name, p)
            if not any(p.kind is p.VAR_KEYWORD for p in base_params):
                break
    return found


# ---------------------------------------------------------------------------- models

def register_model(name: str, layer: Callable, *, default_init: str | None = None,
                   inits: tuple[str, ...] | None = None, defaults: dict | None = None,
                   choices: dict | None = None, help: dict | None = None,
                   recipe: dict | None = None, search: dict | Callable | None = None,
                   replace: bool = False, _builtin: bool = False, **spec) -> Callable:
    """Register a recurrent layer under ``name``; returns ``layer`` (usable as a decorator's
    body). ``layer(n_inputs, hidden, **options) -> nn.Module`` maps ``(T, B, n_inputs)`` to
    ``(T, B, hidden)``.

    Every keyword of the layer is one of the model's options (a run's ``model_options``; on the
    command line, a flag of the same name), except ``generator`` (the harness's, which draws
    the initial weights) and ``fused``. ``init`` is the recurrent initializer's name:
    ``default_init`` unless the run gives one, ``inits`` the valid ones (default: every
    registered recurrent init); ``gain`` its scale (default: the init's own). ``defaults``: the
    model's defaults where they differ from the layer's signature; ``choices``: the valid values
    of an option; ``help``: what an option means. ``recipe``: the training settings of the
    model's own paper, a partial run configuration (``model_options``,
    ``optimizer_options``; default: Henaff's RMSProp decay 0.9; the built-ins also clip at
    norm 1000, ``HENAFF_RECIPE``). ``search``: what a fair comparison tunes (its paper's
    per-task knobs): ``{"lr": (1e-4, 3e-4), ("r_min", "r_max"): ((0.0, 1.0), (0.9, 0.999))}``,
    or a function of a run's options returning one (default: the learning rate around the
    run's). Further keywords are :class:`ModelSpec` fields (``readout_init``,
    ``state_blocks``, ``language_model``, ...).
    """
    if not callable(layer):
        raise ValueError(f"register_model({name!r}): layer must be callable, got {layer!r}")
    keywords = _keyword_parameters(layer, 2)
    options = {k: p for k, p in keywords.items() if k not in HARNESS_ARGS}
    spec["harness_args"] = tuple(k for k in HARNESS_ARGS if k in keywords)
    _check_options(name, options, "model")
    defaults = dict(defaults or {})
    if default_init is not None:
        defaults["init"] = default_init
    recipe = DEFAULT_RECIPE if recipe is None else recipe
    unknown = sorted(set(defaults) - set(options) - {"readout_bias", "pool"})
    if unknown:  # a recipe is shared by a family: each model takes the options it has
        raise ValueError(f"register_model({name!r}): defaults names {unknown[0]!r}, which "
                         f"is not an option of the layer")
    if set(recipe) - set(RECIPE_KEYS):
        raise ValueError(f"register_model({name!r}): a recipe sets only "
                         f"{', '.join(RECIPE_KEYS)}")
    if "init" not in options and inits is None:
        inits = ()  # the layer has no init to choose
    if not callable(search):
        search = dict(search or {})
        _check_search(name, search, options)
    # choices and help shared by a family of layers: each keeps those of its own options
    choices = {k: v for k, v in (choices or {}).items() if k in options}
    help = {**HELP, **{k: v for k, v in (help or {}).items() if k in options}}
    entry = ModelSpec(name=name, layer=layer, inits=inits, default_init=default_init,
                      options=options, defaults=defaults, choices=choices, help=help,
                      recipe=recipe, search=search, builtin=_builtin, **spec)
    _store(_MODELS, name, entry, lambda old: old.layer is layer, replace, "model", _builtin)
    return layer


def _check_search(name: str, search: dict, options: dict) -> None:
    """A search names the layer's options (or ``lr``), each with a non-empty tuple of values;
    a tuple of options has a tuple of values per candidate."""
    for key, values in search.items():
        names = key if isinstance(key, tuple) else (key,)
        unknown = [n for n in names if n != "lr" and n not in options]
        if unknown:
            raise ValueError(f"register_model({name!r}): search names {unknown[0]!r}, which is "
                             "not an option of the layer (nor lr)")
        if not isinstance(values, (tuple, list)) or not values or (
                isinstance(key, tuple) and any(
                    not isinstance(v, (tuple, list)) or len(v) != len(key) for v in values)):
            raise ValueError(f"register_model({name!r}): search[{key!r}] must be a non-empty "
                             "tuple of values (of tuples as long as the key, for a tuple key)")


def _check_options(name: str, options: dict, what: str) -> None:
    taken = sorted(set(options) & _RESERVED)
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


def valid_inits(spec: ModelSpec) -> tuple[str, ...]:
    """The recurrent inits the model ``spec`` takes, its default first."""
    if "init" not in spec.options:
        return ()
    names = spec.inits if spec.inits is not None else tuple(init_names("recurrent"))
    if spec.default_init is None or spec.default_init not in names:
        return names
    return (spec.default_init, *[n for n in names if n != spec.default_init])


def model_specs() -> dict[str, ModelSpec]:
    _builtins()
    return dict(_MODELS)


# ---------------------------------------------------------------------------- inits

def register_init(name: str, fn: Callable | None = None, *, kind: str = "recurrent",
                  replace: bool = False, _builtin: bool = False):
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
        _store(_INITS[kind], name, fn, lambda old: old is fn, replace, f"{kind} init",
               _builtin)
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

def register_task(name: str, task: Callable, *, kind: str = "sequence",
                  defaults: dict | None = None, check: Callable | None = None,
                  help: dict | None = None, replace: bool = False, _builtin: bool = False,
                  **spec) -> Callable:
    """Register a task class (or factory) under ``name``; returns ``task``.

    ``task(**options)`` builds the task object: ``n_inputs``, ``n_outputs``, ``metric_name``,
    ``sample(batch, generator) -> (x (T, B, n_inputs), target)``, ``loss(output, target)``,
    ``metric(output, target)``, ``baseline()`` and ``solved(val_loss)`` (see
    :class:`rnnmem.tasks.CopyTask`). Its keywords are the task's options (a run's
    ``task_options``), ``defaults`` over the signature's. ``check(**options)`` validates them
    without loading data (default: build the task). Further keywords are :class:`TaskSpec`
    fields (``label``, ``reference_lines``, ``model_defaults``).
    """
    if kind not in TASK_KINDS:
        raise ValueError(f"task kind must be one of {', '.join(TASK_KINDS)}; got {kind!r}")
    if not callable(task):
        raise ValueError(f"register_task({name!r}): task must be callable, got {task!r}")
    options = _keyword_parameters(task, 0)
    _check_options(name, options, "task")
    unknown = sorted(set(defaults or {}) - set(options))
    if unknown:
        raise ValueError(f"register_task({name!r}): defaults names {unknown[0]!r}, which is "
                         "not an option of the task")
    entry = TaskSpec(name=name, task=task, kind=kind, options=options,
                     defaults=dict(defaults or {}), check=check,
                     help={k: v for k, v in (help or {}).items() if k in options},
                     builtin=_builtin, **spec)
    _store(_TASKS, name, entry, lambda old: old.task is task, replace, "task", _builtin)
    return task


def task_names(kind: str | None = None) -> tuple[str, ...]:
    _builtins()
    return tuple(n for n, s in _TASKS.items() if kind is None or s.kind == kind)


def task_specs() -> dict[str, TaskSpec]:
    _builtins()
    return dict(_TASKS)


def task_spec(name: str) -> TaskSpec:
    _builtins()
    if name not in _TASKS:
        raise ValueError(f"unknown task {name!r}; valid tasks: {', '.join(_TASKS)} (a "
                         "plugin's task needs --plugin)")
    return _TASKS[name]


# ---------------------------------------------------------------------------- experiments

_EXPERIMENTS: dict[str, Experiment] = {}


def register_experiment(name: str, jobs: Callable | None = None, *, run: Callable | None = None,
                        paper: str = "", target: str = "", claim: str = "",
                        curve: str = "val_ratio", table: Callable | None = None,
                        computed: bool = False, reads: tuple[str, ...] = (),
                        replace: bool = False, _builtin: bool = False) -> Experiment:
    """Register an experiment for ``rnnmem reproduce [--plugin FILE] NAME``: ``jobs(budget)``
    returns its :class:`~rnnmem.experiments.jobs.Job` s for the budget ``quick``, ``paper`` or
    ``full``; the figure, table and report are made as for a built-in experiment. ``reads``:
    the experiments whose trained weights ``run`` analyses (see :class:`Experiment`)."""
    if (jobs is None) == (run is None):
        raise ValueError(f"register_experiment({name!r}): give exactly one of jobs and run")
    plugin = None if _builtin else current_plugin()
    entry = Experiment(name, paper or (f"plugin {plugin}" if plugin else "user"),
                       target or name, claim or name, jobs=jobs, run=run, curve=curve,
                       plugin=plugin, table=table, computed=computed, reads=tuple(reads))
    _store(_EXPERIMENTS, name, entry,
           lambda old: (old.jobs, old.run) == (jobs, run), replace, "experiment", _builtin)
    return entry


def experiments() -> dict[str, Experiment]:
    """The registered experiments by name (the live table: built-ins first)."""
    for module in _EXPERIMENT_MODULES:
        importlib.import_module(module)
    return _EXPERIMENTS
