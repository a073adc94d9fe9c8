"""A recurrent layer plus a readout, and :func:`build_model`: a model by name for a task."""

from __future__ import annotations

import torch
from torch import nn

from .cells import LSTM, LTRNN, SRNN
from .readout import Readout

MODELS = ("lt-rnn", "lt-rnn-pool", "srnn", "lstm")


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
        """The hidden-to-hidden matrix (for the LSTM: the stacked (4H, H) gate weights)."""
        if isinstance(self.rnn, LSTM):
            return self.rnn.lstm.weight_hh_l0
        return self.rnn.V


def build_model(
    name: str,
    n_inputs: int,
    n_outputs: int,
    hidden: int,
    *,
    init: str = "orthogonal",
    gain: float = 1.0,
    feedback: float | None = None,
    input_init: str = "gaussian",
    input_gain: float = 1.0,
    activation: str | None = None,
    clip: float | None = None,
    pool: int = 2,
    fused: bool = True,
    generator: torch.Generator | None = None,
) -> RecurrentNet:
    """Build ``lt-rnn``, ``lt-rnn-pool``, ``srnn`` or ``lstm`` with a linear readout.

    ``activation``: the LT-RNN's input non-linearity σ (default none) or the sRNN's φ (default
    tanh); ignored by the LSTM. ``pool`` is the l2 pool size of ``lt-rnn-pool``.

    Example:
        >>> net = build_model("lt-rnn", 10, 10, 80, init="orthogonal", clip=1000.0)
        >>> y, h = net(torch.zeros(120, 50, 10))
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; valid models: {', '.join(MODELS)}")
    common = dict(init=init, gain=gain, feedback=feedback, input_init=input_init,
                  input_gain=input_gain, clip=clip, fused=fused, generator=generator)
    if name == "lstm":
        rnn = LSTM(n_inputs, hidden, init=init, gain=gain, generator=generator)
    elif name == "srnn":
        rnn = SRNN(n_inputs, hidden, activation=activation or "tanh", **common)
    else:
        rnn = LTRNN(n_inputs, hidden, input_activation=activation or "none", **common)
    readout = Readout(hidden, n_outputs, pool=pool if name == "lt-rnn-pool" else None,
                      generator=generator)
    return RecurrentNet(rnn, readout)
