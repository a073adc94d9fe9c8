"""A recurrent layer plus a readout, and :func:`build_model`: a model by name for a task."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..init import RECURRENT_INITS
from .cells import LSTM, LSTM_INITS, LTRNN, SRNN
from .peers import EXPRNN_INITS, GRU, NNRNN, URNN, ExpRNN
from .readout import Readout

MODELS = ("lt-rnn", "lt-rnn-pool", "srnn", "irnn", "lstm", "gru", "exprnn", "nnrnn", "urnn")
# Valid recurrent initializers per model; the first is the default.
MODEL_INITS = {
    "lt-rnn": ("orthogonal", *[k for k in RECURRENT_INITS if k != "orthogonal"]),
    "lt-rnn-pool": ("orthogonal", *[k for k in RECURRENT_INITS if k != "orthogonal"]),
    "srnn": ("orthogonal", *[k for k in RECURRENT_INITS if k != "orthogonal"]),
    "irnn": ("identity", *[k for k in RECURRENT_INITS if k != "identity"]),
    "lstm": LSTM_INITS, "gru": ("plain", "orthogonal"),
    "exprnn": EXPRNN_INITS, "nnrnn": EXPRNN_INITS, "urnn": ("random",),
}
# Models whose layers take no scale for their recurrent init (``gain`` does not apply).
GAINLESS_MODELS = ("gru", "exprnn", "nnrnn", "urnn")

# Each model's own optimizer recipe where its paper's code differs from Henaff's (RMSProp decay
# 0.9, activation clipping at 1000, §4.1). expRNN: RMSprop at PyTorch's default decay 0.99, no
# clipping (expRNN 1_copying.py:139-140); nnRNN: RMSprop alpha 0.99 (copytask.py --alpha), no
# clipping. TrainConfig takes these unless the user gives a value.
HENAFF_RECIPE = dict(rms_decay=0.9, clip=1000.0)
MODEL_RECIPES = {name: HENAFF_RECIPE for name in MODELS} | {
    "exprnn": dict(rms_decay=0.99, clip=None),
    "nnrnn": dict(rms_decay=0.99, clip=None),
}


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


def build_model(
    name: str,
    n_inputs: int,
    n_outputs: int,
    hidden: int,
    *,
    init: str | None = None,
    gain: float = 1.0,
    feedback: float | None = None,
    input_init: str = "gaussian",
    input_gain: float = 1.0,
    input_bias: float | None = None,
    gate_bias: bool | None = None,
    activation: str | None = None,
    clip: float | None = None,
    pool: int = 2,
    readout_bias: bool = True,
    fused: bool = True,
    generator: torch.Generator | None = None,
) -> RecurrentNet:
    """Build one of :data:`MODELS` with a linear readout.

    ``init`` defaults per model (:data:`MODEL_INITS`). ``activation``: the LT-RNN's input
    non-linearity σ (default none) or the sRNN's φ (default tanh; the IRNN's is relu); the
    gated and peer models have their own. ``pool`` is the l2 pool size of ``lt-rnn-pool``;
    ``readout_bias``: the readout's c (Henaff eq. 2 has none).
    ``input_bias``: the initial b of the sRNN/LT-RNN (default: the layer's reading, see
    :meth:`LTRNN.default_input_bias`); ``gate_bias``: the LSTM's gate biases (see :class:`LSTM`).

    Example:
        >>> net = build_model("lt-rnn", 10, 10, 80, init="orthogonal", clip=1000.0)
        >>> y, h = net(torch.zeros(120, 50, 10))
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
        rnn = LSTM(n_inputs, hidden, init=init, gain=gain, bias=gate_bias, generator=generator)
    elif name == "gru":
        rnn = GRU(n_inputs, hidden, init=init, generator=generator)
    elif name == "exprnn":
        rnn = ExpRNN(n_inputs, hidden, init=init, clip=clip, generator=generator)
    elif name == "nnrnn":
        rnn = NNRNN(n_inputs, hidden, init=init, clip=clip, generator=generator)
    elif name == "urnn":
        rnn = URNN(n_inputs, hidden, generator=generator)
    elif name in ("srnn", "irnn"):
        default = "relu" if name == "irnn" else "tanh"
        rnn = SRNN(n_inputs, hidden, activation=activation or default, **common)
    else:
        rnn = LTRNN(n_inputs, hidden, input_activation=activation or "none", **common)
    width = 2 * hidden if name == "urnn" else hidden  # uRNN reads out [Re h, Im h]
    readout = Readout(width, n_outputs, pool=pool if name == "lt-rnn-pool" else None,
                      bias=readout_bias, generator=generator)
    with torch.no_grad():  # the peers' own readout inits
        if name == "exprnn":  # expRNN 1_copying.py:90: N(0, 2/H)
            readout.W.weight.normal_(0.0, math.sqrt(2 / width), generator=generator)
        elif name == "nnrnn":  # nnRNN copytask.py: xavier_normal_
            std = math.sqrt(2 / (width + n_outputs))
            readout.W.weight.normal_(0.0, std, generator=generator)
    return RecurrentNet(rnn, readout)
