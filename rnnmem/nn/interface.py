"""torch.nn.RNN's calling convention for rnnmem's layers: :class:`RNNInterface`.

``layer(input, hx=None) -> (output, h_n)``, as ``torch.nn.RNN`` (one layer, one direction):

- ``input``: (L, B, n_inputs), or (B, L, n_inputs) with ``batch_first=True``, or (L, n_inputs)
  unbatched, or a ``PackedSequence`` of sequences of different lengths;
- ``hx``: the initial state, (1, B, H) (unbatched: (1, H)); the LSTM's is a tuple (h0, c0) of
  those, the uRNN's a complex tensor; default zeros;
- ``output``: every hidden state, (L, B, H_out) (``batch_first``: (B, L, H_out); packed: a
  ``PackedSequence``), where H_out is H except for the uRNN ([Re h, Im h]: 2H);
- ``h_n``: the final state in hx's layout; of a packed batch, each sequence's state at its own
  last step, in the input's batch order.

A layer implements ``forward_state(x (L, B, n_inputs), state (B, H) or None) -> (all states,
final state)``, time-first; this class does the rest. Padding after a sequence's end cannot
change its earlier states (the recurrence is causal), so a packed batch runs padded and reads
each sequence's final state at its length: exactly the states of a run of that sequence alone.
"""

from __future__ import annotations

import functools

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence


class RNNInterface(nn.Module):
    """Mixin: ``forward(input, hx=None) -> (output, h_n)`` over the layer's ``forward_state``.

    Every subclass's constructor also takes ``batch_first`` (keyword), as nn.RNN's does; it is
    a calling convention, not an option of the model (its runs, its signature's options)."""

    batch_first: bool = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None:
            return

        @functools.wraps(init)  # inspect.signature still reads the layer's own options
        def __init__(self, *args, batch_first: bool | None = None, **options):
            init(self, *args, **options)
            if batch_first is not None:
                self.batch_first = bool(batch_first)

        cls.__init__ = __init__

    def forward(self, input, hx=None):
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx)
        if input.dim() not in (2, 3):
            raise ValueError(f"{type(self).__name__} expects input (L, B, n_inputs) or "
                             f"(L, n_inputs), got shape {tuple(input.shape)}")
        unbatched = input.dim() == 2
        x = input.unsqueeze(1) if unbatched else (
            input.transpose(0, 1) if self.batch_first else input)
        states, final = self.forward_state(x, self._state_from_hx(hx, unbatched))
        if unbatched:
            output = states.squeeze(1)
        else:
            output = states.transpose(0, 1) if self.batch_first else states
        return output, self._hx_from_state(final, unbatched)

    # --- the state's layouts: hx (1, B, H) of nn.RNN, the layer's own (B, H) -----------------

    @staticmethod
    def _state_from_hx(hx, unbatched: bool):
        if hx is None:
            return None
        if isinstance(hx, tuple):
            return tuple(RNNInterface._state_from_hx(h, unbatched) for h in hx)
        expected = 2 if unbatched else 3
        if hx.dim() != expected or hx.shape[0] != 1:
            raise ValueError(f"hx must have shape {'(1, H)' if unbatched else '(1, B, H)'} "
                             f"(one layer, one direction), got {tuple(hx.shape)}")
        return hx if unbatched else hx[0]

    @staticmethod
    def _hx_from_state(state, unbatched: bool):
        if isinstance(state, tuple):
            return tuple(RNNInterface._hx_from_state(s, unbatched) for s in state)
        return state if unbatched else state.unsqueeze(0)

    # --- variable lengths ---------------------------------------------------------------------

    def _forward_packed(self, packed: PackedSequence, hx):
        x, lengths = pad_packed_sequence(packed)  # (L, B, n), in the input's batch order
        states, final = self.packed_run(x, self._state_from_hx(hx, False),
                                        (lengths - 1).to(x.device))
        order = packed.sorted_indices
        sorted_states = states if order is None else states.index_select(1, order)
        sorted_lengths = lengths if order is None else lengths[order.cpu()]
        data = pack_padded_sequence(sorted_states, sorted_lengths, enforce_sorted=True)
        output = PackedSequence(data.data, data.batch_sizes, packed.sorted_indices,
                                packed.unsorted_indices)
        return output, self._hx_from_state(final, False)

    def packed_run(self, x: torch.Tensor, state, last: torch.Tensor):
        """(all outputs, each sequence's state at its step ``last[b]``) of a padded batch."""
        states, _ = self.forward_state(x, state)
        return states, self.final_state_at(states, last)

    def final_state_at(self, states: torch.Tensor, last: torch.Tensor):
        """The state of each sequence b at its step ``last[b]``, from all states (L, B, H_out):
        the state is the output for most layers (the uRNN and LSTM override it)."""
        return states[last, torch.arange(states.shape[1], device=states.device)]
