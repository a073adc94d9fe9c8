"""The ``rnnmem`` command: parse, validate, then call one plain function.

Bad input of any kind exits with status 2 and one line on stderr saying what is wrong.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from .._version import __version__
from ..allocator import keep_freed_memory
from .common import Parser, UsageError, check_writable
from .experiments import add_export_parser, add_report_parser, add_reproduce_parser
from .runs import add_demo_parser, add_plot_parser
from .tools import add_bench_parser, add_construct_parser, add_data_parser, add_memory_parser
from .train import add_train_parser, explain_unrecognized

__all__ = ["UsageError", "build_parser", "main"]


def build_parser(model: str | None = None, task: str | None = None,
                 optimizer: str | None = None) -> argparse.ArgumentParser:
    """The parser; ``model``, ``task``, ``optimizer``: those given, whose own options ``train``
    has flags for (else the defaults')."""
    parser = Parser(prog="rnnmem", description="Long-memory tasks and recurrent networks: "
                    "Henaff et al. (ICML 2016) and Orhan & Pitkow (ICLR 2020).")
    parser.add_argument("--version", action="version", version=f"rnnmem {__version__}")
    add_plugin_argument(parser)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    add_train_parser(sub, model=model, task=task, optimizer=optimizer)
    for add in (add_plot_parser, add_demo_parser, add_construct_parser,
                add_memory_parser, add_bench_parser, add_reproduce_parser, add_report_parser,
                add_export_parser, add_data_parser):
        add(sub)
    for command in sub.choices.values():
        add_plugin_argument(command)
    return parser


def add_plugin_argument(parser) -> None:
    parser.add_argument("--plugin", action="append", default=[], metavar="MODULE_OR_FILE",
                        help="import a module or Python file of registrations first "
                             "(register_model, register_init, register_task, "
                             "register_experiment); repeatable")


def _scan(argv: list[str], flag: str) -> list[str]:
    """Every value of ``flag`` in ``argv`` (``--flag X`` or ``--flag=X``), before parsing: the
    plugins decide which models, tasks and flags the parser has."""
    values = []
    for i, arg in enumerate(argv):
        if arg == flag and i + 1 < len(argv):
            values.append(argv[i + 1])
        elif arg.startswith(flag + "="):
            values.append(arg.split("=", 1)[1])
    return values


def _chosen(argv: list[str]) -> dict:
    """The model, task and optimizer of a command line before parsing (its flags, else its
    --config file's): which options get flags. A file that cannot be read is reported later."""
    from ..io import read_json

    chosen = {}
    for path in _scan(argv, "--config")[-1:]:
        try:
            values = read_json(path, max_bytes=2**20)
        except (OSError, ValueError):
            values = None
        if isinstance(values, dict):
            chosen = {k: values[k] for k in ("model", "task", "optimizer")
                      if isinstance(values.get(k), str)}
    for key in ("model", "task", "optimizer"):
        given = _scan(argv, f"--{key}")
        if given:
            chosen[key] = given[-1]
    return chosen


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled as SIGINT is: the work stops where it is, resumable."""


def _terminate(signum, frame):
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    keep_freed_memory()  # the command owns its process (rnnmem.allocator)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if in_main_thread else None
    try:
        return _main(argv)
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)


def _one_line(message: str) -> str:
    """An error as the one line it is promised to be: a line break inside (a path's) shown as
    \\n."""
    return message.strip().replace("\r", "\\r").replace("\n", "\\n")


def _main(argv: list[str] | None) -> int:
    from ..errors import RnnmemError
    from ..plugins import load_plugins

    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        load_plugins(_scan(argv, "--plugin"))
        chosen = _chosen(argv)
        try:
            args = build_parser(**chosen).parse_args(argv)
        except UsageError as err:
            raise UsageError(explain_unrecognized(str(err), chosen)) from None
        out = getattr(args, "out", None)
        if out is not None:
            check_writable(out, is_file=out.suffix == ".png")
        return args.func(args)
    except (UsageError, RnnmemError) as err:  # RnnmemError: every rnnmem error, one line
        print(f"rnnmem: error: {_one_line(str(err))}", file=sys.stderr)
        return 2
    except OSError as err:  # a path the command cannot read or write
        where = f"{err.filename}: " if err.filename else ""
        print(f"rnnmem: error: {_one_line(f'{where}{err.strerror or err}')}", file=sys.stderr)
        return 2
    except Exception as err:  # a plugin's bug is one line naming it; rnnmem's own, a traceback
        from ..plugins import plugin_frame

        found = None if os.environ.get("RNNMEM_TRACEBACK") else plugin_frame(err)
        if found is None:
            raise
        plugin, frame = found
        reason = str(err).strip().splitlines()[0] if str(err).strip() else ""
        what = f"{type(err).__name__}: {reason}" if reason else type(err).__name__
        message = f"plugin {plugin} failed in {frame.name} (line {frame.lineno}): {what}"
        print(f"rnnmem: error: {_one_line(message)} (RNNMEM_TRACEBACK=1 shows the traceback)",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:
        word = "terminated" if isinstance(err, Terminated) else "interrupted"
        print(f"rnnmem: {word}; a run stopped mid-way resumes from its last checkpoint "
              "(rnnmem train --resume RUN_DIR, or the same reproduce command)", file=sys.stderr)
        return 143 if isinstance(err, Terminated) else 130


if __name__ == "__main__":
    sys.exit(main())
