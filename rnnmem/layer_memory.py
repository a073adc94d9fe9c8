"""Memory of any recurrent layer, built-in or a plugin's, trained or not.

Two measures, both through nothing but the layer's interface (:mod:`rnnmem.nn.protocol`):

- **Fisher memory of its linearization at rest** (Orhan & Pitkow §2.1 on the linearized
  network): one step of the layer, ``z_t = F(z_{t-1}, x_t)`` on its whole carried state z (the
  LSTM's (h, c); a complex state as its real and imaginary parts), is differentiated with
  ``torch.func.jacrev`` at rest (zero input, the state that zero input settles to) into the
  transition ``A = ∂z_t/∂z_{t-1}`` and the input map ``v = ∂z_t/∂x_t · u`` for a scalar signal
  along the unit input direction u. :func:`rnnmem.memory.total_memory` of (A, v) is J_tot; its
  normalised value J_tot / (‖v‖²/ε) is 1 for any normal A and at most the state size.
- **Empirical memory capacity** (Jaeger 2002: MC = Σ_k R²_k): the actual, non-linear layer is
  driven by i.i.d. N(0, 1) signals along u, with Gaussian noise of std ``noise`` added to its
  state after every step, and a ridge decoder per lag k reads s_{L-k} from the last output
  h_L; R²_k is held-out (clipped at 0), as in the decoding toy of Orhan & Pitkow §2.2.
"""

from __future__ import annotations

import math

import torch

from .device import model_device
from .memory import MemoryOutOfBounds, NoStationaryState, ridge_fit, ridge_predict, total_memory
from .nn.protocol import all_states, forward_state


def input_direction(n_inputs: int, channel: int | None = None, *, dtype=torch.float64,
                    device=None) -> torch.Tensor:
    """The unit vector a scalar signal enters along: one channel, or all equally (None)."""
    if channel is None:
        return torch.full((n_inputs,), n_inputs ** -0.5, dtype=dtype, device=device)
    if not 0 <= channel < n_inputs:
        raise ValueError(f"channel must be in [0, {n_inputs}), got {channel}")
    return torch.zeros(n_inputs, dtype=dtype, device=device).index_fill_(0, torch.tensor(
        [channel], device=device), 1.0)


# ---------------------------------------------------------------- the state as one real vector

def _leaves(state) -> list[torch.Tensor]:
    return list(state) if isinstance(state, tuple) else [state]


def _flatten(state) -> torch.Tensor:
    """A carried state (a tensor or a tuple, each (1, n), real or complex) as one real vector."""
    parts = []
    for t in _leaves(state):
        t = t.reshape(-1)
        parts += [t.real, t.imag] if t.is_complex() else [t]
    return torch.cat(parts)


def _unflatten(z: torch.Tensor, like):
    """The inverse of :func:`_flatten`, shaped as the state ``like``."""
    out, i = [], 0
    for t in _leaves(like):
        n = t.numel()
        if t.is_complex():
            part = torch.complex(z[i:i + n], z[i + n:i + 2 * n]).to(t.dtype)
            i += 2 * n
        else:
            part = z[i:i + n].to(t.dtype)
            i += n
        out.append(part.reshape(t.shape))
    return tuple(out) if isinstance(like, tuple) else out[0]


def _step(layer, x: torch.Tensor, state):
    """One step from ``state``: the final state (what the next step continues from)."""
    return forward_state(layer, x, state)[1]


def rest_state(layer, n_inputs: int, *, settle: int = 100):
    """The state (batch of 1) after ``settle`` steps of zero input from the zero state (0: the
    layer's own zero state), where the linearization is taken."""
    device = model_device(layer)
    dtype = next(layer.parameters()).dtype
    with torch.no_grad():
        x = torch.zeros(1, 1, n_inputs, dtype=dtype, device=device)
        state = _step(layer, x, None)  # the layer's state type, one step from its zero state
        state = tuple(torch.zeros_like(t) for t in _leaves(state)) if isinstance(
            state, tuple) else torch.zeros_like(state)
        if settle:
            state = _step(layer, x.expand(settle, 1, n_inputs), state)
    return state


