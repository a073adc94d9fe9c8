"""A recurrent layer plus a readout, and :func:`build_model`: a model by name for a task."""

from __future__ import annotations

import torch
from torch import nn

from ..registry import model_spec, valid_inits
from .protocol import all_states, recurrent_matrix
from .readout import Readout


class RecurrentNet(nn.Module):
    """``x (T, B, n_inputs) -> (y (T, B, n_outputs), h (T, B, hidden))``."""

    def __init__(self, rnn: nn.Module, readout: Readout, n_inputs: int | None = None):
        super().__init__()
        self.rnn, self.readout = rnn, readout
        self.n_inputs = getattr(rnn, "n_inputs", None) if n_inputs is None else n_inputs

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = all_states(self.rnn, x)  # (T, B, H)
        return self.readout(h), h

    @property
    def recurrent_weight(self) -> torch.Tensor:
        """The hidden-to-hidden matrix (LSTM/GRU: the stacked gate weights; uRNN: complex)."""
        return recurrent_matrix(self.rnn)


def build_layer(name: str, n_inputs: int, hidden: int, *, fused: bool = True,
                generator: torch.Generator | None = None, batch_first: bool = False,
                **options) -> nn.Module:
    """The recurrent layer of a registered model: ``x (T, B, n_inputs) -> h (T, B, H)``.

    ``options`` are the layer's own keywords (a run's ``model_options``, without the readout's):
    the model's defaults (its registration's, e.g. the IRNN's ReLU φ and its default init) fill
    those not given. ``fused=False`` runs a scan model's per-step reference (benchmarks).
    ``batch_first``: as nn.RNN's (:class:`~rnnmem.nn.interface.RNNInterface`).
    """
    spec = model_spec(name)
    values = {**spec.defaults, **options}
    values = {k: v for k, v in values.items() if k in spec.options}
    inits = valid_inits(spec)
    if isinstance(values.get("init"), str) and values["init"] not in inits:
        raise ValueError(f"unknown init {values['init']!r} for {name}; valid: "
                         f"{', '.join(inits)}")
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        raise ValueError(f"model {name} has no option {unknown[0]!r}; valid: "
                         f"{', '.join(spec.options) or 'none'}")
    harness = dict(fused=fused, generator=generator)
    layer = spec.layer(n_inputs, hidden, **values, **{k: harness[k] for k in spec.harness_args})
    if batch_first:
        if not hasattr(layer, "batch_first"):
            raise ValueError(f"model {name}'s layer is time-first only (no batch_first)")
        layer.batch_first = True
    return layer


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
    **options,
) -> RecurrentNet:
    """Build a registered model with a linear readout; ``options``: the layer's own
    (:func:`build_layer`).

    ``pool`` is the l2 pool size of a pooled model; ``readout_bias``: the readout's c (Henaff
    eq. 2 has none). ``classifier``: the task reads one label at its end (MNIST), where the
    peers' own scripts keep PyTorch's Linear readout.

    Example:
        >>> net = build_model("lt-rnn", 10, 10, 80, init="orthogonal", clip=1000.0)
        >>> y, h = net(torch.zeros(120, 50, 10))
    """
    rnn = build_layer(name, n_inputs, hidden, generator=generator, **options)
    return RecurrentNet(rnn, build_readout(name, hidden, n_outputs, pool=pool, bias=readout_bias,
                                           classifier=classifier, generator=generator),
                        n_inputs)
