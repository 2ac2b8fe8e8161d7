"""What every command shares: option types, settings, the error guard, consoles."""

from __future__ import annotations

import contextlib
import copy
import functools
import inspect
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

if TYPE_CHECKING:  # rich is imported when something is drawn (~0.15 s saved at start-up)
    from rich.console import Console

from .. import phases
from .. import strategies as registry
from ..errors import INTERNAL, InputOutputError, Interrupted, RebalanceError, UsageError
from ..io import ReadOptions
from .config import load_config, resolve

# Set by the entry point of a real process: an interrupted run then leaves at once after its
# one line, so the worker threads of polars cannot print a panic at interpreter teardown.
HARD_EXIT_ON_SIGNAL = {"on": False}


def fail(err: RebalanceError) -> NoReturn:
    sys.stderr.write(f"rebalance: {err.kind}: {err}\n")
    sys.stderr.flush()
    if isinstance(err, Interrupted) and HARD_EXIT_ON_SIGNAL["on"]:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
        os._exit(err.exit_code)  # temp files were removed as the error unwound
    raise typer.Exit(err.exit_code)


SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _on_signal(signum: int, frame: Any) -> None:
    """SIGINT, SIGTERM, SIGHUP: every part of the run is told to stop, and the main
    thread unwinds (removing temporary files) from where it is. A second signal
    while it unwinds is noted, not raised, so the clean-up runs to its end."""
    if phases.request_stop(signum, final=True):
        raise phases.interrupted(signum)


def _quiet_unraisable(hook: Any) -> Any:
    """An unraisable-exception hook that drops the interrupt: a signal that lands in
    a finaliser must not print "Exception ignored ..." (the stop flag is set, and the
    run stops at its next check)."""

    def quiet(unraisable: Any) -> None:
        if isinstance(unraisable.exc_value, Interrupted | KeyboardInterrupt):
            return
        hook(unraisable)

    return quiet


def _quiet_thread_errors(hook: Any) -> Any:
    """A thread hook that drops the interrupt of a worker thread (the main thread
    reports it, once)."""

    def quiet(args: Any) -> None:
        if issubclass(args.exc_type, Interrupted | KeyboardInterrupt):
            return
        hook(args)

    return quiet


@contextmanager
def guarded() -> Iterator[None]:
    """Map every failure to one stderr line and an exit code; SIGINT, SIGTERM and
    SIGHUP stop the run (see :mod:`rebalance_cli.phases`), which cleans up too. A
    signal the parent ignores (``nohup``'s SIGHUP, SIGINT in a background job of a
    script) stays ignored."""
    on_main = threading.current_thread() is threading.main_thread()
    previous = {}
    for s in SIGNALS if on_main else ():
        if signal.getsignal(s) is not signal.SIG_IGN:  # nohup's SIGHUP stays ignored
            previous[s] = signal.signal(s, _on_signal)
    hooks = sys.unraisablehook, threading.excepthook
    sys.unraisablehook = _quiet_unraisable(hooks[0])
    threading.excepthook = _quiet_thread_errors(hooks[1])
    try:
        yield
    except RebalanceError as err:
        fail(err)
    except KeyboardInterrupt:
        fail(phases.interrupted(phases.stop_requested() or signal.SIGINT))
    except BrokenPipeError:
        # The reader went away (`| head`): not our error, and nothing to report.
        quiet_stdout()
        raise typer.Exit(0) from None
    except typer.Exit:
        raise
    except Exception as exc:
        if os.environ.get("REBALANCE_DEBUG"):
            raise
        msg = " ".join(str(exc).split()) or type(exc).__name__
        sys.stderr.write(
            f"rebalance: internal error: {type(exc).__name__}: {msg} "
            "(this is a bug; rerun with REBALANCE_DEBUG=1 for a traceback and report it)\n"
        )
        raise typer.Exit(INTERNAL) from None
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        sys.unraisablehook, threading.excepthook = hooks


@contextmanager
def printing() -> Iterator[None]:
    """What a command prints on stdout (a table, --json): a failure to write it (a full
    device, an I/O error) is an I/O error, exit 4. stdout is then pointed at the null
    device, so the interpreter's last flush cannot fail a second time."""
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        raise  # the reader went away: guarded() ends the run quietly
    except OSError as exc:
        quiet_stdout()
        raise InputOutputError(f"cannot write to stdout: {exc.strerror or exc}") from None


