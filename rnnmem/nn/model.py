"""A recurrent layer plus a readout, and :func:`build_model`: a model by name for a task."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from ..init import RECURRENT_INITS
from .cells import INPUT_ACTIVATIONS, LSTM, LSTM_INITS, LTRNN, SRNN, SRNN_ACTIVATIONS
from .peers import EXPRNN_INITS, GRU, GRU_INITS, NNRNN, URNN, ExpRNN
from .readout import Readout

# Henaff's recipe (§4.1): RMSProp decay 0.9, activation clipping at norm 1000.
HENAFF_RECIPE = dict(rms_decay=0.9, clip=1000.0)


# What build_layer's knobs are called by each layer class: the table holds the class itself.
_SCAN_ARGS = {k: k for k in ("init", "gain", "feedback", "input_init", "input_gain",
                             "input_bias", "clip", "fused", "generator")}
_LT_ARGS = {**_SCAN_ARGS, "activation": "input_activation"}  # σ of Henaff eq. 2
_SRNN_ARGS = {**_SCAN_ARGS, "activation": "activation"}  # φ of Henaff eq. 1
_LSTM_ARGS = dict(init="init", gain="gain", gate_bias="bias", generator="generator")
_MODRELU_ARGS = dict(init="init", clip="clip", generator="generator")


def _linear_readout_(W: nn.Linear, generator):
    """nn.Linear's default, U(±1/√H): expRNN 2_mnist.py:82, nnRNN sMNIST.py:110."""
    bound = 1 / math.sqrt(W.in_features)
    W.weight.uniform_(-bound, bound, generator=generator)
    if W.bias is not None:
        W.bias.uniform_(-bound, bound, generator=generator)


def _exprnn_readout_(W: nn.Linear, classifier: bool, generator):
    if classifier:
        return _linear_readout_(W, generator)
    W.weight.normal_(0.0, math.sqrt(2 / W.in_features), generator=generator)  # 1_copying.py:90


def _nnrnn_readout_(W: nn.Linear, classifier: bool, generator):
    if classifier:
        return _linear_readout_(W, generator)
    std = math.sqrt(2 / (W.in_features + W.out_features))  # copytask.py: xavier_normal_
    W.weight.normal_(0.0, std, generator=generator)


@dataclass(frozen=True, eq=False)
class ModelSpec:
    """What a model name means to the config, the CLI, :func:`build_model` and the benchmark;
    one entry each in :data:`MODEL_TABLE`, from which every list of valid values is derived."""

    layer: type[nn.Module]  # layer(n_inputs, hidden, **keywords) -> x (T, B, n) -> h (T, B, H)
    layer_args: dict  # build_layer's knob -> the layer's keyword, for the knobs it takes
    inits: tuple[str, ...]  # valid recurrent inits, the first is the default
    # the sRNN's φ or the LT-RNN's σ, the first is the default; (None,): the layer's own
    activations: tuple = (None,)
    adding_activation: str | None = None  # σ on the adding task when none is given
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


def _first_of(names, default: str) -> tuple[str, ...]:
    return (default, *[k for k in names if k != default])


def _first(default: str) -> tuple[str, ...]:
    return _first_of(RECURRENT_INITS, default)


# the scan models' U and V: input init and scale, activation clipping, the §4.2 penalty on V
_SCAN_KNOBS = frozenset({"input_init", "input_gain", "clip", "ortho_lr", "ortho_points"})
_LT = dict(layer=LTRNN, layer_args=_LT_ARGS, inits=_first("orthogonal"),
           activations=INPUT_ACTIVATIONS, adding_activation="relu",
           input_bias=True)  # Henaff §3.2.1: ReLU σ on adding
_PEER_RECIPE = dict(rms_decay=0.99, clip=None)
MODEL_TABLE: dict[str, ModelSpec] = {
    "lt-rnn": ModelSpec(**_LT, language_model=True, knobs=_SCAN_KNOBS,
                        reference="per-step autograd"),
    "lt-rnn-pool": ModelSpec(**_LT, pooled=True, knobs=_SCAN_KNOBS | {"pool"}),
    "srnn": ModelSpec(SRNN, _SRNN_ARGS, _first("orthogonal"), SRNN_ACTIVATIONS,
                      input_bias=True, language_model=True, knobs=_SCAN_KNOBS,
                      reference="per-step autograd"),
    # Le et al.'s IRNN: an sRNN with ReLU φ and identity V
    "irnn": ModelSpec(SRNN, _SRNN_ARGS, _first("identity"), _first_of(SRNN_ACTIVATIONS, "relu"),
                      input_bias=True, knobs=_SCAN_KNOBS),
    # "plain" takes no scale (default_gain)
    "lstm": ModelSpec(LSTM, _LSTM_ARGS, LSTM_INITS, state_blocks=4, gemm_blocks=4,
                      gate_bias=True, language_model=True, kernel="torch.nn.LSTM"),
    "gru": ModelSpec(GRU, dict(init="init", generator="generator"), GRU_INITS,
                     scaled_init=False, state_blocks=3, gemm_blocks=3, kernel="torch.nn.GRU"),
    # expRNN 1_copying.py:139-140: RMSprop at PyTorch's default decay 0.99, no clipping
    "exprnn": ModelSpec(ExpRNN, _MODRELU_ARGS, EXPRNN_INITS, scaled_init=False,
                        recipe=_PEER_RECIPE, knobs=frozenset({"clip", "lr_orth"}),
                        readout_init=_exprnn_readout_, kernel="fused scan, modReLU"),
    # nnRNN copytask.py --alpha 0.99, no clipping
    "nnrnn": ModelSpec(NNRNN, _MODRELU_ARGS, EXPRNN_INITS, scaled_init=False,
                       even_hidden=True, recipe=_PEER_RECIPE,
                       knobs=frozenset({"clip", "lr_orth", "gamma_penalty", "t_decay"}),
                       readout_init=_nnrnn_readout_, kernel="fused scan, modReLU"),
    # complex products count as 4 real ones: the scan runs on the real form of W (2H × 2H)
    "urnn": ModelSpec(URNN, dict(fused="fused", generator="generator"), ("random",),
                      scaled_init=False, state_blocks=2, output_blocks=2, gemm_blocks=4,
                      kernel="fused scan, complex modReLU", reference="per-step autograd"),
}
MODELS = tuple(MODEL_TABLE)
MODEL_KNOBS = frozenset().union(*(spec.knobs for spec in MODEL_TABLE.values()))
MODEL_INITS = {name: spec.inits for name, spec in MODEL_TABLE.items()}
MODEL_RECIPES = {name: spec.recipe for name, spec in MODEL_TABLE.items()}


