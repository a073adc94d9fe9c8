"""minGRU's gate and recurrence as one compiled loop each way (numba, from PyPI: no compiler
step): ``h_t = (1 − z_t) ⊙ h_{t−1} + z_t ⊙ c_t`` with ``z_t = σ(g_t)``.

Through PyTorch the same recurrence is a dozen whole-sequence element-wise passes over
(T, B, N) (1 − z, z ⊙ c, the scan, and their gradients); here the forward makes one pass (after
σ, which PyTorch vectorizes) and the backward one, writing ∂L/∂g and ∂L/∂c as it goes. The
values are those of the PyTorch form up to rounding (not bit for bit: PyTorch fuses a
multiply-add where this loop rounds twice), so it is an option of the layers (``scan
"compiled"``), never a default that committed runs were trained with. numba is imported at
the first call; its functions are compiled then, in each process (about a second; nothing is
written to disk: no cache). Off the CPU, in another precision, under tracing or for a double
backward it runs the PyTorch form.
"""

from __future__ import annotations

import importlib.util
from functools import cache

import torch

from .linear_scan import linear_scan
from .scan import _traced

NEEDS = "scan 'compiled' needs numba: pip install numba (or the 'fast' extra: rnnmem[fast])"


def check_compiled() -> None:
    """A clear error where numba is missing (at the layer's construction, not its first step)."""
    if importlib.util.find_spec("numba") is None:
        raise ValueError(NEEDS)


def gated_scan(gate: torch.Tensor, candidate: torch.Tensor, h0: torch.Tensor | None = None
               ) -> torch.Tensor:
    """Every state (T, B, N) of ``h_t = (1 − σ(g_t)) h_{t−1} + σ(g_t) c_t`` from ``h0``
    (B, N; default 0), for ``gate`` and ``candidate`` (T, B, N) (float32 or float64 on the
    CPU; other tensors take PyTorch's form)."""
    if not _compiles(gate, candidate, h0):
        return reference_gated_scan(gate, candidate, h0)
    return _GatedScan.apply(torch.stack([gate, candidate], dim=2), _start(gate, h0))