def linearize(layer, n_inputs: int, *, channel: int | None = None, settle: int = 100
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """(A, v): the transition ∂z_t/∂z_{t-1} (S, S) and the input map ∂z_t/∂x_t · u (S,) of one
    step of ``layer`` at rest, over its whole carried state z of S real numbers, in float64."""
    rest = rest_state(layer, n_inputs, settle=settle)
    dtype = next(layer.parameters()).dtype
    device = model_device(layer)
    z0 = _flatten(rest).detach()
    x0 = torch.zeros(n_inputs, dtype=dtype, device=device)

    def step(z, x):
        return _flatten(_step(layer, x.reshape(1, 1, -1), _unflatten(z, rest)))

    A, B = torch.func.jacrev(step, argnums=(0, 1))(z0, x0)
    u = input_direction(n_inputs, channel, device=device)
    return A.detach().double().cpu(), (B.detach().double() @ u).cpu()


def fisher_summary(layer, n_inputs: int, *, noise: float = 1.0, horizon: int | None = None,
                   channel: int | None = None, settle: int = 100) -> dict:
    """J_tot of the layer's linearization at rest (:func:`linearize`), its normalised value
    J_tot·ε/‖v‖² (1: as much as any normal network, up to the state size S), the spectral
    radius of A, and ``error`` where the memory does not exist (ρ(A) ≥ 1 without a horizon) or
    cannot be summed accurately; ``horizon``: the network started that many steps ago."""
    A, v = linearize(layer, n_inputs, channel=channel, settle=settle)
    if not (torch.isfinite(A).all() and torch.isfinite(v).all()):
        return dict(state_size=A.shape[0], spectral_radius=None, v_norm2=None, noise=noise,
                    horizon=horizon, J_tot=None, J_tot_normalized=None,
                    error="the linearization at rest is not finite")
    radius = torch.linalg.eigvals(A).abs().max().item()
    scale = v.pow(2).sum().item() / noise
    out = dict(state_size=A.shape[0], spectral_radius=radius, v_norm2=v.pow(2).sum().item(),
               noise=noise, horizon=horizon, J_tot=None, J_tot_normalized=None, error=None)
    if scale == 0:
        out["error"] = "the input does not reach the state at rest (v = 0)"
        return out
    try:
        J_tot = total_memory(A, v, noise=noise, horizon=horizon)
    except (NoStationaryState, MemoryOutOfBounds) as err:
        out["error"] = str(err)
        return out
    out.update(J_tot=J_tot, J_tot_normalized=J_tot / scale)
    return out


def linearize_along(layer, n_inputs: int, signals: torch.Tensor, *, channel: int | None = None
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """(A_t, v_t) for t = 1 … L: the transition ∂z_t/∂z_{t-1} (L, S, S) and input map
    ∂z_t/∂x_t · u (L, S) of each step of ``layer`` along the trajectory that ``signals`` (L,)
    along the input direction u drive from its zero state, in float64. An input-dependent
    (selective) transition has an A_t of its own at every step; an LTI one the same A."""
    dtype = next(layer.parameters()).dtype
    device = model_device(layer)
    u = input_direction(n_inputs, channel, device=device)
    xs = (signals.double().to(device)[:, None] * u).to(dtype)
    state = rest_state(layer, n_inputs, settle=0)  # the layer's zero state
    A, v = [], []
    for x in xs:
        z0 = _flatten(state).detach()

        def step(z, x, like=state):
            return _flatten(_step(layer, x.reshape(1, 1, -1), _unflatten(z, like)))

        A_t, B_t = torch.func.jacrev(step, argnums=(0, 1))(z0, x)
        A.append(A_t.detach().double().cpu())
        v.append((B_t.detach().double() @ u).cpu())
        with torch.no_grad():
            state = _step(layer, x.reshape(1, 1, -1), state)
    return torch.stack(A), torch.stack(v)


def fisher_along_input(layer, n_inputs: int, *, length: int = 100, noise: float = 1.0,
                       channel: int | None = None, seed: int = 0) -> dict:
    """Fisher memory of the layer linearized along an actual input: a selective layer's
    transition depends on what it reads, so its linearization at rest describes a network that
    never runs. i.i.d. N(0, 1) signals along the input direction drive the layer for ``length``
    steps from its zero state (``seed``); around that trajectory the network is the
    time-varying linear system z_t = A_t z_{t-1} + v_t s_t + noise (N(0, ε) on every state
    number after every step). Its Fisher information about s_{L-k} in the last state is
    J(k) = g_kᵀ C⁻¹ g_k, g_k = Φ_{L,L-k} v_{L-k}, C = ε Σ_j Φ_{L,j} Φ_{L,j}ᵀ with
    Φ_{L,j} = A_L ⋯ A_{j+1} (Orhan & Pitkow §2.1 with A_t in place of a fixed W; for an LTI
    layer at rest it is their finite-horizon J). ``J_tot_normalized``: J_tot·ε over the mean
    ‖v_t‖² (1 for a fixed normal transition whose v_t is constant)."""
    if not noise > 0 or not math.isfinite(noise):
        raise ValueError(f"noise must be a finite number > 0, got {noise!r}")
    g = torch.Generator().manual_seed(seed)
    signals = torch.randn(length, generator=g, dtype=torch.float64)
    A, v = linearize_along(layer, n_inputs, signals, channel=channel)
    S = A.shape[1]
    out = dict(state_size=S, length=length, noise=noise, along="input", seed=seed,
               J_tot=None, J_tot_normalized=None, curve=None, error=None)
    if not (torch.isfinite(A).all() and torch.isfinite(v).all()):
        out["error"] = "the linearization along the input is not finite"
        return out
    P = torch.eye(S, dtype=torch.float64)  # Φ_{L,j}, from j = L down
    C = torch.zeros(S, S, dtype=torch.float64)
    G = torch.empty(S, length, dtype=torch.float64)  # column k: g_k
    for k in range(length):
        j = length - 1 - k  # the step whose input is s_{L-k}
        C += P @ P.T
        G[:, k] = P @ v[j]
        P = P @ A[j]
    C *= noise
    scale = v.pow(2).sum(1).mean().item() / noise
    if scale == 0:
        out["error"] = "the input does not reach the state (v_t = 0)"
        return out
    evals, evecs = torch.linalg.eigh((C + C.T) / 2)
    keep = evals > evals.max() * 1e-12  # directions the noise reaches: C⁻¹ on them
    W = (evecs[:, keep].T @ G) / evals[keep].sqrt()[:, None]
    curve = W.pow(2).sum(0)
    J_tot = curve.sum().item()
    out.update(J_tot=J_tot, J_tot_normalized=J_tot / scale, curve=curve.tolist())
    return out


MAX_FISHER_STATE = 1024  # the Fisher measures cost S³ (along an input L·S³): up to this size
MEMORY_KEYS = ("memory_J_rest", "memory_J_input", "memory_MC")  # a summary's, a table's columns


def network_memory(layer, n_inputs: int, *, horizon: int, lags: int = 100,
                   noise: float = 0.1) -> dict:
    """The memory of a trained network as a run's summary records it (the memory benchmark's
    columns): J_tot·ε/‖v‖² of its linearization at rest over ``horizon`` steps
    (``memory_J_rest``), the same along an N(0, 1) input (``memory_J_input``), both None above
    MAX_FISHER_STATE state numbers (the Mamba block's ~5,000), and its memory capacity over
    ``lags`` lags with state noise ``noise`` (``memory_MC``); None where a measure does not
    exist (its ``error``)."""
    state = _flatten(rest_state(layer, n_inputs, settle=0)).numel()
    rest = along = {"J_tot_normalized": None}
    if state <= MAX_FISHER_STATE:
        rest = fisher_summary(layer, n_inputs, horizon=horizon)
        along = fisher_along_input(layer, n_inputs, length=horizon)
    capacity = memory_capacity(layer, n_inputs, length=lags, noise=noise)
    return dict(memory_J_rest=rest["J_tot_normalized"], memory_J_input=along["J_tot_normalized"],
                memory_MC=capacity["MC"])


@torch.no_grad()
def memory_capacity(layer, n_inputs: int, *, length: int = 100, noise: float = 0.0,
                    channel: int | None = None, train: int = 2000, test: int = 1000,
                    ridge: float = 1e-6, seed: int = 0) -> dict:
    """Jaeger's memory capacity MC = Σ_k max(R²_k, 0), k = 0 … length−1, of the layer itself.

    Each of ``train + test`` sequences drives the layer for ``length`` steps from its zero
    state with i.i.d. N(0, 1) signals along the input direction; ``noise`` > 0 adds N(0, noise²)
    to every number of the carried state after each step (the layer then runs step by step).
    Returns MC and the curve R²_k (held-out, not clipped).
    """
    if not noise >= 0 or not math.isfinite(noise):
        raise ValueError(f"noise must be a finite number >= 0, got {noise!r}")
    device = model_device(layer)
    dtype = next(layer.parameters()).dtype
    g = torch.Generator().manual_seed(seed)  # on the CPU: the same draws on every device
    n = train + test
    signals = torch.randn(length, n, generator=g, dtype=torch.float64)
    u = input_direction(n_inputs, channel)
    x = (signals[..., None] * u).to(dtype=dtype, device=device)  # (L, n, d)
    if noise == 0:
        h = all_states(layer, x)[-1]
    else:
        state = None
        for t in range(length):
            out, state = forward_state(layer, x[t:t + 1], state)
            state = _perturbed(state, noise, g)
        h = out[-1]
    h = (torch.cat([h.real, h.imag], -1) if h.is_complex() else h).double().cpu()
    targets = signals.flip(0).T  # column k: s_{L-k} (0-based s[L-1-k])
    B = ridge_fit(h[:train], targets[:train], ridge)
    residual = ridge_predict(h[train:], B) - targets[train:]
    r2 = 1 - residual.pow(2).mean(0) / targets[train:].var(0)
    return dict(MC=r2.clamp(min=0).sum().item(), r2=r2.tolist(), length=length, noise=noise)


def _perturbed(state, noise: float, generator: torch.Generator):
    def add(t):
        z = noise * torch.randn(t.shape, generator=generator, dtype=torch.float64)
        if t.is_complex():
            z = torch.complex(z, noise * torch.randn(t.shape, generator=generator,
                                                     dtype=torch.float64))
        return t + z.to(dtype=t.dtype, device=t.device)

    return tuple(map(add, state)) if isinstance(state, tuple) else add(state)
