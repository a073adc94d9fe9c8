"""What every synthetic task shares: the success criterion and the checks of its sizes."""

from __future__ import annotations

# Orhan & Pitkow §2.3.1: a run succeeds when its validation loss ends below half the baseline.
SOLVED_RATIO = 0.5


def check_int(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {what}, got {value!r}")


def check_choice(name: str, value, choices) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


def task_label(name: str):
    def label(options: dict) -> str:
        return f"{name} T = {options.get('T')}"
    return label
