"""``rnnmem train``: a run's settings and options as flags, resolved as ``TrainConfig`` does."""

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
# The dests of the generated option flags: "<owner>_option:<name>"
OWNERS = ("model", "task", "optimizer")
OWNERS_ORDER = ("task", "model", "optimizer")  # route_options' order


def _dest(owner: str, option: str) -> str:
    return f"{owner}_option:{option}"


def _option_parser(parameter):
    """A flag's parser from an option's annotation (int, float, str, bool, optional)."""
    from ..hints import plain_hint

    hint = plain_hint(parameter.annotation)
    args = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    base = next((a for a in args if a is not type(None)), None)
    parse = {int: int, float: float, bool: _parse_bool, str: str}.get(base)
    if parse is None and isinstance(parameter.default, str):  # e.g. init: str | Callable
        parse = str
    if parse is None:  # not annotated with a plain type: a JSON value, else the text itself
        def parse(text):
            try:
                return json.loads(text)
            except json.JSONDecodeError:
                return text
        parse.__name__ = "value"
    return _parse_optional(parse) if type(None) in args and base is not str else parse


def _is_flag(parameter) -> bool:
    from ..hints import plain_hint

    hint = plain_hint(parameter.annotation)
    return hint in (bool, bool | None) or (
        hint is None and isinstance(parameter.default, bool))


def _effective_defaults(task: str, model: str, optimizer: str) -> tuple[dict, dict, dict]:
    """What a run of ``model`` on ``task`` gets when it gives no option (the recipe's and the
    task's defaults resolved); empty where an option is required."""
    try:
        c = _train_config()(task=task, model=model, optimizer=optimizer)
    except ValueError:
        return {}, {}, {}
    return c.task_options, c.model_options, c.optimizer_options


def _add_options(p, owner: str, name: str, options: dict, helps: dict, effective: dict,
                 flag_prefix: str = ""):
    """One flag per option of the chosen model, task or optimizer (its own signature's), its
    default the one a run gets (``effective``)."""
    if not options:
        return
    group = p.add_argument_group(f"options of {owner} {name}")
    for option, parameter in options.items():
        default = effective.get(option, parameter.default)
        shown = ("required" if default is parameter.empty
                 else f"default: {'none' if default is None else default}")
        text = helps.get(option, f"{name}'s {option}")
        text = f"{text} ({shown})" if "default" not in text else text
        flag = f"--{flag_prefix}{option.replace('_', '-')}"
        if _is_flag(parameter):
            group.add_argument(flag, dest=_dest(owner, option),
                               action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS,
                               help=text.replace("%", "%%"))
            continue
        group.add_argument(flag, dest=_dest(owner, option), type=_option_parser(parameter),
                           default=argparse.SUPPRESS,
                           metavar=option.upper() if len(option) > 1 else option,
                           help=text.replace("%", "%%"))


def _train_config():
    from ..config import TrainConfig

    return TrainConfig


