"""The recurrence ``h_t = clip(φ(a_t + V h_{t-1}))`` as one fused, autograd-aware kernel.

Covers both Henaff's sRNN (eq. 1: ``a_t = U x_t + b``, φ = tanh/relu/elu) and the LT-RNN
(eq. 2: ``a_t = σ(U x_t + b)``, φ = identity), and the peers: expRNN/nnRNN (φ = modReLU) and the
uRNN (φ = complex modReLU on the real form of its unitary W). ``clip`` is Henaff §4.1's
activation clipping: a state whose norm exceeds l is rescaled to norm l.

A per-step autograd loop would build ~4 graph nodes per step; :class:`ScanFunction` runs the
forward loop without a graph and the backward as the transposed recurrence, forming ∂L/∂V as
one (H × TB) @ (TB × H) product over all steps. :func:`scan_reference` is the plain per-step
version that the tests compare against. Speed: ``rnnmem bench``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

ACTIVATIONS = ("identity", "tanh", "relu", "elu", "modrelu", "cmodrelu")
# the activations that take a bias b: modReLU (b: (H,)) and complex modReLU (b: (H/2,))
BIASED = ("modrelu", "cmodrelu")


def _pairs(u: torch.Tensor) -> torch.Tensor:
    """(…, 2N) [Re, Im] -> (…, 2, N): a complex unit's two parts on one axis."""
    return u.unflatten(-1, (2, -1))


def _cmodrelu_factors(out: torch.Tensor, bias: torch.Tensor):
    """For y = cmodrelu(z) = z (|z| + b)/|z| where active, from y (…, 2N) alone: per complex unit
    (…, N), ``grow`` = (|z| + b)/|z|, ``bend`` = b / ((|z| + b)² |z|) and ``radial`` =
    1/(|z| + b), each 0 where the unit is inactive (y = 0)."""
    re, im = out.chunk(2, dim=-1)
    rho = (re * re).addcmul_(im, im).sqrt_()  # |y| = |z| + b; hypot is ~10× slower
    radial = torch.where(rho > 0, rho, torch.inf).reciprocal_()
    r = (rho - bias).clamp_min_(1e-30)  # |z|
    return rho / r, bias * radial * radial / r, radial


def _activate_(u: torch.Tensor, activation: str, bias: torch.Tensor | None = None) -> None:
    if activation == "modrelu":  # sign(z)·relu(|z| + b) (Arjovsky et al. 2016), in 4 ops
        torch.copysign(u.abs().add_(bias).relu_(), u, out=u)
    elif activation == "cmodrelu":  # on complex units z = (u_j, u_{N+j}): z/|z|·relu(|z| + b)
        # not a norm over the pair axis (a middle-axis reduction is ~100× slower) nor hypot
        re, im = u.chunk(2, dim=1)
        r = (re * re).addcmul_(im, im).sqrt_()
        _pairs(u).mul_((r + bias).relu_().div_(r.clamp_min_(1e-30)).unsqueeze(1))
    elif activation == "tanh":
        u.tanh_()
    elif activation == "relu":
        u.relu_()
    elif activation == "elu":
        F.elu(u, inplace=True)


def _backward_through_activation_(g: torch.Tensor, u: torch.Tensor, activation: str) -> None:
    """g ← g · φ'(pre), with φ' written in terms of u = φ(pre); in place, one fused kernel."""
    if activation == "tanh":
        torch.ops.aten.tanh_backward.grad_input(g, u, grad_input=g)
    elif activation == "relu":
        torch.ops.aten.threshold_backward.grad_input(g, u, 0, grad_input=g)
    elif activation == "elu":  # is_result=True: derivative from the output, u + 1 where u ≤ 0
        torch.ops.aten.elu_backward.grad_input(g, 1.0, 1, 1, True, u, grad_input=g)


