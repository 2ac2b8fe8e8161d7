"""k nearest neighbours within one class, the cost centre of SMOTE.

Both methods are exact and give the same answer whatever the number of threads
(every block of work has a fixed shape and runs on single-threaded BLAS; blocks
run in parallel on a thread pool; ties are broken by row index):

- ``kd-tree`` for few dimensions (scikit-learn's KDTree, one thread);
- ``brute`` otherwise: for a block of rows, one float32 matrix product gives
  ||x||^2 - 2 q.x for every pair; the k-th smallest of per-group minima bounds
  the k-th neighbour distance from above, so only the few pairs under that bound
  are kept, and they are re-ranked in float64 by (distance, index). Selection
  costs a comparison per pair instead of a partial sort.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

KD_TREE_MAX_DIMS = 15
KD_TREE_MAX_ROWS = 2_000_000
_BLOCK_ROWS = 512
_SUB = 64
_TILE = 4096


def method_for(n: int, d: int) -> str:
    """The method ``nearest_neighbours`` uses for n rows of d features."""
    return "kd-tree" if d <= KD_TREE_MAX_DIMS and n <= KD_TREE_MAX_ROWS else "brute"


def nearest_neighbours(x: np.ndarray, k: int, method: str | None = None) -> np.ndarray:
    """Indices (n, k) of each row's k nearest other rows, nearest first (Euclidean)."""
    n, d = x.shape
    method = method or method_for(n, d)
    if method == "kd-tree":
        return _kd_tree(x, k)
    if method == "brute":
        return _brute(x, k)
    raise ValueError(f"unknown kNN method {method!r}")


def _parallel(work: Callable[[int], None], items: Iterable[int]) -> None:
    """Run ``work`` over ``items`` on all cores, each call on single-threaded BLAS."""
    from threadpoolctl import threadpool_limits

    workers = max(1, min(8, os.cpu_count() or 1))
    with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(workers) as pool:
        for _ in pool.map(work, items):
            pass


def _kd_tree(x: np.ndarray, k: int) -> np.ndarray:
    from sklearn.neighbors import KDTree

    found = KDTree(x).query(x, k=k + 1, return_distance=False)
    # With duplicate rows the row itself need not come first: drop it where it
    # appears, otherwise drop the farthest.
    is_self = found == np.arange(x.shape[0])[:, None]
    is_self[~is_self.any(axis=1), -1] = True
    order = np.argsort(is_self, axis=1, kind="stable")
    return np.take_along_axis(found, order[:, :k], axis=1)


def _brute(x: np.ndarray, k: int) -> np.ndarray:
    n = x.shape[0]
    x32 = np.ascontiguousarray(x, dtype=np.float32)
    half_sq = 0.5 * np.einsum("ij,ij->i", x32, x32)
    # [x, ||x||^2/2] . [-q, 1] = ||x||^2/2 - q.x: the score in one matrix product
    xa = np.ascontiguousarray(np.hstack([x32, half_sq[:, None]]))
    sq64 = np.einsum("ij,ij->i", x, x)
    # Tiles of `width` columns; in a tile, group r holds columns r, r + G, r + 2G, ...
    # (G = width / 64), so a group minimum is an elementwise minimum over 64
    # contiguous rows of the tile viewed as (64, G): a fast, vectorised reduction.
    width = min(_TILE, -(-n // _SUB) * _SUB)
    per_tile = width // _SUB
    tiles = -(-n // width)
    groups = tiles * per_tile
    # float32 rounding of ||x||^2/2 - q.x: pairs within this slack of the bound are kept
    slack = 1e-4 * (float(half_sq.max()) + 1.0)
    out = np.empty((n, k), dtype=np.int64)
    lane = np.arange(_SUB) * per_tile

    def block(start: int) -> None:
        stop = min(n, start + _BLOCK_ROWS)
        rows = stop - start
        q = np.hstack([-x32[start:stop], np.ones((stop - start, 1), dtype=np.float32)])
        own = np.arange(rows)
        buf = np.empty((rows, width), dtype=np.float32)
        mins = np.full((rows, max(groups, k)), np.inf, dtype=np.float32)
        # pass 1: the smallest score of every row in every group of 64 columns
        for t in range(tiles):
            c0, c1 = t * width, min(n, (t + 1) * width)
            g = buf[:, : c1 - c0]
            np.matmul(q, xa[c0:c1].T, out=g)
            buf[:, c1 - c0 :] = np.inf
            selfs = own[(own + start >= c0) & (own + start < c1)]
            buf[selfs, selfs + start - c0] = np.inf
            buf.reshape(rows, _SUB, per_tile).min(
                axis=1, out=mins[:, t * per_tile : (t + 1) * per_tile]
            )
        # k groups hold a score <= the k-th smallest group minimum: an upper bound
        bound = np.partition(mins, k - 1, axis=1)[:, k - 1] + slack
        hit_row, hit_group = np.nonzero(mins[:, :groups] <= bound[:, None])
        # pass 2: exact float64 distances in the groups that can hold a neighbour
        tile, residue = np.divmod(hit_group, per_tile)
        cols = (tile * width + residue)[:, None] + lane[None, :]
        inside = cols < n
        cols = np.minimum(cols, n - 1)
        qrow = hit_row + start
        dots = np.matmul(x[qrow][:, None, :], x[cols].transpose(0, 2, 1))[:, 0, :]
        d2 = sq64[qrow][:, None] + sq64[cols] - 2.0 * dots
        d2[~inside | (cols == qrow[:, None])] = np.inf
        limit = 2.0 * bound.astype(np.float64) + sq64[start:stop]
        hi, ci = np.nonzero(d2 <= limit[hit_row][:, None])
        fr, fc, fd = hit_row[hi], cols[hi, ci], d2[hi, ci]
        order = np.lexsort((fc, fd, fr))
        fr, fc = fr[order], fc[order]
        first = np.searchsorted(fr, own)
        out[start:stop] = fc[first[:, None] + np.arange(k)[None, :]]

    _parallel(block, range(0, n, _BLOCK_ROWS))
    return out


def recall_at_k(x: np.ndarray, found: np.ndarray, queries: np.ndarray) -> float:
    """Share of the true k nearest neighbours (by distance) that ``found`` holds."""
    k = found.shape[1]
    sq = np.einsum("ij,ij->i", x, x)
    hits = 0
    for start in range(0, queries.size, 256):
        q = queries[start : start + 256]
        d2 = sq[q, None] + sq[None, :] - 2.0 * (x[q] @ x.T)
        d2[np.arange(q.size), q] = np.inf
        kth = np.partition(d2, k - 1, axis=1)[:, k - 1]
        mine = np.take_along_axis(d2, found[q], axis=1)
        hits += int((mine <= kth[:, None] * (1 + 1e-9) + 1e-12).sum())
    return hits / (queries.size * k)