def add_train_parser(sub, model: str | None = None, task: str | None = None,
                     optimizer: str | None = None) -> None:
    """``model``, ``task``, ``optimizer``: the ones chosen (flags or --config), whose own
    options get flags (else the defaults')."""
    from ..config import OPTIMIZER_HELP, OPTIMIZERS, _parameter
    from ..registry import DEFAULT_MODEL, DEFAULT_TASK, model_specs, task_specs

    p = sub.add_parser(
        "train", help="train one model on a long-memory task",
        description="Train one model; writes config.json, metrics.csv, summary.json and "
                    "model.pt to the run directory. Defaults follow Henaff et al. §4.1 (task "
                    f"{DEFAULT_TASK}, model {DEFAULT_MODEL} with its recipe, 80 units, "
                    "RMSProp lr 1e-4, batch 50). The flags of a model's, task's or optimizer's "
                    "own options are those of the one chosen: rnnmem train --model M --task "
                    "TASK --help lists them, with the defaults a run gets.")
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
    p.add_argument("--tensorboard", action="store_true",
                   help="also write the metrics as TensorBoard scalars to RUN_DIR/tensorboard "
                        "(pip install 'rnnmem[tensorboard]'); nothing else changes")
    p.add_argument("--log-every", type=int, default=10, metavar="N",
                   help="steps per point of the training-loss curve, RUN_DIR/losses.csv (the "
                        "mean loss over each N steps; not part of the run's identity)")
    config_fields = p.add_argument_group("run configuration")
    for f in dataclasses.fields(_train_config()):
        text = f.metadata["help"]
        text = text() if callable(text) else text  # a list of registered names: read now
        default = f.default_factory() if f.default is dataclasses.MISSING else f.default
        if "default" not in text and not isinstance(default, dict):
            text += f" (default: {'none' if default is None else default})"
        config_fields.add_argument(
            f"--{f.name.replace('_', '-')}", dest=f.name, type=_field_parser(f),
            default=argparse.SUPPRESS, metavar=f.name.upper(), help=text.replace("%", "%%"))
    models, tasks = model_specs(), task_specs()
    mspec = models.get(model) or models[DEFAULT_MODEL]
    tspec = tasks.get(task) or tasks[DEFAULT_TASK]
    optimizer = optimizer if optimizer in OPTIMIZERS else mspec.recipe.get("optimizer",
                                                                         "rmsprop")
    effective = _effective_defaults(tspec.name, mspec.name, optimizer)
    _add_options(p, "task", tspec.name, tspec.all_options(), tspec.help, effective[0])
    _add_options(p, "model", mspec.name, mspec.all_options(tspec.kind), mspec.help,
                 effective[1])
    _add_options(p, "optimizer", optimizer,
                 {k: _parameter(k, v) for k, v in OPTIMIZERS[optimizer].items()},
                 OPTIMIZER_HELP, effective[2], flag_prefix=f"{optimizer}-")
    p.set_defaults(func=_cmd_train)


def explain_unrecognized(message: str, chosen: dict) -> str:
    """argparse's "unrecognized arguments" for a flag of another model's or task's option,
    said as what it is: which ones take it, and that the chosen one does not."""
    from ..registry import DEFAULT_MODEL, DEFAULT_TASK, model_specs, task_specs

    if not message.startswith("unrecognized arguments: "):
        return message
    flag = message.removeprefix("unrecognized arguments: ").split()[0].split("=")[0]
    option = flag.removeprefix("--").replace("-", "_")
    for owner, specs, default in (("model", model_specs(), DEFAULT_MODEL),
                                  ("task", task_specs(), DEFAULT_TASK)):
        takers = [name for name, spec in specs.items() if option in spec.all_options()]
        mine = chosen.get(owner, default)
        if mine in takers:  # the chosen one's own option, spelled otherwise (--r_min)
            return (f"{flag} is not a flag: {owner} {mine}'s option {option} is given as "
                    f"--{option.replace('_', '-')}")
        if takers:
            return f"{option} is an option of {owner} {', '.join(takers)}, not of {mine}"
    return message


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
    from ..config import (
        check_given_once,
        check_options,
        default_optimizer,
        field_types,
        is_legacy,
        option_parameters,
        route_options,
    )
    from ..hints import check_type
    from ..registry import DEFAULT_MODEL, DEFAULT_TASK

    TrainConfig = _train_config()
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    values = _load_config_file(args.config) if args.config else {}
    try:
        if is_legacy(values):  # an earlier version's config.json
            values = TrainConfig.from_dict(values).to_dict()
        for key, value in values.items():  # checked even where a flag overrides it
            if key in names:
                check_type(key, value, field_types()[key])
    except ValueError as err:
        raise UsageError(f"config file {args.config}: {err}") from None
    values.update({k: v for k, v in vars(args).items() if k in names})
    flags = {owner: {k.split(":", 1)[1]: v for k, v in vars(args).items()
                     if k.startswith(f"{owner}_option:")} for owner in OWNERS}
    try:
        # the file's own option keywords first (routed by name), then the flags over them
        task, model = values.get("task", DEFAULT_TASK), values.get("model", DEFAULT_MODEL)
        optimizer = values.get("optimizer", default_optimizer(model))
        try:  # a file that gives an option twice is ambiguous (as TrainConfig.from_dict says)
            check_given_once(values)
        except ValueError as err:
            raise ValueError(f"config file {args.config}: {err}") from None
        flat = {k: values.pop(k) for k in list(values) if k not in names}
        routed = route_options(str(task), str(model), str(optimizer), flat,
                               values.get("task_options", {}), values.get("model_options", {}),
                               values.get("optimizer_options", {}))
        parameters = option_parameters(str(task), str(model), str(optimizer))
        chosen = dict(task=task, model=model, optimizer=optimizer)
        for owner, given, options in zip(OWNERS_ORDER, routed, parameters, strict=True):
            if args.config:  # the file's values are checked even where a flag overrides them
                try:
                    check_options(given, options, f"{owner} {chosen[owner]}")
                except ValueError as err:
                    raise ValueError(f"config file {args.config}: {err}") from None
            values[f"{owner}_options"] = {**given, **flags[owner]}
        config = TrainConfig(**values)
    except (ValueError, TypeError) as err:
        raise UsageError(str(err)) from None
    return config


