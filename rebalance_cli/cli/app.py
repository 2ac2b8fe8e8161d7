"""The `rebalance` command line: the app, its commands, and the entry point.

Every command is a module of this package over the Python API
(:mod:`rebalance_cli.api`); this one only assembles them and maps a bad
command line to one line on stderr and exit 2.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from ..errors import INTERRUPTED, IO, USAGE
from .apply import apply_cmd
from .common import COMMANDS, HARD_EXIT_ON_SIGNAL, quiet_stdout, with_strategy_options
from .evaluate import evaluate_cmd
from .inspect import inspect_cmd

app = typer.Typer(
    name="rebalance",
    help="Fix class imbalance in tabular files (CSV, TSV, Parquet, Arrow IPC, NDJSON).",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"rebalance {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Fix class imbalance in tabular files: inspect the classes, then apply a strategy."""


app.command("inspect")(inspect_cmd)
app.command("apply")(apply_cmd)
app.command("evaluate")(evaluate_cmd)


def main(args: list[str] | None = None) -> None:
    """Entry point of the `rebalance` script.

    typer's own handling of a bad command line (an unknown option, a missing
    argument, a value of the wrong type) draws a boxed message over several lines;
    here it is one line on stderr and exit 2, like every other usage error.
    """
    from typer._click.exceptions import ClickException

    from .coerce import install

    install()
    HARD_EXIT_ON_SIGNAL["on"] = args is None  # the script itself, not a test calling main
    with_strategy_options(apply_cmd, after="report")  # the registry as it is now
    try:
        code = app(args=args, prog_name="rebalance", standalone_mode=False)
    except ClickException as exc:
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
            sys.stdout.write(ctx.get_help() + "\n")
            sys.exit(exc.exit_code)
        if ctx is not None:
            where = ctx.command_path
        else:  # click raised before the command's context existed: find the command by name
            given = sys.argv[1:] if args is None else args
            named = next((a for a in given if a in COMMANDS), None)
            where = f"rebalance {named}" if named else "rebalance"
        sys.stderr.write(
            f"rebalance: usage error: {' '.join(exc.format_message().split())} (see {where} -h)\n"
        )
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
