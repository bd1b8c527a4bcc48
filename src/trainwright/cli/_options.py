"""Checks of option values that Typer's types cannot express (open bounds, NaN), run first in a command's body,
before any work: a bad value is a usage error (exit code 2) naming the option, like a value of the wrong type."""

from __future__ import annotations

import math

import typer

__all__ = ["check_range"]


def check_range(option: str, value: float, *, above: float | None = None, at_least: float | None = None,
                below: float | None = None, at_most: float | None = None) -> None:
    """``typer.BadParameter`` naming ``option`` unless ``value`` is a finite number within the bounds given."""
    bounds = [(above, ">", lambda b: value > b), (at_least, ">=", lambda b: value >= b),
              (below, "<", lambda b: value < b), (at_most, "<=", lambda b: value <= b)]
    wanted = [f"{op} {bound:g}" for bound, op, _ in bounds if bound is not None]
    ok = math.isfinite(value) and all(holds(bound) for bound, _, holds in bounds if bound is not None)
    if not ok:
        raise typer.BadParameter(f"{value:g} is out of range: it must be {' and '.join(wanted) or 'a finite number'}",
                                 param_hint=f"'{option}'")
