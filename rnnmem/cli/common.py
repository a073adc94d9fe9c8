"""Shared pieces of the ``rnnmem`` command: the one-line usage error and its parser."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


class UsageError(Exception):
    """Bad user input: reported as one line, exit status 2."""


class DefaultsFormatter(argparse.HelpFormatter):
    """Every option's help ends with its default, unless the help already says it."""

    def _get_help_string(self, action):
        text = action.help or ""
        if (action.option_strings and "default" not in text.lower()
                and action.default is not None and action.default is not False  # 0 is shown
                and action.default not in (argparse.SUPPRESS, [])
                and not isinstance(action, argparse._VersionAction)):
            text += " (default: %(default)s)"
        return text


class Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", DefaultsFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message):  # one line instead of argparse's usage block
        raise UsageError(message)


def check_writable(path: Path, *, is_file: bool = False) -> None:
    """Fail early, in one line, when ``path`` (a directory, or a file's directory) can't be made."""
    target = path.parent if is_file else path
    probe = target
    while not probe.exists():  # the nearest existing ancestor decides
        probe = probe.parent
    if not probe.is_dir():
        raise UsageError(f"cannot write to {path}: {probe} is not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write to {path}: {probe} is not writable")


def out_path(text: str) -> Path:
    """An output path flag's value: an empty one would write into the current directory."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path; name the output")
    if "\n" in text or "\r" in text:
        raise argparse.ArgumentTypeError("a path with a line break")
    return Path(text)


out_path.__name__ = "path"
