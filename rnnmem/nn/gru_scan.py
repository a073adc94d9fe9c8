"""The GRU recurrence (``torch.nn.GRU``'s equations) as one fused, autograd-aware kernel.

    r_t = σ(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
    z_t = σ(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
    n_t = tanh(W_in x_t + b_in + r_t ⊙ (W_hn h_{t-1} + b_hn))
    h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t-1}

On the CPU ``torch.nn.GRU`` has no oneDNN path (unlike the LSTM): it records a dozen autograd
nodes per step. :class:`GRUScanFunction` forms the input part of all gates in one GEMM, runs the
forward loop without a graph (one in-place ``addmm`` and six element-wise ops per step), and the
backward as the transposed recurrence: every factor free of the recurrence is computed for all
steps at once, which leaves three ops per step, and ∂L/∂W_hh is one (3H × TB) @ (TB × H)
product. :func:`gru_scan_reference` is the per-step version the tests compare against.
Speed: ``rnnmem bench``.
"""

from __future__ import annotations

import torch
from torch.autograd.function import once_differentiable


class GRUScanFunction(torch.autograd.Function):
    """Inputs in PyTorch's layout (rows r, z, n): x (T, B, n), w_ih (3H, n), b_ih (3H,),
    w_hh (3H, H), b_hh (3H,), h0 (B, H). Output: h (T, B, H)."""

    @staticmethod
    def forward(ctx, x, w_ih, b_ih, w_hh, b_hh, h0):
        T, B, n = x.shape
        H = w_hh.shape[1]
        # a: the input part of the gates for all steps in one GEMM; the loop turns its r, z, n
        # blocks into the gate values in place. gh: W_h h_{t-1} + b_h, kept for the backward.
        a = torch.addmm(b_ih, x.reshape(T * B, n), w_ih.t()).view(T, B, 3 * H)
        gh = x.new_empty(T, B, 3 * H)
        h = x.new_empty(T, B, H)
        # per-step views made once, in C++ (unbind), not sliced in the loop
        RZ, N = (v.unbind(0) for v in (a[..., :2 * H], a[..., 2 * H:]))
        R, Z = (v.unbind(0) for v in (a[..., :H], a[..., H:2 * H]))
        GH, GRZ, GN = (v.unbind(0) for v in (gh, gh[..., :2 * H], gh[..., 2 * H:]))
        Hs = h.unbind(0)
        Wt = w_hh.t()
        h_prev = h0
        for t in range(T):
            torch.addmm(b_hh, h_prev, Wt, out=GH[t])
            RZ[t].add_(GRZ[t]).sigmoid_()
            N[t].addcmul_(R[t], GN[t]).tanh_()
            torch.sub(h_prev, N[t], out=Hs[t]).mul_(Z[t]).add_(N[t])  # n + z (h_{t-1} − n)
            h_prev = Hs[t]
        ctx.save_for_backward(x, w_ih, w_hh, h0, a, gh, h)
        return h

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_h):
        x, w_ih, w_hh, h0, a, gh, h = ctx.saved_tensors
        T, B, H = h.shape
        r, z, n = a.unflatten(2, (3, H)).unbind(2)
        h_prev = torch.cat([h0[None], h[:-1]])
        # Factors free of the recurrence, for all steps at once. With d = ∂L/∂h_t:
        # ∂L/∂(n pre-act.) = d·P, P = (1 − z)(1 − n²); ∂L/∂(z pre-act.) = d·(h_{t-1} − n) z(1 − z);
        # ∂L/∂(r pre-act.) = d·P·gh_n·r(1 − r); ∂L/∂gh_n = d·P·r.
        P = (1 - z) * (1 - n * n)
        M = torch.stack([P * gh[..., 2 * H:] * r * (1 - r), (h_prev - n) * z * (1 - z), P * r], 2)
        dgh = torch.empty_like(gh)  # ∂L/∂gh_t = ∂L/∂(W_h h_{t-1} + b_h), (T, B, 3H)
        dh = grad_h.clone()  # becomes ∂L/∂h_t in place, step by step
        DG, DG3, DH, Ms, Zs = (v.unbind(0) for v in (
            dgh, dgh.unflatten(2, (3, H)), dh, M, z.contiguous()))
        for t in range(T - 1, -1, -1):
            if t < T - 1:  # ∂L/∂h_t += z_{t+1} ∂L/∂h_{t+1} + ∂L/∂gh_{t+1} W_h
                DH[t].addcmul_(DH[t + 1], Zs[t + 1]).addmm_(DG[t + 1], w_hh)
            torch.mul(DH[t][:, None, :], Ms[t], out=DG3[t])
        grad_h0 = torch.addmm(DH[0] * Zs[0], DG[0], w_hh)
        # ∂L/∂a: the r, z blocks equal ∂L/∂gh's; the n block is d·P
        da = dgh.clone()
        torch.mul(dh, P, out=da[..., 2 * H:])
        flat_a, flat_g = da.view(-1, 3 * H), dgh.view(-1, 3 * H)
        grad_w_hh = flat_g.t() @ h_prev.reshape(-1, H)  # one large product over all steps
        x2 = x.reshape(-1, x.shape[2])
        return ((flat_a @ w_ih).view(x.shape), flat_a.t() @ x2, flat_a.sum(0),
                grad_w_hh, flat_g.sum(0), grad_h0)


def gru_scan(x, w_ih, w_hh, b_ih, b_hh, h0=None):
    """``torch.nn.GRU``'s one-layer recurrence, fused: all h (T, B, H).

    Weights in PyTorch's layout and argument order (``*gru.parameters()``); ``h0`` (B, H) or
    None for zeros.

    Example:
        >>> gru = torch.nn.GRU(3, 4)
        >>> x = torch.randn(6, 2, 3)
        >>> torch.allclose(gru_scan(x, *gru.parameters()), gru(x)[0], atol=1e-6)
        True
    """
    if h0 is None:
        h0 = x.new_zeros(x.shape[1], w_hh.shape[1])
    return GRUScanFunction.apply(x, w_ih, b_ih, w_hh, b_hh, h0)


def gru_scan_reference(x, w_ih, w_hh, b_ih, b_hh, h0=None):
    """The same recurrence as :func:`gru_scan`, one autograd step at a time (the reference)."""
    H = w_hh.shape[1]
    h = x.new_zeros(x.shape[1], H) if h0 is None else h0
    out = []
    for x_t in x.unbind(0):
        a, g = x_t @ w_ih.t() + b_ih, h @ w_hh.t() + b_hh
        r = torch.sigmoid(a[:, :H] + g[:, :H])
        z = torch.sigmoid(a[:, H:2 * H] + g[:, H:2 * H])
        n = torch.tanh(a[:, 2 * H:] + r * g[:, 2 * H:])
        h = (1 - z) * n + z * h
        out.append(h)
    return torch.stack(out)
