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
import signal
import sys
import threading
from pathlib import Path

from .errors import RnnmemError
from .registry import registering_from

ENV = "RNNMEM_PLUGINS"
TIMEOUT_ENV = "RNNMEM_PLUGIN_TIMEOUT"  # seconds a plugin's import, or its layer's first
TIMEOUT = 120.0  # forward on a tiny batch, may take before it is refused (default)
ENTRY_POINTS = "rnnmem.plugins"
_loaded: dict[str, str] = {}  # the spec as given -> the spec as loaded (a file: absolute)


class PluginError(RnnmemError):
    """A plugin that cannot be imported; the message names it and the reason in one line."""


def _is_file(spec: str) -> bool:
    return spec.endswith(".py") or os.sep in spec or "/" in spec


def _import_file(path: Path):
    if not path.is_file():
        raise PluginError(f"plugin {path}: " + ("a folder, not a Python file" if path.is_dir()
                                                 else "no such file"))
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


def plugin_seconds() -> float:
    """The time limit of a plugin's import and of its layer's first tiny forward:
    ``$RNNMEM_PLUGIN_TIMEOUT`` seconds (default 120; 0 for none)."""
    text = os.environ.get(TIMEOUT_ENV, "")
    try:
        seconds = float(text) if text else TIMEOUT
    except ValueError:
        raise PluginError(f"${TIMEOUT_ENV} must be a number of seconds, got {text!r}") from None
    if not seconds >= 0:  # also NaN
        raise PluginError(f"${TIMEOUT_ENV} must be >= 0 seconds, got {text!r}")
    return seconds


@contextlib.contextmanager
def time_limit(what: str):
    """Raise TimeoutError in the body after :func:`plugin_seconds` (a plugin that sleeps or
    waits at import, or in its forward, is refused instead of hanging the command). Only where
    it can be done without disturbing anyone: in the main thread, with SIGALRM free (no timer
    running, no handler of someone else's, e.g. a test runner's); elsewhere the body runs
    unlimited."""
    seconds = plugin_seconds()
    usable = (seconds > 0 and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread()
              and signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, signal.SIG_IGN, None)
              and signal.getitimer(signal.ITIMER_REAL)[0] == 0)
    if not usable:
        yield
        return

    def expired(signum, frame):
        raise TimeoutError(f"{what} took more than {seconds:g} s (a plugin that waits or "
                           f"loops; ${TIMEOUT_ENV} sets the limit, 0 for none)")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def load_plugin(spec: str) -> None:
    """Import one plugin (a module name, or the path of a Python file), once per process."""
    if spec in _loaded:
        return
    key = str(Path(spec).resolve()) if _is_file(spec) else spec
    try:
        with registering_from(spec), _no_exit(), time_limit("its import"):
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


def plugin_frame(err: BaseException) -> tuple[str, object] | None:
    """(the plugin, its innermost frame) where ``err`` was raised in a loaded plugin's code, or
    None (rnnmem's own code, or torch's called by rnnmem's)."""
    import traceback

    files: dict[str, str] = {}  # a plugin's file, or its package's folder -> the plugin
    for spec, key in _loaded.items():
        if _is_file(spec):
            files[key] = spec
            continue
        module = sys.modules.get(key.split(":")[0])
        path = getattr(module, "__file__", None)
        if path:
            path = str(Path(path).resolve())
            files[str(Path(path).parent) + os.sep if path.endswith("__init__.py") else path] = spec
    for frame in reversed(traceback.extract_tb(err.__traceback__)):
        path = str(Path(frame.filename).resolve())
        for place, spec in files.items():
            if path == place or place.endswith(os.sep) and path.startswith(place):
                return spec, frame
    return None


def loaded() -> list[str]:
    """The plugins loaded in this process, as given (a command line repeats them)."""
    return list(_loaded)

