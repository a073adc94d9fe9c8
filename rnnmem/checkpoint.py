"""Checkpoints that a run can resume from, bit for bit.

A checkpoint holds the model, the optimizer, every random generator state the run uses (its
explicit torch generators, and torch's, NumPy's and Python's global ones), the step, and the
metrics so far, and the config of the run it belongs to. It is written atomically, behind a
header and a SHA-256 checksum of its payload, and read with ``torch.load(weights_only=True)``:
only tensors and plain containers, no pickled code. A file that is not such a checkpoint, or
whose payload does not match its checksum, raises :class:`CheckpointError` with a one-line
reason.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
from pathlib import Path

import numpy as np
import torch

from .errors import RnnmemError
from .io import open_regular, write_bytes_atomic

MAX_CHECKPOINT_BYTES = 2**36  # 64 GiB

FORMAT = "rnnmem-checkpoint-2"
# before the checksum and the config record: refused, since nothing ties it to its run
LEGACY_FORMATS = ("rnnmem-checkpoint-1",)
MAGIC = FORMAT.encode() + b"\n"  # then 32 bytes of SHA-256, then the torch.save payload
REQUIRED = ("format", "step", "model", "optimizer", "generators", "global_rng", "rows",
            "train_losses", "elapsed")


class CheckpointError(RnnmemError):
    """A checkpoint file that cannot be used (corrupt, foreign or from another run)."""


def _global_rng_state() -> dict:
    np_state = np.random.get_state()
    py_version, py_state, py_gauss = random.getstate()
    return dict(torch=torch.get_rng_state(),
                numpy=dict(key=torch.from_numpy(np_state[1].astype(np.int64)), pos=np_state[2],
                           has_gauss=np_state[3], cached_gaussian=np_state[4]),
                python=dict(version=py_version, state=list(py_state), gauss=py_gauss))


def _restore_global_rng(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["key"].numpy().astype(np.uint32), n["pos"],
                         n["has_gauss"], n["cached_gaussian"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss"]))


def save_checkpoint(path: str | Path, *, config: dict, model, optimizer, generators: dict,
                    step: int, rows: list[dict], train_losses: list[float], elapsed: float,
                    extra: dict | None = None) -> None:
    """``config``: the run's config dict (see :func:`checkpoint_config`); ``extra``: whatever
    else the loop needs to continue (tensors and plain containers)."""
    state = dict(format=FORMAT, config=json.dumps(config, sort_keys=True), step=step,
                 extra=extra or {}, model=model.state_dict(),
                 optimizer=optimizer.state_dict(),
                 generators={k: g.get_state() for k, g in generators.items()},
                 global_rng=_global_rng_state(), rows=rows,
                 train_losses=torch.tensor(train_losses, dtype=torch.float64), elapsed=elapsed)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    payload = buffer.getvalue()
    write_bytes_atomic(path, MAGIC + hashlib.sha256(payload).digest() + payload)


def load_checkpoint(path: str | Path) -> dict:
    """The checkpoint's contents, validated; raises CheckpointError with the reason."""
    path = Path(path)
    try:
        with open_regular(path, MAX_CHECKPOINT_BYTES, "rb") as f:
            data = f.read()
    except ValueError as err:  # a device, a FIFO, or larger than any checkpoint
        raise CheckpointError(f"cannot read the checkpoint: {err}") from None
    except FileNotFoundError:
        raise CheckpointError(f"no checkpoint at {path}") from None
    except OSError as err:
        raise CheckpointError(f"cannot read the checkpoint {path} ({err.strerror})") from None
    if not data.startswith(MAGIC):
        if any(f.encode() in data for f in LEGACY_FORMATS):
            raise CheckpointError(f"{path} is a legacy checkpoint (no checksum, no record of "
                                  "its run's config): it cannot be verified; remove it to "
                                  "restart the run")
        raise CheckpointError(f"{path} is not a readable rnnmem checkpoint (no {FORMAT} "
                              "header)")
    digest, payload = data[len(MAGIC):len(MAGIC) + 32], data[len(MAGIC) + 32:]
    if hashlib.sha256(payload).digest() != digest:
        raise CheckpointError(f"{path} is damaged: its contents do not match its checksum")
    try:
        state = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for a damaged or foreign file
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"{path} is not a readable rnnmem checkpoint ({reason})") from None
    if not (isinstance(state, dict) and state.get("format") == FORMAT):
        raise CheckpointError(f"{path} is not an rnnmem checkpoint (format {FORMAT} expected)")
    missing = [k for k in REQUIRED if k not in state]
    if missing:
        raise CheckpointError(f"{path} lacks {', '.join(missing)}")
    types = dict(step=int, rows=list, generators=dict, train_losses=torch.Tensor,
                 elapsed=float, model=dict, optimizer=dict, config=str, extra=dict)
    for key, kind in types.items():  # a valid checksum over the wrong contents
        if key in state and (not isinstance(state[key], kind) or isinstance(state[key], bool)):
            raise CheckpointError(f"{path} is not a valid checkpoint: {key} is "
                                  f"{type(state[key]).__name__}, not {kind.__name__}")
    return state


def restore(state: dict, *, model, optimizer, generators: dict) -> None:
    """Load a checkpoint's model, optimizer and generator states in place."""
    try:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        for name, generator in generators.items():
            generator.set_state(state["generators"][name])
        _restore_global_rng(state["global_rng"])
    except (RuntimeError, KeyError, ValueError, TypeError) as err:
        reason = str(err).strip().splitlines()[0]
        raise CheckpointError(f"the checkpoint does not fit this run's model ({reason})") from None


def checkpoint_config(state: dict) -> dict | None:
    """The config dict of the run that wrote the checkpoint."""
    return json.loads(state["config"]) if state.get("config") else None
