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
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from ..errors import InputOutputError, UsageError

DEFAULT_FILE = "rebalance.toml"
ENV_PREFIX = "REBALANCE_"
NOT_SETTINGS = frozenset({"config", "data", "ctx"})


@dataclass(frozen=True)
class ConfigFile:
    """A parsed config file: its path and its tables."""

    path: Path | None
    tables: dict[str, dict[str, Any]]


def load_config(given: str | None, commands: tuple[str, ...]) -> ConfigFile:
    """Read ``--config FILE``, else ./rebalance.toml when it exists, else nothing."""
    if given:
        path = Path(given)
        if not path.is_file():
            raise InputOutputError(f"the config file {given} does not exist")
    else:
        path = Path(DEFAULT_FILE)
        if not path.is_file():
            return ConfigFile(None, {})
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputOutputError(f"cannot read the config file {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"the config file {path} is not valid TOML: {exc}") from None
    tables: dict[str, dict[str, Any]] = {}
    for name, table in doc.items():
        if name not in commands or not isinstance(table, dict):
            raise UsageError(
                f"the config file {path} has {'table' if isinstance(table, dict) else 'key'} "
                f"{name!r}; it may hold only the tables {', '.join(f'[{c}]' for c in commands)}"
            )
        tables[name] = {k.replace("-", "_"): v for k, v in table.items()}
    return ConfigFile(path, tables)


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
        known = ", ".join(
            sorted({max(p.opts, key=len).lstrip("-") for p in params.values()} | {"lenient"})
        )
        raise UsageError(
            f"the config file {config.path} has an unknown key "
            f"{unknown[0].replace('_', '-')!r} in [{command}]",
            hint=f"the [{command}] keys are the long option names: {known}",
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
