"""rnnmem: long-memory tasks, recurrent networks and their initializations."""

__version__ = "0.1.0"
