"""The one base of rnnmem's own errors: a problem with what a user gave (a value, a file, a
run directory, a plugin, the machine), said in one line. The CLI catches it once and exits 2."""


class RnnmemError(ValueError):
    """An rnnmem error whose message is one line naming what is wrong (a ValueError, as the
    checks of values that raise it always were)."""
