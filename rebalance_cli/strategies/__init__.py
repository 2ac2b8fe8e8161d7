"""The strategy registry: one line per built-in strategy, plus entry points.

A third-party package adds a strategy by declaring an entry point in the
``rebalance.strategies`` group that names a :class:`Strategy` subclass (or an
instance); it is then listed by ``--help``, accepted by ``--strategy``, checked
and run like a built-in one. See "Adding a strategy" in docs/architecture.md.
"""

from __future__ import annotations

import difflib
from functools import cache

from ..errors import UsageError
from .base import Option, Outcome, Setup, SetupContext, Strategy, Synthesiser
from .hybrid import Hybrid
from .oversample import Oversample
from .smote import Smote
from .undersample import Undersample
from .weight import Weight

ENTRY_POINTS = "rebalance.strategies"

BUILT_IN: tuple[Strategy, ...] = (
    Undersample(),
    Oversample(),
    Smote(),
    Hybrid(),
    Weight(),
)


@cache
def _registry() -> dict[str, Strategy]:
    found = {s.name: s for s in BUILT_IN}
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINTS):
        obj = ep.load()
        strategy = obj() if isinstance(obj, type) else obj
        if not isinstance(strategy, Strategy):
            raise TypeError(f"entry point {ep.name!r} of {ENTRY_POINTS} is not a Strategy")
        if strategy.name in found:
            raise TypeError(f"entry point {ep.name!r} registers {strategy.name!r} twice")
        found[strategy.name] = strategy
    return found


def names() -> tuple[str, ...]:
    """Every registered strategy, built-ins first."""
    return tuple(_registry())


def all_strategies() -> tuple[Strategy, ...]:
    return tuple(_registry().values())


def get(name: str) -> Strategy:
    """The strategy called ``name``, or a usage error that lists them (with a guess)."""
    found = _registry().get(name)
    if found is not None:
        return found
    known = names()
    near = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    hint = f"did you mean {near[0]}? " if near else ""
    raise UsageError(f"unknown strategy {name!r}", hint=f"{hint}choose one of {', '.join(known)}")


def all_options() -> tuple[Option, ...]:
    """Every strategy option once, in registry order (shared options are one object)."""
    seen: dict[str, Option] = {}
    for s in all_strategies():
        for o in s.options:
            seen.setdefault(o.name, o)
    return tuple(seen.values())


__all__ = [
    "Option",
    "Outcome",
    "Setup",
    "SetupContext",
    "Strategy",
    "Synthesiser",
    "all_options",
    "all_strategies",
    "get",
    "names",
]
