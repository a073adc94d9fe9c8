"""The run directory: one owner for its files, how they are written and how they are read.

``config.json`` (the resolved config, written first), ``code.json`` (the code that runs it:
:mod:`rnnmem.provenance`), ``metrics.csv`` (one row per evaluation),
``checkpoint.pt`` (to resume from), ``model.pt`` (final weights), ``summary.json`` (final
numbers, written last: its presence, with weights and a matching config, marks a finished run).
Every write is atomic (:mod:`rnnmem.io`); every reader goes through :class:`RunDir`, whose
errors name the file.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import hashlib
import io
import json
import os
from pathlib import Path

import torch

from .errors import RnnmemError
from .io import read_json, write_bytes_atomic, write_json_atomic, write_text_atomic

CONFIG = "config.json"
CODE = "code.json"
METRICS = "metrics.csv"
LOSSES = "losses.csv"  # the training loss between evaluations: mean per log_every steps
CHECKPOINT = "checkpoint.pt"
WEIGHTS = "model.pt"
SUMMARY = "summary.json"
LOCK = ".lock"  # held (flock) by the one process writing the run; the OS releases it on death
METRIC_COLUMNS = ("step", "seconds", "train_loss", "val_loss", "val_ratio", "val_metric")


class RunDirError(RnnmemError):
    """A path that is not a finished or running rnnmem run directory, or a damaged file in one."""


class RunDamaged(RunDirError):
    """A finished run's file that does not match the checksums its summary records."""


class RunLocked(RunDirError):
    """Another live process is writing this run directory."""


class RunExists(RunDirError):
    """A finished run directory that a new run would overwrite."""


class RunChanged(RunDirError):
    """A run directory holding a run of another config or other code than the one asked for."""


def require_path(path: str | Path, what: str = "run directory") -> Path:
    """``path`` as a Path; RunDirError for an empty string, which Path reads as the current
    directory (the CLI refuses ``--out ""`` as the Python API does: the run's files would land
    beside whatever the user is working on)."""
    if isinstance(path, str) and not path.strip():
        raise RunDirError(f"an empty path; name the {what}")
    return Path(path)


