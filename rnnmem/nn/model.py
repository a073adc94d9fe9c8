"""A recurrent layer plus a readout, and :func:`build_model`: a model by name for a task."""

from __future__ import annotations

import torch
from torch import nn

from ..registry import model_spec
from .protocol import recurrent_matrix
from .readout import Readout


class RecurrentNet(nn.Module):
    """``x (T, B, n_inputs) -> (y (T, B, n_outputs), h (T, B, hidden))``."""

    def __init__(self, rnn: nn.Module, readout: Readout, n_inputs: int | None = None):
        super().__init__()
        self.rnn, self.readout = rnn, readout
        self.n_inputs = getattr(rnn, "n_inputs", None) if n_inputs is None else n_inputs

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.rnn(x)  # (T, B, H)
        return self.readout(h), h

    @property
    def recurrent_weight(self) -> torch.Tensor:
        """The hidden-to-hidden matrix (LSTM/GRU: the stacked gate weights; uRNN: complex)."""
        return recurrent_matrix(self.rnn)


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
    options: dict | None = None,
) -> nn.Module:
    """The recurrent layer of a registered model: ``x (T, B, n_inputs) -> h (T, B, H)``.

    ``init`` defaults per model (its registration's ``default_init``). ``activation``: the
    LT-RNN's input non-linearity σ (default none) or the sRNN's φ (default tanh; the IRNN's is
    relu); the gated and peer models have their own. ``input_bias``: the initial b of the
    sRNN/LT-RNN (default: the layer's reading, see :meth:`LTRNN.default_input_bias`);
    ``gate_bias``: the LSTM's gate biases (see :class:`LSTM`). ``options``: the layer's own
    keywords (a plugin model's ``model_options``).
    """
    spec = model_spec(name)
    inits = spec.valid_inits()
    init = init or (inits[0] if inits else None)
    if isinstance(init, str) and init not in inits:
        raise ValueError(f"unknown init {init!r} for {name}; valid: {', '.join(inits)}")
    knobs = dict(init=init, gain=gain, feedback=feedback, input_init=input_init,
                 input_gain=input_gain, input_bias=input_bias, gate_bias=gate_bias,
                 activation=activation or spec.activations[0], clip=clip, fused=fused,
                 generator=generator)
    return spec.layer(n_inputs, hidden, **{arg: knobs[k] for k, arg in spec.layer_args.items()},
                      **(options or {}))


def build_readout(name: str, hidden: int, n_outputs: int, *, pool: int = 2, bias: bool = True,
                  classifier: bool = False, generator: torch.Generator | None = None) -> Readout:
    """The linear readout of a registered model (Henaff eq. 2; eq. 6's l2 pool where the model is
    registered ``pooled``), drawn as the model's own code draws it."""
    spec = model_spec(name)
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
    """Build a registered model with a linear readout; ``layer``: :func:`build_layer`'s knobs.

    ``pool`` is the l2 pool size of a pooled model; ``readout_bias``: the readout's c (Henaff
    eq. 2 has none). ``classifier``: the task reads one label at its end (MNIST), where the
    peers' own scripts keep PyTorch's Linear readout.

    Example:
        >>> net = build_model("lt-rnn", 10, 10, 80, init="orthogonal", clip=1000.0)
        >>> y, h = net(torch.zeros(120, 50, 10))
    """
    rnn = build_layer(name, n_inputs, hidden, generator=generator, **layer)
    return RecurrentNet(rnn, build_readout(name, hidden, n_outputs, pool=pool, bias=readout_bias,
                                           classifier=classifier, generator=generator),
                        n_inputs)
