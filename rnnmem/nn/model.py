"""A recurrent layer plus a readout, and :func:`build_model`: a model by name for a task."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from ..init import RECURRENT_INITS
from .cells import INPUT_ACTIVATIONS, LSTM, LSTM_INITS, LTRNN, SRNN, SRNN_ACTIVATIONS
from .peers import EXPRNN_INITS, GRU, NNRNN, URNN, ExpRNN
from .readout import Readout

# Henaff's recipe (§4.1): RMSProp decay 0.9, activation clipping at norm 1000.
HENAFF_RECIPE = dict(rms_decay=0.9, clip=1000.0)


@dataclass(frozen=True, eq=False)
class ModelSpec:
    """What a model name means to the config, the CLI and :func:`build_model`; one entry each
    in :data:`MODEL_TABLE`, from which every list of valid values is derived."""

    inits: tuple[str, ...]  # valid recurrent inits, the first is the default
    activations: tuple = (None,)  # the sRNN's φ or the LT-RNN's σ; (None,): the layer's own
    adding_activation: str | None = None  # σ on the adding task when none is given
    scaled_init: bool = True  # its inits take a scale: ``gain`` applies
    input_bias: bool = False  # an input bias b whose start ``input_bias`` sets
    state_blocks: int = 1  # hidden-size blocks per step (gates; uRNN: real and imaginary)
    gate_bias: bool = False  # ``gate_bias`` applies (the LSTM's gate biases)
    pooled: bool = False  # Henaff eq. 6's l2-pooled readout: ``pool`` applies
    even_hidden: bool = False  # needs an even hidden size (2×2 rotation blocks)
    language_model: bool = False  # can be the layer of a PTB language model
    # options with a default that act on this model only: given explicitly for any other model
    # they are an error (see config.check_given)
    knobs: frozenset = frozenset()
    # the optimizer recipe of the model's own paper (TrainConfig takes it unless given)
    recipe: dict = field(default_factory=lambda: dict(HENAFF_RECIPE))


def _first(default: str) -> tuple[str, ...]:
    return (default, *[k for k in RECURRENT_INITS if k != default])


# the scan models' U and V: input init and scale, activation clipping, the §4.2 penalty on V
_SCAN_KNOBS = frozenset({"input_init", "input_gain", "clip", "ortho_lr", "ortho_points"})
_LT = dict(inits=_first("orthogonal"), activations=INPUT_ACTIVATIONS,
           adding_activation="relu", input_bias=True)  # Henaff §3.2.1: ReLU σ on adding
_PEER_RECIPE = dict(rms_decay=0.99, clip=None)
MODEL_TABLE: dict[str, ModelSpec] = {
    "lt-rnn": ModelSpec(**_LT, language_model=True, knobs=_SCAN_KNOBS),
    "lt-rnn-pool": ModelSpec(**_LT, pooled=True, knobs=_SCAN_KNOBS | {"pool"}),
    "srnn": ModelSpec(_first("orthogonal"), SRNN_ACTIVATIONS, input_bias=True,
                      language_model=True, knobs=_SCAN_KNOBS),
    "irnn": ModelSpec(_first("identity"), SRNN_ACTIVATIONS, input_bias=True, knobs=_SCAN_KNOBS),
    # "plain" takes no scale (default_gain)
    "lstm": ModelSpec(LSTM_INITS, state_blocks=4, gate_bias=True, language_model=True),
    "gru": ModelSpec(("plain", "orthogonal"), scaled_init=False, state_blocks=3),
    # expRNN 1_copying.py:139-140: RMSprop at PyTorch's default decay 0.99, no clipping
    "exprnn": ModelSpec(EXPRNN_INITS, scaled_init=False, recipe=_PEER_RECIPE,
                        knobs=frozenset({"clip", "lr_orth"})),
    # nnRNN copytask.py --alpha 0.99, no clipping
    "nnrnn": ModelSpec(EXPRNN_INITS, scaled_init=False, even_hidden=True, recipe=_PEER_RECIPE,
                       knobs=frozenset({"clip", "lr_orth", "gamma_penalty", "t_decay"})),
    "urnn": ModelSpec(("random",), scaled_init=False, state_blocks=2),
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
    common = dict(init=init, gain=gain, feedback=feedback, input_init=input_init,
                  input_gain=input_gain, input_bias=input_bias, clip=clip, fused=fused,
                  generator=generator)
    if name == "lstm":
        return LSTM(n_inputs, hidden, init=init, gain=gain, bias=gate_bias, generator=generator)
    if name == "gru":
        return GRU(n_inputs, hidden, init=init, generator=generator)
    if name == "exprnn":
        return ExpRNN(n_inputs, hidden, init=init, clip=clip, generator=generator)
    if name == "nnrnn":
        return NNRNN(n_inputs, hidden, init=init, clip=clip, generator=generator)
    if name == "urnn":
        return URNN(n_inputs, hidden, fused=fused, generator=generator)
    if name in ("srnn", "irnn"):
        default = "relu" if name == "irnn" else "tanh"
        return SRNN(n_inputs, hidden, activation=activation or default, **common)
    return LTRNN(n_inputs, hidden, input_activation=activation or "none", **common)


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
    width = 2 * hidden if name == "urnn" else hidden  # uRNN reads out [Re h, Im h]
    readout = Readout(width, n_outputs, pool=pool if MODEL_TABLE[name].pooled else None,
                      bias=readout_bias, generator=generator)
    with torch.no_grad():  # the peers' own readout inits
        W = readout.W
        if name in ("exprnn", "nnrnn") and classifier:
            # expRNN 2_mnist.py:82, nnRNN sMNIST.py:110: nn.Linear's default, U(±1/√H)
            bound = 1 / math.sqrt(width)
            W.weight.uniform_(-bound, bound, generator=generator)
            if W.bias is not None:
                W.bias.uniform_(-bound, bound, generator=generator)
        elif name == "exprnn":  # expRNN 1_copying.py:90: N(0, 2/H)
            W.weight.normal_(0.0, math.sqrt(2 / width), generator=generator)
        elif name == "nnrnn":  # nnRNN copytask.py: xavier_normal_
            W.weight.normal_(0.0, math.sqrt(2 / (width + n_outputs)), generator=generator)
    return RecurrentNet(rnn, readout)
