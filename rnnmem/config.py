"""The configuration of a training run: :class:`TrainConfig`, and the task and model it names.

A run configuration holds run-level settings only; every other option belongs to the class
that takes it: ``task_options`` are the registered task's keywords (copy's ``T``, ``S``, ``K``;
psMNIST's ``permutation``), ``model_options`` the registered layer's (the LT-RNN's ``init``,
``gain``, ``clip``; the LSTM's ``bias``) plus its readout's, ``optimizer_options`` the
optimizer's (RMSProp's ``decay`` and ``eps``). :func:`resolve_options` lays each model's recipe
(its paper's settings) and the task's defaults under what the run gives, in one place, and the
resolved values are what config.json records. Invalid values raise ValueError with one line
naming the value and what is allowed.

Example:
    >>> c = TrainConfig(task="adding", model="lt-rnn", T=200, init="identity")
    >>> c.task_options["T"], c.model_options["input_activation"], c.model_options["clip"]
    (200, 'relu', 1000.0)
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import typing
from dataclasses import dataclass, field

from .device import check_device, resolve_device
from .hints import admits_none, as_float, check_type, plain_hint, takes_float
from .init import default_gain
from .registry import (
    DEFAULT_MODEL,
    DEFAULT_TASK,
    model_names,
    model_spec,
    model_specs,
    reserve_option_names,
    task_names,
    task_spec,
    task_specs,
    valid_inits,
)

# Each optimizer's options, with its own defaults (torch's); a model's recipe sets its paper's.
OPTIMIZERS = {"rmsprop": dict(decay=0.99, eps=1e-8), "adam": {},
              "adamw": dict(weight_decay=0.01)}
OPTIMIZER_HELP = {"decay": "RMSProp's decay ρ (torch's alpha; the recipe's: 0.9, Henaff §4.1; "
                           "0.99 for exprnn and nnrnn)",
                  "eps": "RMSProp's ε",
                  "weight_decay": "AdamW's decoupled weight decay (the LRU's recipe: 0.05; a "
                                  "layer's own parameter groups may set theirs)"}


def default_optimizer(model) -> str:
    """The optimizer of a model's recipe (the LRU's: AdamW), else RMSProp (Henaff §4.1)."""
    try:
        return model_spec(str(model)).recipe.get("optimizer", "rmsprop")
    except ValueError:  # an unknown model: validate() says so
        return "rmsprop"
READOUT_OPTIONS = ("readout_bias", "pool")  # what the harness's readout takes, not the layer
# An initializer's scale defaults to the initializer's own (torch.nn.init style): the pairs of
# (init option, scale option, init kind) that resolve_options fills in.
INIT_SCALES = (("init", "gain", None), ("input_init", "input_gain", "input"))


def _opt(help, **kw):
    """A field with its help text (a callable for a text that lists registered names)."""
    return field(metadata={"help": help}, **kw)


@dataclass(init=False)
class TrainConfig:
    """Everything that defines a training run. Invalid values raise ValueError.

    Keywords other than the fields are options of the chosen task, model or optimizer, routed
    to ``task_options``, ``model_options`` or ``optimizer_options`` by the signature that takes
    them (``TrainConfig(task="copy", T=200, init="identity")``).
    """

    task: str = _opt(lambda: f"one of {', '.join(task_names())}",
                     default_factory=lambda: DEFAULT_TASK)
    task_options: dict = _opt("the task's options (its flags: rnnmem train --task TASK --help)",
                              default_factory=dict)
    model: str = _opt(lambda: f"one of {', '.join(model_names())}",
                      default_factory=lambda: DEFAULT_MODEL)
    model_options: dict = _opt("the model's options (its flags: rnnmem train --model M --help)",
                               default_factory=dict)
    hidden: int = _opt("hidden units", default=80)
    optimizer: str = _opt(lambda: f"one of {', '.join(OPTIMIZERS)} (default: the model's "
                          "recipe's: rmsprop, Henaff §4.1; adamw for the lru)",
                          default="rmsprop")
    optimizer_options: dict = _opt("the optimizer's options", default_factory=dict)
    lr: float = _opt("learning rate", default=1e-4)
    grad_clip: float | None = _opt("gradient-norm clipping (none to disable)", default=None)
    batch: int = _opt("sequences per step", default=50)
    steps: int = _opt("training steps", default=2000)
    eval_every: int = _opt("steps between evaluations", default=100)
    val_size: int = _opt("held-out sequences per evaluation", default=500)
    stop_ratio: float | None = _opt("stop once val loss < stop_ratio × chance baseline",
                                    default=None)
    explosion: float | None = _opt("also count a training loss above explosion × chance as "
                                   "divergence (default: only a non-finite training loss "
                                   "diverges; the papers clip activations and train on)",
                                   default=None)
    final_evals: int = _opt("the final figure of a run is the median of its last k "
                            "evaluations, or of all in a run with fewer (robust to one loss spike)",
                            default=5)
    seed: int = _opt("seed of the initialization and the training batches", default=0)
    threads: int = _opt("intra-op threads of the run (the sum order of a product depends on "
                        "it, so it is part of what makes a run's numbers)", default=1)
    device: str = _opt("where the run computes: auto (cuda, else mps, else cpu: recorded as the "
                       "one it picks), cpu, cuda, cuda:N or mps; random numbers are drawn on "
                       "the CPU on every device, so a run's initial weights and data do not "
                       "depend on it (its arithmetic does: docs/reliability.md)", default="cpu")

    def __init__(self, **values):
        fields = {f.name: f for f in dataclasses.fields(self)}
        flat = {k: values.pop(k) for k in list(values) if k not in fields}
        if "optimizer" not in values:  # not given: the model's recipe's
            values["optimizer"] = default_optimizer(values.get("model", DEFAULT_MODEL))
        for name, f in fields.items():
            value = values[name] if name in values else (
                f.default_factory() if f.default is dataclasses.MISSING else f.default)
            check_type(name, value, field_types()[name])  # a config file: anything
            if type(value) is int and takes_float(field_types()[name]):
                value = as_float(name, value)  # a JSON integer in a float field
            setattr(self, name, dict(value) if isinstance(value, dict) else value)
        self.device = resolve_device(self.device)  # auto: the device it picks, recorded
        self.task_options, self.model_options, self.optimizer_options = route_options(
            self.task, self.model, self.optimizer, flat, self.task_options,
            self.model_options, self.optimizer_options)
        resolve_options(self)
        self.validate()

    def validate(self) -> None:
        for f in dataclasses.fields(self):  # types first
            check_type(f.name, getattr(self, f.name), field_types()[f.name])
        check_seed(self.seed)
        check_device(self.device)
        for name in ("hidden", "batch", "steps", "eval_every", "val_size", "final_evals",
                     "threads"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.threads > MAX_THREADS:
            raise ValueError(f"threads must be at most {MAX_THREADS}, got {self.threads}")
        if self.steps > MAX_STEPS:  # a run that cannot end: refused, not started
            raise ValueError(f"steps must be at most {MAX_STEPS:.0e}, got {self.steps}")
        for owner, values in (("", vars(self)), ("model option ", self.model_options),
                              ("task option ", self.task_options),
                              ("optimizer option ", self.optimizer_options)):
            for name, value in values.items():
                if isinstance(value, float) and not math.isfinite(value):
                    raise ValueError(f"{owner}{name} must be a finite number, got {value!r}")
                if isinstance(value, float) and abs(value) > FLOAT32_MAX:  # computed in float32
                    raise ValueError(f"{owner}{name} must be within float32's range "
                                     f"(|x| <= 3.4e38), got {value!r}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr!r}")
        for name in ("grad_clip", "stop_ratio", "explosion"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be > 0 or none, got {value!r}")
        opt = self.optimizer_options
        if "decay" in opt and not 0 <= opt["decay"] < 1:
            raise ValueError(f"optimizer option decay must be in [0, 1), got {opt['decay']!r}")
        if "eps" in opt and not opt["eps"] > 0:
            raise ValueError(f"optimizer option eps must be > 0, got {opt['eps']!r}")
        task, spec = task_spec(self.task), model_spec(self.model)
        check_model_options(spec, self.model_options, self.hidden, task.kind)
        if task.kind == "language-model" and not spec.language_model:
            raise ValueError("language models take " + ", ".join(
                m for m, s in model_specs().items() if s.language_model)
                + f" layers, not {self.model}")
        task.validate(self.task_options)  # the task checks its own options, without data

    @property
    def task_kind(self) -> str:
        """The registered kind of the task: sequence, classification or language-model."""
        return task_spec(self.task).kind

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def flat(self) -> dict:
        """Every setting by name, the options beside the run-level fields (labels, tables)."""
        run = {k: v for k, v in self.to_dict().items() if not k.endswith("_options")}
        return {**self.task_options, **self.optimizer_options, **self.model_options, **run}

    def code_record(self) -> dict:
        """The code a run of this config uses now (:func:`rnnmem.provenance.code_record`)."""
        from .provenance import code_record

        return code_record(self)

    def matches(self, saved) -> bool:
        """Whether a saved config.json (a dict, of this or an earlier version: see
        :func:`from_legacy`) describes this config."""
        try:
            other = TrainConfig.from_dict(saved) if isinstance(saved, dict) else None
        except (TypeError, ValueError):
            return False
        return other is not None and other == self

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        """A config.json's config: this version's, or an earlier flat one (:func:`from_legacy`).
        As a config file is on the command line, one that gives an option twice (``"T": 5`` and
        ``"task_options": {"T": 6}``) is refused (:func:`check_given_once`); the constructor
        lets a flat keyword override the nested one."""
        if not isinstance(values, dict):
            raise ValueError(f"a config must be a JSON object, got {values!r}")
        if is_legacy(values):
            return from_legacy(values)
        check_given_once(values)
        return cls(**values)


def check_given_once(values: dict) -> None:
    """ValueError if a config dict gives an option both by name and in its owner's
    ``*_options`` with different values: which one was meant is ambiguous."""
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    flat = {k: v for k, v in values.items() if k not in fields}
    for owner in ("task", "model", "optimizer"):
        nested = values.get(f"{owner}_options")
        twice = [k for k in flat if isinstance(nested, dict) and k in nested
                 and nested[k] != flat[k]]
        if twice:
            raise ValueError(f"{twice[0]!r} is given twice, {flat[twice[0]]!r} and "
                             f"{nested[twice[0]]!r} in {owner}_options; give it once")


MAX_THREADS = 256
MAX_STEPS = 10**9  # about a month of the fastest run here at ~1 ms a step: beyond, a typo
FLOAT32_MAX = 3.4028234663852886e38  # the weights, data and optimizer are float32
MAX_SEED = 2**63 - 2  # seed + 2 seeds a torch.Generator (int64)


def check_seed(seed: int) -> None:
    """Seeds of every command: [0, MAX_SEED)."""
    if not 0 <= seed < MAX_SEED:
        raise ValueError(f"seed must be in [0, 2^63 - 2), got {seed!r}")


# ---------------------------------------------------------------------------- options

def option_parameters(task: str, model: str, optimizer: str) -> tuple[dict, dict, dict]:
    """The options (name -> inspect.Parameter) of a task, a model on it, and an optimizer."""
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}; got {optimizer!r}")
    tspec, mspec = task_spec(task), model_spec(model)
    return (tspec.all_options(), mspec.all_options(tspec.kind),
            {k: _parameter(k, v) for k, v in OPTIMIZERS[optimizer].items()})


def route_options(task: str, model: str, optimizer: str, flat: dict, task_options: dict,
                  model_options: dict, optimizer_options: dict, lenient: bool = False):
    """(task, model, optimizer options): ``flat`` keywords sent to the signature that takes
    them. ``lenient``: drop a keyword nobody takes (an earlier version's inert setting)."""
    parameters = option_parameters(task, model, optimizer)
    takers = tuple(zip(("task", "model", "optimizer"), parameters,
                       (task_options, model_options, optimizer_options), strict=True))
    routed = {what: dict(given) for what, _, given in takers}
    for key, value in flat.items():
        owners = [what for what, options, _ in takers if key in options]
        if len(owners) > 1:
            raise ValueError(f"{key!r} is an option of the {' and the '.join(owners)}; give it "
                             f"in {owners[0]}_options or {owners[1]}_options")
        if owners:
            routed[owners[0]][key] = value
        elif not lenient:
            raise ValueError(
                f"{key!r} is not a run setting nor an option of task {task}, model {model} or "
                f"optimizer {optimizer}; their options: "
                + "; ".join(f"{what}: {', '.join(options) or 'none'}"
                            for what, options, _ in takers))
    return routed["task"], routed["model"], routed["optimizer"]


def resolve_options(config: TrainConfig) -> None:
    """The one place a run's options get their defaults, later ones winning: the signature's,
    the model's own (its registration's ``defaults``, e.g. its default init), its paper's recipe,
    the task's defaults for models (``model_defaults``: ReLU σ on adding), what the run gives;
    then an initializer's scale, where none is given, is the initializer's own."""
    tspec, spec = task_spec(config.task), model_spec(config.model)
    check_options(config.task_options, tspec.all_options(), f"task {config.task}")
    config.task_options = {**_defaults(tspec.all_options()), **config.task_options}

    options = spec.all_options(tspec.kind)
    given = check_options(config.model_options, options, f"model {config.model}")
    values = _defaults(options)
    values.update({k: v for k, v in spec.recipe.get("model_options", {}).items() if k in options})
    values.update({k: v for k, v in tspec.model_defaults.items() if k in options})
    values.update(given)
    for init, scale, kind in INIT_SCALES:
        if scale not in options or not isinstance(values.get(init), str):
            continue
        own = default_gain(values[init], kind)
        if given.get(scale) is None:
            values[scale] = own if own is not None or kind is None else 1.0
        elif own is None and kind is None:
            if given[scale] not in (None, 1.0):
                raise ValueError(f"{scale} applies to a scaled recurrent init, not to "
                                 f"{config.model} with init {values[init]}")
            values[scale] = None  # 1.0 was the former default, written in older config files
    config.model_options = values

    own = OPTIMIZERS[config.optimizer]
    given = check_options(config.optimizer_options, {k: _parameter(k, v) for k, v in own.items()},
                          f"optimizer {config.optimizer}")
    recipe = {k: v for k, v in spec.recipe.get("optimizer_options", {}).items() if k in own}
    config.optimizer_options = {**own, **recipe, **given}


def _defaults(options: dict) -> dict:
    return {k: p.default for k, p in options.items() if p.default is not inspect.Parameter.empty}


def _parameter(name: str, default) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default,
                             annotation=type(default).__name__)


