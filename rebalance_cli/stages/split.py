"""``--test-size``: tee a stratified share of every cell, untouched, to the test split.

Each cell sends round-half-up(share * n) rows, chosen by a t-of-n selection on
its own random stream ("test-split"); the rest are the train rows the strategy
sees. The share is kept exact as the decimal the user typed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from ..errors import UsageError
from ..plan import round_half_up
from ..samplers import RowSelector

STREAM = "test-split"


def parse_share(text: float | str, flag: str = "--test-size") -> Fraction:
    """A share in (0, 1), kept exact as the decimal the user typed."""
    try:
        value = Fraction(Decimal(str(text).strip()))
    except (InvalidOperation, ValueError):
        raise UsageError(f"{flag} {text!r} is not a number") from None
    if not 0 < value < 1:
        raise UsageError(f"{flag} must be between 0 and 1, exclusive (got {text})")
    return value


def test_counts(counts: Sequence[int], share: Fraction) -> tuple[int, ...]:
    """Rows of each cell that go to the test split: round half up of share * n."""
    return tuple(round_half_up(share * n) for n in counts)


@dataclass(frozen=True)
class Split:
    """The held-out test split: t rows of each cell, on its own stream."""

    share: Fraction
    counts: tuple[int, ...]
    names: tuple[str, ...]
    seed: int

    def selector(self, cell_counts: Sequence[int]) -> RowSelector:
        return RowSelector(self.names, cell_counts, self.counts, self.seed, STREAM)


def make_split(names: Sequence[str], counts: Sequence[int], share: Fraction, seed: int) -> Split:
    return Split(share, test_counts(counts, share), tuple(names), seed)
