"""What a registered name means: the specs of models, tasks and experiments, and the
constants they refer to. Data only, below :mod:`rnnmem.registry`, which holds the tables."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field

# Henaff's recipe (§4.1): RMSProp decay 0.9, activation clipping at norm 1000. A recipe is a
# partial run configuration, laid under what the run gives (config.resolve_options).
HENAFF_RECIPE = dict(optimizer_options=dict(decay=0.9), model_options=dict(clip=1000.0))
DEFAULT_RECIPE = dict(optimizer_options=dict(decay=0.9))  # a plugin's: its own clip, if any
RECIPE_KEYS = ("optimizer", "model_options", "optimizer_options")
# What a layer gets from the harness, never from a run's options: the generator that draws the
# initial weights, and ``fused`` (the benchmark's switch to the per-step reference).
HARNESS_ARGS = ("generator", "fused")
INIT_KINDS = ("recurrent", "input", "gated")
TASK_KINDS = ("sequence", "classification", "language-model")
# The options the harness's readout takes, for the models that have it (Henaff eqs. 2 and 6).
READOUT_BIAS = inspect.Parameter("readout_bias", inspect.Parameter.KEYWORD_ONLY, default=None,
                                 annotation="bool | None")
POOL = inspect.Parameter("pool", inspect.Parameter.KEYWORD_ONLY, default=2, annotation="int")
HELP = {  # what the readout's options mean (a layer's own are documented by the layer)
    "readout_bias": "learned readout bias c, y = W h + c, initialized to 0 (default: yes; "
                    "Henaff eq. 2 writes y = W h, and the ablation in docs/protocol.md finds "
                    "no difference)",
    "pool": "l2 pool size and stride of the readout (Henaff eq. 6)",
}


@dataclass(frozen=True, eq=False)
class ModelSpec:
    """What a model name means to the config, the CLI, the harness and the benchmark.

    ``layer(n_inputs, hidden, **options)`` returns an ``nn.Module`` mapping ``x (T, B,
    n_inputs)`` to all hidden states ``(T, B, H)`` (see :mod:`rnnmem.nn.protocol`). Its keyword
    parameters are the model's options (a run's ``model_options``), with ``defaults`` over the
    signature's; the readout adds ``readout_bias`` (and ``pool`` where ``pooled``).
    """

    name: str
    layer: Callable
    inits: tuple[str, ...] | None  # valid recurrent inits; None: every registered one
    default_init: str | None
    options: dict = field(default_factory=dict)  # option -> inspect.Parameter (layer's own)
    defaults: dict = field(default_factory=dict)  # option -> the model's default over the layer's
    choices: dict = field(default_factory=dict)  # option -> its valid values (or a callable)
    help: dict = field(default_factory=dict)  # option -> what it means (--help)
    harness_args: tuple = ()  # which of HARNESS_ARGS the layer takes
    # check(**layer options): ValueError on a combination the layer refuses, before it is built
    check: Callable | None = None
    state_blocks: int = 1  # hidden-size blocks of state per step (gates; uRNN: Re and Im)
    output_blocks: int = 1  # hidden-size blocks the readout sees (uRNN: [Re h, Im h])
    gemm_blocks: int = 1  # a step's product is (B, H) @ (H, gemm_blocks·H) (gates; complex: 4)
    # an element-wise (diagonal, selective) recurrence: the (T, B, hidden) float32 tensors it
    # must read or write at least, forward and backward together (complex ones count twice);
    # its benchmark bound is then the memory roofline. 0: a step is a matrix product (GEMM)
    scan_traffic: float = 0
    # its whole-sequence products (T·B, H) ↔ (T·B, scan_products·H) (the LRU's dense complex
    # readout: 2): its memory roofline adds their forward and backward time. Products from the
    # task's few inputs are not counted (nor are they in the GEMM roofline)
    scan_products: int = 0
    pooled: bool = False  # Henaff eq. 6's l2-pooled readout: ``pool`` applies
    even_hidden: bool = False  # needs an even hidden size (2×2 rotation blocks)
    language_model: bool = False  # can be the layer of a PTB language model
    # the training recipe of the model's own paper: a partial run configuration
    # (``model_options``, ``optimizer_options``) under what the run gives
    recipe: dict = field(default_factory=lambda: dict(DEFAULT_RECIPE))
    # the readout init of the model's own code, (W, classifier, generator); None: Readout's
    readout_init: Callable | None = None
    kernel: str = "fused scan"  # what runs the recurrence (the benchmark's row)
    reference: str | None = None  # what ``fused=False`` runs instead, if anything (benchmark)
    kernels: dict = field(default_factory=dict)  # benchmark row -> the layer options of each
    # alternative kernel (``kernel`` is the default's row); {}: the one kernel
    builtin: bool = False  # registered by rnnmem itself (benchmarked)
    # what the readout reads: "layer", the bare recurrent layer, or "block", the layer inside
    # its paper's block (normalization, non-linear mixing, residual): tables name it
    form: str = "layer"
    # the fair-comparison protocol's search (docs/protocol.md): option -> candidate values, a
    # tuple of options -> tuples of their values set together, ``lr`` the run's learning rate;
    # or search(group options) -> such a dict. {}: the learning rate around the run's
    search: dict | Callable = field(default_factory=dict)

    def all_options(self, task_kind: str | None = None) -> dict:
        """option -> inspect.Parameter: the layer's, then the readout's (none under a language
        model, whose decoder is its own), each default the model's own."""
        options = dict(self.options)
        if task_kind != "language-model":
            options["readout_bias"] = READOUT_BIAS
            if self.pooled:
                options["pool"] = POOL
        return {k: p.replace(default=self.defaults[k]) if k in self.defaults else p
                for k, p in options.items()}


