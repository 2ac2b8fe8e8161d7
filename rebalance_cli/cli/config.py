"""Settings from flags, the environment and a TOML file, in that order of precedence.

    flags  >  REBALANCE_<OPTION> variables  >  --config FILE (or ./rebalance.toml)  >  defaults

The file has one table per command (``[inspect]``, ``[apply]``); keys are the
long option names, with dashes or underscores (``k-neighbors = 7``). Lists may
be given for comma-separated options (``features = ["a", "b"]``). Every value is
checked by the option's own type, so a bad value fails as it would on the
command line, naming the file and the key.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from .. import phases
from ..errors import InputOutputError, UsageError, did_you_mean

DEFAULT_FILE = "rebalance.toml"
ENV_PREFIX = "REBALANCE_"
NOT_SETTINGS = frozenset({"config", "data", "ctx"})
# REBALANCE_* variables that are not options (never "did you mean"-ed): a new one goes here
NOT_OPTION_VARIABLES = frozenset(
    {"REBALANCE_CONFIG", "REBALANCE_DEBUG", phases.TEST_SIGNAL, phases.TEST_SIGNAL_STAMP}
)


@dataclass(frozen=True)
class ConfigFile:
    """A parsed config file: its path and its tables."""

    path: Path | None
    tables: dict[str, dict[str, Any]]


def load_config(
    given: str | None,
    commands: tuple[str, ...],
    running: str | None = None,
    keys: Callable[[], Mapping[str, Iterable[str]]] | None = None,
) -> ConfigFile:
    """Read ``--config FILE``, else ./rebalance.toml when it exists, else nothing.

    ``keys`` gives each command's keys (its long option names), called only to guess the
    table a key outside every table belongs in (``running``'s when it has that key).
    """
    if given:
        path = Path(given)
        if not path.is_file():
            raise InputOutputError(f"the config file {given} does not exist")
    else:
        path = Path(DEFAULT_FILE)
        if not path.is_file():
            return ConfigFile(None, {})
    import tomllib  # only when there is a file to read

    try:
        text = path.read_text(encoding="utf-8")
        doc = tomllib.loads(text)
    except OSError as exc:
        raise InputOutputError(f"cannot read the config file {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"the config file {path} is not valid TOML: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(
            f"the config file {path} is not valid TOML: {exc}", hint=_boolean_hint(text, str(exc))
        ) from None
    tables: dict[str, dict[str, Any]] = {}
    for name, table in doc.items():
        if name not in commands or not isinstance(table, dict):
            if isinstance(table, dict):
                near = did_you_mean(name, commands)
            else:
                near = _key_guess(name, keys() if keys else {}, running)
            raise UsageError(
                f"the config file {path} has {'table' if isinstance(table, dict) else 'key'} "
                f"{name!r}; it may hold only the tables {', '.join(f'[{c}]' for c in commands)}",
                hint=near.strip() or None,
            )
        tables[name] = {k.replace("-", "_"): v for k, v in table.items()}
    return ConfigFile(path, tables)


def _key_guess(key: str, keys: Mapping[str, Iterable[str]], running: str | None) -> str:
    """``"did you mean [apply] seed? "`` for a key outside every table: the closest key of any
    command, in the running command's table when it has that key, else the first that does."""
    tables = {command: {k.replace("_", "-") for k in names} for command, names in keys.items()}
    near = did_you_mean(key.replace("_", "-"), sorted(set().union(*tables.values())))
    if not near:
        return ""
    guess = near.removeprefix("did you mean ").removesuffix("? ")
    order = sorted(tables, key=lambda command: command != running)  # stable: the running first
    table = next(command for command in order if guess in tables[command])
    return f"did you mean [{table}] {guess}? "


def _boolean_hint(text: str, error: str) -> str | None:
    """``force = True``: TOML's booleans are lower case, so say which word was meant."""
    where = re.search(r"at line (\d+), column (\d+)", error)
    if where is None:
        return None
    lines = text.splitlines()
    line, column = int(where.group(1)) - 1, int(where.group(2)) - 1
    word = re.match(r"[A-Za-z]+", lines[line][column:]) if line < len(lines) else None
    if word is None or word.group().lower() not in ("true", "false"):
        return None
    return (
        f"did you mean {word.group().lower()}? TOML writes true and false in lower case, "
        "without quotes"
    )


def env_typos(known: Callable[[], Iterable[str]]) -> list[str]:
    """Warnings for ``REBALANCE_*`` variables that name no setting of any command but come
    close to one (``REBALANCE_SEEED``): such a variable would otherwise be ignored unseen.
    A variable close to nothing is left alone (it may belong to something else).
    ``known`` gives every command's setting names; it is called only when some
    ``REBALANCE_*`` variable is set."""
    given = sorted(v for v in os.environ if v.startswith(ENV_PREFIX))
    if not given:
        return []
    names = {ENV_PREFIX + name.upper() for name in known()} | NOT_OPTION_VARIABLES
    out = []
    for var in given:
        if var not in names:
            settings = sorted(n.removeprefix(ENV_PREFIX) for n in names - NOT_OPTION_VARIABLES)
            near = did_you_mean(var.removeprefix(ENV_PREFIX), settings)
            if near:
                guess = ENV_PREFIX + near.removeprefix("did you mean ")
                out.append(f"{var} is not a setting and was ignored (did you mean {guess.strip()})")
    return out


def _flag(param: Any) -> str:
    return str(max(param.opts, key=len))


def resolve(ctx: typer.Context, command: str, config: ConfigFile) -> dict[str, dict[str, Any]]:
    """Fill ``ctx.params`` from the environment and the config where no flag was given.

    Returns, for every option, its effective value and where it came from:
    ``flag``, ``env:NAME``, ``config:PATH`` or ``default``.
    """
    params = {p.name: p for p in ctx.command.params if p.name and p.name not in NOT_SETTINGS}
    # keys: the long flag names (json, k-neighbors, lenient) or the parameter names
    keys: dict[str, tuple[str, bool]] = {}
    for name, p in params.items():
        keys[name] = (name, False)
        for opt in p.opts:
            if opt.startswith("--"):
                keys[opt[2:].replace("-", "_")] = (name, False)
        for opt in getattr(p, "secondary_opts", ()):
            if opt.startswith("--"):
                keys[opt[2:].replace("-", "_")] = (name, True)
    table: dict[str, Any] = {}
    unknown = []
    for key, value in config.tables.get(command, {}).items():
        if key not in keys:
            unknown.append(key)
            continue
        name, negate = keys[key]
        table[name] = (not value) if negate and isinstance(value, bool) else value
    if unknown:
        names = sorted({max(p.opts, key=len).lstrip("-") for p in params.values()} | {"lenient"})
        key = unknown[0].replace("_", "-")
        raise UsageError(
            f"the config file {config.path} has an unknown key {key!r} in [{command}]",
            hint=f"{did_you_mean(key, names)}the [{command}] keys are the long option names: "
            f"{', '.join(names)}",
        )
    settings: dict[str, dict[str, Any]] = {}
    for name, param in params.items():
        # typer vendors click: compare the source by name, not by importing its enum
        source = getattr(ctx.get_parameter_source(name), "name", "DEFAULT")
        where = "default"
        if source == "COMMANDLINE":
            where = "flag"
        elif source == "ENVIRONMENT":
            where = "env"
        else:
            env = ENV_PREFIX + name.upper()
            raw: Any = None
            if os.environ.get(env, "") != "":
                raw, where, origin = os.environ[env], f"env:{env}", f"environment variable {env}"
            elif name in table:
                raw = table[name]
                where, origin = f"config:{config.path}", f"{config.path} [{command}] {name}"
            if where != "default":
                if isinstance(raw, bool) and not getattr(param, "is_flag", False):
                    raise UsageError(
                        f"{origin} = {str(raw).lower()} is not valid for {_flag(param)}: "
                        "it takes a value, not true/false"
                    )
                if isinstance(raw, list):
                    raw = ",".join(str(v) for v in raw)
                try:
                    ctx.params[name] = param.process_value(ctx, raw)
                except Exception as exc:  # click's BadParameter, or a type's ValueError
                    msg = getattr(exc, "message", None) or str(exc)
                    raise UsageError(
                        f"{origin} = {raw!r} is not valid for {_flag(param)}: {msg}"
                    ) from None
        value = ctx.params.get(name)
        settings[name] = {"value": value, "source": where}
    return settings


def require(settings: dict[str, dict[str, Any]], name: str, flag: str, command: str) -> Any:
    """An option that must come from somewhere: a flag, the environment or the config."""
    value = settings[name]["value"]
    if value is None:
        raise UsageError(
            f"missing option {flag}",
            hint=f"give {flag}, set {ENV_PREFIX}{name.upper()}, or set {name.replace('_', '-')} "
            f"in the [{command}] table of {DEFAULT_FILE}",
        )
    return value
