"""One line for a command line click cannot parse, with a "did you mean" where one helps.

- an unknown option: the closest flag of the command (``--sed``: did you mean ``--seed``?);
- an unknown command: the closest command;
- a value given to an on/off flag (``--force=True``, ``--force true``): how to write it.
"""

from __future__ import annotations

import itertools
from typing import Any

from ..errors import did_you_mean
from .coerce import FALSE_WORDS, TRUE_WORDS
from .options import COMMANDS, Flag

_BOOLEAN_WORDS = TRUE_WORDS | FALSE_WORDS
ROOT_FLAGS = ("--version", "--help")


def usage_message(exc: Any, args: list[str]) -> str:
    """The text after ``rebalance: usage error: `` for click's exception ``exc``."""
    ctx = getattr(exc, "ctx", None)
    names = [s.name for s in COMMANDS]
    if ctx is not None and ctx.command.name in names:
        named: str | None = ctx.command.name
    else:  # click raised outside a command's context: find the command by name
        named = next((a for a in args if a in names), None)
    where = f"rebalance {named}" if named else "rebalance"
    spec = next((s for s in COMMANDS if s.name == named), None)
    flags = [f for f in spec.resolved() if not f.argument and not f.hidden] if spec else []
    message = " ".join(exc.format_message().split())
    hint = ""
    kind = type(exc).__name__
    if kind == "NoSuchOption":
        message = " ".join(exc.message.split())
        known = [d for f in flags for d in _decls(f) if d[1] == "-"] if spec else ROOT_FLAGS
        hint = did_you_mean(exc.option_name, known)
    elif message.startswith("No such command"):
        message = message.split(" Did you mean")[0]  # click's own guess, said once below
        word = next((a for a in args if not a.startswith("-")), "")
        hint = did_you_mean(word, names)
    elif kind == "BadOptionUsage" and "does not take a value" in message:
        hint = _flag_hint(_flag(flags, exc.option_name), _given_value(args, exc.option_name))
    elif message.startswith("Got unexpected extra argument"):
        hint = _stray_value(flags, args)
    return f"{message} ({hint}see {where} -h)"


def _decls(flag: Flag) -> list[str]:
    """Every flag of a declaration, both halves of an on/off pair."""
    return [d for part in flag.decls for d in part.split("/")]


def _flag(flags: list[Flag], option: str) -> Flag | None:
    return next((f for f in flags if option in _decls(f)), None)


def _given_value(args: list[str], option: str) -> str | None:
    for arg in args:
        if arg.startswith(option + "="):
            return arg.split("=", 1)[1]
    return None


def _flag_hint(flag: Flag | None, value: str | None) -> str:
    """How to say what ``--flag=value`` meant, for an on/off flag."""
    if flag is None or flag.type is not bool:
        return ""
    if "/" in flag.decls[0]:
        on, off = flag.decls[0].split("/")
        return f"give {on} or {off} alone, without a value; "
    on = flag.long
    if (value or "").strip().lower() in FALSE_WORDS:
        return f"{on} is an on/off flag: leave it out to keep it off; "
    return f"{on} is an on/off flag: give {on} alone to turn it on; "


def _stray_value(flags: list[Flag], args: list[str]) -> str:
    """``--force true``: a true/false word right after an on/off flag."""
    for before, word in itertools.pairwise(args):
        if word.strip().lower() in _BOOLEAN_WORDS:
            hint = _flag_hint(_flag(flags, before), word)
            if hint:
                return hint
    return ""
