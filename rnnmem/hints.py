"""The value types a run setting or an option may take, read from its type hint (a
``TrainConfig`` field's, a layer's or a task's keyword annotation), checked with one-line
errors. The CLI and ``TrainConfig`` check through the same functions."""

from __future__ import annotations

import functools
import operator
import types
import typing

TYPE_WORDS = {int: "an integer", float: "a number", str: "a string", bool: "true or false",
               type(None): "none", dict: "a JSON object"}


def as_float(name: str, value: int) -> float:
    try:
        return float(value)
    except OverflowError:
        raise ValueError(f"{name} is too large: {value}") from None


def allowed_types(hint) -> tuple:
    return typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)


def takes_float(hint) -> bool:
    return float in allowed_types(hint) and int not in allowed_types(hint)


def admits_none(hint) -> bool:
    return type(None) in allowed_types(hint)


def check_type(name: str, value, hint) -> None:
    """ValueError unless ``value`` fits the type hint (ints count as floats; bools as
    neither)."""
    allowed = allowed_types(hint)
    ok = (value is None and type(None) in allowed
          or isinstance(value, bool) and bool in allowed
          or not isinstance(value, bool) and (
              isinstance(value, int) and (int in allowed or float in allowed)
              or isinstance(value, float) and float in allowed
              or isinstance(value, str) and str in allowed
              or isinstance(value, dict) and dict in allowed))
    if not ok:
        words = " or ".join(TYPE_WORDS[t] for t in allowed)
        raise ValueError(f"{name} must be {words}, got {value!r}")


def plain_hint(annotation):
    """A parameter's annotation as a type check_type knows, or None (not checked)."""
    if isinstance(annotation, str):  # from __future__ import annotations
        names = {"int": int, "float": float, "str": str, "bool": bool, "None": type(None)}
        parts = [a.strip() for a in annotation.split("|")]
        if not all(part in names for part in parts):
            return None
        return functools.reduce(operator.or_, (names[part] for part in parts))
    allowed = allowed_types(annotation)
    return annotation if allowed and all(a in TYPE_WORDS for a in allowed) else None
