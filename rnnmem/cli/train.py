"""``rnnmem train``, ``plot`` and ``demo``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import types
import typing
from pathlib import Path

from ..rundir import RunDir
from .common import UsageError, out_path


def _parse_optional(parse):
    def parse_or_none(text: str):
        return None if text.lower() == "none" else parse(text)

    parse_or_none.__name__ = parse.__name__
    return parse_or_none


def _parse_bool(text: str) -> bool:
    words = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
    if text.lower() not in words:
        raise ValueError(text)
    return words[text.lower()]


_parse_bool.__name__ = "bool"


def _field_parser(field: dataclasses.Field):
    hint = typing.get_type_hints(_train_config())[field.name]
    args = typing.get_args(hint)
    optional = isinstance(hint, types.UnionType) and type(None) in args
    base = next(a for a in args if a is not type(None)) if optional else hint
    if base is str:
        return str  # "none" stays a word: it is a valid LT-RNN input activation
    if base is bool:
        base = _parse_bool
    if base is dict:
        base = _parse_object
    return _parse_optional(base) if optional else base


def _parse_object(text: str) -> dict:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError(text)
    return value


_parse_object.__name__ = "JSON object"
OPTION_PREFIX = "model_option:"  # the dest of a plugin model's own flag


def _option_parser(parameter):
    """A flag's parser from a layer keyword's annotation (int, float, str, bool, optional)."""
    from ..config import _plain_hint

    hint = _plain_hint(parameter.annotation)
    args = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    base = next((a for a in args if a is not type(None)), None)
    parse = {int: int, float: float, bool: _parse_bool, str: str}.get(base)
    if parse is None:  # not annotated with a plain type: a JSON value, else the text itself
        def parse(text):
            try:
                return json.loads(text)
            except json.JSONDecodeError:
                return text
        parse.__name__ = "value"
    return _parse_optional(parse) if type(None) in args and base is not str else parse


def _add_model_options(p, model: str | None) -> None:
    """One flag per option of a registered model's own layer keywords (plugins: the built-ins'
    options are the run configuration's fields): only ``model``'s when one is given."""
    from ..registry import model_specs

    specs = model_specs()
    chosen = {model: specs[model]} if model in specs else specs
    seen = set()
    for name, spec in chosen.items():
        if not spec.options:
            continue
        group = p.add_argument_group(f"options of model {name}")
        for option, parameter in spec.options.items():
            if option in seen:
                continue
            seen.add(option)
            default = parameter.default
            shown = "required" if default is parameter.empty else f"default: {default}"
            group.add_argument(f"--{option.replace('_', '-')}", dest=OPTION_PREFIX + option,
                               type=_option_parser(parameter), default=argparse.SUPPRESS,
                               metavar=option.upper(), help=f"{name}'s {option} ({shown})")


def _train_config():
    from ..config import TrainConfig

    return TrainConfig


def add_train_parser(sub, model: str | None = None) -> None:
    p = sub.add_parser(
        "train", help="train one model on a long-memory task",
        description="Train one model; writes config.json, metrics.csv, summary.json and "
                    "model.pt to the run directory. Defaults follow Henaff et al. §4.1 "
                    "(copy T=100, LT-RNN, orthogonal init, 80 units, RMSProp lr 1e-4, "
                    "decay 0.9, batch 50, activation clipping 1000).")
    p.add_argument("--out", type=out_path, help="run directory (default: runs/<task>-<model>-...)")
    p.add_argument("--config", type=Path, help="JSON file of config values; flags override it")
    p.add_argument("--lr-search", action="store_true",
                   help="pick the learning rate by Henaff §4.1's protocol first: the largest "
                        "of 1, 1e-1, ..., 1e-5 whose loss does not diverge in a probe run")
    p.add_argument("--probe-steps", type=int, default=200, help="steps of each lr probe run")
    p.add_argument("--overwrite", action="store_true", help="reuse a finished run directory")
    p.add_argument("--resume", type=Path, metavar="RUN_DIR",
                   help="continue an interrupted run from its last checkpoint, with its own "
                        "config.json (the result equals an uninterrupted run's)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    config_fields = p.add_argument_group("run configuration")
    for f in dataclasses.fields(_train_config()):
        text = f.metadata["help"]
        text = text() if callable(text) else text  # a list of registered names: read now
        default = f.default_factory() if f.default is dataclasses.MISSING else f.default
        if "default" not in text:  # a help that explains its default says it once
            text += f" (default: {'none' if default is None else default})"
        flag = f"--{f.name.replace('_', '-')}"
        if typing.get_type_hints(_train_config())[f.name] in (bool, bool | None):  # on/off
            config_fields.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction,
                                       default=argparse.SUPPRESS, help=text.replace("%", "%%"))
            continue
        config_fields.add_argument(
            flag, dest=f.name, type=_field_parser(f), default=argparse.SUPPRESS,
            metavar=f.name.upper() if len(f.name) > 1 else f.name,
            help=text.replace("%", "%%"))
    _add_model_options(p, model)
    p.set_defaults(func=_cmd_train)


def _load_config_file(path: Path) -> dict:
    from ..io import read_json

    try:
        values = read_json(path, max_bytes=2**20)
    except FileNotFoundError:
        raise UsageError(f"config file {path} does not exist") from None
    except UnicodeDecodeError:
        raise UsageError(f"config file {path} is not UTF-8 text") from None
    except json.JSONDecodeError as err:
        raise UsageError(f"config file {path} is not valid JSON: {err}") from None
    except (OSError, ValueError) as err:
        raise UsageError(f"config file {path}: {err}") from None
    if not isinstance(values, dict):
        raise UsageError(f"config file {path} must hold a JSON object")
    return values


def _resolve_config(args):
    from ..config import _check_type, _field_types, check_given

    TrainConfig = _train_config()
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    values = _load_config_file(args.config) if args.config else {}
    for key, value in values.items():  # checked even where a flag overrides it
        if key not in names:
            raise UsageError(f"config file {args.config}: unknown key {key!r}")
        try:
            _check_type(key, value, _field_types()[key])
        except ValueError as err:
            raise UsageError(f"config file {args.config}: {err}") from None
    values.update({k: v for k, v in vars(args).items() if k in names})
    flags = {k.removeprefix(OPTION_PREFIX): v for k, v in vars(args).items()
             if k.startswith(OPTION_PREFIX)}
    if flags:  # a plugin model's own flags, over --model-options and the config file's
        options = values.get("model_options", {})
        values["model_options"] = {**options, **flags} if isinstance(options, dict) else options
    try:
        config = TrainConfig.from_dict(values)
        check_given(config, values)
    except (ValueError, TypeError) as err:
        raise UsageError(str(err)) from None
    return config


def _default_run_dir(c, lr_search: bool = False) -> Path:
    lr = "lrsearch" if lr_search else f"lr{c.lr:g}"
    return Path("runs") / f"{c.task}-T{c.T}-{c.model}-{c.init}-{lr}-seed{c.seed}"


def _check_run_dir(run_dir: Path, overwrite: bool) -> None:
    if run_dir.exists() and not run_dir.is_dir():
        raise UsageError(f"--out {run_dir} exists and is not a directory")
    run = RunDir(run_dir)
    holder = run.holder()
    if holder is not None:
        raise UsageError(f"{run_dir} is being written by another process (pid {holder}); wait "
                         "for it or stop it")
    if run.is_finished() and not overwrite:
        raise UsageError(f"{run_dir} already holds a finished run; pass --overwrite or "
                         "another --out")
    if run.config_file.exists() and not overwrite:
        raise UsageError(f"{run_dir} holds an unfinished run; continue it with --resume "
                         f"{run_dir}, or pass --overwrite or another --out")


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _cmd_train(args) -> int:
    if args.probe_steps < 1:
        raise UsageError("--probe-steps must be a positive integer")
    if args.resume is not None:
        return _resume(args)
    from ..train import find_learning_rate

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
    from ..io import read_json
    from ..train import TrainConfig

    names = {f.name for f in dataclasses.fields(TrainConfig)}
    given = sorted(k for k in vars(args) if k in names or k.startswith(OPTION_PREFIX))
    if given or args.config or args.out or args.lr_search:
        extra = ", ".join(f"--{k.removeprefix(OPTION_PREFIX).replace('_', '-')}"
                          for k in given) or "--config/--out/--lr-search"
        raise UsageError(f"--resume continues the run with its own config; drop {extra}")
    run_dir = args.resume
    try:
        config = TrainConfig.from_dict(read_json(RunDir(run_dir).config_file))
    except FileNotFoundError:
        raise UsageError(f"{run_dir} is not a run directory (no config.json)") from None
    except (ValueError, TypeError) as err:
        raise UsageError(f"{run_dir}/config.json is not a valid config: {err}") from None
    if RunDir(run_dir).is_finished():
        damage = RunDir(run_dir).damage()
        if damage is None:
            print(f"{run_dir} is already finished; nothing to resume")
            return 0
        # its checkpoint is checksummed: the run re-finishes from it (or retrains without one)
        print(f"{run_dir} is not a trustworthy finished run: {damage}; resuming it from its "
              "last checkpoint", file=sys.stderr)
    return _run_train(config, run_dir, args, resume=True)


def _run_train(config, run_dir: Path, args, *, resume: bool) -> int:
    from ..checkpoint import CheckpointError
    from ..data import DataError
    from ..footprint import TooLarge
    from ..rundir import RunDirError
    from ..train import train

    try:
        summary = train(config, run_dir, progress=not args.quiet, resume=resume,
                        overwrite=args.overwrite)
    except (CheckpointError, DataError, TooLarge, RunDirError) as err:
        raise UsageError(str(err)) from None
    print(f"{run_dir}: {summary['status']} after {summary['steps']} steps "
          f"({summary['seconds']:.1f} s); final val loss (median of the last "
          f"{summary['final_evals']} evaluations) {summary['final_val_loss']:.4g} = "
          f"{summary['final_val_ratio']:.3f} × chance; {summary['metric_name']} "
          f"{summary['final_val_metric']:.4g}; solved: {summary['solved']}")
    if "test_metric" in summary:
        print(f"test loss {summary['test_loss']:.4g}; test {summary['metric_name']} "
              f"{summary['test_metric']:.4g}")
    return 0 if summary["status"] != "diverged" else 1


# ---------------------------------------------------------------------------- plot

def add_plot_parser(sub) -> None:
    from ..plot import CURVES

    p = sub.add_parser("plot", help="learning curves of run directories on one PNG",
                       description="Draw the learning curves of one or more runs on one PNG, "
                                   "with the chance baseline dashed.")
    p.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR")
    p.add_argument("-o", "--out", type=out_path, default=Path("curves.png"),
                   help="PNG to write, or a directory to write curves.png into")
    p.add_argument("--curve", choices=tuple(CURVES), default="val_ratio",
                   help="which column to draw (default: val_ratio)")
    p.set_defaults(func=_cmd_plot)


def _cmd_plot(args) -> int:
    from ..plot import RunDirError, plot_runs

    out = args.out / "curves.png" if args.out.is_dir() else args.out
    if out.suffix.lower() != ".png":
        raise UsageError(f"-o {args.out}: give a .png file or an existing directory")
    try:
        out = plot_runs(args.run_dirs, out, curve=args.curve)
    except RunDirError as err:
        raise UsageError(str(err)) from None
    print(f"wrote {out}")
    return 0


# ---------------------------------------------------------------------------- demo

def add_demo_parser(sub) -> None:
    p = sub.add_parser(
        "demo", help="quick real experiment: LT-ORNN vs LT-IRNN on copy T=100",
        description="Henaff et al. §4.1 in under a minute: train an LT-RNN with orthogonal "
                    "and with identity initialization on the copy task (T=100, 80 units, "
                    "batch 50, RMSProp lr 1e-4), print a table and write curves.png.")
    p.add_argument("--out", type=out_path, default=Path("demo"), help="output directory")
    p.add_argument("--steps", type=int, default=3000, help="training steps per run")
    p.add_argument("--seeds", type=int, default=1, help="runs per initialization (default 1)")
    p.add_argument("--seed", type=int, default=0, help="first seed")
    p.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    p.set_defaults(func=_cmd_demo)


def _cmd_demo(args) -> int:
    from ..config import check_seed
    from ..experiments.demo import run_demo

    if min(args.steps, args.seeds, args.workers or 1) < 1:
        raise UsageError("--steps, --seeds and --workers must be positive integers")
    try:
        check_seed(args.seed)
        check_seed(args.seed + args.seeds - 1)
    except ValueError as err:
        raise UsageError(f"--seed: {err}") from None
    try:
        report, failed = run_demo(args.out, steps=args.steps, seeds=args.seeds, seed=args.seed,
                                  workers=args.workers)
    except ValueError as err:  # runs of other settings in --out
        raise UsageError(str(err)) from None
    print(report)
    if failed:
        print(f"rnnmem: {failed} run(s) failed; see the table", file=sys.stderr)
    return 1 if failed else 0


