"""Orhan & Pitkow's non-normal transitions as entries of a comparison beside the registered
models: they are inits of the sRNN and the LT-RNN (§2.2), not models, so a grid of models takes
them as variants (label -> model and its options), the chain with its input at its source unit.
The memory horizon and the memory benchmark share them."""

from __future__ import annotations

CHAIN_VARIANTS = {
    "srnn chain": ("srnn", dict(activation="elu", init="chain", gain=1.0, input_init="source",
                                input_gain=0.9, clip=None)),
    "lt-rnn chain": ("lt-rnn", dict(init="chain", gain=1.0, input_init="source")),
}
