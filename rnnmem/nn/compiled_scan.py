"""The element-wise recurrences as one compiled loop each way (numba, from PyPI: no compiler
step): minGRU's gate and recurrence ``h_t = (1 − z_t) ⊙ h_{t−1} + z_t ⊙ c_t`` with
``z_t = σ(g_t)`` (:func:`gated_scan`), and the LRU's diagonal recurrence
``x_t = λ ⊙ x_{t−1} + b_t`` with a constant complex λ (:func:`diagonal_scan`).

Through PyTorch the same recurrences are T small kernels each way plus whole-sequence passes
(1 − z, z ⊙ c, the clones a scan in place needs, and their gradients); here the forward makes
one pass and the backward one, writing the inputs' gradients as it goes. The values are those
of the PyTorch form up to rounding (not bit for bit: PyTorch fuses a multiply-add where these
loops may round twice), so it is an option of the layers (``scan "compiled"``), never a default
that committed runs were trained with. numba is imported at the first call; its functions are
compiled then, in each process (about a second; nothing is written to disk: no cache). Off the
CPU, in another precision, under tracing or for a double backward it runs the PyTorch form.
"""

from __future__ import annotations

import importlib.util
from functools import cache

import torch

from .linear_scan import check_scan, differentiated, linear_scan
from .scan import _traced

NEEDS = "scan 'compiled' needs numba: pip install numba (or the 'fast' extra: rnnmem[fast])"


def check_compiled() -> None:
    """A clear error where numba is missing (at the layer's construction, not its first step)."""
    if importlib.util.find_spec("numba") is None:
        raise ValueError(NEEDS)


def check_layer_scan(scan: str) -> None:
    """A layer's ``scan``: one of the linear scan's, or ``"compiled"`` where numba is present."""
    if scan == "compiled":
        check_compiled()
    else:
        check_scan(scan)


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


def diagonal_scan(lam: torch.Tensor, drive: torch.Tensor, x0: torch.Tensor | None = None
                  ) -> torch.Tensor:
    """Every state of ``x_t = λ ⊙ x_{t−1} + b_t`` from ``x0`` (default 0) for a constant complex
    λ, in planar real form: ``lam`` (2, N) = [Re λ; Im λ], ``drive`` (T, B, 2N) and ``x0``
    (B, 2N) with each vector's real parts then its imaginary parts, as the states returned.
    Planar, the complex products are real ones over contiguous halves, which the loops
    vectorize (interleaved complex numbers they do not). The gradients follow PyTorch's complex
    convention: ∂L/∂λ = Σ_t G_t conj(x_{t−1}) with G_t = ∂L/∂x_t + conj(λ) G_{t+1}. float32 or
    float64 on the CPU (other tensors: the same recurrence by PyTorch's ops)."""
    if not _compiles(drive, lam, x0):
        return reference_diagonal_scan(lam, drive, x0)
    return _DiagonalScan.apply(lam, drive, _start(drive, x0))


def reference_diagonal_scan(lam, drive, x0=None) -> torch.Tensor:
    """:func:`diagonal_scan` by PyTorch's ops (the LRU's complex sequential scan)."""
    def complex_(planar):
        return torch.complex(*planar.unflatten(-1, (2, -1)).unbind(-2))

    states = linear_scan(torch.complex(lam[0], lam[1]), complex_(drive),
                         None if x0 is None else complex_(x0), method="sequential")
    return torch.cat([states.real, states.imag], dim=-1)