class RunDir:
    """One run's directory. ``RunDir(path).summary()`` etc.; the paths are attributes."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.config_file = self.path / CONFIG
        self.code_file = self.path / CODE
        self.metrics_file = self.path / METRICS
        self.losses_file = self.path / LOSSES
        self.checkpoint_file = self.path / CHECKPOINT
        self.weights_file = self.path / WEIGHTS
        self.summary_file = self.path / SUMMARY
        self.lock_file = self.path / LOCK

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    # --- reading -------------------------------------------------------------------------

    def is_finished(self) -> bool:
        """A summary is present (written last; see :meth:`finished_summary` for the full test,
        :meth:`verify` for its integrity)."""
        return self.summary_file.is_file()

    def verify(self, *, weights: bool = True) -> dict:
        """The summary of a finished run whose files are intact; :class:`RunDamaged` naming the
        file otherwise. summary.json records SHA-256 checksums of itself, model.pt,
        config.json and metrics.csv (:meth:`finish`); one written without them (before rnnmem
        checked) cannot be trusted, and is damaged too (resuming it re-finishes it from its
        checkpoint). ``weights=False``: a run's committed record (config, metrics, summary;
        the weights are not committed): model.pt may be absent, but one present must match."""
        summary = self._json(self.summary_file, required=True)
        record = summary.get("integrity") if isinstance(summary, dict) else None
        if not isinstance(record, dict) or not set(_COVERED) <= record.keys():
            raise RunDamaged(f"{self.summary_file} is damaged or unverified (no integrity "
                             "record)")
        if _digest(_canonical({k: v for k, v in summary.items() if k != "integrity"})) != \
                record["summary"]:
            raise RunDamaged(f"{self.summary_file} is damaged: it does not match its checksum")
        for key, name in _COVERED.items():
            path = self.path / name
            if key == "summary" or key == "weights" and not weights and not path.exists():
                continue
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                raise RunDamaged(f"{path} is missing from the finished run") from None
            if _digest(data) != record[key]:
                raise RunDamaged(f"{path} is damaged or changed: it does not match the "
                                 "checksum in summary.json")
        return summary

    def damage(self, *, weights: bool = True) -> str | None:
        """Why a finished-looking run cannot be trusted, or None (intact, or unfinished);
        ``weights``: as :meth:`verify`'s."""
        if not self.is_finished():
            return None
        try:
            self.verify(weights=weights)
        except RunDirError as err:
            return str(err)
        return None

    def config(self) -> dict:
        """config.json as a dict; RunDirError if missing or not a JSON object."""
        config = self._json(self.config_file, required=True)
        if not isinstance(config, dict):
            raise RunDirError(f"{self.config_file} is not a run config")
        return config

    def holds_other_config(self, config) -> bool:
        """Whether this directory holds a run (finished or not) of a config other than
        ``config`` (a TrainConfig): resuming it fails, and it is not ``config``'s result."""
        try:
            return self.config_file.is_file() and not config.matches(self.config())
        except RunDirError:
            return True

    def code(self) -> dict | None:
        """The code record of the run (:mod:`rnnmem.provenance`): the summary's once finished,
        else code.json's; None for a run made before rnnmem kept one."""
        try:
            summary = self._json(self.summary_file, required=False)
        except RunDirError:  # a damaged summary: it is re-finished, its code is code.json's
            summary = None
        if isinstance(summary, dict) and "code" in summary:
            return summary["code"]
        try:
            return self._json(self.code_file, required=False)
        except RunDirError:
            return {}  # a damaged record: a change (code_change), never trusted

    def change(self, config) -> str | None:
        """Why this directory does not hold a run (finished or not) of ``config`` (a
        TrainConfig) and of today's code, in one clause; None if it does or holds nothing."""
        if not self.config_file.is_file():
            return None
        if self.holds_other_config(config):
            return "it holds another config of its job"
        try:
            return code_change(self.code(), config.code_record())
        except RunDirError as err:
            return str(err)

    def summary(self) -> dict | None:
        """summary.json, or None while the run is unfinished."""
        return self._json(self.summary_file, required=False)

    def metrics(self) -> list[dict]:
        """metrics.csv's rows as floats; RunDirError if missing or malformed."""
        if not self.metrics_file.is_file():
            raise RunDirError(f"{self.path} is not a run directory (no {METRICS})")
        try:
            with open(self.metrics_file) as f:
                rows = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
            if not rows or not {"step", "val_ratio"} <= rows[0].keys():
                raise ValueError("no metric rows")
        except (ValueError, TypeError, UnicodeDecodeError) as err:
            raise RunDirError(f"{self.metrics_file} is malformed ({err})") from None
        return rows

    def weights(self) -> dict:
        """model.pt's state dict; RunDirError if missing or not loadable."""
        if not self.weights_file.is_file():
            raise RunDirError(f"{self.path} is not a finished run directory (no {WEIGHTS})")
        self.verify()
        try:
            # a GPU run's weights too: read onto the CPU, load_state_dict moves them on
            return torch.load(self.weights_file, map_location="cpu", weights_only=True)
        except Exception as err:  # torch raises many types for a damaged or foreign file
            reason = str(err).strip().split(". ")[0] if str(err).strip() else type(err).__name__
            raise RunDirError(f"{self.weights_file} is not this run's weights ({reason})") from None

    def finished_summary(self, config, *, weights: bool = True) -> dict | None:
        """The summary if this directory holds a finished run of ``config`` (a TrainConfig):
        same config, the same code (:meth:`change`), files intact (:meth:`verify`; a damaged
        run reruns); else None."""
        try:
            if config.matches(read_json(self.config_file)):
                summary = self.verify(weights=weights)
                return summary if self.change(config) is None else None
        except (OSError, ValueError):
            pass
        return None

    def _json(self, path: Path, *, required: bool):
        if not path.is_file():
            if required:
                raise RunDirError(f"{self.path} is not a run directory (no {path.name})")
            return None
        try:
            return read_json(path)
        except (ValueError, UnicodeDecodeError) as err:  # JSONDecodeError is a ValueError
            raise RunDirError(f"{path} is not valid JSON ({err})") from None

    # --- the one writer ------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self):
        """Hold the run's exclusive lock while writing it; :class:`RunLocked` (naming the
        holder's pid) if another process holds it. The lock is an ``flock`` on the directory
        itself (deleting ``.lock`` cannot let a second writer in) and on ``.lock``, which names
        the holder's pid: the OS releases both when the process dies, kill -9 included."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except FileExistsError:  # a file, or a symlink to nothing, in the run's place
            raise RunDirError(f"{self.path} exists and is not a directory") from None
        directory = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            try:
                fcntl.flock(directory, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RunLocked(f"{self.path} is being written by another process (pid "
                                f"{self._pid() or 'unknown'}); wait for it or stop it") from None
            try:  # never through a symlink: a copied run's .lock must not write the link's target
                fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
            except OSError as err:
                raise RunDirError(f"{self.lock_file} cannot be the run's lock ({err.strerror}: "
                                  "a symlink is refused); remove it") from None
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:  # an older rnnmem's writer, which locks .lock alone
                    raise RunLocked(f"{self.path} is being written by another process (pid "
                                    f"{self._pid() or 'unknown'}); wait for it or stop it") \
                        from None
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
                yield
            finally:
                os.close(fd)  # releases the lock
        finally:
            os.close(directory)

    def _pid(self) -> str | None:
        """The pid ``.lock`` names, if it can be read."""
        try:
            fd = os.open(self.lock_file, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            return None
        try:
            return os.pread(fd, 32, 0).decode(errors="replace").strip() or None
        finally:
            os.close(fd)

    def holder(self) -> str | None:
        """The pid of the live process writing this run (``unknown`` if it cannot be read), or
        None (nothing is written)."""
        try:
            directory = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            return None
        try:
            fcntl.flock(directory, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return self._pid() or "unknown"
        finally:
            os.close(directory)  # free: closing the descriptor releases it
        try:  # an older rnnmem's writer holds .lock alone
            fd = os.open(self.lock_file, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return None
        except BlockingIOError:
            return self._pid() or "unknown"
        finally:
            os.close(fd)

    # --- writing (each file atomically) --------------------------------------------------

    def start(self, config: dict, *, fresh: bool, code: dict | None = None) -> None:
        """Ready the directory for a run of ``config``: stale temporary files of a killed write
        go; a ``fresh`` start first removes the summary, then the weights and checkpoint of a
        previous run, so the directory never claims to be finished with a summary that is not
        its config's; config.json (and ``code``, the code record, as code.json) is
        (re)written."""
        self.path.mkdir(parents=True, exist_ok=True)
        for stale in self.path.glob(".*.tmp"):
            stale.unlink(missing_ok=True)
        if fresh:
            for path in (self.summary_file, self.weights_file, self.checkpoint_file):
                path.unlink(missing_ok=True)
        write_json_atomic(self.config_file, config)
        if code is not None:
            write_json_atomic(self.code_file, code)

    def set_aside(self) -> Path:
        """Move the whole directory to ``<name>.changed-<k>`` beside it (the first free k),
        in one rename: a changed run is kept, never deleted nor half overwritten. Refused
        (:class:`RunLocked`) while a process writes it."""
        with self.lock():
            k = 1
            while (aside := self.path.with_name(f"{self.path.name}.changed-{k}")).exists():
                k += 1
            os.rename(self.path, aside)  # the lock's open file moves with it, harmlessly
        return aside

    def write_metrics(self, rows: list[dict]) -> None:
        lines = [",".join(METRIC_COLUMNS)]
        lines += [",".join(f"{row[c]:.6g}" for c in METRIC_COLUMNS) for row in rows]
        write_text_atomic(self.metrics_file, "\n".join(lines) + "\n")

    def write_losses(self, losses: list[float], every: int) -> list[tuple[int, float]]:
        """losses.csv: the mean training loss over each complete window of ``every`` steps
        (its last step, the mean); returns the points."""
        points = [(k + every, sum(losses[k:k + every]) / every)
                  for k in range(0, len(losses) - every + 1, every)]
        write_text_atomic(self.losses_file, "step,train_loss\n" + "".join(
            f"{step},{loss:.6g}\n" for step, loss in points))
        return points

    def losses(self) -> list[dict]:
        """losses.csv's rows (step, train_loss); [] for a run without one."""
        if not self.losses_file.is_file():
            return []
        try:
            with open(self.losses_file) as f:
                return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
        except (ValueError, TypeError, UnicodeDecodeError) as err:
            raise RunDirError(f"{self.losses_file} is malformed ({err})") from None

    def finish(self, state_dict: dict, summary: dict) -> None:
        """The weights, then the summary: written last, it marks the run finished, with the
        checksums of itself, the weights, the config and the metrics (:meth:`verify`)."""
        buffer = io.BytesIO()
        torch.save(state_dict, buffer)
        weights = buffer.getvalue()
        write_bytes_atomic(self.weights_file, weights)
        integrity = dict(summary=_digest(_canonical(summary)), weights=_digest(weights),
                         config=_digest(self.config_file.read_bytes()),
                         metrics=_digest(self.metrics_file.read_bytes()))
        write_json_atomic(self.summary_file, {**summary, "integrity": integrity})


