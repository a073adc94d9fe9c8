"""Hand-built LT-RNN solutions of the copy and adding tasks (Henaff §3.1.1, §3.2.1).

The networks load into the library's own :class:`~rnnmem.nn.RecurrentNet` (LT-RNN + linear
readout), so they run through the same code as trained ones.

**Copy, as the paper writes it** (:func:`copy_construction`, ``corrected=False``): hidden size
2d+1; V = diag(Q, 1) with Q made of d 2×2 rotations by 2π l_j/(T+S), l_j uniform in {1..T+S}
(a "clock" of period T+S); Ũ (2d × K) has columns uniform on the unit sphere; the last unit
counts: −1/S per symbol, −1 per blank, +(S+T+1) at the delimiter; the decoder scores symbol k by
ũ_kᵀh̃ and blank by −(S+1)·h_{2d+1}.

**Where it disagrees with the task.** In Henaff's copy layout (S symbols, T−1 blanks,
delimiter, S blanks; target T+S blanks then the symbols) the delimiter arrives at step T+S
(1-based) and its target is *blank*. The construction sets the counter positive on that very
step, so the blank's score is −(S+1)² there and the network outputs a symbol (or the delimiter)
where the target is blank: every sequence gets that one step wrong. The answer steps T+S+1 …
T+2S are unaffected. (The construction is right at every step for the expRNN layout, where the
first answer is due at the delimiter step.)

**Corrected** (``corrected=True``): one more unit, a delay line. The delimiter now counts −1
like a blank and also sets the extra unit e to 1; e feeds +(S+T+2) into the counter on the next
step. The counter is then −(T+1) < 0 at the delimiter step (blank wins) and S, S−1, …, 1 > 0 at
the answer steps, exactly as in the paper. Hidden size 2d+2; the same clock and decoder.

**Adding** (:func:`adding_construction`): one ReLU unit, U = [1 1], b = −1, V = 1, W = 1; the
d-unit version uses V = I_d and averages the d identical units.
"""

from __future__ import annotations

import math

import torch

from .nn.ltrnn import LTRNN
from .nn.model import RecurrentNet
from .nn.readout import Readout


def sample_clock(trials: int, d: int, period: int, generator: torch.Generator) -> torch.Tensor:
    """The clock's block frequencies l_j (trials, d), uniform in {1, …, period}."""
    return torch.randint(1, period + 1, (trials, d), generator=generator)


def sample_codes(trials: int, d: int, K: int, generator: torch.Generator) -> torch.Tensor:
    """Ũ (trials, 2d, K): K columns uniform on the unit sphere of R^{2d}."""
    u = torch.randn(trials, 2 * d, K, generator=generator, dtype=torch.float64)
    return u / u.norm(dim=1, keepdim=True)


def clock_matrix(freqs: torch.Tensor, period: int) -> torch.Tensor:
    """Q = diag(Q_1, …, Q_d), Q_j = [[cos a_j, sin a_j], [−sin a_j, cos a_j]], a_j = 2π l_j/P."""
    angle = 2 * math.pi * freqs.double() / period
    c, s = torch.cos(angle), torch.sin(angle)
    blocks = torch.stack([torch.stack([c, s], -1), torch.stack([-s, c], -1)], -2)  # (d, 2, 2)
    return torch.block_diag(*blocks)


