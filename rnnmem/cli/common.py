"""Shared pieces of the ``rnnmem`` command: the one-line usage error and its parser."""

from __future__ import annotations

import argparse


class UsageError(Exception):
    """Bad user input: reported as one line, exit status 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line instead of argparse's usage block
        raise UsageError(message)
