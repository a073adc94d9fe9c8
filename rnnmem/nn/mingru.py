"""minGRU (Feng et al. 2024, "Were RNNs All We Needed?", §3.1), in rnnmem's harness: one file and
one registration.

``z_t = σ(W_z x_t + b_z)``, ``h̃_t = W_h x_t + b_h``, ``h_t = (1 − z_t) ⊙ h_{t−1} + z_t ⊙ h̃_t``.
The gates depend on the input only, so the recurrence is element-wise and linear in h: it runs
as the linear scan of :mod:`rnnmem.nn.linear_scan` (``scan``: sequential or parallel), or with
its gate as one compiled loop each way (``scan="compiled"``, :mod:`rnnmem.nn.compiled_scan`), in
linear space (its coefficients 1 − z_t lie in (0, 1), so long products underflow to 0 and
nothing overflows). The paper's log-space form (for its positive-valued variant with g(h̃)) is
not implemented. Weights: PyTorch's Linear init, U(±1/√n_in), as the paper's reference code
leaves them.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ..registry import register_model
from .compiled_scan import check_layer_scan, gated_scan, input_product, packed_gated_scan
from .interface import RNNInterface
from .linear_scan import (
    DEFAULT_SCAN,
    KERNELS,
    SCAN_HELP,
    SCANS,
    linear_scan,
    linear_scan_reference,
)

# minGRU's scans: the linear scan's, and its gate and scan compiled as one loop (not the default:
# its values differ from the sequential form's in the last bits, and committed runs used that)
MINGRU_SCANS = (*SCANS, "compiled")
MINGRU_SCAN_HELP = (SCAN_HELP + "; compiled: the gate and the scan as one numba loop each way "
                    "(pip install numba; equal to sequential up to rounding)")
MINGRU_KERNELS = {**KERNELS, "compiled": "gate and scan compiled (numba)"}


def gate_and_scan(gate: torch.Tensor, candidate: torch.Tensor, state, scan: str,
                  fused: bool = True) -> torch.Tensor:
    """``h_t = (1 − σ(g_t)) ⊙ h_{t−1} + σ(g_t) ⊙ c_t``, every state, by the layer's ``scan``
    (``fused=False``: the per-step autograd reference)."""
    if fused and scan == "compiled":
        return gated_scan(gate, candidate, state)
    z = torch.sigmoid(gate)
    a, b = 1 - z, z * candidate
    return linear_scan(a, b, state, method=scan) if fused else linear_scan_reference(a, b, state)


class MinGRU(RNNInterface):
    """``x (T, B, n_inputs) -> h (T, B, hidden)``; the state is the output."""

    def __init__(self, n_inputs: int, hidden: int, *, scan: str = DEFAULT_SCAN,
                 fused: bool = True, generator: torch.Generator | None = None):
        super().__init__()
        check_layer_scan(scan)
        self.n_inputs, self.hidden, self.fused, self.scan = n_inputs, hidden, fused, scan
        self.proj = nn.Linear(n_inputs, 2 * hidden)  # [W_z; W_h] in one product
        bound = 1 / math.sqrt(n_inputs)
        with torch.no_grad():
            for p in self.proj.parameters():
                p.uniform_(-bound, bound, generator=generator)

    def forward_state(self, x: torch.Tensor, state: torch.Tensor | None = None):
        if self.fused and self.scan == "compiled":
            # [W_z; W_h] x, read in place by the loops
            h = packed_gated_scan(input_product(x, self.proj.weight, self.proj.bias), state)
            return h, h[-1]
        pre_z, candidate = self.proj(x).chunk(2, dim=-1)
        h = gate_and_scan(pre_z, candidate, state, self.scan, self.fused)
        return h, h[-1]

    def extra_repr(self) -> str:
        return f"{self.n_inputs}, {self.hidden}"


# the fair comparison's search: Feng et al. train minGRU with Adam around 1e-3 (no other knob)
MINGRU_SEARCH = dict(lr=(1e-4, 3e-4, 1e-3, 3e-3))
# the gate and scan's least traffic, (T, B, N) tensors: forward reads the gate's and the
# candidate's pre-activations and writes h; backward reads ∂L/∂h, both inputs and h, and writes
# both inputs' gradients (bench)
MINGRU_TRAFFIC = 3 + 6
register_model("mingru", MinGRU, help=dict(scan=MINGRU_SCAN_HELP),
               choices=dict(scan=MINGRU_SCANS), search=MINGRU_SEARCH,
               gemm_blocks=2, kernel=KERNELS[DEFAULT_SCAN],
               kernels=dict((MINGRU_KERNELS[k], dict(scan=k)) for k in MINGRU_SCANS),
               reference="per-step autograd", scan_traffic=MINGRU_TRAFFIC, _builtin=True)


def _g(x: torch.Tensor) -> torch.Tensor:
    """The positive candidate of minGRU's log-space form (Feng et al. appendix B.3): x + 1/2 for
    x ≥ 0, σ(x) below, continuous at 0."""
    return torch.where(x >= 0, x + 0.5, torch.sigmoid(x))


class MinGRUBlock(RNNInterface):
    """minGRU as its paper's reference model uses it (lucidrains/minGRU-pytorch, ``minLM``).

    A linear encoder to ``hidden`` features (theirs: a token embedding), then ``depth`` layers
    of ``h ← h + P·minGRU(RMSNorm(h))`` and ``h ← h + FF(RMSNorm(h))``, and a final RMSNorm
    before the harness's readout (their logits). Their minGRU: no biases, the positive
    candidate g(W_h x) of the log-space form, an inner width ``expansion`` × hidden (1.5) and
    the projection P back to ``hidden`` (none when the expansion is 1); FF = Linear(4·hidden),
    GELU, Linear. Here the recurrence runs in linear space on the same linear scan as
    ``mingru`` (the values are equal; the log-space scan is their parallel form). Departures:
    the encoder, ``depth`` 2 (theirs 6, at width 512, for enwik8), and no causal convolution
    (an option of theirs, off by default).
    PyTorch's default Linear init, drawn from the run's generator. The carried state is the
    tuple of the layers' states (B, expansion × hidden).
    """

    def __init__(self, n_inputs: int, hidden: int, *, depth: int = 2, expansion: float = 1.5,
                 ff_mult: int = 4, scan: str = DEFAULT_SCAN, fused: bool = True,
                 generator: torch.Generator | None = None):
        super().__init__()
        check_layer_scan(scan)
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
            raise ValueError(f"depth must be a positive integer, got {depth!r}")
        inner = int(hidden * expansion)
        if not expansion > 0 or inner < 1:
            raise ValueError(f"expansion must make at least one inner unit, got {expansion!r}")
        if isinstance(ff_mult, bool) or not isinstance(ff_mult, int) or ff_mult < 1:
            raise ValueError(f"ff_mult must be a positive integer, got {ff_mult!r}")
        self.n_inputs, self.hidden, self.depth, self.fused, self.scan = (
            n_inputs, hidden, depth, fused, scan)
        self.expansion, self.ff_mult, self.inner = expansion, ff_mult, inner

        def linear(n_in, n_out, bias=True):
            layer = nn.Linear(n_in, n_out, bias=bias)
            bound = 1 / math.sqrt(n_in)  # PyTorch's default, from the run's generator
            with torch.no_grad():
                for p in layer.parameters():
                    p.uniform_(-bound, bound, generator=generator)
            return layer

        self.encoder = linear(n_inputs, hidden)
        self.norms = nn.ModuleList(nn.RMSNorm(hidden) for _ in range(2 * depth))
        self.gates = nn.ModuleList(linear(hidden, 2 * inner, bias=False) for _ in range(depth))
        self.out = nn.ModuleList(linear(inner, hidden, bias=False) if expansion != 1
                                 else nn.Identity() for _ in range(depth))
        self.ff = nn.ModuleList(nn.Sequential(linear(hidden, ff_mult * hidden), nn.GELU(),
                                              linear(ff_mult * hidden, hidden))
                                for _ in range(depth))
        self.final_norm = nn.RMSNorm(hidden)

    def _recur(self, i: int, u: torch.Tensor, state):
        candidate, gate = self.gates[i](u).chunk(2, dim=-1)
        return gate_and_scan(gate, _g(candidate), state, self.scan, self.fused)

    def _run(self, x: torch.Tensor, state, last: torch.Tensor | None):
        h, finals = self.encoder(x), []
        for i in range(self.depth):
            states = self._recur(i, self.norms[2 * i](h), None if state is None else state[i])
            h = h + self.out[i](states)
            h = h + self.ff[i](self.norms[2 * i + 1](h))
            finals.append(states[-1] if last is None else
                          states[last, torch.arange(states.shape[1], device=states.device)])
        return self.final_norm(h), tuple(finals)

    def forward_state(self, x: torch.Tensor, state: tuple | None = None):
        return self._run(x, state, None)

    def packed_run(self, x, state, last):  # each layer's state at each sequence's own end
        return self._run(x, state, last)

    def extra_repr(self) -> str:
        return (f"{self.n_inputs}, {self.hidden}, depth={self.depth}, "
                f"expansion={self.expansion}, ff_mult={self.ff_mult}")


# minGRU-pytorch's train.py: Adam (at 1e-4 on enwik8; the search spans it), no clipping
register_model("mingru-block", MinGRUBlock, search=MINGRU_SEARCH, recipe=dict(optimizer="adam"),
               help=dict(depth="residual minGRU + feed-forward layers (minLM's depth)",
                         expansion="minGRU's inner width over hidden (minLM's expansion)",
                         ff_mult="the feed-forward layer's width over hidden (minLM's ff_mult)",
                         scan=MINGRU_SCAN_HELP),
               choices=dict(scan=MINGRU_SCANS), gemm_blocks=2, kernel=KERNELS[DEFAULT_SCAN],
               reference="per-step autograd", form="block", _builtin=True)