def finished_summary(config, run_dir: str | Path, *, weights: bool = True) -> dict | None:
    """:meth:`RunDir.finished_summary` of ``run_dir``."""
    return RunDir(run_dir).finished_summary(config, weights=weights)


def code_change(recorded: dict | None, current: dict) -> str | None:
    """Why a run whose code record is ``recorded`` is not a run of ``current``'s code (one
    clause), or None. A run recorded before rnnmem kept the record (None) is one of the
    built-ins' code, as their fingerprints check; with a plugin, it cannot be trusted."""
    if not isinstance(recorded, dict):
        if current["plugins"]:
            return (f"it does not record its code (older than rnnmem's code records), and it "
                    f"uses plugin {', '.join(current['plugins'])}")
        return None
    before, now = recorded.get("plugins") or {}, current["plugins"]
    for name, digest in now.items():
        if name not in before:
            return f"plugin {name} is used now, not by this run"
        if before[name] != digest:
            return f"plugin {name} changed since this run"
    for name in before:
        if name not in now:
            return f"plugin {name} made this run and is not used now"
    version = (recorded.get("rnnmem") or {}).get("version")
    if version != current["rnnmem"]["version"]:
        return f"rnnmem {version} made this run, this is rnnmem {current['rnnmem']['version']}"
    return None


# what summary.json's integrity record covers: its key -> the file
_COVERED = dict(summary=SUMMARY, weights=WEIGHTS, config=CONFIG, metrics=METRICS)


def _canonical(value) -> bytes:
    """JSON bytes of ``value`` as summary.json holds it, independent of key order."""
    return json.dumps(json.loads(json.dumps(value)), sort_keys=True).encode()


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
