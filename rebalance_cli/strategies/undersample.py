"""Random undersampling: keep t_c of the n_c rows of every class cut, chosen by key."""

from __future__ import annotations

from typing import ClassVar

from .base import Direction, Kind, Strategy


class Undersample(Strategy):
    name = "undersample"
    summary = "drop rows of the big classes at random (exact counts, one streaming pass)"
    kind: ClassVar[Kind] = "select"
    direction: ClassVar[Direction] = "under"
