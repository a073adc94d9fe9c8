"""Recurrent layers, their fused kernel, readouts and pooling."""

from .cells import LSTM, LTRNN, SRNN
from .interface import RNNInterface
from .lru import LRU
from .mingru import MinGRU
from .model import RecurrentNet, build_layer, build_model, build_readout
from .peers import GRU, NNRNN, URNN, ExpRNN
from .readout import Readout, l2_pool
from .s6 import S6
from .scan import scan, scan_reference

__all__ = ["GRU", "LRU", "LSTM", "LTRNN", "MinGRU", "NNRNN", "SRNN", "URNN", "ExpRNN",
           "Readout", "RecurrentNet", "RNNInterface", "S6", "build_layer", "build_model",
           "build_readout", "l2_pool", "scan", "scan_reference"]