def packed_gated_scan(projection: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """:func:`gated_scan` of ``projection``'s halves (T, B, 2N) = [gate, candidate] (minGRU's
    one product): read in place, and their gradient written as one (T, B, 2N) tensor, where
    the halves as two inputs cost a copy each way (a third of the layer's time at H = 128)."""
    gate, candidate = projection.chunk(2, dim=-1)
    if not _compiles(projection, h0):
        return reference_gated_scan(gate, candidate, h0)
    T, B, N2 = projection.shape
    return _GatedScan.apply(projection.reshape(T, B, 2, N2 // 2), _start(gate, h0))


def input_product(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """``F.linear(x, weight, bias)`` whose weight gradient is formed as (xᵀ G)ᵀ rather than
    Gᵀ x: the same values here (one dot product per entry either way), but MKL forms the
    product nn.Linear's backward asks for several times slower where x has few features (the
    tasks' 10 inputs, T·B rows: docs/bench.md)."""
    if not _compiles(x, weight) or not x.requires_grad and not weight.requires_grad \
            and not bias.requires_grad:
        return torch.nn.functional.linear(x, weight, bias)
    return _InputProduct.apply(x, weight, bias)


class _InputProduct(torch.autograd.Function):

    @staticmethod
    def forward(x, weight, bias):
        return torch.nn.functional.linear(x, weight, bias)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0], inputs[1])

    @staticmethod
    def backward(ctx, grad):  # differentiable ops: a double backward goes through them
        x, weight = ctx.saved_tensors
        flat_x, flat_grad = x.reshape(-1, x.shape[-1]), grad.reshape(-1, grad.shape[-1])
        grad_x = grad @ weight if ctx.needs_input_grad[0] else None
        grad_weight = (flat_x.T @ flat_grad).T if ctx.needs_input_grad[1] else None
        grad_bias = flat_grad.sum(0) if ctx.needs_input_grad[2] else None
        return grad_x, grad_weight, grad_bias


def reference_gated_scan(gate, candidate, h0=None) -> torch.Tensor:
    """The same states by PyTorch's ops (minGRU's ``scan="sequential"`` form)."""
    z = torch.sigmoid(gate)
    return linear_scan(1 - z, z * candidate, h0, method="sequential")


def _compiles(*tensors) -> bool:
    """Whether the loops take these tensors: float32 or float64 on the CPU, not traced."""
    x = tensors[0]
    return (x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64)
            and not _traced(*tensors))


def _start(gate: torch.Tensor, h0: torch.Tensor | None) -> torch.Tensor:
    return gate.new_zeros(gate.shape[1:]) if h0 is None else h0


class _GatedScan(torch.autograd.Function):
    """On the gate and candidate stacked (T, B, 2, N): its gradient is one tensor, shaped so."""

    @staticmethod
    def forward(ctx, stacked, h0):
        pair, start = stacked.detach().contiguous(), h0.detach().contiguous()
        z = pair.new_empty(pair.shape[:2] + pair.shape[3:])
        torch.sigmoid(pair[:, :, 0], out=z)  # into a contiguous z: no copy after
        h = torch.empty_like(z)
        _kernels()[0](z.numpy(), pair.numpy(), start.numpy(), h.numpy(), _one(z))
        # the inputs for a double backward, their contiguous values for this one
        ctx.save_for_backward(stacked, h0, pair, start, h, z)
        return h

    @staticmethod
    def backward(ctx, grad):
        stacked, h0, pair, start, h, z = ctx.saved_tensors
        if torch.is_grad_enabled():  # double backward: differentiate PyTorch's form
            wanted = [t for t in (stacked, h0) if t.requires_grad]
            with torch.enable_grad():
                out = reference_gated_scan(stacked[:, :, 0], stacked[:, :, 1], h0)
                grads = dict(zip(map(id, wanted), torch.autograd.grad(
                    out, wanted, grad, create_graph=True, allow_unused=True), strict=True))
            return tuple(grads.get(id(t)) for t in (stacked, h0))
        grad_pair, grad_h0 = torch.empty_like(pair), torch.empty_like(start)
        _kernels()[1](z.numpy(), pair.numpy(), start.numpy(), h.numpy(),
                      grad.contiguous().numpy(), grad_pair.numpy(), grad_h0.numpy(), _one(z))
        return grad_pair, grad_h0


def _one(z: torch.Tensor):
    """1 in z's precision: a literal 1 would make numba compute in float64."""
    return z.numpy().dtype.type(1)


@cache
def _kernels():
    """The forward and backward loops, compiled at the first call (numba imported then)."""
    from numba import njit

    @njit(boundscheck=False)
    def forward(z, pair, h0, h, one):
        T, B, N = z.shape
        for t in range(T):
            for b in range(B):
                prev = h0[b] if t == 0 else h[t - 1, b]
                zt, ct, ht = z[t, b], pair[t, b, 1], h[t, b]
                for j in range(N):  # contiguous: the loop vectorizes
                    ht[j] = zt[j] * ct[j] + (one - zt[j]) * prev[j]

    @njit(boundscheck=False)
    def backward(z, pair, h0, h, grad, grad_pair, grad_h0, one):
        # G_t = ∂L/∂h_t + (1 − z_{t+1}) G_{t+1}; ∂h_t/∂z_t = c_t − h_{t−1}, σ' = z (1 − z)
        T, B, N = z.shape
        carried = grad_h0  # G_{t+1} (1 − z_{t+1}), over B x N, in place: ∂L/∂h0 at the end
        carried[:] = 0
        for t in range(T - 1, -1, -1):
            for b in range(B):
                prev = h0[b] if t == 0 else h[t - 1, b]
                zt, ct, gt, cb = z[t, b], pair[t, b, 1], grad[t, b], carried[b]
                ggt, gct = grad_pair[t, b, 0], grad_pair[t, b, 1]
                for j in range(N):
                    G = gt[j] + cb[j]
                    ggt[j] = G * (ct[j] - prev[j]) * zt[j] * (one - zt[j])
                    gct[j] = G * zt[j]
                    cb[j] = G * (one - zt[j])

    return forward, backward
