"""The command line (``rebalance``): one module per command.

:func:`main` answers ``rebalance --version`` before importing typer (the one command
line that needs nothing else, ~0.05 s less); every other goes through :mod:`.app`.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import app


def main(args: list[str] | None = None) -> None:
    """Entry point of the `rebalance` script (see :func:`.app.main`)."""
    if (sys.argv[1:] if args is None else list(args)) == ["--version"]:
        from .._version import __version__
        from .stdout import print_or_exit

        sys.exit(print_or_exit(f"rebalance {__version__}\n"))
    from .app import main as run

    run(args)


def __getattr__(name: str) -> Any:
    if name == "app":
        from .app import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["app", "main"]
