"""``--help`` as plain text, made from the declarations alone: panels, placeholders, examples.

typer draws help with rich, which costs ~0.1 s of imports, shows a ``<bool>``
placeholder on every flag and reads ``[spark]`` as markup (the words vanish).
This module writes it from :mod:`.options` instead, with :mod:`textwrap`:
the panels in the order the command declares them, each option with its
placeholder and default, then the examples. It imports neither typer nor click,
so ``rebalance --help`` and ``rebalance COMMAND [WORDS] --help`` are answered
without them (:func:`help_asked`, called by :func:`.main`); a command line that
asks for help where click would stop first (an unknown option) goes through
typer, whose commands call the same functions.

:func:`reference` is every help at :data:`WIDTH` columns as Markdown:
``docs/cli.md`` (``make cli-reference`` writes it, and tests/test_cli_help.py
checks it is current).
"""

from __future__ import annotations

import shutil
import sys
import textwrap
from collections.abc import Iterable
from pathlib import Path

from .options import COMMANDS, CommandSpec, Flag

WIDTH = 100  # the widest help (on a wide terminal) and the reference's width
COL_MAX = 30  # an option wider than this has its help on the next line
INDENT = 2
SUMMARY = "Fix class imbalance in tabular files (CSV, TSV, Parquet, Arrow IPC, NDJSON)."
EXAMPLES = (
    "rebalance inspect train.csv -l y",
    "rebalance apply train.csv -l y -s undersample --seed 7 -o balanced.csv",
    "rebalance apply -h",
)
HELP_ROW = ("-h, --help", "Show this message and exit.")
HELP_FLAGS = ("-h", "--help")

Rows = list[tuple[str, str]]


def width_here() -> int:
    """The help's width on this terminal (or COLUMNS): at most :data:`WIDTH`, at least 50."""
    return max(min(shutil.get_terminal_size().columns, WIDTH) - 2, 50)


def _wrap(text: str, width: int, indent: int) -> list[str]:
    """Paragraphs (split at blank lines) filled to ``width``, indented; never split a word or
    a flag at its hyphen."""
    out: list[str] = []
    for i, paragraph in enumerate(text.split("\n\n")):
        if i:
            out.append("")
        out += textwrap.wrap(
            " ".join(paragraph.split()),
            max(width, indent + 10),
            initial_indent=" " * indent,
            subsequent_indent=" " * indent,
            break_on_hyphens=False,
            break_long_words=False,
        )
    return out


def _sections(sections: Iterable[tuple[str, Rows]], width: int) -> list[str]:
    """Titled two-column lists whose second columns line up across the sections."""
    sections = [(title, rows) for title, rows in sections if rows]
    fits = [len(first) for _, rows in sections for first, _ in rows if len(first) <= COL_MAX]
    column = INDENT + max(fits, default=0) + 2  # where the second column starts
    out: list[str] = []
    for title, rows in sections:
        out += ["", f"{title}:"]
        for first, text in rows:
            lines = _wrap(text, width, column) or [""]
            head = " " * INDENT + first
            if len(head) + 2 <= column:
                out.append(head.ljust(column) + lines[0].lstrip())
                out += lines[1:]
            else:  # too wide: the help goes on the next lines
                out += [head, *lines]
    return [line.rstrip() for line in out]


def _record(flag: Flag) -> tuple[str, str]:
    """One option's row: its flags and placeholder; its help and its default."""
    if flag.argument:
        return flag.name.upper(), flag.text
    pairs = [part.split("/") for part in flag.decls]
    shorts = [d for pair in pairs for d in pair if not d.startswith("--")]
    longs = [" / ".join(pair) for pair in pairs if pair[0].startswith("--")]
    first = ", ".join([*shorts, *longs]) if shorts else "    " + ", ".join(longs)
    if flag.placeholder:
        first += f" {flag.placeholder}"
    text = flag.text
    if "/" in flag.decls[0]:  # an on/off pair
        on, off = flag.decls[0].split("/")
        text += f"  [default: {on if flag.default else off}]"
    elif flag.type is not bool and flag.default is not None:
        text += f"  [default: {flag.default}]"
    return first, text


def _examples(examples: Iterable[str]) -> list[str]:
    return ["", "Examples:", *(" " * INDENT + line for line in examples)]


