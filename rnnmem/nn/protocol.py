"""The interface of a recurrent layer: what the harness requires, and what it uses if present.

A layer registered with :func:`rnnmem.register_model` needs only ``forward``. The optional
members below each unlock one thing; a layer without them trains, resumes, sweeps and plots
like any other.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import torch


@runtime_checkable
class RecurrentLayer(Protocol):
    """``layer(x (T, B, n_inputs), h0=None) -> h (T, B, H)``: every hidden state, or
    torch.nn.RNN's ``(output, h_n)`` (rnnmem's own layers: :mod:`rnnmem.nn.interface`).

    Optional members, and what uses them:

    - ``recurrent_matrix() -> Tensor``: the hidden-to-hidden weights (a gated layer: its
      stacked gate blocks, named by ``gates``). ``rnnmem memory analyze`` and the Orhan
      Table 2 / Fig. 6 analyses (non-normality, Schur profile, hidden chains) read it.
    - ``gates: tuple[str, ...]``: the names of the stacked blocks of ``recurrent_matrix()``.
    - ``forward_state(x, state) -> (h, final_state)``: a state to carry across windows
      (language models, truncated BPTT); without it the final state is ``h[-1]``.
    - ``param_groups(lr) -> list[dict]``: the optimizer's parameter groups of the model's own
      recipe (expRNN, nnRNN: the orthogonal parameter at the layer's ``lr_orth``); without it
      every parameter trains at ``lr``.
    - ``regularization() -> Tensor``: a penalty added to the training loss (nnRNN's
      δ·Σ(γ − 1)², δ its ``gamma_penalty``); the loss logged is the task's alone.
    - ``after_update(generator)``: a step after each optimizer update (Henaff §4.2's soft
      orthogonality penalty of the scan layers), drawing its random numbers from ``generator``,
      which the run's checkpoint carries.

    A layer's options are its constructor's keywords (:func:`rnnmem.register_model`), so each
    of these reads its settings from the layer itself.
    """

    def forward(self, x: torch.Tensor, h0=None) -> torch.Tensor: ...


def forward_state(layer, x: torch.Tensor, state=None):
    """(all hidden states, final state) of ``layer`` on time-first ``x`` from ``state`` (B, H)
    (the LSTM's: a tuple)."""
    if hasattr(layer, "forward_state"):
        return layer.forward_state(x, state)
    h = all_states(layer, x, state)
    return h, h[-1]


def all_states(layer, x: torch.Tensor, state=None) -> torch.Tensor:
    """Every hidden state (T, B, H) of ``layer`` on time-first ``x``: the harness's one way of
    running a layer, whether it speaks torch.nn.RNN's interface (``(output, h_n)``, as
    rnnmem's own do) or returns the states alone (a plugin's may)."""
    if hasattr(layer, "forward_state"):
        return layer.forward_state(x, state)[0]
    out = layer(x, state) if state is not None else layer(x)
    return out[0] if isinstance(out, tuple) else out


def recurrent_matrix(layer) -> torch.Tensor:
    """The layer's recurrent weights; ValueError if it does not expose them."""
    if not hasattr(layer, "recurrent_matrix"):
        raise ValueError(f"{type(layer).__name__} has no recurrent_matrix(): the analysis of "
                         "recurrent weights needs it (see rnnmem.nn.protocol)")
    return layer.recurrent_matrix()