def check_model_options(spec, values: dict, hidden: int, task_kind: str | None = None) -> None:
    """What the harness checks of a model's resolved options before building it: the init is
    one the model takes, each option with ``choices`` holds one, the readout's pool divides
    ``hidden``, and the model's own ``check`` (its registration's) of the layer's options."""
    inits = valid_inits(spec)
    if "init" in values and inits and not isinstance(values["init"], str):
        raise ValueError(f"init must be the name of an initializer, got {values['init']!r}")
    if "init" in values and isinstance(values["init"], str) and values["init"] not in inits:
        raise ValueError(f"unknown init {values['init']!r} for {spec.name}; valid: "
                         f"{', '.join(inits)}")
    for name, choices in spec.choices.items():
        choices = choices() if callable(choices) else choices
        if name in values and values[name] not in choices:
            raise ValueError(f"{name} {values[name]!r} is not valid for {spec.name}; valid: "
                             f"{', '.join(map(str, choices))}")
    if spec.pooled:
        pool = values.get("pool")
        if isinstance(pool, bool) or not isinstance(pool, int) or pool < 1:
            raise ValueError(f"pool must be a positive integer, got {pool!r}")
        if hidden % pool:
            raise ValueError(f"hidden ({hidden}) must be divisible by pool ({pool})")
    if spec.even_hidden and hidden % 2:
        raise ValueError(f"{spec.name} needs an even hidden size, got {hidden}")
    if spec.check is not None:
        spec.check(**{k: v for k, v in values.items() if k not in READOUT_OPTIONS})


