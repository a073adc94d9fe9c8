"""Henaff Fig. 1 and the checks of the hand-built solutions (``rnnmem construct``).

Success criterion of a trial (fresh clock, codes and input sequence): the decoder's argmax is
the right symbol at every one of the S answer steps ("answers"). With "every step" scored too
(the T+S blank steps before them), the paper's construction always fails on the delimiter step
and the corrected one succeeds exactly when the answers are right; ``module_check`` shows this by
running both networks through the library's LT-RNN on real task batches.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from ..constructions import (
    adding_construction,
    copy_construction,
    copy_success,
    interference,
    sample_clock,
    sample_codes,
)
from ..io import write_json_atomic
from ..tasks import AddingTask, CopyTask

FIG1_K = (2, 4, 8, 16, 32, 64)
FIG1_S = (1, 5, 10, 20, 40)


def success_grid(T: int, d: int, Ks, Ss, trials: int, seed: int = 0, progress=None) -> dict:
    """Answer-step success rate (0..1) for every (K, S): {"K,S": rate}."""
    grid = {}
    for i, K in enumerate(Ks):
        if progress:
            progress(f"  success grid: K = {K} ({i + 1}/{len(Ks)}), {len(Ss)} values of S, "
                     f"{trials} trials each")
        for S in Ss:
            g = torch.Generator().manual_seed(seed * 1_000_003 + 1000 * K + S)
            grid[f"{K},{S}"] = copy_success(T, S, K, d, trials, g).double().mean().item()
    return grid


def success_vs_d(T: int, pairs, ds, trials: int, seed: int = 0) -> dict:
    """Answer-step success rate against d for a few (K, S): {"K,S": {"d": rate}}.

    Keys are strings, as they read back from the JSON file.
    """
    out = {}
    for K, S in pairs:
        g = torch.Generator().manual_seed(seed + 7 * K + S)
        out[f"{K},{S}"] = {str(d): copy_success(T, S, K, d, trials, g).double().mean().item()
                           for d in ds}
    return out


def interference_check(T: int, d: int, K: int, Ss, trials: int, seed: int = 0) -> dict:
    """Mean |u_{i1}ᵀ Σ_{j≥2} Q^{1−j} u_{ij}|² per S, beside the paper's (S−1)/d."""
    out = {}
    for S in Ss:
        g = torch.Generator().manual_seed(seed + S)
        values = interference(T, S, K, d, trials, g)
        out[str(S)] = dict(measured=values.mean().item(),
                      standard_error=(values.std() / trials**0.5).item(),
                      paper=(S - 1) / d)
    return out


def module_check(T: int, S: int, K: int, d: int, trials: int, seed: int = 0) -> dict:
    """Run both constructions through the LT-RNN module on real copy batches.

    Returns, over ``trials`` networks (4 sequences each): the fraction whose answers are all
    right, whose every step is right, and the steps (0-based) where the paper's construction
    was wrong.
    """
    g = torch.Generator().manual_seed(seed)
    task = CopyTask(T, S=S, K=K)
    result = {"paper": dict(answers=0, every_step=0, wrong_steps=set()),
              "corrected": dict(answers=0, every_step=0, wrong_steps=set())}
    for _ in range(trials):
        freqs = sample_clock(1, d, T + S, g)[0]
        codes = sample_codes(1, d, K, g)[0]
        x, y = task.sample(4, g)
        for name in result:
            net = copy_construction(T, S, K, d, freqs=freqs, codes=codes,
                                    corrected=name == "corrected")
            with torch.no_grad():
                out, _ = net(x.double())
            wrong = out.argmax(-1) != y  # (L, B)
            r = result[name]
            r["answers"] += (~wrong[task.answer_start:]).all().item()
            r["every_step"] += (~wrong).all().item()
            r["wrong_steps"] |= set(wrong[: task.answer_start].any(1).nonzero()[:, 0].tolist())
    for r in result.values():
        r["answers"] /= trials
        r["every_step"] /= trials
        r["wrong_steps"] = sorted(r["wrong_steps"])
    result["delimiter_step"] = task.marker_step
    return result


def copy_report(out: str | Path, *, T: int = 500, d: int = 128, trials: int = 500,
                Ks=FIG1_K, Ss=FIG1_S, check_trials: int = 10, seed: int = 0,
                figure: bool = False, progress=None) -> dict:
    """Everything ``rnnmem construct copy`` computes; writes ``out/copy.json`` (+ PNGs).
    ``progress(line)`` is told what each stage is doing (the whole takes a minute or more)."""
    say = progress or (lambda line: None)
    start = time.perf_counter()
    say(f"construct copy: T = {T}, d = {d}: the success grid of {len(Ks)} × {len(Ss)} (K, S)")
    answers = success_grid(T, d, Ks, Ss, trials, seed, progress=say)
    say("  success against d (3 (K, S), 6 values of d)")
    vs_d = success_vs_d(T, [(8, 10), (16, 20), (64, 40)], (16, 32, 64, 128, 256, 512), trials,
                        seed)
    say("  interference between stored symbols; step-by-step module check")
    results = dict(
        T=T, d=d, trials=trials, Ks=list(Ks), Ss=list(Ss), seed=seed,
        criterion="all S answer steps argmax-correct (both constructions give the same "
                  "answer-step outputs)",
        answers_success=answers, success_vs_d=vs_d,
        interference=interference_check(T, d, 8, Ss, 4 * trials, seed),
        module_check={f"{K},{S}": module_check(T, S, K, d, check_trials, seed)
                      for K, S in [(8, 10), (64, 40)]},
    )
    results["seconds"] = time.perf_counter() - start
    out = Path(out)
    write_json_atomic(out / "copy.json", results)
    if figure:
        from .construct_plots import plot_copy_report

        say("  drawing the figures")
        results["figures"] = [str(p) for p in plot_copy_report(results, out)]
    say(f"construct copy: done in {time.perf_counter() - start:.0f} s")
    return results


def format_grid(results: dict) -> str:
    """The success grid as a Markdown table: rows K, columns S, entries in percent."""
    Ss = results["Ss"]
    lines = ["| K \\ S | " + " | ".join(map(str, Ss)) + " |", "|---" * (len(Ss) + 1) + "|"]
    for K in results["Ks"]:
        cells = [f"{100 * results['answers_success'][f'{K},{S}']:.1f}" for S in Ss]
        lines.append(f"| {K} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def adding_report(out: str | Path, *, T: int = 750, ds=(1, 128), batch: int = 1000,
                  seed: int = 0) -> dict:
    """Largest error of the adding construction on real batches (both placements)."""
    results = {"T": T, "batch": batch, "max_abs_error": {}}
    for placement in ("anywhere", "halves"):
        task = AddingTask(T, placement=placement)
        x, y = task.sample(batch, torch.Generator().manual_seed(seed))
        for d in ds:
            with torch.no_grad():
                output, _ = adding_construction(d)(x.double())
            error = (output[-1, :, 0] - y.double()).abs().max().item()
            results["max_abs_error"][f"{placement},d={d}"] = error
    write_json_atomic(Path(out) / "adding.json", results)
    return results