def quiet_stdout() -> None:
    """Point stdout at the null device (its reader is gone, or it cannot be written)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass


def split_names(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [v.strip() for v in value.split(",") if v.strip()]


def read_options(
    input_format: str | None, separator: str | None, encoding: str, infer: int
) -> ReadOptions:
    if infer < 0:
        raise UsageError(f"--infer-schema-length must be 0 or more (got {infer})")
    return ReadOptions(input_format, separator, encoding, None if infer == 0 else infer)


def stderr_is_terminal() -> bool:
    """A real terminal on stderr. FORCE_COLOR must not turn pipes and cron mail into one."""
    try:
        return os.isatty(sys.stderr.fileno()) and os.environ.get("TERM") != "dumb"
    except (AttributeError, OSError, ValueError):
        return False


def console(stderr: bool = False) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def stderr_console() -> Console:
    return console(stderr=True)


DataArg = Annotated[str, typer.Argument(help="Input file, or - for stdin.", show_default=False)]


LabelOpt = Annotated[
    str | None, typer.Option("--label", "-l", help="The class column.", show_default=False)
]


InFormatOpt = Annotated[
    str | None,
    typer.Option(
        "--input-format", help="csv, tsv, parquet, ipc or ndjson, when the name does not say."
    ),
]


SepOpt = Annotated[
    str | None,
    typer.Option("--separator", help="CSV field separator (one character; 'tab' for tabs)."),
]


EncOpt = Annotated[
    str,
    typer.Option("--encoding", help="CSV encoding: utf8, or utf8-lossy to replace invalid bytes."),
]


MaxClassesOpt = Annotated[
    int,
    typer.Option("--max-classes", help="Refuse a label with more distinct values (an id column?)."),
]


InferOpt = Annotated[
    int,
    typer.Option(
        "--infer-schema-length",
        help="CSV/NDJSON rows used to infer column types; 0 reads the whole file.",
    ),
]


EngineOpt = Annotated[
    str, typer.Option("--engine", help="local, or spark (needs the [spark] extra and Java).")
]


MasterOpt = Annotated[
    str | None,
    typer.Option("--spark-master", help="Spark master URL (e.g. local[4]); with --engine spark."),
]


def engine_of(engine: str, master: str | None, local: Callable[..., Any]) -> Callable[..., Any]:
    """The local API function, or its Spark twin from rebalance_cli.spark (imported lazily)."""
    if engine == "local":
        if master is not None:
            raise UsageError("--spark-master needs --engine spark")
        return local
    if engine != "spark":
        raise UsageError(f"--engine {engine!r} is not an engine", hint="use local or spark")
    from ..engines import spark

    return functools.partial(getattr(spark, f"{local.__name__}_spark"), master=master)


ConfigOpt = Annotated[
    str | None,
    typer.Option(
        "--config",
        help="TOML settings file ([inspect]/[apply] tables); default ./rebalance.toml. "
        "Precedence: flags > REBALANCE_* variables > config > defaults.",
        envvar="REBALANCE_CONFIG",
    ),
]


COMMANDS = ("inspect", "apply", "evaluate")


def settings_of(ctx: typer.Context, command: str, config: str | None) -> dict[str, dict[str, Any]]:
    return resolve(ctx, command, load_config(config, COMMANDS))


def command_line(ctx: typer.Context) -> list[str]:
    """The command as the user could retype it: the arguments and every non-default option.

    Values that came from the environment or a config file are spelled out as flags.
    """
    words = ctx.command_path.split()
    for param in ctx.command.params:
        value = ctx.params.get(param.name or "")
        if param.param_type_name == "argument":
            words.append(str(value))
            continue
        if param.name == "config" or value is None or value == param.default:
            continue
        flags = [o for o in param.opts if o.startswith("--")]
        if getattr(param, "is_flag", False):
            if value is True:
                words.append(max(param.opts, key=len))
            elif param.secondary_opts:
                words.append(max(param.secondary_opts, key=len))
        else:
            words.extend([max(flags or param.opts, key=len), str(value)])
    return words


def strategy_parameters() -> list[inspect.Parameter]:
    """A command-line option for every registered strategy option, from its declaration."""
    out = []
    for opt in registry.all_options():
        flags = [opt.flag, *([opt.short] if opt.short else [])]
        kind: Any = opt.type if opt.default is not None else (opt.type | None)
        info = typer.Option(
            *flags,
            help=opt.help,
            show_default=opt.default is not None,
            rich_help_panel="Strategy options",
        )
        out.append(
            inspect.Parameter(
                opt.name,
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                default=opt.default,
                annotation=Annotated[kind, info],
            )
        )
    return out


def with_strategy_options(
    command: Callable[..., Any], after: str, choice: str = "strategy"
) -> Callable[..., Any]:
    """Give a command taking ``**options`` the registry's strategy options as flags.

    typer reads a command's signature each time the app runs; the declared
    options become parameters of it (after the parameter ``after``), so a
    registered strategy's flags appear in ``--help``, the config file and the
    environment like the hand-written ones, and the ``choice`` option's help and
    the command's help list the registered strategies. Call it again after the
    registry changed (``main`` does, for every run).
    """
    base = getattr(command, "_base_signature", None)
    if base is None:
        base = inspect.signature(command, eval_str=True)
        command._base_signature = base  # type: ignore[attr-defined]
        command._base_doc = command.__doc__ or ""  # type: ignore[attr-defined]
    fixed = []
    for p in base.parameters.values():
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            continue
        if p.name == choice:
            kind, info = p.annotation.__origin__, copy.copy(p.annotation.__metadata__[0])
            info.help = f"One of: {', '.join(registry.names())} (see Strategies above)."
            p = p.replace(annotation=Annotated[kind, info])
        fixed.append(p)
    extra = strategy_parameters()
    at = [p.name for p in fixed].index(after) + 1  # where they stand in --help and the report
    params = [*fixed[:at], *extra, *fixed[at:]]
    command.__signature__ = base.replace(parameters=params)  # type: ignore[attr-defined]
    command.__annotations__ = {
        **{p.name: p.annotation for p in fixed},
        **{p.name: p.annotation for p in extra},
        "return": None,
    }
    listed = "\n\n".join(f"{s.name}: {s.summary}" for s in registry.all_strategies())
    command.__doc__ = f"{command._base_doc}\n\nStrategies:\n\n{listed}"  # type: ignore[attr-defined]
    return command
