"""Atomic file writes: a reader never sees a half-written file (write, fsync, rename)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    write_bytes_atomic(path, text.encode())


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        _write_replace(path, data)
    except OSError as err:
        if err.filename is None:  # "No space left on device": say which file
            err.filename = str(path)
        raise


def _write_replace(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json_atomic(path: str | os.PathLike, obj) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


MAX_JSON_BYTES = 64 * 2**20  # a config or summary is a few kB; nothing rnnmem writes nears this


def read_json(path: str | os.PathLike, max_bytes: int = MAX_JSON_BYTES):
    """A JSON file that is a regular file of at most ``max_bytes`` (never a device, a FIFO or
    a file that would not fit: ValueError), nested at most as deep as Python can parse."""
    with open_regular(path, max_bytes) as f:
        try:
            return json.load(f)
        except RecursionError:
            raise ValueError(f"{path} is nested too deeply to be a JSON config") from None


def open_regular(path: str | os.PathLike, max_bytes: int, mode: str = "r"):
    """``open(path)``, once it is known to be a regular file of at most ``max_bytes`` (a
    symlink is followed); ValueError otherwise, before any byte is read."""
    import stat

    info = os.stat(path)  # FileNotFoundError as open's
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"{path} is not a regular file")
    if info.st_size > max_bytes:
        raise ValueError(f"{path} is too large ({info.st_size} bytes; at most {max_bytes})")
    return open(path, mode)