class RecurrentNet(nn.Module):
    """``x (T, B, n_inputs) -> (y (T, B, n_outputs), h (T, B, hidden))``."""

    def __init__(self, rnn: nn.Module, readout: Readout):
        super().__init__()
        self.rnn, self.readout = rnn, readout

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.rnn(x)  # (T, B, H)
        return self.readout(h), h

    @property
    def recurrent_weight(self) -> torch.Tensor:
        """The hidden-to-hidden matrix (LSTM/GRU: the stacked gate weights; uRNN: complex)."""
        return self.rnn.recurrent_matrix()


def build_layer(
    name: str,
    n_inputs: int,
    hidden: int,
    *,
    init: str | None = None,
    gain: float | None = 1.0,
    feedback: float | None = None,
    input_init: str = "gaussian",
    input_gain: float = 1.0,
    input_bias: float | None = None,
    gate_bias: bool | None = None,
    activation: str | None = None,
    clip: float | None = None,
    fused: bool = True,
    generator: torch.Generator | None = None,
) -> nn.Module:
    """The recurrent layer of one of :data:`MODELS`: ``x (T, B, n_inputs) -> h (T, B, H)``.

    ``init`` defaults per model (:data:`MODEL_INITS`). ``activation``: the LT-RNN's input
    non-linearity σ (default none) or the sRNN's φ (default tanh; the IRNN's is relu); the
    gated and peer models have their own. ``input_bias``: the initial b of the sRNN/LT-RNN
    (default: the layer's reading, see :meth:`LTRNN.default_input_bias`); ``gate_bias``: the
    LSTM's gate biases (see :class:`LSTM`).
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; valid models: {', '.join(MODELS)}")
    init = init or MODEL_INITS[name][0]
    if isinstance(init, str) and init not in MODEL_INITS[name]:
        raise ValueError(f"unknown init {init!r} for {name}; valid: "
                         f"{', '.join(MODEL_INITS[name])}")
    spec = MODEL_TABLE[name]
    knobs = dict(init=init, gain=gain, feedback=feedback, input_init=input_init,
                 input_gain=input_gain, input_bias=input_bias, gate_bias=gate_bias,
                 activation=activation or spec.activations[0], clip=clip, fused=fused,
                 generator=generator)
    return spec.layer(n_inputs, hidden, **{arg: knobs[k] for k, arg in spec.layer_args.items()})


def build_readout(name: str, hidden: int, n_outputs: int, *, pool: int = 2, bias: bool = True,
                  classifier: bool = False, generator: torch.Generator | None = None) -> Readout:
    """The linear readout of one of :data:`MODELS` (Henaff eq. 2; eq. 6's l2 pool for
    ``lt-rnn-pool``), drawn as the model's own code draws it."""
    spec = MODEL_TABLE[name]
    readout = Readout(spec.output_blocks * hidden, n_outputs, pool=pool if spec.pooled else None,
                      bias=bias, generator=generator)
    if spec.readout_init is not None:  # the peers' own readout inits
        with torch.no_grad():
            spec.readout_init(readout.W, classifier, generator)
    return readout


def build_model(
    name: str,
    n_inputs: int,
    n_outputs: int,
    hidden: int,
    *,
    pool: int = 2,
    readout_bias: bool = True,
    classifier: bool = False,
    generator: torch.Generator | None = None,
    **layer,
) -> RecurrentNet:
    """Build one of :data:`MODELS` with a linear readout; ``layer``: :func:`build_layer`'s knobs.

    ``pool`` is the l2 pool size of ``lt-rnn-pool``; ``readout_bias``: the readout's c (Henaff
    eq. 2 has none). ``classifier``: the task reads one label at its end (MNIST), where the
    peers' own scripts keep PyTorch's Linear readout.

    Example:
        >>> net = build_model("lt-rnn", 10, 10, 80, init="orthogonal", clip=1000.0)
        >>> y, h = net(torch.zeros(120, 50, 10))
    """
    rnn = build_layer(name, n_inputs, hidden, generator=generator, **layer)
    return RecurrentNet(rnn, build_readout(name, hidden, n_outputs, pool=pool, bias=readout_bias,
                                           classifier=classifier, generator=generator))