@dataclass(frozen=True, eq=False)
class TaskSpec:
    """What a task name means: how its task object is built, and how it is trained.

    ``kind``: ``sequence`` (a target per step or at the end, drawn fresh each step),
    ``classification`` (one label per sequence: the peers' own classifier readouts) or
    ``language-model`` (a token stream, trained with truncated BPTT). ``task(**options)``
    returns the task object; ``options``: its keyword parameters (a run's ``task_options``),
    with ``defaults`` over the signature's.
    """

    name: str
    task: Callable
    kind: str = "sequence"
    options: dict = field(default_factory=dict)  # option -> inspect.Parameter
    defaults: dict = field(default_factory=dict)
    check: Callable | None = None  # check(**options): ValueError on bad ones; default: build
    # defaults this task gives the options of any model that has them (Henaff §3.2.1: the
    # LT-RNN's σ is ReLU on adding), under what the run gives
    model_defaults: dict = field(default_factory=dict)
    help: dict = field(default_factory=dict)  # option -> what it means (--help)
    label: Callable | None = None  # label(task options) -> e.g. "copy T = 100" (figures)
    # lines(task options) -> [(val loss / chance, label)]: references beside the chance line
    reference_lines: Callable | None = None
    builtin: bool = False

    def all_options(self) -> dict:
        return {k: p.replace(default=self.defaults[k]) if k in self.defaults else p
                for k, p in self.options.items()}

    def build(self, options: dict):
        """The task object of a run's (resolved) ``task_options``."""
        return self.task(**options)

    def validate(self, options: dict) -> None:
        (self.check or self.task)(**options)


@dataclass(frozen=True)
class Experiment:
    """A comparison that ``rnnmem reproduce NAME`` runs: ``jobs(budget) -> [Job]`` (training
    runs, drawn and tabulated by reproduce), or ``run(out_dir, budget, workers) ->
    dict(figures, result)`` for anything else, whose Markdown ``table(result)`` makes (or
    ``dict(figures, table)``). ``plugin``: the plugin that registered it (its report's command
    names it). ``computed``: its report is computed from nothing trained or committed (a
    construction, the linear theory): ``rnnmem report --check`` computes it again. ``reads``:
    the experiments whose trained runs its ``run`` analyses (their weights); where those runs'
    weights are committed beside them, ``rnnmem report --check`` computes it again from them."""

    name: str
    paper: str
    target: str
    claim: str
    jobs: Callable | None = None
    run: Callable | None = None
    curve: str = "val_ratio"
    plugin: str | None = None
    table: Callable | None = None
    computed: bool = False
    reads: tuple[str, ...] = ()