def _default_run_dir(c, lr_search: bool = False) -> Path:
    parts = [c.task]
    if "T" in c.task_options:
        parts.append(f"T{c.task_options['T']}")
    parts.append(c.model)
    if "init" in c.model_options:
        parts.append(str(c.model_options["init"]))
    parts += ["lrsearch" if lr_search else f"lr{c.lr:g}", f"seed{c.seed}"]
    return Path("runs") / "-".join(parts)


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
    if args.probe_steps < 1 or args.log_every < 1:
        raise UsageError("--probe-steps and --log-every must be positive integers")
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
    given = sorted(k for k in vars(args) if k in names or "_option:" in k)
    if given or args.config or args.out or args.lr_search:
        extra = ", ".join(f"--{k.split(':')[-1].replace('_', '-')}"
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
    from ..tensorboard import TensorBoardLogger
    from ..train import train

    # a bad checkpoint, missing data, no such device, too large, a locked run directory, ...:
    # RnnmemError, one line, exit 2 (cli/__init__.py)
    loggers = [TensorBoardLogger(Path(run_dir) / "tensorboard")] if args.tensorboard else []
    summary = train(config, run_dir, progress=not args.quiet, resume=resume,
                    overwrite=args.overwrite, loggers=loggers, log_every=args.log_every)
    print(f"{run_dir}: {summary['status']} after {summary['steps']} steps "
          f"({summary['seconds']:.1f} s); final val loss (median of the last "
          f"{summary['final_evals']} evaluations) {summary['final_val_loss']:.4g} = "
          f"{summary['final_val_ratio']:.3f} × chance; {summary['metric_name']} "
          f"{summary['final_val_metric']:.4g}; solved: {summary['solved']}")
    if "warning" in summary:
        print(f"rnnmem: warning: {summary['warning']}", file=sys.stderr)
    if "test_metric" in summary:
        print(f"test loss {summary['test_loss']:.4g}; test {summary['metric_name']} "
              f"{summary['test_metric']:.4g}")
    longer = [(k.split("_")[1], v) for k, v in summary.items()
              if k.startswith("length_x") and k.endswith("_metric")]
    if longer:
        print("held out at longer lengths: " + ", ".join(
            f"{x[1:]}× {summary['metric_name']} {v:.4g}" for x, v in longer))
    if "memory_MC" in summary:
        rest, along, mc = (("none" if summary[k] is None else f"{summary[k]:.3f}")
                           for k in ("memory_J_rest", "memory_J_input", "memory_MC"))
        print(f"memory of the trained network: J_tot·ε/‖v‖² at rest {rest}, along an N(0, 1) "
              f"input {along}; memory capacity {mc} (docs/memory.md)")
    return 0 if summary["status"] != "diverged" else 1
