"""The strategy registry: one line per built-in strategy, plus entry points.

A built-in strategy is a module of this package and one ``"module:Class"`` line in
:data:`BUILT_IN`; the module is imported when the registry is first read. A
third-party package adds a strategy by declaring an entry point in the
``rebalance.strategies`` group that names a :class:`Strategy` subclass (or an
instance); it is then listed by ``--help``, accepted by ``--strategy``, checked
and run like a built-in one. See "Adding a strategy" in docs/architecture.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from importlib import import_module

from ..errors import UsageError, did_you_mean
from .base import (
    CleanCells,
    Cleaner,
    Option,
    Outcome,
    Setup,
    SetupContext,
    Strategy,
    Synthesiser,
)

ENTRY_POINTS = "rebalance.strategies"

# The built-in strategies, in the order --help lists them: "module:Class", a module of
# this package and its Strategy subclass (or instance). Tests may add a Strategy instance.
BUILT_IN: tuple[str | Strategy, ...] = (
    "undersample:Undersample",
    "oversample:Oversample",
    "smote:Smote",
    "hybrid:Hybrid",
    "weight:Weight",
    "tomek:TomekLinks",
    "enn:EditedNearestNeighbours",
)


def _instance(obj: object) -> object:
    """A registered object as a strategy: a class is instantiated, an instance kept."""
    return obj() if isinstance(obj, type) else obj


@cache
def _resolved(entries: tuple[str | Strategy, ...]) -> tuple[Strategy, ...]:
    """The built-in strategies named by ``entries``, each module imported once."""
    out: list[Strategy] = []
    for entry in entries:
        if isinstance(entry, str):
            module, _, attr = entry.partition(":")
            entry_obj = _instance(getattr(import_module(f"{__name__}.{module}"), attr))
        else:
            entry_obj = entry
        if not isinstance(entry_obj, Strategy):
            raise TypeError(f"BUILT_IN entry {entry!r} is not a Strategy")
        out.append(entry_obj)
    return tuple(out)


def built_in() -> tuple[Strategy, ...]:
    """The built-in strategies (``BUILT_IN``, resolved), in their order."""
    return _resolved(BUILT_IN)


@cache
def _loaded() -> tuple[dict[str, Strategy], dict[str, str]]:
    """The registry, and the entry points that could not be loaded (name -> why).

    A broken plug-in never stops the tool: it is left out, named in a warning on
    every run, and refused with its own reason when it is asked for.
    """
    found = {s.name: s for s in built_in()}
    broken: dict[str, str] = {}
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINTS):
        where = f"entry point {ep.name!r} of {ENTRY_POINTS}"
        dist = getattr(getattr(ep, "dist", None), "name", None)
        if dist:
            where += f" (package {dist})"
        try:
            strategy = _instance(ep.load())
        except Exception as exc:  # a plug-in's own import or constructor failed
            broken[ep.name] = f"{where} cannot be loaded: {type(exc).__name__}: {exc}"
            continue
        if not isinstance(strategy, Strategy):
            broken[ep.name] = f"{where} is not a rebalance Strategy ({type(strategy).__name__})"
        elif strategy.name in found:
            broken[ep.name] = f"{where} registers {strategy.name!r}, which is taken"
        elif (clash := _clash(strategy, found)) is not None:
            broken[ep.name] = f"{where} registers {strategy.name!r}, whose {clash}"
        else:
            found[strategy.name] = strategy
    return found, broken


# The names and flags of the commands' own options, which a plug-in's options may not
# take. The command line declares them (cli/options.py calls reserve() as it is imported):
# the registry sits below the command line and does not import it.
_RESERVED: dict[str, set[str]] = {"names": set(), "flags": {"--help", "-h"}}


def reserve(names: Iterable[str], flags: Iterable[str]) -> None:
    """Keep option ``names`` and ``flags`` from the plug-ins (the commands' own options);
    the entry points are looked up again, so a clash found now leaves its plug-in out."""
    _RESERVED["names"].update(names)
    _RESERVED["flags"].update(flags)
    _loaded.cache_clear()


def _commands_own() -> tuple[set[str], set[str]]:
    """The names and the flags of the commands' own options (not the strategies')."""
    return _RESERVED["names"], _RESERVED["flags"]


def _clash(strategy: Strategy, found: Mapping[str, Strategy]) -> str | None:
    """How a plug-in's options clash with the registered strategies' or the commands'
    own (a name or a flag that is taken), or None. An option object a plug-in shares
    with a registered strategy (as hybrid shares SMOTE's) is no clash."""
    own_names, own_flags = _commands_own()
    options: dict[str, tuple[Option, str]] = {}
    for s in found.values():  # an option is named after its first strategy
        for o in s.options:
            options.setdefault(o.name, (o, s.name))
    flags = {f: (o, n) for o, n in options.values() for f in (o.flag, o.short) if f}
    for o in strategy.options:
        if options.get(o.name, (None, ""))[0] is o:
            continue
        if o.name in options:
            return f"option {o.name!r} is also an option of {options[o.name][1]}"
        mine = [f for f in (o.flag, o.short) if f]
        for f in mine:
            if f in flags:
                return f"option {o.name!r} takes {f}, a flag of {flags[f][1]}"
        if o.name in own_names:
            return f"option {o.name!r} is named like a rebalance option"
        for f in mine:
            if f in own_flags:
                return f"option {o.name!r} takes {f}, a flag of rebalance's own"
        options[o.name] = (o, strategy.name)
        flags.update(dict.fromkeys(mine, (o, strategy.name)))
    return None


_BUILT_IN_ONLY = {"on": False}


def _registry() -> dict[str, Strategy]:
    if _BUILT_IN_ONLY["on"]:
        return {s.name: s for s in built_in()}
    return _loaded()[0]


@contextmanager
def built_in_only() -> Iterator[None]:
    """The registry without plug-ins while the block runs (the generated CLI reference
    documents the built-in strategies, whatever is installed)."""
    before = _BUILT_IN_ONLY["on"]
    _BUILT_IN_ONLY["on"] = True
    try:
        yield
    finally:
        _BUILT_IN_ONLY["on"] = before


def reload() -> None:
    """Look the entry points up again (after a package was installed, or in tests)."""
    _loaded.cache_clear()


def load_warnings() -> list[str]:
    """One warning per plug-in that could not be loaded (or whose options clash)."""
    return [f"{why}; it was left out" for why in _loaded()[1].values()]


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
    broken = _loaded()[1]
    if name in broken:
        raise UsageError(f"strategy {name!r}: {broken[name]}", hint="fix or remove that package")
    known = names()
    hint = did_you_mean(name, known)
    raise UsageError(f"unknown strategy {name!r}", hint=f"{hint}choose one of {', '.join(known)}")


def all_options() -> tuple[Option, ...]:
    """Every strategy option once, in registry order (shared options are one object)."""
    seen: dict[str, Option] = {}
    for s in all_strategies():
        for o in s.options:
            seen.setdefault(o.name, o)
    return tuple(seen.values())


__all__ = [
    "CleanCells",
    "Cleaner",
    "Option",
    "Outcome",
    "Setup",
    "SetupContext",
    "Strategy",
    "Synthesiser",
    "all_options",
    "all_strategies",
    "built_in",
    "built_in_only",
    "get",
    "load_warnings",
    "names",
    "reload",
]
