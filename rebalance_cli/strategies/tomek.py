"""Tomek links: remove the rows of the cleaned classes that sit on a class border.

Two rows of different classes that are each other's nearest neighbour form a
Tomek link (imbalanced-learn's ``TomekLinks``); the row of each link that
belongs to a cleaned class (``--target``: by default every class but the
minority) is removed. How many rows go is known once the neighbours are found.
"""

from __future__ import annotations

from typing import Any

from .cleaning import FEATURE_OPTIONS, CleaningStrategy, Kernel


class TomekLinks(CleaningStrategy):
    name = "tomek"
    summary = (
        "remove rows of the big classes that form Tomek links (cleaning, counts from the data)"
    )
    options = FEATURE_OPTIONS

    def kernel(self, options: Any) -> Kernel:
        from ..samplers.clean import tomek_links

        return tomek_links
