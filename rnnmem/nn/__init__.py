"""Recurrent layers, their fused kernel, readouts and pooling."""

from .cells import LSTM, LTRNN, SRNN
from .model import MODELS, RecurrentNet, build_model
from .readout import Readout, l2_pool
from .scan import scan, scan_reference

__all__ = ["LSTM", "LTRNN", "MODELS", "SRNN", "Readout", "RecurrentNet", "build_model",
           "l2_pool", "scan", "scan_reference"]
