"""What code made a run: rnnmem's version and commit, and the SHA-256 of each plugin file it used.

A run directory records it (``code.json`` from the start, ``summary.json``'s ``code`` at the
end). A run is its config *and* its code: a finished run is reused, and an interrupted one
resumed, only if the plugin files defining its model, inits and task hash the same and
rnnmem's version is the same (:func:`rnnmem.rundir.code_change`). rnnmem's commit is recorded,
not compared: the built-ins' numbers are guarded by ``tests/fingerprints.py`` (a change to them
fails CI until their results are rerun), and every committed result would otherwise be
"changed" by each commit, docs included.
"""

from __future__ import annotations

import functools
import hashlib
import os
import subprocess
import sys
from pathlib import Path

from ._version import __version__
from .registry import find_init, model_spec, task_spec
from .rundir import code_change  # noqa: F401 - the comparison, beside the record it compares

PACKAGE = Path(__file__).resolve().parent


@functools.cache
def library() -> dict:
    """rnnmem's version, and the git commit of a checkout it runs from (``dirty``: its
    package has uncommitted changes) or None for both (an installed copy)."""
    commit = dirty = None
    if (PACKAGE.parent / ".git").exists():
        # GIT_OPTIONAL_LOCKS=0: git status must not refresh the index (nothing is written)
        env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}

        def git(*args) -> str | None:
            try:
                done = subprocess.run(["git", "-C", str(PACKAGE.parent), *args], env=env,
                                      capture_output=True, text=True, timeout=10)
            except (OSError, subprocess.SubprocessError):
                return None
            return done.stdout.strip() if done.returncode == 0 else None

        commit = git("rev-parse", "HEAD")
        status = git("status", "--porcelain", "--untracked-files=no", "--", "rnnmem")
        dirty = None if status is None else bool(status)
    return dict(version=__version__, commit=commit, dirty=dirty)


def _source(obj) -> Path | None:
    """The file of the module defining ``obj`` (a class or function), or None."""
    module = sys.modules.get(getattr(obj, "__module__", "") or "")
    path = getattr(module, "__file__", None)
    return Path(path).resolve() if path else None


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _strings(v)


def plugin_files(config) -> list[Path]:
    """The files outside rnnmem that define ``config``'s model, task and the inits its options
    name (a plugin's; an installed plugin package's module)."""
    names = list(_strings(config.model_options))  # an option may name an init
    used = [model_spec(config.model).layer, task_spec(config.task).task]
    used += [fn for name in names if (fn := find_init(name)) is not None]
    files = dict.fromkeys(p for p in map(_source, used) if p is not None)
    return [p for p in files if PACKAGE not in p.parents]


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "unreadable"


def code_record(config) -> dict:
    """What code a run of ``config`` uses now: :func:`library`, and each plugin file's SHA-256
    under its name (a committed run's record does not depend on where the file lies)."""
    plugins = {}
    for path in plugin_files(config):
        name, k = path.name, 2
        while name in plugins:  # two plugins of one name in different folders
            name, k = f"{path.name} ({k})", k + 1
        plugins[name] = _digest(path)
    return dict(rnnmem=library(), plugins=plugins)