def run_level_fields() -> set[str]:
    """The names an option may not take: the run configuration's own fields."""
    return {f.name for f in dataclasses.fields(TrainConfig)}


reserve_option_names(run_level_fields())


def check_options(values, options: dict, owner: str) -> dict:
    """``values`` (a dict) if it sets only keywords of ``options`` (name -> inspect.Parameter),
    every required one, each of its annotated type where that is a plain one (int, float, str,
    bool, or an optional of those); integers in a float option are returned as floats."""
    if not isinstance(values, dict):
        raise ValueError(f"options of {owner} must be a JSON object, got {values!r}")
    valid = ", ".join(options) or "none"
    for key in values:
        if key not in options:
            raise ValueError(f"{owner} has no option {key!r}; valid: {valid}")
    checked = dict(values)
    for name, p in options.items():
        if name not in values:
            if p.default is inspect.Parameter.empty:
                raise ValueError(f"{owner} needs its option {name!r}")
            continue
        hint = plain_hint(p.annotation)
        if hint is not None:
            check_type(f"{owner}: {name}", values[name], hint)
            if type(values[name]) is int and takes_float(hint):
                checked[name] = as_float(name, values[name])
    return checked


# ---------------------------------------------------------------------------- earlier versions

# The flat config.json of rnnmem before options moved to their classes (main 5c0d317 and
# earlier): its option names that were renamed to the class's own.
LEGACY_RENAMES = {"ortho_lr": "penalty_lr", "ortho_points": "penalty_points",
                  "gate_bias": "bias", "rms_decay": "decay", "rms_eps": "eps"}
