"""Henaff Fig. 6's reading, measured: amplitudes steady in V's rotation planes."""

import math

import torch

from rnnmem.build import make_model, make_task
from rnnmem.config import TrainConfig
from rnnmem.experiments.activations import radius_steadiness, rotation_planes


def test_rotation_planes_block_diagonalize_an_orthogonal_matrix():
    Q, _ = torch.linalg.qr(torch.randn(9, 9, generator=torch.Generator().manual_seed(0),
                                       dtype=torch.float64))
    Z, blocks = rotation_planes(Q)
    assert sorted(i for b in blocks for i in b) == list(range(9))
    assert sum(len(b) == 2 for b in blocks) == 4  # odd size: one real eigenvalue
    T = Z.T @ Q @ Z
    inside = torch.zeros_like(T, dtype=torch.bool)
    for b in blocks:
        inside[b[0]:b[-1] + 1, b[0]:b[-1] + 1] = True
    assert T[~inside].abs().max() < 1e-10  # an orthogonal (normal) matrix: no coupling


def _kicked_rotation(mixing: torch.Tensor | None):
    """An LT-RNN whose only input is a kick at each mark, then pure rotation by V."""
    config = TrainConfig(task="adding", T=60, model="lt-rnn-pool", hidden=8, pool=2)
    task = make_task(config)
    model = make_model(config, task, torch.Generator().manual_seed(0))
    angles = torch.tensor([0.3, 0.7, 1.1, 1.9])
    V = torch.block_diag(*[torch.tensor([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
                           for a in angles])
    if mixing is not None:  # the same rotations in planes not aligned with the pooled pairs
        V = mixing @ V @ mixing.T
    with torch.no_grad():
        model.rnn.V.copy_(V)
        model.rnn.U.weight.zero_()
        model.rnn.U.bias.zero_()
        model.rnn.U.weight[:, 0 if config.task_options["channels"] != "value-mark" else 1] = 1.0
    return config, task, model


def test_steadiness_separates_aligned_from_misaligned_rotation_planes():
    aligned = radius_steadiness(*_kicked_rotation(None), sequences=20)
    assert aligned["rotation planes of V"] < 1e-5 and aligned["pooled pairs P(h)"] < 1e-5
    assert aligned["single units"] > 0.2  # the phase moves every unit
    Q, _ = torch.linalg.qr(torch.randn(8, 8, generator=torch.Generator().manual_seed(1)))
    mixed = radius_steadiness(*_kicked_rotation(Q), sequences=20)
    assert mixed["rotation planes of V"] < 1e-4
    assert mixed["pooled pairs P(h)"] > 0.05  # fixed pairs no longer discard the phase
