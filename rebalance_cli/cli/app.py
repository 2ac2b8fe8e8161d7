"""The `rebalance` command line: the app, its commands, and the entry point.

Every command is a module of this package over the Python API
(:mod:`rebalance_cli.api`), which it imports when it runs; its options are
declared in :mod:`.options` and its help is drawn by :mod:`.help`. This module
assembles them and maps a bad command line to one line on stderr and exit 2.

Start-up: ``rebalance --version``, ``--help`` and ``COMMAND ... --help`` are answered
by :func:`rebalance_cli.cli.main` before this module (and typer) is imported;
no command line imports polars, numpy, pyarrow, scikit-learn or rich before its
command runs, and the strategy registry's plug-ins are looked up only for the
command that runs.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated, Any

import typer
from typer._click import Context, HelpFormatter
from typer.core import TyperCommand, TyperGroup

from ..errors import INTERRUPTED, IO, USAGE
from .apply import apply_cmd
from .common import HARD_EXIT_ON_SIGNAL, quiet_stdout
from .evaluate import evaluate_cmd
from .help import SUMMARY, render_command, render_root, short_usage
from .inspect import inspect_cmd
from .options import APPLY, COMMANDS, EVALUATE, INSPECT, CommandSpec, bind
from .suggest import usage_message


class HelpCommand(TyperCommand):
    """A command whose ``--help`` comes from its declaration (:mod:`.help`)."""

    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        formatter.write(render_command(SPECS[self.name or ""], formatter.width))


class HelpGroup(TyperGroup):
    """``rebalance --help``, from the declarations (:mod:`.help`)."""

    def format_help(self, ctx: Context, formatter: HelpFormatter) -> None:
        formatter.write(render_root(formatter.width))


app = typer.Typer(
    name="rebalance",
    cls=HelpGroup,
    help=SUMMARY,
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)

SPECS = {spec.name: spec for spec in COMMANDS}
BODIES: dict[str, Callable[..., Any]] = {
    INSPECT.name: inspect_cmd,
    APPLY.name: apply_cmd,
    EVALUATE.name: evaluate_cmd,
}


def _version(value: bool) -> None:
    if value:
        from .._version import __version__

        sys.stdout.write(f"rebalance {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Fix class imbalance in tabular files: inspect the classes, then apply a strategy."""


def bind_all(running: str | None) -> None:
    """Bind every command's signature to its declaration; the registry as it is now.

    Only the command that runs (``running``; every command when None) reads the
    strategy registry, so ``--version``, ``--help`` and ``inspect`` never look up
    the plug-ins' entry points.
    """
    for spec in COMMANDS:
        bind(BODIES[spec.name], spec, with_registry=running is None or running == spec.name)


def _register(spec: CommandSpec) -> None:
    app.command(spec.name, cls=HelpCommand, help=spec.about, short_help=spec.summary)(
        BODIES[spec.name]
    )


for _spec in COMMANDS:
    bind(BODIES[_spec.name], _spec, with_registry=False)
    _register(_spec)


def _command_named(args: list[str]) -> str | None:
    """The command a command line runs: its first word that is not an option (the root
    takes no option with a value)."""
    return next((a for a in args if not a.startswith("-")), None)


def main(args: list[str] | None = None) -> None:
    """Entry point of the `rebalance` script.

    typer's own handling of a bad command line (an unknown option, a missing
    argument, a value of the wrong type) draws a boxed message over several lines;
    here it is one line on stderr and exit 2, like every other usage error, with a
    "did you mean" for a misspelled option or command. Bare ``rebalance`` prints a
    short usage on stderr and exits 2.
    """
    from typer._click.exceptions import ClickException

    from .coerce import install

    install()
    HARD_EXIT_ON_SIGNAL["on"] = args is None  # the script itself, not a test calling main
    given = sys.argv[1:] if args is None else list(args)
    bind_all(_command_named(given) or "")  # "": no command runs, no registry
    try:
        code = app(args=given, prog_name="rebalance", standalone_mode=False)
    except ClickException as exc:
        if type(exc).__name__ == "NoArgsIsHelpError" and getattr(exc, "ctx", None) is not None:
            sys.stderr.write(short_usage())
            sys.exit(USAGE)
        sys.stderr.write(f"rebalance: usage error: {usage_message(exc, given)}\n")
        sys.exit(USAGE)
    except typer.Abort:
        sys.stderr.write("rebalance: interrupted: stopped by the user\n")
        sys.exit(INTERRUPTED)
    except BrokenPipeError:  # `rebalance --help | head`
        quiet_stdout()
        sys.exit(0)
    except OSError as exc:  # --help or --version could not be printed (a full device)
        quiet_stdout()
        sys.stderr.write(f"rebalance: I/O error: cannot write to stdout: {exc.strerror or exc}\n")
        sys.exit(IO)
    sys.exit(code if isinstance(code, int) else 0)