LEGACY_FIELDS = ("T", "S", "K", "convention", "placement", "channels", "permutation",
                 "data_dir", "train_subset", "bptt", "layers", "embedding", "val_tokens", "init",
                 "gain", "feedback", "input_init", "input_gain", "input_bias", "gate_bias",
                 "readout_bias", "activation", "pool", "clip", "lr_orth", "t_decay",
                 "gamma_penalty", "rms_decay", "rms_eps", "ortho_lr", "ortho_points")


def is_legacy(values: dict) -> bool:
    """Whether a config.json is of the flat layout (it records ``rms_decay`` at top level)."""
    return "rms_decay" in values and "optimizer_options" not in values


def from_legacy(values: dict) -> TrainConfig:
    """An earlier version's flat config.json as this version's config: each option goes to the
    class that takes it (under its new name: ``ortho_lr`` → ``penalty_lr``, the LSTM's
    ``gate_bias`` → ``bias``, the LT-RNN's ``activation`` → ``input_activation``); the settings
    that acted on no part of the run (another model's or task's) are dropped, as they were
    ignored; None, the old "default", is dropped where the option cannot be None."""
    run = {k: v for k, v in values.items() if k not in LEGACY_FIELDS}
    flat = {LEGACY_RENAMES.get(k, k): v for k, v in values.items() if k in LEGACY_FIELDS}
    spec = model_spec(str(run.get("model", DEFAULT_MODEL)))
    if "activation" in flat and "activation" not in spec.options:
        flat["input_activation"] = flat.pop("activation")  # the LT-RNN's σ
    tspec = task_spec(str(run.get("task", DEFAULT_TASK)))
    taken = {**tspec.all_options(), **spec.all_options(tspec.kind),
             **{k: _parameter(k, v) for k, v in OPTIMIZERS.get(run.get("optimizer"), {}).items()}}
    for key in list(flat):
        hint = plain_hint(taken[key].annotation) if key in taken else None
        if key not in taken or flat[key] is None and hint is not None and not admits_none(hint):
            del flat[key]
    task_options, model_options, optimizer_options = route_options(
        run.pop("task", DEFAULT_TASK), run.pop("model", DEFAULT_MODEL),
        run.get("optimizer", "rmsprop"), flat, run.pop("task_options", {}) or {},
        run.pop("model_options", {}) or {}, {}, lenient=True)
    return TrainConfig(task=tspec.name, model=spec.name, task_options=task_options,
                       model_options=model_options, optimizer_options=optimizer_options, **run)


def saved_options(config: dict, what: str) -> dict:
    """The ``task`` or ``model`` options a saved config.json (any version) records, without
    building anything (a figure's label); a flat one's are its top-level keys."""
    if is_legacy(config):
        return {**config, **(config.get(f"{what}_options") or {})}
    options = config.get(f"{what}_options")
    return options if isinstance(options, dict) else {}


def task_label(config: dict) -> str:
    """How figures name a run's task (``config``: a run's config.json): its registration's
    label, else the name."""
    spec = task_specs().get(config.get("task"))
    if spec is None or spec.label is None:
        return str(config.get("task"))
    return spec.label(saved_options(config, "task"))


@functools.cache
def field_types() -> dict:
    """TrainConfig's field -> its type hint."""
    return typing.get_type_hints(TrainConfig)
