"""Checkpoints that a run can resume from, bit for bit.

A checkpoint holds the model, the optimizer, every random generator state the run uses (its
explicit torch generators, and torch's, NumPy's and Python's global ones), the step, and the
metrics so far. It is written atomically and read with ``torch.load(weights_only=True)``: only
tensors and plain containers, no pickled code. A file that is not such a checkpoint raises
:class:`CheckpointError` with a one-line reason.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

import numpy as np
import torch

from .io import write_bytes_atomic

FORMAT = "rnnmem-checkpoint-1"
REQUIRED = ("format", "step", "model", "optimizer", "generators", "global_rng", "rows",
            "train_losses", "elapsed")


class CheckpointError(ValueError):
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


def save_checkpoint(path: str | Path, *, model, optimizer, generators: dict, step: int,
                    rows: list[dict], train_losses: list[float], elapsed: float,
                    extra: dict | None = None) -> None:
    """``extra``: whatever else the loop needs to continue (tensors and plain containers)."""
    state = dict(format=FORMAT, step=step, extra=extra or {}, model=model.state_dict(),
                 optimizer=optimizer.state_dict(),
                 generators={k: g.get_state() for k, g in generators.items()},
                 global_rng=_global_rng_state(), rows=rows,
                 train_losses=torch.tensor(train_losses, dtype=torch.float64), elapsed=elapsed)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    write_bytes_atomic(path, buffer.getvalue())


def load_checkpoint(path: str | Path) -> dict:
    """The checkpoint's contents, validated; raises CheckpointError with the reason."""
    path = Path(path)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"no checkpoint at {path}") from None
    except Exception as err:  # torch raises many types for a damaged or foreign file
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(f"{path} is not a readable rnnmem checkpoint ({reason})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an rnnmem checkpoint (format {FORMAT} expected)")
    missing = [k for k in REQUIRED if k not in state]
    if missing:
        raise CheckpointError(f"{path} lacks {', '.join(missing)}")
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