def render_command(spec: CommandSpec, width: int) -> str:
    """``rebalance COMMAND --help``: usage, about, the spec's sections, its panels, examples."""
    flags = [f for f in spec.resolved() if not f.hidden]
    arguments = " ".join(f.name.upper() for f in flags if f.argument)
    lines = [f"Usage: rebalance {spec.name} [OPTIONS] {arguments}".rstrip(), ""]
    lines += _wrap(spec.about, width, INDENT)
    if spec.sections is not None:
        lines += _sections(spec.sections(), width)
    panels: dict[str, Rows] = {p: [] for p in spec.panels}
    for flag in flags:
        panels.setdefault(flag.panel, []).append(_record(flag))
    panels[spec.panels[-1]].append(HELP_ROW)
    lines += _sections(panels.items(), width)
    lines += _examples(spec.examples)
    return "\n".join(lines) + "\n"


def render_root(width: int) -> str:
    """``rebalance --help``: usage, the commands, the options, examples."""
    lines = ["Usage: rebalance [OPTIONS] COMMAND [ARGS]...", "", *_wrap(SUMMARY, width, INDENT)]
    lines += _sections([("Commands", [(s.name, s.summary) for s in COMMANDS])], width)
    lines += _sections([("Options", [("    --version", "Print the version."), HELP_ROW])], width)
    lines += _examples(EXAMPLES)
    return "\n".join(lines) + "\n"


ROOT_FLAGS = ("--version", *HELP_FLAGS)


def _asks_for_help(spec: CommandSpec, words: list[str]) -> bool | None:
    """Whether a command's words ask for its help as click would read them: True for a
    ``-h``/``--help`` that is not an option's value (the declarations say which options take
    one) and comes before ``--``; None when click would stop first (an unknown option, a value
    missing or given to an on/off flag), or when unsure: typer answers those."""
    flags = {d: f.type is not bool for f in spec.resolved() for p in f.decls for d in p.split("/")}
    flags |= dict.fromkeys(HELP_FLAGS, False)
    found = False
    i = 0
    while i < len(words):
        word = words[i]
        i += 1
        if word == "--":
            break
        if not word.startswith("-") or word == "-":
            continue
        if word.startswith("--"):
            name, eq, _ = word.partition("=")
            if name not in flags or (eq and not flags[name]):
                return None
            if flags[name] and not eq:
                if i == len(words):
                    return None  # the value is missing
                i += 1
            found = found or name in HELP_FLAGS
            continue
        for j, letter in enumerate(word[1:], 1):  # -fh, -lVALUE, -l VALUE
            if f"-{letter}" not in flags:
                return None
            if flags[f"-{letter}"]:
                if j == len(word) - 1:
                    if i == len(words):
                        return None
                    i += 1
                break
            found = found or letter == "h"
    return found or None


def help_asked(args: list[str]) -> str | None:
    """The help (or version) a command line asks for and nothing else, answered as click would
    without importing it: the text to print; None for any other command line.

    ``-h``, ``--version``, ``--version -h`` (the first of the root's flags wins), ``apply
    --help``, ``apply data.csv -l y -h`` (``-h`` anywhere before ``--`` that is not an option's
    value, the command's other options known).
    """
    lead = 0
    while lead < len(args) and args[lead] in ROOT_FLAGS:
        lead += 1
    if lead:
        if lead < len(args) and args[lead].startswith("-"):
            return None  # an unknown root option, or `--`: typer says what
        if args[0] == "--version":
            from .._version import __version__

            return f"rebalance {__version__}\n"
        return render_root(width_here())
    words = args[1 : args.index("--") if "--" in args else len(args)]
    if not any(w in HELP_FLAGS or (w[:1] == "-" != w[1:2] and "h" in w) for w in words):
        return None  # no help asked: the declarations (and plug-ins) are not read
    spec = next((s for s in COMMANDS if args and s.name == args[0]), None)
    if spec is not None and _asks_for_help(spec, args[1:]):
        return render_command(spec, width_here())
    return None


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
    from .. import strategies as registry

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
    with registry.built_in_only():
        pages = [("rebalance", render_root(WIDTH - 2))] + [
            (f"rebalance {s.name}", render_command(s, WIDTH - 2)) for s in COMMANDS
        ]
    for title, text in pages:
        parts += [f"## `{title}`", "", "```text", text.rstrip(), "```", ""]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> None:
    """Write the reference to FILE (stdout without one): ``make cli-reference``."""
    args = sys.argv[1:] if argv is None else argv
    text = reference()
    if args:
        Path(args[0]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
