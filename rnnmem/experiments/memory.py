"""Orhan & Pitkow Figs. 1, 2 and 5 (``rnnmem memory curve|toy|analyze``).

Each function computes the numbers, writes them as JSON, and draws the figure from them
(:mod:`rnnmem.experiments.memory_plots`).
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from ..analysis import (
    build_from_config,
    fresh_network,
    henrici,
    hidden_chain,
    load_run_model,
    pulse_responses,
    recurrent_blocks,
    recurrent_core,
    schur_profile,
)
from ..init import chain_, feedback_chain_, identity_, orthogonal_
from ..io import write_json_atomic
from ..layer_memory import fisher_along_input, fisher_summary, memory_capacity
from ..memory import (
    MemoryOutOfBounds,
    NoStationaryState,
    decoding_curve,
    fisher_memory,
    pulse_response,
    total_memory,
)


def fig1_networks(N: int = 100, *, lam: float = 0.98, alpha: float = 1.02, beta: float = 0.05,
                  forward: float = 0.99, seed: int = 0) -> dict[str, tuple]:
    """The four networks of Fig. 1 as {name: (W, v)}.

    Identity and orthogonal (scaled by λ < 1 so the stationary state exists; their J_tot is 1
    for any λ) take a random unit input vector; the chains take e_0, their source unit.
    """
    g = torch.Generator().manual_seed(seed)
    v = torch.randn(N, generator=g, dtype=torch.float64)
    v = v / v.norm()
    source = torch.zeros(N, dtype=torch.float64)
    source[0] = 1.0
    empty = lambda: torch.empty(N, N, dtype=torch.float64)  # noqa: E731
    return {
        f"identity (λ = {lam})": (identity_(empty(), gain=lam), v),
        f"orthogonal (λ = {lam})": (orthogonal_(empty(), gain=lam, generator=g), v),
        f"chain (α = {alpha})": (chain_(empty(), gain=alpha), source),
        f"chain with feedback (α = {forward}, β = {beta})":
            (feedback_chain_(empty(), gain=forward, feedback=beta), source),
    }


def memory_curves(out: str | Path, *, N: int = 100, lam: float = 0.98, alpha: float = 1.02,
                  beta: float = 0.05, forward: float = 0.99, k_max: int = 200,
                  noise: float = 1.0, seed: int = 0, figure: bool = True) -> dict:
    """Fig. 1: connectivity, J(k), J_tot, pulse amplification; J_tot against α and β."""
    start = time.perf_counter()
    networks = fig1_networks(N, lam=lam, alpha=alpha, beta=beta, forward=forward, seed=seed)
    results = dict(N=N, noise=noise, k_max=k_max, networks={})
    for name, (W, v) in networks.items():
        try:
            J, J_tot = fisher_memory(W, v, k_max=k_max, noise=noise), total_memory(W, v,
                                                                                   noise=noise)
        except (NoStationaryState, MemoryOutOfBounds) as err:  # say which network
            raise type(err)(f"{name}: {err}") from None
        results["networks"][name] = dict(J=J.tolist(), J_tot=J_tot,
                                         pulse=pulse_response(W, v, k_max).tolist(),
                                         henrici=henrici(W))
    alphas = [round(0.5 + 0.05 * i, 2) for i in range(21)]
    betas = [round(0.01 * i, 2) for i in range(21)]
    source = torch.zeros(N, dtype=torch.float64)
    source[0] = 1.0
    results["J_tot_vs_alpha"] = {
        str(a): total_memory(chain_(torch.empty(N, N, dtype=torch.float64), gain=a), source,
                             noise=noise) for a in alphas}
    results["J_tot_vs_beta"] = {
        str(b): total_memory(feedback_chain_(torch.empty(N, N, dtype=torch.float64),
                                                  gain=forward, feedback=b), source, noise=noise)
        for b in betas}
    results["forward"] = forward
    results["seconds"] = time.perf_counter() - start
    out = Path(out)
    write_json_atomic(out / "memory-curves.json", results)
    if figure:
        from .memory_plots import plot_memory_curves

        results["figures"] = [str(plot_memory_curves(results, networks, out))]
    return results


def decoding_toy(out: str | Path, *, N: int = 100, alpha: float = 1.0, lam: float = 1.0,
                 length: int = 100, noise: float = 0.1, nonlinearity: str = "elu",
                 train: int = 4000, test: int = 2000, seed: int = 0,
                 figure: bool = True, progress=None) -> dict:
    """Fig. 2: held-out R² of decoding s_{L-k} from h_L for chain, orthogonal and identity.

    Three panels: linear without noise, linear with state noise (std ``noise``), and
    ``nonlinearity`` without noise.
    """
    start = time.perf_counter()
    g = torch.Generator().manual_seed(seed)
    v = torch.randn(N, generator=g, dtype=torch.float64)
    v = v / v.norm()
    source = torch.eye(N, dtype=torch.float64)[0]
    empty = lambda: torch.empty(N, N, dtype=torch.float64)  # noqa: E731
    networks = {
        f"chain (α = {alpha})": (chain_(empty(), gain=alpha), source),
        f"orthogonal (λ = {lam})": (orthogonal_(empty(), gain=lam, generator=g), v),
        f"identity (λ = {lam})": (identity_(empty(), gain=lam), v),
    }
    panels = [("linear", 0.0), ("linear", noise), (nonlinearity, 0.0)]
    results = dict(N=N, length=length, train=train, test=test, panels=[])
    for i, (f, sigma) in enumerate(panels):
        if progress:
            progress(f"decoding toy: panel {i + 1}/{len(panels)} ({f}, noise {sigma}): "
                     f"{len(networks)} networks, {train + test} sequences of {length} steps")
        curves = {name: decoding_curve(W, vec, length=length, nonlinearity=f, noise=sigma,
                                       train=train, test=test, seed=seed).tolist()
                  for name, (W, vec) in networks.items()}
        results["panels"].append(dict(nonlinearity=f, noise=sigma, r2=curves))
    results["seconds"] = time.perf_counter() - start
    out = Path(out)
    write_json_atomic(out / "decoding-toy.json", results)
    if figure:
        from .memory_plots import plot_decoding_toy

        results["figures"] = [str(plot_decoding_toy(results, out))]
    return results


def _run_name(run_dir) -> str:
    """A short unique name: the directory, prefixed by its parents inside a reproduce tree."""
    parts = Path(run_dir).parts
    if "runs" in parts:
        return "-".join(parts[parts.index("runs") + 1:])
    return Path(run_dir).name


UNTRAINED_NULL = 19  # untrained networks per run: the null of its trained band score


def _untrained_band_scores(config, task, steps: int, count: int) -> dict[str, list]:
    """Band scores of ``count`` untrained networks of a run's config (other init seeds), each
    in its own peak order: what the statistic gives before any training."""
    scores: dict[str, list] = {}
    for k in range(count):
        net = fresh_network(config, task, torch.Generator().manual_seed(10_000 + k))
        layer, n_inputs = recurrent_core(net)
        responses = pulse_responses(layer, n_inputs, steps=steps).double()
        for block, M in recurrent_blocks(layer).items():
            scores.setdefault(block, []).append(hidden_chain(M, responses)["band_score"])
    return scores


def analyze_runs(run_dirs, out: str | Path, *, steps: int = 100, figure: bool = True,
                 memory: bool = True, lags: int = 100, noise: float = 0.1,
                 untrained: int = UNTRAINED_NULL, progress=None) -> dict:
    """Non-normality and hidden chains of trained networks, beside their initializations, and
    (``memory``) the memory of each, for any layer (:mod:`rnnmem.layer_memory`): J_tot of its
    linearization at rest over the task's sequence length, J_tot of its linearization along an
    actual input (N(0, 1) signals; a selective layer's transition depends on them), and its
    memory capacity over
    ``lags`` lags with state noise of std ``noise``.

    The weight analysis needs a real recurrent matrix (``recurrent_matrix()``); a layer
    without one (a complex state, a plugin's) gets the memory measures alone, and the reason
    in ``weights_error``. The trained band score has two nulls: shuffled unit orders of the
    same matrix (``band_p``) and ``untrained`` untrained networks of the same config, other
    seeds (``untrained_band_mean``, ``untrained_band_p`` = (1 + #{untrained ≥ trained}) /
    (1 + untrained))."""
    results = {}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    run_dirs = list(run_dirs)
    for i, run_dir in enumerate(run_dirs):
        if progress:
            per_run = (time.perf_counter() - start) / i if i else None
            left = f" (about {per_run * (len(run_dirs) - i):.0f} s left)" if per_run else ""
            progress(f"[{i + 1}/{len(run_dirs)}]{left} analyzing {run_dir}")
        config, task, model = load_run_model(run_dir)
        _, initial = build_from_config(config, torch.Generator().manual_seed(config.seed))
        name = _run_name(run_dir)
        entry = dict(config=config.to_dict(), peak_step={})
        horizon = getattr(task, "length", None) or lags
        for label, net in (("initial", initial), ("trained", model)):
            layer, n_inputs = recurrent_core(net)
            if memory:
                entry.setdefault("memory", {})[label] = dict(
                    fisher=fisher_summary(layer, n_inputs, horizon=horizon),
                    fisher_input=fisher_along_input(layer, n_inputs, length=horizon),
                    capacity=memory_capacity(layer, n_inputs, length=lags, noise=noise))
            try:
                blocks = recurrent_blocks(layer)
            except ValueError as err:
                entry["weights_error"] = str(err)
                continue
            responses = pulse_responses(layer, n_inputs, steps=steps).double()
            # the peaks, not the (steps, N) responses: those would make analysis.json megabytes
            entry["peak_step"][label] = responses.abs().argmax(0).tolist()
            entry[label] = {}
            for block, M in blocks.items():
                chain = hidden_chain(M, responses)
                schur = schur_profile(M)
                entry[label][block] = dict(
                    henrici=henrici(M), henrici_normalized=henrici(M, normalized=True),
                    offdiag_fraction=schur["offdiag_fraction"], by_offset=schur["by_offset"],
                    eigenvalues=[[z.real, z.imag] for z in schur["eigenvalues"]],
                    chain_score=chain["chain_score"], trend=chain["trend"],
                    band_score=chain["band_score"], band_null=chain["band_null"],
                    band_p=chain["band_p"],
                    offsets=chain["offsets"],
                    diagonal_means=chain["means"], order=chain["order"])
        if untrained and "weights_error" not in entry:
            null = _untrained_band_scores(config, task, steps, untrained)
            for block, scores in null.items():
                trained = entry["trained"][block]
                trained["untrained_band_mean"] = sum(scores) / len(scores)
                trained["untrained_band_p"] = (1 + sum(x >= trained["band_score"]
                                                       for x in scores)) / (1 + len(scores))
        results[name] = entry
        if figure and "weights_error" not in entry:
            from .memory_plots import plot_analysis

            # by its name beside analysis.json: a committed file names no machine's path
            entry["figure"] = plot_analysis(name, entry, responses.abs().numpy(), out).name
    write_json_atomic(out / "analysis.json", results)
    return results
