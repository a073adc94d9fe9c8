"""Recurrent layers, their fused kernel, readouts and pooling."""

# isort: off
# one file per model family, each registering its models when imported, in this order (the
# registry's: --help, listings, the memory benchmark's rows)
from .ltrnn import LTRNN, SRNN
from .lstm import LSTM
from .lru import LRU
from .mingru import MinGRU
from .gru import GRU
from .modrelu import NNRNN, ExpRNN
from .urnn import URNN
from .s6 import S6
from .rglru import RGLRU
# isort: on
from .interface import RNNInterface
from .model import RecurrentNet, build_layer, build_model, build_readout
from .readout import Readout, l2_pool
from .scan import scan, scan_reference

__all__ = ["GRU", "LRU", "LSTM", "LTRNN", "MinGRU", "NNRNN", "SRNN", "URNN", "ExpRNN",
           "Readout", "RecurrentNet", "RGLRU", "RNNInterface", "S6", "build_layer", "build_model",
           "build_readout", "l2_pool", "scan", "scan_reference"]
