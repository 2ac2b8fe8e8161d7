"""The command line (``rebalance``): one module per command.

:func:`main` answers ``rebalance`` alone, ``rebalance --version``, ``rebalance
--help`` and ``rebalance COMMAND ... --help`` before importing typer (they need
nothing else: ~0.1 s less; :func:`.help.help_asked` reads the command line as
click would); every other command line goes through :mod:`.app`.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import app


def main(args: list[str] | None = None) -> None:
    """Entry point of the `rebalance` script (see :func:`.app.main`)."""
    given = sys.argv[1:] if args is None else list(args)
    if not given:  # a short usage on stderr, exit 2
        from .help import short_usage

        sys.stderr.write(short_usage())
        sys.exit(2)
    from .help import help_asked

    text = help_asked(given)
    if text is not None:
        from .stdout import print_or_exit

        sys.exit(print_or_exit(text))
    from .app import main as run

    run(args)


def __getattr__(name: str) -> Any:
    if name == "app":
        from .app import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["app", "main"]