class ScanFunction(torch.autograd.Function):
    """Autograd function for :func:`scan`. Inputs: a (T,B,H), V (H,H), h0 (B,H).

    Outputs: all states h (T, B, H) and the clipping scales (T, B) (1 where clipping did not
    fire; (0,) where it never fired), which the backward needs. New-style (``setup_context``); its
    backward is differentiable: asked for a graph (double backward, ``create_graph=True``) it
    differentiates :func:`scan_reference` at the saved inputs instead of its fused loop.

    The loops do the fewest possible ops per step, in place into buffers that start as a copy of
    their additive term (no per-step copy): the forward one ``addmm_`` plus the activation, the
    backward one ``addmm_`` plus PyTorch's fused activation-backward kernel; per-step views are
    made once (``unbind``). Clipping costs nothing while a norm bound shows it cannot fire,
    and its projection only on the steps where it did.
    """

    @staticmethod
    def forward(a, V, h0, bias, activation, clip):
        T = a.shape[0]
        h = a.clone(memory_format=torch.contiguous_format)  # (T, B, H): a_t, then h_t in place
        Hs = h.unbind(0)
        Vt = V.t()
        prev = h0
        # per-row scale l/‖u‖ (≤ 1) of every step, 1 where clipping did not fire; made at the
        # first step where it fires ((0,) while it never has)
        scales = a.new_empty(0)
        if clip is not None:
            # A cheap bound saves the per-step norm while no state can reach the limit:
            # ‖h_t‖ ≤ ‖a_t‖ + ‖V‖₂ ‖h_{t-1}‖, as every φ here is 1-Lipschitz with φ(0) = 0.
            drive = torch.linalg.vector_norm(a, dim=2).amax(1)
            if bias is not None:  # ‖modrelu(z)‖ ≤ ‖z‖ + ‖relu(b)‖
                drive = drive + torch.linalg.vector_norm(bias.clamp(min=0))
            drive = drive.tolist()
            # non-finite weights (a diverging run) have no norm: check every step instead
            gain = (torch.linalg.matrix_norm(V, ord=2).item() if torch.isfinite(V).all()
                    else math.inf)
            bound = torch.linalg.vector_norm(h0, dim=1).max().item()
        for t in range(T):
            u = Hs[t]
            u.addmm_(prev, Vt)
            _activate_(u, activation, bias)
            if clip is not None:
                bound = drive[t] + gain * bound
                if bound > clip:
                    norm = torch.linalg.vector_norm(u, dim=1)
                    bound = norm.max().item()
                    if bound > clip:
                        scale = (clip / norm).clamp_(max=1.0)
                        u.mul_(scale[:, None])
                        if scales.numel() == 0:
                            scales = a.new_ones(T, a.shape[1])
                        scales[t] = scale
                        bound = clip
            prev = u
        return h, scales

    @classmethod
    def apply(cls, *args):
        # Function.apply binds the arguments to forward's signature with inspect on every call
        # (~35 µs a call); with no torch.func transform active, which is the
        # only case it needs, the base apply does the same (all arguments come positionally).
        if torch._C._are_functorch_transforms_active():
            return super().apply(*args)
        return super(torch.autograd.Function, cls).apply(*args)

    @staticmethod
    def setup_context(ctx, inputs, output):
        a, V, h0, bias, activation, clip = inputs
        h, scales = output
        ctx.activation, ctx.clip = activation, clip
        ctx.mark_non_differentiable(scales)
        ctx.set_materialize_grads(False)  # no zeros made for the scales' (unused) gradient
        ctx.save_for_backward(a, V, h0, h, bias, scales)

    @staticmethod
    def backward(ctx, grad_h, grad_scales=None):
        if grad_h is None:  # only the scales were used (they have no gradient)
            return None, None, None, None, None, None
        a, V, h0, h, bias, scales = ctx.saved_tensors
        if torch.is_grad_enabled():  # a graph of the gradient is asked for: differentiable ops
            return _reference_backward(a, V, h0, bias, ctx.activation, ctx.clip, grad_h)
        activation = ctx.activation
        # the steps where clipping fired (some row's scale below 1), and their scales
        clipped = ({} if scales.numel() == 0 else
                   {int(t): scales[t] for t in (scales < 1).any(1).nonzero()[:, 0]})
        T, B, H = h.shape
        # ∂L/∂(a_t + V h_{t-1}), built in place from grad_h
        grad_pre = grad_h.clone(memory_format=torch.contiguous_format)
        G, Hs = grad_pre.unbind(0), h.unbind(0)
        if activation == "modrelu":  # ∂L/∂b, summed over the batch step by step
            grad_bias, ones = bias.new_zeros(H), h.new_ones(B)
        if activation == "cmodrelu":
            # y = z (1 + b/|z|): ∂L/∂z = g·grow − y (y·g)·bend per complex unit, factors for
            # all steps at once; (y·g) per step is kept for ∂L/∂b = Σ (y·g)·radial
            factors = _cmodrelu_factors(h, bias)
            dots = h.new_empty(T, B, H // 2)
        for t in range(T - 1, -1, -1):
            g = G[t]
            if t < T - 1:  # ∂L/∂h_t = grad_h[t] + (∂L/∂pre_{t+1}) V
                g.addmm_(G[t + 1], V)
            u = Hs[t]
            if t in clipped:
                # h = s·u with s = l/‖u‖ where it fired: ∂h/∂u = s (I - û ûᵀ) there; φ' needs
                # the activation before rescaling.
                scale = clipped[t]
                u = u / scale[:, None]
                unit = u / torch.linalg.vector_norm(u, dim=1, keepdim=True).clamp_min(1e-30)
                radial = (unit * g).sum(1, keepdim=True) * unit
                g.copy_(scale[:, None] * torch.where((scale < 1)[:, None], g - radial, g))
            if activation == "cmodrelu":
                grow, bend, _ = (_cmodrelu_factors(u, bias) if t in clipped
                                 else (f[t] for f in factors))
                (y_re, y_im), (g_re, g_im) = u.chunk(2, dim=1), g.chunk(2, dim=1)
                dot = torch.mul(y_re, g_re, out=dots[t]).addcmul_(y_im, g_im)  # y·g per unit
                _pairs(g).mul_(grow.unsqueeze(1)).sub_(_pairs(u) * (dot * bend).unsqueeze(1))
            elif activation == "modrelu":
                # ∂h/∂pre = 1 and ∂h/∂b = sign(h) where the unit is active, 0 where not: with
                # s = sign(h) (0 where inactive), g·s is ∂L/∂b's term and (g·s)·s the gradient
                # on; all while the step's rows are in cache (whole-tensor passes over (T, B, H)
                # cost more than the loop at the expRNN size)
                sign = torch.sign(u)
                grad_bias.addmv_(g.mul_(sign).t(), ones)
                g.mul_(sign)
            else:
                _backward_through_activation_(g, u, activation)
        # ∂L/∂V = Σ_t grad_pre_tᵀ h_{t-1}: one large product (plus the h0 term), no copies
        grad_V = grad_pre[1:].reshape(-1, H).t() @ h[:-1].reshape(-1, H)
        grad_V.addmm_(grad_pre[0].t(), h0)
        if activation not in BIASED:
            grad_bias = None
        elif activation == "cmodrelu":  # ∂y/∂b = y/|y| per complex unit
            radial = factors[2]
            for t in clipped:  # those steps' factors are from the unclipped output
                radial[t] = _cmodrelu_factors(h[t] / clipped[t][:, None], bias)[2]
            grad_bias = (dots * radial).sum((0, 1))
        return grad_pre, grad_V, grad_pre[0] @ V, grad_bias, None, None


def _reference_backward(a, V, h0, bias, activation, clip, grad_h):
    """∂L/∂(a, V, h0, bias) as a graph: :func:`scan_reference` at the saved inputs,
    differentiated with ``create_graph=True`` (double backward, Hessian-vector products)."""
    def reference(a, V, h0, bias):
        return scan_reference(a, V, h0, activation=activation, clip=clip, bias=bias)

    return (*differentiated(reference, (a, V, h0, bias), grad_h), None, None)


def differentiated(reference, inputs: tuple, grad: torch.Tensor) -> tuple:
    """A fused scan's backward asked for a graph of the gradient (a double backward): the
    gradients of ``inputs`` (None where an input is None or needs none) through ``reference``,
    the same function in differentiable ops."""
    wanted = [t for t in inputs if t is not None and t.requires_grad]
    with torch.enable_grad():
        out = reference(*inputs)
        grads = dict(zip(map(id, wanted), torch.autograd.grad(
            out, wanted, grad, create_graph=True, allow_unused=True), strict=True))
    return tuple(grads.get(id(t)) if t is not None else None for t in inputs)


def _traced(*tensors) -> bool:
    """Whether the recurrence runs under torch.compile or a torch.func transform (grad, vmap,
    jacrev, ...), or on tensors without data (the meta device), where :func:`scan` takes
    :func:`scan_reference`: its fused loop syncs with the host to skip clipping while a norm
    bound shows it cannot fire, and writes in place."""
    if torch.compiler.is_compiling():
        return True
    wrapped = torch._C._functorch.is_functorch_wrapped_tensor  # no public test exists
    return any(t is not None and (wrapped(t) or t.is_meta) for t in tensors)


def _check(a: torch.Tensor, V: torch.Tensor, activation: str, clip, bias) -> None:
    if (activation in BIASED) != (bias is not None):
        raise ValueError("modrelu takes a bias (H,), cmodrelu one (H/2,), and only they do")
    if activation == "cmodrelu" and (a.shape[-1] % 2 or bias.shape != (a.shape[-1] // 2,)):
        raise ValueError(f"cmodrelu needs an even H and a bias (H/2,), got H = {a.shape[-1]} "
                         f"and a bias of shape {tuple(bias.shape)}")
    if a.dim() != 3 or V.shape != (a.shape[2], a.shape[2]):
        raise ValueError(f"scan expects a (T, B, H) and V (H, H), got {tuple(a.shape)}, "
                         f"{tuple(V.shape)}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}; got {activation!r}")
    if clip is not None and not clip > 0:
        raise ValueError(f"clip must be positive or None, got {clip!r}")


def scan(
    a: torch.Tensor,
    V: torch.Tensor,
    h0: torch.Tensor | None = None,
    *,
    activation: str = "identity",
    clip: float | None = None,
    bias: torch.Tensor | None = None,
) -> torch.Tensor:
    """All hidden states (T, B, H) of ``h_t = clip(φ(a_t + V h_{t-1}))``, fused.

    Under ``torch.compile`` and ``torch.func`` transforms it runs :func:`scan_reference` (the
    same recurrence in plain differentiable ops, one step at a time): graphs capture it whole
    and every transform composes with it. Double backward works in eager mode too (see
    :class:`ScanFunction`). Eager results are those of the fused loop, unchanged.

    ``bias`` is modReLU's b, required by ``activation="modrelu"`` ((H,)) and ``"cmodrelu"``
    ((H/2,): complex modReLU on the units ``h_j + i h_{H/2+j}``, the uRNN's), and only by them.

    Example:
        >>> a, V = torch.randn(5, 2, 3), torch.eye(3)
        >>> torch.allclose(scan(a, V)[-1], a.sum(0))
        True
    """
    _check(a, V, activation, clip, bias)
    if _traced(a, V, h0, bias):
        return scan_reference(a, V, h0, activation=activation, clip=clip, bias=bias)
    if h0 is None:
        h0 = a.new_zeros(a.shape[1], a.shape[2])
    return ScanFunction.apply(a, V, h0, bias, activation, clip)[0]


def scan_reference(
    a: torch.Tensor,
    V: torch.Tensor,
    h0: torch.Tensor | None = None,
    *,
    activation: str = "identity",
    clip: float | None = None,
    bias: torch.Tensor | None = None,
) -> torch.Tensor:
    """The same recurrence as :func:`scan`, one autograd step at a time (the reference)."""
    _check(a, V, activation, clip, bias)
    def cmodrelu(z):
        re, im = z.chunk(2, dim=-1)
        r = torch.sqrt(re * re + im * im)
        scale = torch.relu(r + bias) / r.clamp_min(1e-30)
        return torch.cat([re * scale, im * scale], -1)

    phi = {"identity": lambda z: z, "tanh": torch.tanh, "relu": torch.relu, "elu": F.elu,
           "modrelu": lambda z: torch.sign(z) * torch.relu(z.abs() + bias), "cmodrelu": cmodrelu}
    prev = a.new_zeros(a.shape[1], a.shape[2]) if h0 is None else h0
    states = []
    for a_t in a.unbind(0):  # unbind, not a[t]: each a[t]'s backward would fill a (T, B, H) zero
        u = phi[activation](a_t + prev @ V.t())
        if clip is not None:  # l/max(‖u‖, l): the same numbers as min(l/‖u‖, 1), and a
            # finite derivative (the identity) at u = 0, where torch.func linearizes a layer
            u = u * (clip / u.norm(dim=1, keepdim=True).clamp(min=clip))
        states.append(u)
        prev = u
    return torch.stack(states)
