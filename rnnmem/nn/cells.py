"""Recurrent layers: Elman sRNN (Henaff eq. 1), LT-RNN (eq. 2) and LSTM (eqs. 3-5).

Every layer maps inputs ``x`` of shape (T, B, n_inputs) to all hidden states (T, B, hidden),
so analyses can look at every step. The recurrent matrix is ``layer.V`` (hidden × hidden, in
PyTorch's (out, in) layout) for the sRNN and LT-RNN.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from .. import init as rinit
from ..registry import register_model
from .scan import scan, scan_reference

INPUT_ACTIVATIONS = ("none", "relu", "tanh", "elu")
SRNN_ACTIVATIONS = ("tanh", "relu", "elu")  # modReLU is the peers' (complex-phase) non-linearity


class _ScanRNN(nn.Module):
    """``h_t = clip(φ(σ(U x_t + b) + V h_{t-1}))``; the sRNN and LT-RNN set σ and φ."""

    input_activation = "none"
    activation = "identity"

    def __init__(
        self,
        n_inputs: int,
        hidden: int,
        *,
        init: str | Callable = "orthogonal",
        gain: float = 1.0,
        feedback: float | None = None,
        input_init: str | Callable = "gaussian",
        input_gain: float = 1.0,
        input_bias: float | None = None,
        clip: float | None = None,
        fused: bool = True,
        generator: torch.Generator | None = None,
    ):
        super().__init__()
        if clip is not None and not clip > 0:
            raise ValueError(f"activation clip must be positive, got {clip!r}")
        self.n_inputs, self.hidden, self.clip, self.fused = n_inputs, hidden, clip, fused
        self.init = rinit.get_initializer(init, "recurrent")
        self.input_init = rinit.get_initializer(input_init, "input")
        self.gain, self.feedback, self.input_gain = gain, feedback, input_gain
        self.input_bias = self.default_input_bias() if input_bias is None else input_bias
        self.U = nn.Linear(n_inputs, hidden)
        self.V = nn.Parameter(torch.empty(hidden, hidden))
        self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        extra = {} if self.feedback is None else {"feedback": self.feedback}
        if self.gain is not None:  # an init without a scale (a plugin's) takes none
            extra["gain"] = self.gain
        self.init(self.V, generator=generator, **extra)
        self.input_init(self.U.weight, gain=self.input_gain, generator=generator)
        nn.init.constant_(self.U.bias, self.input_bias)

    def default_input_bias(self) -> float:
        """The initial b where the user gives none: 0 (the sRNN's usual start)."""
        return 0.0

    def input_drive(self, x: torch.Tensor) -> torch.Tensor:
        """σ(U x_t + b) for all steps at once: (T, B, n_inputs) -> (T, B, hidden)."""
        z = self.U(x)
        if self.input_activation == "relu":
            z = torch.relu(z)
        elif self.input_activation == "tanh":
            z = torch.tanh(z)
        elif self.input_activation == "elu":
            z = nn.functional.elu(z)
        return z

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
        run = scan if self.fused else scan_reference
        return run(self.input_drive(x), self.V, h0, activation=self.activation, clip=self.clip)

    def forward_state(self, x: torch.Tensor, state: torch.Tensor | None = None):
        """(all hidden states, final state) from an initial state (B, H); for carried state."""
        h = self(x, state)
        return h, h[-1]

    def recurrent_matrix(self) -> torch.Tensor:
        return self.V

    def extra_repr(self) -> str:
        return (f"{self.n_inputs}, {self.hidden}, input_activation={self.input_activation}, "
                f"activation={self.activation}, clip={self.clip}")


class SRNN(_ScanRNN):
    """Elman RNN, Henaff eq. 1: ``h_t = φ(U x_t + V h_{t-1} + b)``, φ ∈ tanh/relu/elu.

    Example:
        >>> SRNN(2, 8, activation="relu", init="identity")(torch.randn(5, 3, 2)).shape
        torch.Size([5, 3, 8])
    """

    def __init__(self, n_inputs: int, hidden: int, *, activation: str = "tanh", **kwargs):
        if activation not in SRNN_ACTIVATIONS:
            raise ValueError(f"sRNN activation must be one of {', '.join(SRNN_ACTIVATIONS)}; "
                             f"got {activation!r}")
        self.activation = activation
        super().__init__(n_inputs, hidden, **kwargs)


class LTRNN(_ScanRNN):
    """Linear-transition RNN, Henaff eq. 2: ``h_t = σ(U x_t + b) + V h_{t-1}``.

    ``input_activation`` is σ; Henaff uses none for categorical inputs (copy) and ReLU for the
    adding task's real-valued inputs (§3.2.1).
    """

    def __init__(self, n_inputs: int, hidden: int, *, input_activation: str = "none", **kwargs):
        if input_activation not in INPUT_ACTIVATIONS:
            raise ValueError(f"input_activation must be one of {', '.join(INPUT_ACTIVATIONS)}; "
                             f"got {input_activation!r}")
        self.input_activation = input_activation
        super().__init__(n_inputs, hidden, **kwargs)

    def default_input_bias(self) -> float:
        """Henaff §4.1 does not say how b starts. Under a ReLU σ we start it at −1, the value of
        the paper's own adding solution (§3.2.1, ``relu(value + mark − 1)``): a unit then passes
        an input only when the mark is set, so identity-initialized V integrates the marked
        values and nothing else. With b = 0 every step adds relu(U x) > 0, which an identity V
        integrates without bound (the LT-IRNN then fails; docs/protocol.md has the ablation).
        Without σ (categorical inputs) b stays 0."""
        return -1.0 if self.input_activation == "relu" else 0.0


LSTM_INITS = ("gaussian", "plain", "orthogonal", "chain", "mixed")


class LSTM(nn.Module):
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
                    rinit.gaussian_(block, gain=1.0 if self.gain is None else self.gain,
                                    generator=generator)
                return
            if self.init == "mixed":
                rinit.mixed_lstm_(w, gain=1.02 if self.gain is None else self.gain)
                return
            fill = rinit.orthogonal_ if self.init == "orthogonal" else rinit.chain_
            for block in w.chunk(4, dim=0):
                fill(block, gain=1.0 if self.gain is None else self.gain, generator=generator)

    def forward(self, x: torch.Tensor, h0=None) -> torch.Tensor:
        return self.lstm(x, h0)[0]

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

# What the harness's knobs are called by each layer class.
_SCAN_ARGS = {k: k for k in ("init", "gain", "feedback", "input_init", "input_gain",
                             "input_bias", "clip", "fused", "generator")}
# the scan models' U and V: input init and scale, activation clipping, the §4.2 penalty on V
_SCAN_KNOBS = frozenset({"input_init", "input_gain", "clip", "ortho_lr", "ortho_points"})
# Henaff §3.2.1: ReLU σ on adding; σ of eq. 2 is the LT-RNN's input_activation
_LT = dict(layer_args={**_SCAN_ARGS, "activation": "input_activation"},
           default_init="orthogonal", activations=INPUT_ACTIVATIONS, task_activation=True,
           input_bias=True, _builtin=True)
register_model("lt-rnn", LTRNN, **_LT, language_model=True, knobs=_SCAN_KNOBS,
               reference="per-step autograd")
register_model("lt-rnn-pool", LTRNN, **_LT, pooled=True, knobs=_SCAN_KNOBS | {"pool"})
_SRNN = dict(layer_args={**_SCAN_ARGS, "activation": "activation"}, input_bias=True,
             knobs=_SCAN_KNOBS, _builtin=True)  # φ of Henaff eq. 1
register_model("srnn", SRNN, **_SRNN, default_init="orthogonal", activations=SRNN_ACTIVATIONS,
               language_model=True, reference="per-step autograd")
# Le et al.'s IRNN: an sRNN with ReLU φ and identity V
register_model("irnn", SRNN, **_SRNN, default_init="identity",
               activations=("relu", *[a for a in SRNN_ACTIVATIONS if a != "relu"]))
# "plain" takes no scale (default_gain)
register_model("lstm", LSTM, layer_args=dict(init="init", gain="gain", gate_bias="bias",
                                             generator="generator"),
               inits=LSTM_INITS, default_init=LSTM_INITS[0], state_blocks=4, gemm_blocks=4,
               gate_bias=True, language_model=True, kernel="torch.nn.LSTM", _builtin=True)