class _DiagonalScan(torch.autograd.Function):

    @staticmethod
    def forward(ctx, lam, drive, x0):
        lam_, drive_, start = (t.detach().contiguous() for t in (lam, drive, x0))
        x = torch.empty_like(drive_)
        _diagonal_kernels()[0](lam_.numpy(), drive_.numpy(), start.numpy(), x.numpy())
        ctx.save_for_backward(lam, drive, x0, lam_, start, x)
        return x

    @staticmethod
    def backward(ctx, grad):
        lam, drive, x0, lam_, start, x = ctx.saved_tensors
        if torch.is_grad_enabled():  # double backward: differentiate PyTorch's form
            return differentiated(reference_diagonal_scan, (lam, drive, x0), grad)
        grad_drive, grad_x0 = torch.empty_like(x), torch.empty_like(start)
        per_sequence = torch.empty_like(start)  # ∂L/∂λ of each sequence (B, 2N), summed below
        _diagonal_kernels()[1](lam_.numpy(), start.numpy(), x.numpy(),
                               grad.contiguous().numpy(), grad_drive.numpy(), grad_x0.numpy(),
                               per_sequence.numpy())
        return per_sequence.sum(0).unflatten(0, (2, -1)), grad_drive, grad_x0


def input_product(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None
                  ) -> torch.Tensor:
    """``F.linear(x, weight, bias)`` whose weight gradient is formed as (xᵀ G)ᵀ rather than
    Gᵀ x: the same values here (one dot product per entry either way), but MKL forms the
    product nn.Linear's backward asks for several times slower where x has few features (the
    tasks' 10 inputs, T·B rows: docs/bench.md)."""
    if not _compiles(x, weight) or not any(t is not None and t.requires_grad
                                           for t in (x, weight, bias)):
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
            return differentiated(lambda pair, h: reference_gated_scan(pair[:, :, 0],
                                                                       pair[:, :, 1], h),
                                  (stacked, h0), grad)
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


@cache
def _diagonal_kernels():
    """The diagonal scan's forward and backward loops (planar), compiled at the first call."""
    from numba import njit

    @njit(boundscheck=False)
    def forward(lam, drive, x0, x):
        T, B, N2 = drive.shape
        N = N2 // 2
        lr, li = lam[0], lam[1]
        for t in range(T):
            for b in range(B):
                prev = x0[b] if t == 0 else x[t - 1, b]
                pr, pi, br, bi = prev[:N], prev[N:], drive[t, b, :N], drive[t, b, N:]
                xr, xi = x[t, b, :N], x[t, b, N:]
                for j in range(N):  # contiguous halves: the loop vectorizes
                    xr[j] = lr[j] * pr[j] - li[j] * pi[j] + br[j]
                    xi[j] = lr[j] * pi[j] + li[j] * pr[j] + bi[j]

    @njit(boundscheck=False)
    def backward(lam, x0, x, grad, grad_drive, grad_x0, grad_lam):
        # G_t = ∂L/∂x_t + conj(λ) G_{t+1}; ∂L/∂b_t = G_t; ∂L/∂λ += G_t conj(x_{t−1}), summed
        # per sequence (B, 2N) as the sequential scan's backward sums it
        T, B, N2 = x.shape
        N = N2 // 2
        lr, li = lam[0], lam[1]
        carried = grad_x0  # conj(λ) G_{t+1}, in place: ∂L/∂x0 at the end
        carried[:] = 0
        grad_lam[:] = 0
        for t in range(T - 1, -1, -1):
            for b in range(B):
                prev = x0[b] if t == 0 else x[t - 1, b]
                pr, pi, gr, gi = prev[:N], prev[N:], grad[t, b, :N], grad[t, b, N:]
                dr, di, cr, ci = grad_drive[t, b, :N], grad_drive[t, b, N:], \
                    carried[b, :N], carried[b, N:]
                ar, ai = grad_lam[b, :N], grad_lam[b, N:]
                for j in range(N):
                    Gr, Gi = gr[j] + cr[j], gi[j] + ci[j]
                    dr[j], di[j] = Gr, Gi
                    ar[j] += Gr * pr[j] + Gi * pi[j]  # G conj(x_{t−1})
                    ai[j] += Gi * pr[j] - Gr * pi[j]
                    cr[j] = lr[j] * Gr + li[j] * Gi  # conj(λ) G
                    ci[j] = lr[j] * Gi - li[j] * Gr

    return forward, backward
