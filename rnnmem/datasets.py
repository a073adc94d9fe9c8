"""Tasks as PyTorch Datasets, for a training loop of one's own around rnnmem's layers.

- :class:`TaskStream`: any registered task's training batches as an ``IterableDataset``. Batch
  ``i`` is drawn from its own generator, seeded from ``(seed, i)``: the stream is the same with
  any number of ``DataLoader`` workers (each draws every n-th batch, and the loader interleaves
  them in order), distinct from batch to batch, and reproducible from the seed.
- :class:`PixelDataset`: a split of sequential / permuted MNIST as a map-style ``Dataset`` of
  single sequences, with :func:`collate_time_first` to batch them as rnnmem's layers take
  them (time first).

Example:
    >>> from torch.utils.data import DataLoader
    >>> from rnnmem.tasks import CopyTask
    >>> loader = DataLoader(TaskStream(CopyTask(T=10), batch=4, batches=3), batch_size=None)
    >>> [tuple(x.shape) for x, y in loader]
    [(30, 4, 10), (30, 4, 10), (30, 4, 10)]
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset, IterableDataset, get_worker_info


def batch_generator(seed: int, index: int) -> torch.Generator:
    """The generator of batch ``index`` of the stream ``seed`` (well-mixed, independent)."""
    state = np.random.SeedSequence([seed, index]).generate_state(2, np.uint32)
    return torch.Generator().manual_seed(int(state[0]) << 32 | int(state[1]))


class TaskStream(IterableDataset):
    """Training batches ``(x (T, B, n_inputs), target)`` of ``task``: ``batches`` of them
    (default: without end). Use with ``DataLoader(stream, batch_size=None)``."""

    def __init__(self, task, batch: int, *, seed: int = 0, batches: int | None = None):
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise ValueError(f"batch must be a positive integer, got {batch!r}")
        if batches is not None and (not isinstance(batches, int) or batches < 0):
            raise ValueError(f"batches must be a non-negative integer or None, got {batches!r}")
        self.task, self.batch, self.seed, self.batches = task, batch, seed, batches

    def __iter__(self):
        info = get_worker_info()
        index, step = (0, 1) if info is None else (info.id, info.num_workers)
        while self.batches is None or index < self.batches:
            yield self.task.sample(self.batch, batch_generator(self.seed, index))
            index += step

    def __len__(self) -> int:
        if self.batches is None:
            raise TypeError("an endless TaskStream has no length; give batches=")
        return self.batches


class PixelDataset(Dataset):
    """One split (``train``, ``validation`` or ``test``) of a :class:`~rnnmem.data.mnist.
    PixelMNIST` task: item ``i`` is ``(x (784, 1), label)``."""

    def __init__(self, task, split: str = "train"):
        if split not in ("train", "validation", "test"):
            raise ValueError(f"split must be train, validation or test; got {split!r}")
        self.task = task
        self.images, self.labels = task._split(split)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        x = self.task._sequences(self.images[i:i + 1])[:, 0]  # (784, 1)
        return x, int(self.labels[i])


def collate_time_first(items):
    """Stack ``(x (T, n), label)`` items into ``(x (T, B, n), labels (B,))``."""
    xs, ys = zip(*items, strict=True)
    return torch.stack(xs, dim=1), torch.tensor(ys, dtype=torch.long)
