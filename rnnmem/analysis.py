"""Analysis of recurrent weight matrices, trained or not (Orhan & Pitkow §2.4).

- :func:`henrici`: Henrici's departure from normality ``d(W) = sqrt(‖W‖_F² − Σ|λ_i|²)``.
- :func:`schur_profile`: the complex Schur form ``W = Z T Zᴴ``; how much of ‖T‖_F² lies above
  the diagonal and how far from it (a feed-forward chain hidden in a rotated basis shows there).
- :func:`hidden_chain`: after Rajan et al. (2016): inject a pulse, order the units by the time of
  their peak response, and average W's entries along each diagonal i − j of the reordered
  matrix; a bump at positive i − j is a hidden chain (Fig. 5), a profile rising or falling with
  i − j the gate structure of trained LSTMs (Fig. 6).
- :func:`load_run_model`: the model of a run directory written by ``rnnmem train``.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import scipy.linalg
import scipy.stats
import torch

from .device import model_device
from .nn.protocol import all_states, recurrent_matrix
from .rundir import RunDir, RunDirError


def henrici(W: torch.Tensor, *, normalized: bool = False) -> float:
    """Henrici's departure from normality; 0 iff W is normal. ``normalized``: divided by ‖W‖_F."""
    W = W.detach().double()
    frobenius2 = W.pow(2).sum()
    eig2 = torch.linalg.eigvals(W).abs().pow(2).sum()
    value = (frobenius2 - eig2).clamp(min=0).sqrt().item()
    return value / frobenius2.sqrt().item() if normalized and frobenius2 > 0 else value


def schur_profile(W: torch.Tensor) -> dict:
    """Complex Schur form of W: eigenvalues (diagonal of T) and the off-diagonal weight.

    ``offdiag_fraction`` = ‖strict upper part of T‖_F² / ‖W‖_F² (= normalized Henrici²);
    ``by_offset[o]`` = Σ_i |T_{i,i+o}|² for o = 1 … N−1: how far above the diagonal it sits.
    """
    T, _ = scipy.linalg.schur(W.detach().double().cpu().numpy(), output="complex")
    n = T.shape[0]
    power = np.abs(T) ** 2
    by_offset = [float(np.trace(power, offset=o)) for o in range(1, n)]
    total = float(power.sum())
    return dict(eigenvalues=np.diag(T).tolist(), by_offset=by_offset,
                offdiag_fraction=sum(by_offset) / total if total else 0.0)


def peak_order(responses: torch.Tensor) -> torch.Tensor:
    """Units ordered by the step of their largest |response|; ``responses`` (steps, N)."""
    peaks = responses.abs().argmax(0)
    # stable order: ties keep unit order, so an untouched chain stays in place
    return torch.as_tensor(np.argsort(peaks.cpu().numpy(), kind="stable"))


def diagonal_means(W: torch.Tensor) -> tuple[list[int], list[float]]:
    """Mean of W_ij along each diagonal i − j = −(N−1) … N−1."""
    n = W.shape[0]
    offsets = list(range(-(n - 1), n))
    return offsets, [torch.diagonal(W, -o).mean().item() for o in offsets]


