"""The LSTM without peepholes (Henaff eqs. 3-5) on ``torch.nn.LSTM``, with Henaff's gaussian,
PyTorch's plain, orthogonal, chain and Orhan & Pitkow's mixed inits."""

from __future__ import annotations

import math

import torch
from torch import nn

from ..init import chain_, gaussian_, mixed_lstm_, orthogonal_
from ..registry import HENAFF_RECIPE, register_model
from .interface import RNNInterface

LSTM_INITS = ("gaussian", "plain", "orthogonal", "chain", "mixed")


class LSTM(RNNInterface):
    """LSTM without peepholes (Henaff eqs. 3-5), run by ``torch.nn.LSTM``'s fused loop.

    ``init``: ``gaussian`` (Henaff §4.1: every weight matrix N(0, 1/n_in)), ``plain``
    (PyTorch's default uniform), ``orthogonal`` or ``chain`` (each gate's recurrent block), or
    Orhan & Pitkow's ``mixed`` (§2.5). ``bias``: the gate biases, which Henaff's eqs. 3-5 leave
    out; default (None): none under ``gaussian`` (Henaff's LSTM), PyTorch's two bias vectors
    otherwise (the Keras/awd-lstm LSTMs of Orhan & Pitkow). Biases start at 0 except under
    ``plain``.
    """

    def __init__(
        self,
        n_inputs: int,
        hidden: int,
        *,
        init: str = "plain",
        gain: float | None = None,
        bias: bool | None = None,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        if init not in LSTM_INITS:
            raise ValueError(f"unknown LSTM initializer {init!r}; valid names: "
                             f"{', '.join(LSTM_INITS)}")
        self.n_inputs, self.hidden, self.init, self.gain = n_inputs, hidden, init, gain
        self.bias = init != "gaussian" if bias is None else bias
        self.lstm = nn.LSTM(n_inputs, hidden, bias=self.bias)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        bound = 1 / math.sqrt(self.hidden)
        with torch.no_grad():
            for p in self.lstm.parameters():
                p.uniform_(-bound, bound, generator=generator)
            if self.init == "plain":
                return
            if self.bias:
                for b in (self.lstm.bias_ih_l0, self.lstm.bias_hh_l0):
                    b.zero_()
            w = self.lstm.weight_hh_l0
            if self.init == "gaussian":  # Henaff §4.1, each gate's block: fan-in n_in
                for block in (*self.lstm.weight_ih_l0.chunk(4, dim=0), *w.chunk(4, dim=0)):
                    gaussian_(block, gain=1.0 if self.gain is None else self.gain,
                                    generator=generator)
                return
            if self.init == "mixed":
                mixed_lstm_(w, gain=1.02 if self.gain is None else self.gain)
                return
            fill = orthogonal_ if self.init == "orthogonal" else chain_
            for block in w.chunk(4, dim=0):
                fill(block, gain=1.0 if self.gain is None else self.gain, generator=generator)

    def _forward_packed(self, packed, hx):  # torch.nn.LSTM runs packed sequences itself
        return self.lstm(packed, hx)

    gates = ("input", "forget", "cell", "output")  # PyTorch's order of the stacked blocks

    def recurrent_matrix(self) -> torch.Tensor:
        """The stacked (4H, H) recurrent weights of the input, forget, cell and output gates."""
        return self.lstm.weight_hh_l0

    def forward_state(self, x: torch.Tensor, state=None):
        """(all hidden states, final (h, c)); ``state`` is (h, c), each (B, H), or None."""
        if state is not None:
            state = (state[0][None], state[1][None])
        out, (h, c) = self.lstm(x, state)
        return out, (h[0], c[0])


# ---------------------------------------------------------------- registration (rnnmem.registry)

# the fair comparison's search (docs/protocol.md)
GATED_RATES = (1e-4, 3e-4, 1e-3, 3e-3)  # around Henaff's LSTM rate, 1e-3
register_model("lstm", LSTM, inits=LSTM_INITS, default_init=LSTM_INITS[0],
               help=dict(init="LSTM init (Henaff's gaussian N(0, 1/n_in), PyTorch's plain, "
                              "or orthogonal/chain per gate, Orhan & Pitkow's mixed)",
                         gain="scale of the recurrent init (default: the init's own)",
                         bias="learned gate biases (default: none under the gaussian init, "
                              "Henaff eqs. 3-5; PyTorch's otherwise)"),
               recipe=HENAFF_RECIPE, state_blocks=4, gemm_blocks=4, language_model=True,
               kernel="torch.nn.LSTM", search=dict(lr=GATED_RATES), _builtin=True)