def copy_construction(
    T: int,
    S: int,
    K: int,
    d: int,
    *,
    corrected: bool = False,
    freqs: torch.Tensor | None = None,
    codes: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> RecurrentNet:
    """Henaff §3.1.1's LT-RNN solution of copy (delay T, S symbols out of K), float64.

    ``freqs`` (d,) and ``codes`` (2d, K) fix the random parts; otherwise they are drawn from
    ``generator``. ``corrected=True`` adds the delay unit that makes every step right (see the
    module docstring).
    """
    generator = generator or torch.Generator().manual_seed(0)
    P = T + S
    freqs = sample_clock(1, d, P, generator)[0] if freqs is None else freqs
    codes = sample_codes(1, d, K, generator)[0] if codes is None else codes.double()
    n = 2 * d + (2 if corrected else 1)
    blank, delimiter, count = K, K + 1, 2 * d  # class indices; index of the counter unit
    U = torch.zeros(n, K + 2, dtype=torch.float64)
    U[: 2 * d, :K] = codes
    U[count, :K] = -1.0 / S
    U[count, blank] = -1.0
    V = torch.eye(n, dtype=torch.float64)
    V[: 2 * d, : 2 * d] = clock_matrix(freqs, P)
    if corrected:
        delay = count + 1
        U[count, delimiter] = -1.0  # the delimiter step still outputs blank
        U[delay, delimiter] = 1.0
        V[delay, delay] = 0.0
        V[count, delay] = S + T + 2  # one step later the counter turns positive
    else:
        U[count, delimiter] = S + T + 1
    W = torch.zeros(K + 2, n, dtype=torch.float64)
    W[:K, : 2 * d] = codes.t()
    W[blank, count] = -(S + 1)
    return _lt_rnn(U, torch.zeros(n, dtype=torch.float64), V, W, input_activation="none")


def adding_construction(d: int = 1) -> RecurrentNet:
    """Henaff §3.2.1: ReLU LT-RNN whose last output is exactly the sum of the marked values.

    Inputs in (value, mark) order; with d > 1, d identical units and V = I_d, read out by their
    mean (the "redundant" identity solution of §3.3).
    """
    U = torch.ones(d, 2, dtype=torch.float64)
    b = -torch.ones(d, dtype=torch.float64)
    W = torch.full((1, d), 1.0 / d, dtype=torch.float64)
    return _lt_rnn(U, b, torch.eye(d, dtype=torch.float64), W, input_activation="relu")


def _lt_rnn(U, b, V, W, *, input_activation: str) -> RecurrentNet:
    """An LT-RNN (Henaff eq. 2) with the given U, b, V and readout W (no clipping)."""
    net = RecurrentNet(LTRNN(U.shape[1], V.shape[0], input_activation=input_activation),
                       Readout(V.shape[0], W.shape[0])).double()
    with torch.no_grad():
        net.rnn.U.weight.copy_(U)
        net.rnn.U.bias.copy_(b)
        net.rnn.V.copy_(V)
        net.readout.W.weight.copy_(W)
        net.readout.W.bias.zero_()
    return net


def answer_logits(freqs: torch.Tensor, codes: torch.Tensor, symbols: torch.Tensor, T: int,
                  S: int) -> torch.Tensor:
    """Decoder outputs (trials, S, K+2) of the copy construction at the S answer steps.

    Vectorized over trials without running the recurrence. A 2×2 block rotation is a complex
    phase, Q^p z = e^{-ipa} z, and once the inputs have entered the state only rotates: at answer
    step T+S+1+m (1-based) h̃ = Q^{T+S+1+m} Σ_j Q^{-j} u_{ij} = Q^{1+m} Σ_j Q^{-j} u_{ij}. Both
    constructions give these same outputs. Shapes: ``freqs`` (N, d), ``codes`` (N, 2d, K),
    ``symbols`` (N, S).
    """
    N, d = freqs.shape
    K = codes.shape[2]
    P = T + S

    def rotation(power: torch.Tensor) -> torch.Tensor:  # e^{-i·power·a}, exact integer phases
        phase = (power * freqs[..., None]) % P
        return torch.polar(torch.ones((), dtype=torch.float64), -2 * math.pi * phase.double() / P)

    z = torch.complex(codes[:, 0::2], codes[:, 1::2])  # (N, d, K)
    entered = torch.gather(z, 2, symbols[:, None, :].expand(N, d, S))  # (N, d, S)
    j = torch.arange(1, S + 1)
    start = (rotation(P - j) * entered).sum(2)  # Σ_j Q^{-j} u_{ij}: (N, d)
    h = rotation(1 + torch.arange(S)) * start[..., None]  # (N, d, S): h̃ at each answer step
    logits = torch.zeros(N, S, K + 2, dtype=torch.float64)
    logits[..., :K] = torch.einsum("ndk,nds->nsk", z.conj(), h).real
    m = torch.arange(S, dtype=torch.float64)
    logits[..., K] = -(S + 1) * (S - m)  # counter S+1-(m+1) > 0: blank scores < 0
    return logits


def copy_success(T: int, S: int, K: int, d: int, trials: int,
                 generator: torch.Generator) -> torch.Tensor:
    """Per trial (fresh clock, codes and sequence each): are all S answers right? (trials,)"""
    freqs = sample_clock(trials, d, T + S, generator)
    codes = sample_codes(trials, d, K, generator)
    symbols = torch.randint(0, K, (trials, S), generator=generator)
    return (answer_logits(freqs, codes, symbols, T, S).argmax(-1) == symbols).all(1)


def interference(T: int, S: int, K: int, d: int, trials: int,
                 generator: torch.Generator) -> torch.Tensor:
    """|u_{i1}ᵀ Σ_{j≥2} Q^{1−j} u_{ij}|² per trial (Henaff §3.1.1 expects about (S−1)/d)."""
    freqs = sample_clock(trials, d, T + S, generator)
    codes = sample_codes(trials, d, K, generator)
    symbols = torch.randint(0, K, (trials, S), generator=generator)
    logits = answer_logits(freqs, codes, symbols, T, S)[:, 0, :K]  # first answer step
    own = logits.gather(1, symbols[:, :1])[:, 0]  # u_{i1}ᵀ h̃ = 1 + interference
    return (own - 1.0) ** 2
