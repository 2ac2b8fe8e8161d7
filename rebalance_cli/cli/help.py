"""``--help`` as plain text: grouped in panels, examples at the end, no markup.

typer draws help with rich, which costs ~0.1 s of imports, shows a ``<bool>``
placeholder on every flag and reads ``[spark]`` as markup (the words vanish).
These command classes write it with click's plain formatter instead, from the
declarations in :mod:`.options`: the panels in the order the command declares,
each option with its placeholder and default, then the examples.

:func:`reference` renders every command's help at a fixed width as Markdown:
``docs/cli.md`` is that text (``make cli-reference`` writes it, and
tests/test_cli_help.py checks it is current).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from typer._click import Context, HelpFormatter
from typer.core import TyperCommand, TyperGroup

from .options import COMMANDS, CommandSpec

WIDTH = 100  # the widest help (on a wide terminal) and the reference's width
COL_MAX = 30  # an option wider than this has its help on the next line
SUMMARY = "Fix class imbalance in tabular files (CSV, TSV, Parquet, Arrow IPC, NDJSON)."
EXAMPLES = (
    "rebalance inspect train.csv -l y",
    "rebalance apply train.csv -l y -s undersample --seed 7 -o balanced.csv",
    "rebalance apply -h",
)


def _spec(name: str | None) -> CommandSpec | None:
    return next((s for s in COMMANDS if s.name == name), None)


def _record(param: Any) -> tuple[str, str]:
    """One option's line: its flags and placeholder, and its help with its default."""
    if param.param_type_name == "argument":
        return param.name.upper(), param.help or ""
    longs = [o for o in param.opts if o.startswith("--")]
    shorts = [o for o in param.opts if not o.startswith("--")]
    flags = ", ".join([*shorts, *longs]) if shorts else "    " + ", ".join(longs)
    if param.secondary_opts:
        flags += " / " + ", ".join(param.secondary_opts)
    if not param.is_flag:
        flags += f" {param.metavar}" if param.metavar else ""
    text = param.help or ""
    default = param.default
    if param.is_flag and param.secondary_opts:
        text += f"  [default: {(param.opts if default else param.secondary_opts)[0]}]"
    elif not param.is_flag and default is not None and param.show_default:
        text += f"  [default: {default}]"
    return flags, text


def _sections(
    formatter: HelpFormatter, sections: Iterable[tuple[str, list[tuple[str, str]]]]
) -> None:
    """Titled definition lists whose second columns line up across the sections."""
    sections = [(title, rows) for title, rows in sections if rows]
    fits = [len(first) for _, rows in sections for first, _ in rows if len(first) <= COL_MAX]
    width = max(fits, default=0)
    for title, rows in sections:
        with formatter.section(title):
            formatter.write_dl([(first.ljust(width), text) for first, text in rows], COL_MAX)


def _examples(formatter: HelpFormatter, examples: Iterable[str]) -> None:
    with formatter.section("Examples"):
        for line in examples:
            formatter.write(f"{'':>{formatter.current_indent}}{line}\n")


class HelpCommand(TyperCommand):
    """A command whose ``--help`` follows its :class:`~.options.CommandSpec`."""

    def collect_usage_pieces(self, ctx: Context) -> list[str]:
        args = [p.name.upper() for p in self.get_params(ctx) if p.param_type_name == "argument"]
        return [self.options_metavar or "[OPTIONS]", *args]

    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        spec = _spec(self.name)
        self.format_usage(ctx, formatter)
        formatter.write_paragraph()
        with formatter.indentation():
            formatter.write_text(self.help or "")
        if spec is None:  # pragma: no cover - every command has a spec
            return
        if spec.sections is not None:
            _sections(formatter, spec.sections())
        panels: dict[str, list[tuple[str, str]]] = {p: [] for p in spec.panels}
        last = spec.panels[-1]
        for param in self.get_params(ctx):
            if getattr(param, "hidden", False):
                continue
            panel = getattr(param, "rich_help_panel", None) or (
                spec.panels[0] if param.param_type_name == "argument" else last
            )
            panels.setdefault(panel, []).append(_record(param))
        _sections(formatter, panels.items())
        _examples(formatter, spec.examples)


class HelpGroup(TyperGroup):
    """``rebalance --help``: the commands, the options, examples."""

    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        self.format_usage(ctx, formatter)
        formatter.write_paragraph()
        with formatter.indentation():
            formatter.write_text(SUMMARY)
        commands = [(s.name, s.summary) for s in COMMANDS if s.name in self.commands]
        options = [_record(p) for p in self.get_params(ctx) if not getattr(p, "hidden", False)]
        _sections(formatter, [("Commands", commands)])
        _sections(formatter, [("Options", options)])
        _examples(formatter, EXAMPLES)


def short_usage() -> str:
    """What bare ``rebalance`` prints (on stderr, exit 2)."""
    names = ", ".join(s.name for s in COMMANDS)
    return (
        "Usage: rebalance [OPTIONS] COMMAND [ARGS]...\n"
        f"Commands: {names}.\n"
        "Try 'rebalance -h' for help, or 'rebalance COMMAND -h' for a command's options.\n"
    )


def reference() -> str:
    """Every command's help at :data:`WIDTH` columns, as the Markdown of docs/cli.md.

    The built-in strategies only: a plug-in installed where this runs is left out.
    """
    import typer

    from .. import strategies as registry
    from .app import app, bind_all

    with registry.built_in_only():
        bind_all(None)
        group = typer.main.get_command(app)
        pages = [("rebalance", group)] + [
            (f"rebalance {s.name}", group.commands[s.name])  # type: ignore[attr-defined]
            for s in COMMANDS
        ]
        parts = [
            "# Command-line reference",
            "",
            "<!-- Generated from the help of every command by `make cli-reference`;",
            "     do not edit by hand: tests/test_cli_help.py fails when it differs",
            "     from the help. -->",
            "",
            "Every command's `--help`, as printed on a terminal 100 columns wide. Options come",
            "from flags, `REBALANCE_<OPTION>` variables or a TOML file, in that order "
            "(see the README).",
            "",
        ]
        for title, command in pages:
            ctx = command.make_context(
                title, [], resilient_parsing=True, max_content_width=WIDTH, terminal_width=WIDTH
            )
            parts += [f"## `{title}`", "", "```text", command.get_help(ctx).rstrip(), "```", ""]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> None:
    """Write the reference to FILE (stdout without one): ``make cli-reference``."""
    args = sys.argv[1:] if argv is None else argv
    text = reference()
    if args:
        Path(args[0]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
