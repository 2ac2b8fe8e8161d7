"""The exception family. Each error a user can cause carries its exit code.

The CLI turns any of these into one line on stderr and the matching exit code;
library users can catch :class:`RebalanceError` (or a subclass) directly.
"""

from __future__ import annotations

from collections.abc import Iterable

OK = 0
INTERNAL = 1
USAGE = 2
DATA = 3
IO = 4
REFUSED = 5
CHECK_FAILED = 6
INTERRUPTED = 130


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``"did you mean X? "`` for the choice closest to ``word``, or ``""`` when none is close.

    One home for the guess every "unknown ..." message makes (a strategy, a flag, a
    config key, a command); case and leading dashes are ignored in the comparison.
    """
    import difflib

    def key(text: str) -> str:
        return text.lstrip("-").lower()

    options = {key(c): c for c in choices}
    near = difflib.get_close_matches(key(word), list(options), n=1, cutoff=0.6)
    return f"did you mean {options[near[0]]}? " if near else ""


class RebalanceError(Exception):
    """Base class: a failure with a one-line message and an exit code."""

    exit_code: int = INTERNAL
    kind: str = "error"

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        text = " ".join(self.message.split())
        if self.hint:
            text += f" ({' '.join(self.hint.split())})"
        return text


class UsageError(RebalanceError):
    """The options contradict each other or the strategy (exit 2)."""

    exit_code = USAGE
    kind = "usage error"


class DataError(RebalanceError):
    """The input cannot serve the request (exit 3)."""

    exit_code = DATA
    kind = "data error"


class InputOutputError(RebalanceError):
    """The input cannot be read or the output cannot be written (exit 4)."""

    exit_code = IO
    kind = "I/O error"


class RefusedError(RebalanceError):
    """The run would overwrite the input or an existing file (exit 5)."""

    exit_code = REFUSED
    kind = "refused"


class CheckFailed(RebalanceError):
    """A requested check did not pass, e.g. ``inspect --max-ratio`` (exit 6)."""

    exit_code = CHECK_FAILED
    kind = "check failed"


class Interrupted(RebalanceError):
    """SIGINT, SIGTERM or SIGHUP arrived; temporary files were removed (exit 128 + the
    signal's number: 130, 143, 129)."""

    exit_code = INTERRUPTED
    kind = "interrupted"

    def __init__(self, signal_number: int, committed: bool = False) -> None:
        import signal

        name = signal.Signals(signal_number).name
        if committed:  # it came after every file was in place: they stay
            super().__init__(f"stopped by {name} after the output was written")
        else:
            super().__init__(f"stopped by {name}; no output was written")
        self.signal_number = int(signal_number)
        self.exit_code = 128 + int(signal_number)


def null_labels(label: str, nulls: int, csv: bool = False) -> DataError:
    """The one message for a label column with nulls (or NaN) when ``--drop-null-labels`` is
    not given: apply, inspect and evaluate, on either engine."""
    hint = "pass --drop-null-labels to leave those rows out"
    if csv:
        hint += "; in a CSV, a short (ragged) row also reads as a null label"
    plural = "s" if nulls != 1 else ""
    return DataError(f"label column {label!r} has {nulls:,} null value{plural}", hint=hint)


def no_labelled_rows() -> DataError:
    """Nothing to plan: every row's label is null, or the input has no rows."""
    return DataError("the input has no rows with a label, so there is nothing to rebalance")


def changed_while_read(display: str) -> DataError:
    """Pass 2 saw other class counts than pass 1: the input changed between the passes."""
    return DataError(f"{display} changed while it was read (class counts differ)")


class SeedDrawnWarning(UserWarning):
    """A call without a seed drew one (``resample_frame(seed=None)``): the warning says which,
    so the call can be replayed with ``seed=`` that value."""
