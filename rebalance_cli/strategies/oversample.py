"""Random oversampling: every row of a grown class written q or q + 1 times."""

from __future__ import annotations

from typing import ClassVar

from .base import Direction, Kind, Strategy


class Oversample(Strategy):
    name = "oversample"
    summary = "duplicate rows of the small classes at random (--shrinkage jitters the copies)"
    kind: ClassVar[Kind] = "select"
    direction: ClassVar[Direction] = "over"
    grows_rows = True
