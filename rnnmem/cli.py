"""The ``rnnmem`` command: parse, validate, then call one plain function.

Bad input of any kind exits with status 2 and one line on stderr saying what is wrong.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import types
import typing
from pathlib import Path

from . import __version__
from .experiments.construct import FIG1_K, FIG1_S


class UsageError(Exception):
    """Bad user input: reported as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line instead of argparse's usage block
        raise UsageError(message)


# ---------------------------------------------------------------------------- train

def _parse_optional(parse):
    def parse_or_none(text: str):
        return None if text.lower() == "none" else parse(text)

    parse_or_none.__name__ = parse.__name__
    return parse_or_none


def _field_parser(field: dataclasses.Field):
    hint = typing.get_type_hints(_train_config())[field.name]
    args = typing.get_args(hint)
    optional = isinstance(hint, types.UnionType) and type(None) in args
    base = next(a for a in args if a is not type(None)) if optional else hint
    if base is str:
        return str  # "none" stays a word: it is a valid LT-RNN input activation
    return _parse_optional(base) if optional else base


def _train_config():
    from .config import TrainConfig

    return TrainConfig


def _add_train_parser(sub) -> None:
    p = sub.add_parser(
        "train", help="train one model on a long-memory task",
        description="Train one model; writes config.json, metrics.csv, summary.json and "
                    "model.pt to the run directory. Defaults follow Henaff et al. §4.1 "
                    "(copy T=100, LT-RNN, orthogonal init, 80 units, RMSProp lr 1e-4, "
                    "decay 0.9, batch 50, activation clipping 1000).")
    p.add_argument("--out", type=Path, help="run directory (default: runs/<task>-<model>-...)")
    p.add_argument("--config", type=Path, help="JSON file of config values; flags override it")
    p.add_argument("--lr-search", action="store_true",
                   help="pick the learning rate by Henaff §4.1's protocol first: the largest "
                        "of 1, 1e-1, ..., 1e-5 whose loss does not diverge in a probe run")
    p.add_argument("--probe-steps", type=int, default=200, help="steps of each lr probe run")
    p.add_argument("--threads", type=int, default=1, help="intra-op threads (default 1)")
    p.add_argument("--overwrite", action="store_true", help="reuse a finished run directory")
    p.add_argument("--resume", type=Path, metavar="RUN_DIR",
                   help="continue an interrupted run from its last checkpoint, with its own "
                        "config.json (the result equals an uninterrupted run's)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    config_fields = p.add_argument_group("run configuration")
    for f in dataclasses.fields(_train_config()):
        default = f.default
        config_fields.add_argument(
            f"--{f.name.replace('_', '-')}", dest=f.name, type=_field_parser(f),
            default=argparse.SUPPRESS, metavar=f.name.upper() if len(f.name) > 1 else f.name,
            help=f"{f.metadata['help']} (default: {default})")
    p.set_defaults(func=_cmd_train)


def _load_config_file(path: Path) -> dict:
    try:
        values = json.loads(path.read_text())
    except FileNotFoundError:
        raise UsageError(f"config file {path} does not exist") from None
    except (OSError, json.JSONDecodeError) as err:
        raise UsageError(f"config file {path} is not valid JSON: {err}") from None
    if not isinstance(values, dict):
        raise UsageError(f"config file {path} must hold a JSON object")
    return values


def _resolve_config(args):
    TrainConfig = _train_config()
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    values = _load_config_file(args.config) if args.config else {}
    values.update({k: v for k, v in vars(args).items() if k in names})
    try:
        return TrainConfig.from_dict(values)
    except (ValueError, TypeError) as err:
        raise UsageError(str(err)) from None


def _default_run_dir(c, lr_search: bool = False) -> Path:
    lr = "lrsearch" if lr_search else f"lr{c.lr:g}"
    return Path("runs") / f"{c.task}-T{c.T}-{c.model}-{c.init}-{lr}-seed{c.seed}"


def _check_run_dir(run_dir: Path, overwrite: bool) -> None:
    if run_dir.exists() and not run_dir.is_dir():
        raise UsageError(f"--out {run_dir} exists and is not a directory")
    if (run_dir / "summary.json").exists() and not overwrite:
        raise UsageError(f"{run_dir} already holds a finished run; pass --overwrite or "
                         "another --out")


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _cmd_train(args) -> int:
    import torch

    if args.threads < 1 or args.probe_steps < 1:
        raise UsageError("--threads and --probe-steps must be positive integers")
    torch.set_num_threads(args.threads)
    if args.resume is not None:
        return _resume(args)
    from .train import find_learning_rate

    config = _resolve_config(args)
    run_dir = args.out or _default_run_dir(config, lr_search=args.lr_search)
    _check_run_dir(run_dir, args.overwrite)
    if args.lr_search:
        lr, trials = find_learning_rate(config, run_dir / "lr-search",
                                        probe_steps=args.probe_steps)
        for t in trials:
            print(f"lr {t['lr']:g}: {'diverged' if t['diverged'] else 'stable'} "
                  f"(train loss {_fmt(t['initial_train_loss'])} -> "
                  f"{_fmt(t['final_train_loss'])})")
        if lr is None:
            print("every learning rate in the grid diverged", file=sys.stderr)
            return 1
        print(f"chosen learning rate: {lr:g}")
        config = dataclasses.replace(config, lr=lr)
    return _run_train(config, run_dir, args, resume=False)


def _resume(args) -> int:
    from .io import read_json
    from .train import TrainConfig

    names = {f.name for f in dataclasses.fields(TrainConfig)}
    given = sorted(k for k in vars(args) if k in names)
    if given or args.config or args.out or args.lr_search:
        extra = ", ".join(f"--{k.replace('_', '-')}" for k in given) or "--config/--out/--lr-search"
        raise UsageError(f"--resume continues the run with its own config; drop {extra}")
    run_dir = args.resume
    try:
        config = TrainConfig.from_dict(read_json(run_dir / "config.json"))
    except FileNotFoundError:
        raise UsageError(f"{run_dir} is not a run directory (no config.json)") from None
    except (ValueError, TypeError) as err:
        raise UsageError(f"{run_dir}/config.json is not a valid config: {err}") from None
    if (run_dir / "summary.json").is_file():
        print(f"{run_dir} is already finished; nothing to resume")
        return 0
    return _run_train(config, run_dir, args, resume=True)


def _run_train(config, run_dir: Path, args, *, resume: bool) -> int:
    from .checkpoint import CheckpointError
    from .data import DataError
    from .train import train

    try:
        summary = train(config, run_dir, progress=not args.quiet, resume=resume)
    except (CheckpointError, DataError) as err:
        raise UsageError(str(err)) from None
    print(f"{run_dir}: {summary['status']} after {summary['steps']} steps "
          f"({summary['seconds']:.1f} s); val loss {summary['final_val_loss']:.4g} = "
          f"{summary['final_val_ratio']:.3f} × chance; {summary['metric_name']} "
          f"{summary['final_val_metric']:.4g}; solved: {summary['solved']}")
    if "test_metric" in summary:
        print(f"test loss {summary['test_loss']:.4g}; test {summary['metric_name']} "
              f"{summary['test_metric']:.4g}")
    return 0 if summary["status"] != "diverged" else 1


# ---------------------------------------------------------------------------- plot

def _add_plot_parser(sub) -> None:
    from .plot import CURVES

    p = sub.add_parser("plot", help="learning curves of run directories on one PNG",
                       description="Draw the learning curves of one or more runs on one PNG, "
                                   "with the chance baseline dashed.")
    p.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR")
    p.add_argument("-o", "--out", type=Path, default=Path("curves.png"), help="PNG to write")
    p.add_argument("--curve", choices=tuple(CURVES), default="val_ratio",
                   help="which column to draw (default: val_ratio)")
    p.set_defaults(func=_cmd_plot)


def _cmd_plot(args) -> int:
    from .plot import RunDirError, plot_runs

    try:
        out = plot_runs(args.run_dirs, args.out, curve=args.curve)
    except RunDirError as err:
        raise UsageError(str(err)) from None
    print(f"wrote {out}")
    return 0


# ---------------------------------------------------------------------------- demo

def _add_demo_parser(sub) -> None:
    p = sub.add_parser(
        "demo", help="quick real experiment: LT-ORNN vs LT-IRNN on copy T=100",
        description="Henaff et al. §4.1 in under a minute: train an LT-RNN with orthogonal "
                    "and with identity initialization on the copy task (T=100, 80 units, "
                    "batch 50, RMSProp lr 1e-4), print a table and write curves.png.")
    p.add_argument("--out", type=Path, default=Path("demo"), help="output directory")
    p.add_argument("--steps", type=int, default=3000, help="training steps per run")
    p.add_argument("--seeds", type=int, default=1, help="runs per initialization (default 1)")
    p.add_argument("--seed", type=int, default=0, help="first seed")
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    p.set_defaults(func=_cmd_demo)


def _cmd_demo(args) -> int:
    from .experiments.demo import run_demo

    if min(args.steps, args.seeds, args.workers or 1) < 1:
        raise UsageError("--steps, --seeds and --workers must be positive integers")
    print(run_demo(args.out, steps=args.steps, seeds=args.seeds, seed=args.seed,
                   workers=args.workers))
    return 0


# ---------------------------------------------------------------------------- construct

def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def _add_construct_parser(sub) -> None:
    p = sub.add_parser(
        "construct", help="hand-built solutions of copy and adding (Henaff §3.1.1, §3.2.1)",
        description="copy: success of Henaff's clock construction over random trials as a "
                    "grid over K and S (Fig. 1), against d, the interference estimate, and a "
                    "check of the paper's and the corrected construction on real batches. "
                    "adding: the error of the exact 1-unit and d-unit solutions.")
    p.add_argument("which", choices=("copy", "adding"))
    p.add_argument("--out", type=Path, default=Path("construct"), help="output directory")
    p.add_argument("--T", type=int, default=None, help="delay (copy, default 500) or length "
                   "(adding, default 750)")
    p.add_argument("--d", type=_int_list, default=None,
                   help="rotation blocks (copy, default 128) or units (adding, default 1,128)")
    p.add_argument("--K", type=_int_list, default=list(FIG1_K), help="dictionary sizes")
    p.add_argument("--S", type=_int_list, default=list(FIG1_S), help="sequence lengths")
    p.add_argument("--trials", type=int, default=500, help="random trials per grid cell")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--figure", action="store_true", help="also write the PNG figures")
    p.set_defaults(func=_cmd_construct)


def _cmd_construct(args) -> int:
    from .experiments.construct import adding_report, copy_report, format_grid

    if (args.T is not None and args.T < 2) or args.trials < 1:
        raise UsageError("--T must be >= 2 and --trials positive")
    if args.which == "adding":
        results = adding_report(args.out, T=args.T or 750, ds=args.d or (1, 128))
        for key, error in results["max_abs_error"].items():
            print(f"{key}: largest |output - target| = {error:.2e}")
        print(f"wrote {args.out / 'adding.json'}")
        return 0
    if args.d is not None and len(args.d) != 1:
        raise UsageError("construct copy takes one --d")
    results = copy_report(args.out, T=args.T or 500, d=(args.d or [128])[0], trials=args.trials,
                          Ks=args.K, Ss=args.S, seed=args.seed, figure=args.figure)
    print(f"% of {args.trials} trials with all S answers right (T = {results['T']}, "
          f"d = {results['d']}):")
    print(format_grid(results))
    for key, check in results["module_check"].items():
        print(f"K,S = {key}: every step right: paper {check['paper']['every_step']:.0%}, "
              f"corrected {check['corrected']['every_step']:.0%}; the paper's construction "
              f"errs at steps {check['paper']['wrong_steps']} (delimiter step "
              f"{check['delimiter_step']})")
    written = [args.out / "copy.json", *results.get("figures", [])]
    print(f"{results['seconds']:.1f} s; wrote " + ", ".join(map(str, written)))
    return 0


# ---------------------------------------------------------------------------- memory

def _add_memory_parser(sub) -> None:
    p = sub.add_parser(
        "memory", help="memory theory and analysis of networks (Orhan & Pitkow §2.1-§2.4)",
        description="curve: Fisher memory J(k), J_tot and pulse amplification of identity, "
                    "orthogonal, chain and feedback-chain networks (Fig. 1), J_tot against α "
                    "and β. toy: linear decoding of past inputs from the final state (Fig. 2). "
                    "analyze: non-normality, Schur form and hidden chains of trained networks "
                    "from run directories (Fig. 5, Table 2).")
    p.add_argument("which", choices=("curve", "toy", "analyze"))
    p.add_argument("run_dirs", nargs="*", type=Path, metavar="RUN_DIR",
                   help="run directories (analyze)")
    p.add_argument("--out", type=Path, default=Path("memory"), help="output directory")
    p.add_argument("--N", type=int, default=100, help="units (curve, toy)")
    p.add_argument("--lam", type=float, default=None,
                   help="λ of identity/orthogonal (curve: 0.98, toy: 1.0)")
    p.add_argument("--alpha", type=float, default=None, help="chain α (curve: 1.02, toy: 1.0)")
    p.add_argument("--beta", type=float, default=0.05, help="feedback β (curve)")
    p.add_argument("--noise", type=float, default=None,
                   help="curve: noise variance ε (1.0); toy: noise std of panel b (0.1)")
    p.add_argument("--nonlinearity", default="elu", help="toy panel c: elu, tanh or relu")
    p.add_argument("--length", type=int, default=100, help="toy sequence length")
    p.add_argument("--k-max", type=int, default=200, help="curve: lags of J(k)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_memory)


def _cmd_memory(args) -> int:
    from .experiments import memory as exp

    if min(args.N, args.length, args.k_max) < 1:
        raise UsageError("--N, --length and --k-max must be positive integers")
    if args.noise is not None and args.noise < 0:
        raise UsageError(f"--noise must be >= 0, got {args.noise}")
    if args.which != "analyze" and args.run_dirs:
        raise UsageError(f"memory {args.which} takes no run directories")
    if args.which == "curve":
        if args.noise == 0:
            raise UsageError("--noise (the variance ε) must be > 0 for Fisher memory")
        r = exp.memory_curves(args.out, N=args.N, lam=args.lam or 0.98,
                              alpha=args.alpha or 1.02, beta=args.beta, k_max=args.k_max,
                              noise=args.noise or 1.0, seed=args.seed)
        for name, net in r["networks"].items():
            print(f"{name}: J_tot = {net['J_tot']:.4f}, Henrici {net['henrici']:.3f}")
        files = [args.out / "memory-curves.json", *r["figures"]]
    elif args.which == "toy":
        if args.nonlinearity not in ("elu", "tanh", "relu"):
            raise UsageError(f"--nonlinearity must be elu, tanh or relu, got "
                             f"{args.nonlinearity!r}")
        r = exp.decoding_toy(args.out, N=args.N, alpha=args.alpha or 1.0, lam=args.lam or 1.0,
                             length=args.length, noise=0.1 if args.noise is None else args.noise,
                             nonlinearity=args.nonlinearity, seed=args.seed)
        for panel in r["panels"]:
            means = ", ".join(f"{name.split(' ')[0]} {sum(v) / len(v):.3f}"
                              for name, v in panel["r2"].items())
            print(f"{panel['nonlinearity']}, noise {panel['noise']}: mean R² over lags: {means}")
        files = [args.out / "decoding-toy.json", *r["figures"]]
    else:
        if not args.run_dirs:
            raise UsageError("memory analyze needs at least one RUN_DIR")
        try:
            r = exp.analyze_runs(args.run_dirs, args.out)
        except (FileNotFoundError, ValueError, RuntimeError) as err:
            raise UsageError(str(err).splitlines()[0]) from None
        for name, entry in r.items():
            for block, trained in entry["trained"].items():
                if block == "responses":
                    continue
                initial = entry["initial"][block]
                print(f"{name} [{block}]: Henrici {initial['henrici']:.3f} -> "
                      f"{trained['henrici']:.3f}; chain score {initial['chain_score']:.4f} -> "
                      f"{trained['chain_score']:.4f}")
        files = [args.out / "analysis.json"] + [e["figure"] for e in r.values()]
    print("wrote " + ", ".join(map(str, files)))
    return 0


# ---------------------------------------------------------------------------- bench

def _add_bench_parser(sub) -> None:
    p = sub.add_parser(
        "bench", help="speed of the recurrent layers at the papers' sizes",
        description="Forward+backward milliseconds of each recurrent layer (fused scan, "
                    "per-step autograd reference, torch.nn.RNN/LSTM) at the papers' sizes, "
                    "achieved GFLOP/s and the fraction of a GEMM roofline measured in the same "
                    "run; with 1 thread and with all cores.")
    p.add_argument("--repeats", type=int, default=5, help="timed repetitions (median)")
    p.add_argument("--quick", action="store_true", help="smallest size only, 2 repeats")
    p.add_argument("--threads", choices=("1", "all", "both"), default="both")
    p.add_argument("--workers", action="store_true",
                   help="also measure training-run throughput with 1 and 2 worker processes")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=_cmd_bench)


def _cmd_bench(args) -> int:
    from . import bench

    if args.repeats < 1:
        raise UsageError(f"--repeats must be a positive integer, got {args.repeats}")
    threads = {"1": (1,), "all": (None,), "both": (1, None)}[args.threads]
    sizes = bench.SIZES[:1] if args.quick else bench.SIZES
    repeats = 2 if args.quick else args.repeats
    progress = None if args.json else (lambda r: print(
        f"  {r['threads']} thread(s), {r['size']}, {r['layer']}: {r['ms']:.1f} ms",
        file=sys.stderr, flush=True))
    rows = bench.run_bench(repeats=repeats, threads=threads, sizes=sizes,
                           slow_repeats=1 if args.quick else 2, progress=progress)
    throughput = bench.sweep_throughput(steps=30 if args.quick else 300) if args.workers else []
    if args.json:
        print(json.dumps(dict(cores=os.cpu_count(), layers=rows, sweep_throughput=throughput),
                         indent=2))
        return 0
    print(bench.format_rows(rows))
    for t in throughput:
        print(f"{t['workers']} worker(s): {t['runs']} runs of {t['steps']} steps in "
              f"{t['seconds']:.1f} s = {t['runs_per_minute']:.1f} runs/min")
    return 0


# ---------------------------------------------------------------------------- reproduce

def _add_reproduce_parser(sub) -> None:
    p = sub.add_parser(
        "reproduce", help="reproduce a figure or table of either paper",
        description="Run an experiment's grid (skipping runs already finished in the output "
                    "directory, resuming interrupted ones), then write its figure, table and "
                    "report. --list shows every experiment.")
    p.add_argument("experiment", nargs="?", help="experiment name (see --list)")
    p.add_argument("--list", action="store_true", help="list the experiments")
    p.add_argument("--budget", choices=("quick", "full"), default="quick",
                   help="quick: minutes on a 2-core CPU; full: the paper's settings")
    p.add_argument("--out", type=Path, default=Path("reproduce"), help="output directory")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes (default: all cores)")
    p.add_argument("--backend", choices=("local", "ray"), default="local",
                   help="local worker processes, or Ray tasks (pip install 'rnnmem[ray]')")
    p.set_defaults(func=_cmd_reproduce)


def _cmd_reproduce(args) -> int:
    from .experiments.registry import EXPERIMENTS
    from .experiments.reproduce import list_experiments, reproduce

    if args.list:
        print(list_experiments())
        return 0
    if args.experiment is None:
        raise UsageError("name an experiment (rnnmem reproduce --list shows them)")
    if args.experiment not in EXPERIMENTS:
        raise UsageError(f"unknown experiment {args.experiment!r}; valid: "
                         f"{', '.join(EXPERIMENTS)}")
    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers must be a positive integer, got {args.workers}")
    if args.backend == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise UsageError("the ray backend needs Ray: pip install 'rnnmem[ray]'") from None
    from .data import DataError

    try:
        report = reproduce(args.experiment, budget=args.budget, out=args.out,
                           workers=args.workers, backend=args.backend)
    except DataError as err:
        raise UsageError(str(err)) from None
    print(report.read_text())
    print(f"wrote {report}")
    return 0


def _add_report_parser(sub) -> None:
    p = sub.add_parser("report", help="gather the reports of a reproduce directory",
                       description="Write OUT_DIR/REPORT.md from every experiment report in "
                                   "OUT_DIR (figures, tables, commands, wall time, machine).")
    p.add_argument("out_dir", type=Path, metavar="OUT_DIR")
    p.set_defaults(func=_cmd_report)


def _cmd_report(args) -> int:
    from .experiments.reproduce import write_report

    try:
        path = write_report(args.out_dir)
    except FileNotFoundError as err:
        raise UsageError(str(err)) from None
    print(f"wrote {path}")
    return 0


# ---------------------------------------------------------------------------- main

def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="rnnmem", description="Long-memory tasks and recurrent networks: "
                     "Henaff et al. (ICML 2016) and Orhan & Pitkow (ICLR 2020).")
    parser.add_argument("--version", action="version", version=f"rnnmem {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    _add_train_parser(sub)
    _add_plot_parser(sub)
    _add_demo_parser(sub)
    _add_construct_parser(sub)
    _add_memory_parser(sub)
    _add_bench_parser(sub)
    _add_reproduce_parser(sub)
    _add_report_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except UsageError as err:
        print(f"rnnmem: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rnnmem: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
