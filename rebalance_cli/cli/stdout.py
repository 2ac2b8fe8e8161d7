"""stdout that cannot be written: point it at the null device, say so once.

Light on purpose (os and sys only): ``rebalance --version`` uses it before typer
is imported.
"""

from __future__ import annotations

import os
import sys

from ..errors import IO


def quiet_stdout() -> None:
    """Point stdout at the null device (its reader is gone, or it cannot be written)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass


def print_or_exit(text: str) -> int:
    """Write ``text`` on stdout and flush: the exit code (0; or, when stdout cannot be written,
    4 after one line on stderr; a reader that went away is not an error)."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        quiet_stdout()
    except OSError as exc:
        quiet_stdout()
        sys.stderr.write(f"rebalance: I/O error: cannot write to stdout: {exc.strerror or exc}\n")
        return IO
    return 0
