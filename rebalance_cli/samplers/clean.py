"""Cleaning kernels: which rows go, from their nearest neighbours among all classes.

Both look at every row of a group (without ``--by``, the whole input) at once,
with the exact neighbour search of :mod:`rebalance_cli.knn` (ties broken by
the lower row index), and only ever drop rows of the cleaned cells:

- Tomek links: rows a and b of different classes that are each other's nearest
  neighbour form a link; the rows of a link that belong to a cleaned class go.
- Edited nearest neighbours: a row of a cleaned class goes when its k nearest
  neighbours disagree with it: ``all`` keeps it only if every one of them is of
  its class, ``mode`` only if its class is the most frequent among them (a tie
  goes to the class that sorts first).

Rows whose features are not all finite take no part: they are neither
neighbours nor dropped (the strategy refuses them unless ``--lenient``).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .. import knn


def exact_method(n: int, d: int) -> str:
    """The exact neighbour search for n rows of d features (never the approximate ivf)."""
    method = knn.method_for(n, d)
    return "brute" if method == "ivf" else method


def group_rows(
    codes: np.ndarray, group: np.ndarray, usable: np.ndarray
) -> Iterator[tuple[int, np.ndarray]]:
    """(group, its usable rows in input order) for every group that has rows."""
    of_row = group[codes]
    for g in np.unique(of_row[usable]):
        yield int(g), np.flatnonzero((of_row == g) & usable)


def tomek_links(x: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Whether each row is in a Tomek link (rows of one group; codes are their cells)."""
    if x.shape[0] < 2:
        return np.zeros(x.shape[0], dtype=bool)
    nearest = knn.nearest_neighbours(x, 1, exact_method(*x.shape))[:, 0]
    mutual = nearest[nearest] == np.arange(x.shape[0])
    return mutual & (codes[nearest] != codes)


def edited(x: np.ndarray, codes: np.ndarray, k: int, rule: str) -> np.ndarray:
    """Whether each row disagrees with its k nearest neighbours (``all`` or ``mode``)."""
    n = x.shape[0]
    k = min(k, n - 1)
    if k < 1:
        return np.zeros(n, dtype=bool)
    near = codes[knn.nearest_neighbours(x, k, exact_method(*x.shape))]  # (n, k) cells
    if rule == "all":
        return ~(near == codes[:, None]).all(axis=1)
    # mode: how often each neighbour's cell occurs in the row; the most frequent, and
    # among equally frequent ones the lowest cell code (cells of a group are in class order)
    times = (near[:, :, None] == near[:, None, :]).sum(axis=2)
    best = times.max(axis=1, keepdims=True)
    mode = np.where(times == best, near, np.iinfo(near.dtype).max).min(axis=1)
    return mode != codes
