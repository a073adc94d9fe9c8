"""An optional TensorBoard view of a run: the rows metrics.csv gets, as TensorBoard scalars.

``pip install 'rnnmem[tensorboard]'``, then ``rnnmem train ... --tensorboard`` (or
``train(config, run_dir, loggers=[TensorBoardLogger(run_dir / "tensorboard")])``) and
``tensorboard --logdir runs``. Fed from the same rows as metrics.csv, at the same evaluations,
and from losses.csv's training-loss curve (``train_loss_curve``, one point per ``log_every``
steps); it writes nothing else and changes nothing of the run.
"""

from __future__ import annotations

from pathlib import Path

from .errors import RnnmemError

SCALARS = ("train_loss", "val_loss", "val_ratio", "val_metric")
INSTALL = "pip install 'rnnmem[tensorboard]'"


class TensorBoardMissing(RnnmemError):
    """The tensorboard package is not installed (one line, for exit status 2)."""


class TensorBoardLogger:
    """A run's metrics rows as scalars ``train_loss``, ``val_loss``, ``val_ratio`` (val loss /
    chance) and ``val_metric`` at their step, in ``log_dir``."""

    def __init__(self, log_dir: str | Path):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise TensorBoardMissing(f"--tensorboard needs the tensorboard package: {INSTALL}"
                                     ) from None
        self._open = lambda: SummaryWriter(str(log_dir))
        self.writer = None  # opened at the first row: a refused run writes nothing

    def __call__(self, row: dict) -> None:
        if self.writer is None:
            self.writer = self._open()
        for key in SCALARS:
            self.writer.add_scalar(key, row[key], int(row["step"]))
        self.writer.flush()  # a long run is watched while it trains

    def train_points(self, points) -> None:
        """losses.csv's new (step, mean training loss) points, as ``train_loss_curve``."""
        if self.writer is None:
            self.writer = self._open()
        for step, loss in points:
            self.writer.add_scalar("train_loss_curve", loss, int(step))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
