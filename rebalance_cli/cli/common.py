"""What every command shares: settings, the error guard, consoles, the report's command line.

The options themselves are declared in :mod:`.options`.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

import typer

if TYPE_CHECKING:  # rich is imported when something is drawn (~0.15 s saved at start-up)
    pass

from .. import phases
from ..errors import INTERNAL, InputOutputError, Interrupted, RebalanceError, UsageError
from .config import env_typos, load_config, resolve
from .options import COMMANDS as SPECS
from .options import setting_names
from .stdout import quiet_stdout

if TYPE_CHECKING:
    from ..io import ReadOptions

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


def split_names(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [v.strip() for v in value.split(",") if v.strip()]


def read_options(
    input_format: str | None, separator: str | None, encoding: str, infer: int
) -> ReadOptions:
    from ..io import ReadOptions

    if infer < 0:
        raise UsageError(f"--infer-schema-length must be 0 or more (got {infer})")
    return ReadOptions(input_format, separator, encoding, None if infer == 0 else infer)


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


COMMANDS = tuple(spec.name for spec in SPECS)


def config_keys() -> dict[str, list[str]]:
    """Each command's config keys: its long option names (both of an on/off pair)."""
    return {
        spec.name: [
            d.removeprefix("--")
            for f in spec.resolved()
            if not f.argument and f.name != "config"
            for d in f.decls[0].split("/")
        ]
        for spec in SPECS
    }


def settings_of(ctx: typer.Context, command: str, config: str | None) -> dict[str, dict[str, Any]]:
    """Every option's value and where it came from (flag, env, config, default).

    A ``REBALANCE_*`` variable that comes close to a setting's name but names none
    (``REBALANCE_SEEED``) is a warning on stderr, unless ``--quiet``.
    """
    settings = resolve(ctx, command, load_config(config, COMMANDS, command, config_keys))
    if not settings.get("quiet", {}).get("value"):
        for warning in env_typos(setting_names):
            sys.stderr.write(f"rebalance: warning: {warning}\n")
    return settings


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
