"""rnnmem's version, below every module that records it (the package, provenance, the CLI)."""

__version__ = "0.1.0"
