"""The ``rnnmem`` command: parse, validate, then call one plain function.

Bad input of any kind exits with status 2 and one line on stderr saying what is wrong.
"""

from __future__ import annotations

import argparse
import sys

from .. import __version__
from .common import Parser, UsageError, check_writable
from .experiments import add_report_parser, add_reproduce_parser
from .tools import add_bench_parser, add_construct_parser, add_memory_parser
from .train import add_demo_parser, add_plot_parser, add_train_parser

__all__ = ["UsageError", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="rnnmem", description="Long-memory tasks and recurrent networks: "
                    "Henaff et al. (ICML 2016) and Orhan & Pitkow (ICLR 2020).")
    parser.add_argument("--version", action="version", version=f"rnnmem {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for add in (add_train_parser, add_plot_parser, add_demo_parser, add_construct_parser,
                add_memory_parser, add_bench_parser, add_reproduce_parser, add_report_parser):
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        out = getattr(args, "out", None)
        if out is not None:
            check_writable(out, is_file=out.suffix == ".png")
        return args.func(args)
    except UsageError as err:
        print(f"rnnmem: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # a path the command cannot read or write
        where = f"{err.filename}: " if err.filename else ""
        print(f"rnnmem: error: {where}{err.strerror or err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rnnmem: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
