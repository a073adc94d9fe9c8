"""Shared pieces of the ``rnnmem`` command: the one-line usage error and its parser."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


class UsageError(Exception):
    """Bad user input: reported as one line, exit status 2."""


class Parser(argparse.ArgumentParser):
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