def near_span(n: int) -> int:
    """How far from the diagonal a profile of diagonal means is read (and drawn): the far
    diagonals of an n × n matrix hold few entries, mostly noise."""
    return max(2, n // 4)


def hidden_chain(W: torch.Tensor, responses: torch.Tensor) -> dict:
    """Reorder W by the units' peak times in ``responses`` (steps, N); mean W_ij against i − j.

    Returns the order, the reordered matrix, the diagonal means, ``chain_score``: the mean of the
    i − j = +1 diagonal minus the mean of the −1 diagonal (> 0: unit j feeds unit j+1 more than
    the reverse, a feed-forward chain in the order of the peaks), and ``trend``: the rank
    correlation of the diagonal means with i − j over |i − j| ≤ :func:`near_span` (±1 for a
    profile monotone in i − j, as Orhan & Pitkow §2.5 report for trained LSTM gates; near 0 for
    none).
    """
    order = peak_order(responses)
    reordered = W.detach().double()[order][:, order]
    offsets, means = diagonal_means(reordered)
    center = offsets.index(0)
    span = near_span(W.shape[0])
    near = slice(center - span, center + span + 1)
    profile = means[near]
    trend = (0.0 if max(profile) == min(profile)  # a flat profile has no rank order
             else float(scipy.stats.spearmanr(offsets[near], profile).statistic))
    band, null, p_value = band_test(W.detach().double(), order, span)
    return dict(order=order.tolist(), reordered=reordered, offsets=offsets, means=means,
                chain_score=means[center + 1] - means[center - 1], trend=trend,
                band_score=band, band_null=null, band_p=p_value)


def band_score(W: torch.Tensor, span: int) -> float:
    """Feed-forward asymmetry of W over a band of diagonals: the mean of W_ij over
    1 ≤ i − j ≤ ``span`` minus its mean over −span ≤ i − j ≤ −1 (> 0: each unit feeds the
    next ones in this order more than they feed it back, a chain)."""
    below, above = _band_masks(W.shape[0], span)
    return (W[below].mean() - W[above].mean()).item()


@functools.cache
def _band_masks(n: int, span: int) -> tuple[torch.Tensor, torch.Tensor]:
    i, j = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    return (i - j >= 1) & (i - j <= span), (j - i >= 1) & (j - i <= span)


def band_test(W: torch.Tensor, order: torch.Tensor, span: int, *, permutations: int = 999,
              seed: int = 0) -> tuple[float, float, float]:
    """(band score of W in ``order``, its mean under random unit orders, one-sided p): is the
    peak-time order more chain-like than an arbitrary order of the same matrix? The null keeps
    W's entries and changes only which units are read as neighbours, so a matrix whose
    asymmetry does not follow the peak times (an untrained orthogonal one, or any normal one)
    scores like its shuffles. p = (1 + #{shuffles ≥ observed}) / (1 + permutations)."""
    observed = band_score(W[order][:, order], span)
    g = torch.Generator().manual_seed(seed)
    null = [band_score(W[p][:, p], span)
            for p in (torch.randperm(W.shape[0], generator=g) for _ in range(permutations))]
    exceed = sum(x >= observed for x in null)
    return observed, float(np.mean(null)), (1 + exceed) / (1 + permutations)


def pulse_responses(layer, n_inputs: int, *, steps: int = 100,
                    channel: int | None = None) -> torch.Tensor:
    """Hidden states (steps, N) of a recurrent layer after a pulse at step 0, zero input after.

    The pulse is 1 on input ``channel``, or on every channel if None (so that, e.g., the adding
    task's mark channel, which gates storage, is part of it).
    """
    x = torch.zeros(steps, 1, n_inputs, device=model_device(layer))
    if channel is None:
        x[0, 0, :] = 1.0
    else:
        x[0, 0, channel] = 1.0
    with torch.no_grad():
        return all_states(layer, x)[:, 0].cpu()


def recurrent_core(model) -> tuple[torch.nn.Module, int]:
    """(the first recurrent layer, its input size) of a task model or a language model."""
    if hasattr(model, "layers"):  # LanguageModel
        return model.layers[0], model.embed.embedding_dim
    return model.rnn, model.n_inputs


def recurrent_blocks(layer) -> dict[str, torch.Tensor]:
    """The layer's recurrent matrix as named real square blocks (float64): one "W", or one per
    gate of a gated layer (its ``gates``). A complex recurrent matrix (uRNN) has no real chain
    analysis: ValueError."""
    W = recurrent_matrix(layer).detach().cpu()
    if W.is_complex():
        raise ValueError("the analysis of non-normality and hidden chains needs a real recurrent "
                         f"matrix; {type(layer).__name__}'s is complex")
    W = W.double()
    gates = getattr(layer, "gates", None)
    return dict(zip(gates, W.chunk(len(gates)), strict=True)) if gates else {"W": W}


def build_from_config(config, generator: torch.Generator | None = None):
    """(task, untrained model) of a config, as training builds them (a language model's task
    is its corpus)."""
    from .build import make_task

    task = make_task(config)
    return task, fresh_network(config, task, generator)


def fresh_network(config, task, generator: torch.Generator | None = None):
    """An untrained network of ``config`` for an already built ``task`` (of
    :func:`build_from_config`), initialized by ``generator``."""
    from .train import trained_as

    return trained_as(config).network(config, task, generator)


def load_run_model(run_dir: str | Path):
    """(config, task, model) of a run directory; the weights from its ``model.pt``."""
    from .train import TrainConfig

    run = RunDir(run_dir)
    for path in (run.config_file, run.weights_file):
        if not path.is_file():
            raise RunDirError(f"{run.path} is not a finished run directory (no {path.name})")
    try:
        config = TrainConfig.from_dict(run.config())
    except RunDirError:
        raise
    except (ValueError, TypeError) as err:
        raise RunDirError(f"{run.config_file} is not a valid run config ({err})") from None
    task, model = build_from_config(config)
    weights = run.weights()
    try:
        model.load_state_dict(weights)
    except Exception as err:  # a foreign state dict: missing or unexpected keys, shapes
        reason = str(err).strip().split(". ")[0] if str(err).strip() else type(err).__name__
        raise RunDirError(f"{run.weights_file} is not this run's weights ({reason})") from None
    return config, task, model
