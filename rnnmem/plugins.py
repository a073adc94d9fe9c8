"""A user's registrations, loaded before a command runs: ``--plugin MODULE_OR_FILE.py`` on
every ``rnnmem`` command, the ``rnnmem.plugins`` entry-point group of installed packages, and
``$RNNMEM_PLUGINS`` (how sweep workers, started afresh, load what their parent loaded).

A plugin is a module or a Python file that calls :func:`rnnmem.register_model`,
:func:`rnnmem.register_init`, :func:`rnnmem.register_task` or
:func:`rnnmem.register_experiment` when imported (docs/extending.md).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.metadata
import importlib.util
import os
import sys
from pathlib import Path

from .errors import RnnmemError
from .registry import registering_from

ENV = "RNNMEM_PLUGINS"
ENTRY_POINTS = "rnnmem.plugins"
_loaded: dict[str, str] = {}  # the spec as given -> the spec as loaded (a file: absolute)


class PluginError(RnnmemError):
    """A plugin that cannot be imported; the message names it and the reason in one line."""


def _is_file(spec: str) -> bool:
    return spec.endswith(".py") or os.sep in spec or "/" in spec


def _import_file(path: Path):
    if not path.is_file():
        raise PluginError(f"plugin {path}: no such file")
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:8]
    name = f"rnnmem_plugin_{path.stem}_{digest}"  # one module per file, whatever its stem
    if name in sys.modules:
        return sys.modules[name]
    module_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module  # dataclasses and pickling look a module up by name
    try:
        module_spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


@contextlib.contextmanager
def _no_exit():
    """os._exit during a plugin's import ends only the import (one line, exit 2), never the
    command with the plugin's status."""
    real = os._exit

    def refused(status):
        raise RuntimeError(f"it called os._exit({status}) while being imported")

    os._exit = refused
    try:
        yield
    finally:
        os._exit = real


def load_plugin(spec: str) -> None:
    """Import one plugin (a module name, or the path of a Python file), once per process."""
    if spec in _loaded:
        return
    key = str(Path(spec).resolve()) if _is_file(spec) else spec
    try:
        with registering_from(spec), _no_exit():
            if _is_file(spec):
                _import_file(Path(key))
            else:
                importlib.import_module(spec)
    except PluginError:
        raise
    except (Exception, SystemExit) as err:  # noqa: BLE001 - the user's code: any error, one line
        reason = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise PluginError(f"plugin {spec} failed to import: {type(err).__name__}"
                          + (f": {reason}" if reason else "")) from None
    _loaded[spec] = key
    os.environ[ENV] = os.pathsep.join(dict.fromkeys(_loaded.values()))  # for workers


def load_plugins(specs=()) -> None:
    """The installed entry points, then ``$RNNMEM_PLUGINS``, then ``specs``."""
    for entry in importlib.metadata.entry_points(group=ENTRY_POINTS):
        if entry.value not in _loaded:
            try:
                with registering_from(entry.value):
                    entry.load()
            except Exception as err:  # noqa: BLE001
                raise PluginError(f"plugin {entry.value} (entry point {entry.name}) failed to "
                                  f"import: {type(err).__name__}: {err}") from None
            _loaded[entry.value] = entry.value
    for spec in filter(None, os.environ.get(ENV, "").split(os.pathsep)):
        load_plugin(spec)
    for spec in specs:
        load_plugin(spec)


def loaded() -> list[str]:
    """The plugins loaded in this process, as given (a command line repeats them)."""
    return list(_loaded)

