"""k nearest neighbours within one class, the cost centre of SMOTE.

Every method gives the same answer whatever the number of threads: work is split
into blocks of a fixed shape, each on single-threaded BLAS, run on a thread pool
and written to its own slot. The exact methods rank by (float64 squared distance,
row index): equal distances go to the lower row index.

- ``kd-tree`` (exact) for few dimensions: scikit-learn's KDTree over the distinct
  rows, queried in blocks of ``KD_QUERY_ROWS`` points on the thread pool, gathers
  candidates (every point tied at the boundary included), which are then ranked by
  (distance, index);
- ``brute`` (exact) otherwise: for a block of query rows and a slice of candidate
  rows, one float32 matrix product scores every pair (||x||^2/2 - q.x); the
  (k+1)-th smallest of the minima over groups of ``_LANES`` candidates bounds the
  k-th neighbour's score from above, only the few pairs under that bound are
  kept, and they are ranked in float64 by (distance, index);
- ``ivf`` (approximate) for classes of ``APPROX_MIN_ROWS`` rows or more where the
  kd-tree does not apply: k-means cells of about ``IVF_CELL_ROWS`` rows; each row is
  filed in its ``spill`` nearest cells and searches its ``probes`` nearest cells with
  the exact block search above (on groups of ``_IVF_LANES``, which suits a cell's few
  thousand candidates); the cells' findings are merged by distance rounded to float32,
  then index. Its recall@k is measured against ``brute`` on a fixed sample of
  ``RECALL_SAMPLE`` rows every time; under ``RECALL_FLOOR`` the search is widened, and
  in the end replaced by ``brute``.

Every search takes an optional ``tick(done, total)`` (rows searched so far), called
between blocks in the thread that waits for them; it may raise to stop the search (a
signal: see ``phases``), and the blocks not yet started are then cancelled.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

Tick = Callable[[int, int], None]

KD_TREE_MAX_DIMS = 15
KD_TREE_MAX_ROWS = 2_000_000
WORKERS: int | None = None
"""Threads for kNN work (None: one per core, at most 8); the answer never depends on it."""


def method_for(n: int, d: int) -> str:
    """The method ``nearest_neighbours`` uses for n rows of d features."""
    if d <= KD_TREE_MAX_DIMS and n <= KD_TREE_MAX_ROWS:
        return "kd-tree"
    return "ivf" if n >= APPROX_MIN_ROWS else "brute"


def nearest_neighbours(
    x: np.ndarray, k: int, method: str | None = None, tick: Tick | None = None
) -> np.ndarray:
    """Indices (n, k) of each row's k nearest other rows, nearest first (Euclidean)."""
    n, d = x.shape
    method = method or method_for(n, d)
    if method == "kd-tree":
        return _kd_tree(x, k, tick)
    if method == "brute":
        return _brute(x, k, tick)
    if method == "ivf":
        return _ivf(x, k, *IVF_WIDTHS[0], tick=tick)
    raise ValueError(f"unknown kNN method {method!r}")


def neighbours(x: np.ndarray, k: int, tick: Tick | None = None) -> tuple[np.ndarray, str]:
    """``nearest_neighbours`` by ``method_for``, and a description of how they were found.

    For ``ivf`` the description carries the recall@k measured on a fixed random sample of
    ``RECALL_SAMPLE`` rows against an exact search; when it falls under ``RECALL_FLOOR``
    the search is widened (``IVF_WIDTHS``), and after the last width the exact ``brute``
    search is used instead.
    """
    n, d = x.shape
    method = method_for(n, d)
    if method != "ivf":
        return nearest_neighbours(x, k, method, tick), method
    sample = min(n, RECALL_SAMPLE)
    for probes, spill in IVF_WIDTHS:
        found = _ivf(x, k, probes, spill, tick)
        recall = sample_recall(x, found)
        if recall >= RECALL_FLOOR:
            return found, (
                f"ivf (approximate: {probes} probes, spill {spill}; "
                f"recall@{k} {recall:.4f} on {sample} sampled rows)"
            )
    return _brute(x, k, tick), f"brute (ivf recall@{k} {recall:.4f} < {RECALL_FLOOR})"


def _rows_done(tick: Tick | None, n: int, step: int) -> Callable[[int], None] | None:
    """For ``_parallel`` over blocks of ``step`` rows starting at s: the rows done."""
    if tick is None:
        return None
    return lambda s: tick(min(n, s + step), n)


def _parallel(
    work: Callable[[int], None],
    items: Iterable[int],
    done: Callable[[int], None] | None = None,
) -> None:
    """Run ``work`` over ``items`` on all cores, each call on single-threaded BLAS;
    ``done(item)`` is called for each finished item, in order, by the waiting thread
    (an exception it raises cancels the items not started)."""
    from threadpoolctl import threadpool_limits

    workers = WORKERS or max(1, min(8, os.cpu_count() or 1))
    with threadpool_limits(limits=1, user_api="blas"):
        pool = ThreadPoolExecutor(workers)
        try:
            order = list(items)
            for item, _ in zip(order, pool.map(work, order), strict=True):
                if done is not None:
                    done(item)
        except BaseException:
            # an interrupt (or a failed block) must not wait for the blocks still queued
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()


KD_QUERY_ROWS = 1024


def _kd_blocks(
    n: int,
    work: Callable[[int, int], None],
    tick: Tick | None,
    rows_done: Callable[[int], int],
    rows: int,
) -> None:
    """``work(start, end)`` over blocks of ``KD_QUERY_ROWS`` points on the thread pool (a
    point's answer does not depend on the others); after each block, ``tick`` gets
    ``rows_done(end)`` of the class's ``rows`` (and may stop the search)."""

    def block(s: int) -> None:
        work(s, min(n, s + KD_QUERY_ROWS))

    def done(s: int) -> None:
        assert tick is not None
        tick(rows_done(min(n, s + KD_QUERY_ROWS)), rows)

    _parallel(block, range(0, n, KD_QUERY_ROWS), None if tick is None else done)


def _kd_tree(x: np.ndarray, k: int, tick: Tick | None = None) -> np.ndarray:
    """Exact, by (distance, index): a k-d tree over the distinct rows, then a re-rank.

    The tree's own order of tied points is arbitrary, so it only gathers candidates:
    the ``k + 2`` nearest distinct points of every distinct point, and where the
    farthest of those is as near as the (k+1)-th nearest row (a tie that may go on
    past what the tree returned), every distinct point within that distance. Each
    candidate point stands for its ``k + 1`` lowest row indices (no more can be
    among a row's k + 1 nearest), the candidate rows are ranked by float64 squared
    distance, computed as ``brute`` computes it, then by index, and each row drops
    itself from its point's first k + 1. Duplicates cost nothing extra: a point
    held by a million rows is one point of the tree.
    """
    from sklearn.neighbors import KDTree

    n = x.shape[0]
    points, inverse, counts = np.unique(x, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    m = points.shape[0]
    # rows of each point, lowest index first
    members = np.argsort(inverse, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    take = np.minimum(counts, k + 1)  # rows a candidate point brings

    tree = KDTree(points)
    width = min(m, k + 2)  # one more than the k + 1 rows need: is the last one tied?
    dist = np.empty((m, width))
    near = np.empty((m, width), dtype=np.intp)

    def first_query(s: int, e: int) -> None:
        dist[s:e], near[s:e] = tree.query(points[s:e], k=width)

    ends = np.cumsum(counts)  # rows of the points before each end: the progress in rows
    _kd_blocks(m, first_query, tick, lambda e: int(ends[e - 1]), n)
    owner = np.repeat(np.arange(m), width)
    cand = near.ravel()
    pair_d2: np.ndarray | None = None  # the pairs' squared distances, once known
    if width < m:
        # the (k+1)-th row's distance among the returned points (enough rows: each
        # of the k + 2 points holds at least one)
        d2 = _sq_dist(points[owner], points[cand]).reshape(m, width)
        order = np.argsort(d2, axis=1, kind="stable")
        rows_upto = np.cumsum(np.take_along_axis(take[near], order, axis=1), axis=1)
        at = np.argmax(rows_upto >= k + 1, axis=1)
        bound = np.sqrt(np.take_along_axis(d2, order, axis=1)[np.arange(m), at])
        radius = bound * (1 + 1e-9) + 1e-300
        tied = np.flatnonzero(dist[:, -1] <= radius)
        if tied.size:
            owner, cand = _kd_ties(tree, points, radius, tied, width, owner, cand, tick, n)
        else:  # the same (owner, cand) pairs, row by row
            pair_d2 = d2.ravel()
    d2 = _sq_dist(points[owner], points[cand]) if pair_d2 is None else pair_d2
    # each (point, candidate point) pair expands to the candidate's first rows
    per = take[cand]
    pair = np.repeat(np.arange(owner.size), per)
    within = np.arange(pair.size) - np.repeat(np.cumsum(per) - per, per)
    row = members[starts[cand][pair] + within]
    who, d2 = owner[pair], d2[pair]
    order = np.lexsort((row, d2, who))
    who, row = who[order], row[order]
    first = np.searchsorted(who, np.arange(m))
    best = row[first[:, None] + np.arange(k + 1)[None, :]]  # (m, k + 1) by (distance, index)
    found_rows = best[inverse]
    # drop the row itself where it appears, otherwise the last
    is_self = found_rows == np.arange(n)[:, None]
    is_self[~is_self.any(axis=1), -1] = True
    order = np.argsort(is_self, axis=1, kind="stable")
    return np.take_along_axis(found_rows, order[:, :k], axis=1)


def _sq_dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Squared Euclidean distance of paired rows, in float64 (as the exact searches rank)."""
    diff = b - a
    return np.einsum("ij,ij->i", diff, diff)


def _kd_ties(
    tree: Any,
    points: np.ndarray,
    radius: np.ndarray,
    tied: np.ndarray,
    width: int,
    owner: np.ndarray,
    cand: np.ndarray,
    tick: Tick | None,
    rows: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The (owner, candidate) point pairs with the tied owners' candidates replaced by
    every point within their ``radius``: most ties end within a few more points, so the
    tree is asked for 4x as many first, and searched by radius only where even those
    end in a tie. Blocks of the tied points run on the thread pool, their findings
    joined in block order; ``tick`` is told every row is done (``rows``), and may stop."""
    m = points.shape[0]
    wider = min(m, 4 * width)
    wdist = np.empty((tied.size, wider))
    wnear = np.empty((tied.size, wider), dtype=np.intp)

    def wide_query(s: int, e: int) -> None:
        wdist[s:e], wnear[s:e] = tree.query(points[tied[s:e]], k=wider)

    _kd_blocks(tied.size, wide_query, tick, lambda e: rows, rows)  # a stop point, no progress
    within_r = wdist <= radius[tied][:, None]
    still = within_r[:, -1] & (wider < m)
    done = ~still
    is_tied = np.zeros(m, dtype=bool)
    is_tied[tied] = True
    keep = ~is_tied[owner]
    owners = [owner[keep], np.repeat(tied[done], within_r[done].sum(axis=1))]
    cands = [cand[keep], wnear[done][within_r[done]]]
    rest = tied[still]
    if rest.size:
        sizes = np.empty(rest.size, dtype=np.int64)
        found: list[np.ndarray] = [np.empty(0, dtype=np.intp)] * -(-rest.size // KD_QUERY_ROWS)

        def radius_query(s: int, e: int) -> None:
            near = tree.query_radius(points[rest[s:e]], r=radius[rest[s:e]])
            sizes[s:e] = [a.size for a in near]
            found[s // KD_QUERY_ROWS] = np.concatenate(near)

        _kd_blocks(rest.size, radius_query, tick, lambda e: rows, rows)
        owners.append(np.repeat(rest, sizes))
        cands.append(np.concatenate(found).astype(np.intp))
    return np.concatenate(owners), np.concatenate(cands)


def _brute(x: np.ndarray, k: int, tick: Tick | None = None) -> np.ndarray:
    """Exact: every row against every row, in blocks of ``_SEARCH_ROWS`` rows."""
    n = x.shape[0]
    x32 = np.ascontiguousarray(x, dtype=np.float32)
    ea = _augment(x32)
    slack = _slack(ea)
    ids = np.arange(n, dtype=np.int64)
    slices = _slices(ea, x, ids)
    out = np.empty((n, k), dtype=np.int64)

    def block(s: int) -> None:
        e = min(n, s + _SEARCH_ROWS)
        out[s:e] = _search_rows(x32[s:e], x[s:e], ids[s:e], slices, k, slack)[0]

    _parallel(block, range(0, n, _SEARCH_ROWS), _rows_done(tick, n, _SEARCH_ROWS))
    return out


# --- approximate path for large classes: an inverted file over k-means cells --------------

APPROX_MIN_ROWS = 150_000
"""Classes of at least this many rows (and too many features for the kd-tree) use ``ivf``."""
IVF_CELL_ROWS = 250
_IVF_SEARCH_ROWS = 256
_IVF_LANES = 16
IVF_WIDTHS = ((10, 14), (12, 18))
"""(probes, spill) tried in turn until the sampled recall@k reaches ``RECALL_FLOOR``."""
RECALL_FLOOR = 0.98
IVF_KMEANS_STEPS = 6
RECALL_SAMPLE = 2000
_IVF_SEED = 0x5EED_C0DE


def _augment(x32: np.ndarray) -> np.ndarray:
    """Rows [x, ||x||^2 / 2]: against [-q, 1] the product is ||x||^2/2 - q.x."""
    half_sq = 0.5 * np.einsum("ij,ij->i", x32, x32)
    return np.ascontiguousarray(np.hstack([x32, half_sq[:, None]]))


def _query(x32: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.hstack([-x32, np.ones((x32.shape[0], 1), np.float32)]))


_LANES = 32
_SEARCH_ROWS = 128
_SEARCH_COLS = 16384


def _padded(
    ea: np.ndarray, ex: np.ndarray, eid: np.ndarray, lanes: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidates padded to a multiple of ``lanes`` rows that score +inf and have id -1."""
    pad = -ea.shape[0] % lanes
    if not pad:
        return ea, ex, eid
    return (
        _pad_scores(ea, lanes),
        np.vstack([ex, np.zeros((pad, ex.shape[1]), dtype=ex.dtype)]),
        np.concatenate([eid, np.full(pad, -1, dtype=eid.dtype)]),
    )


def _pad_scores(ea: np.ndarray, lanes: int) -> np.ndarray:
    """``_augment`` rows padded to a multiple of ``lanes`` with rows that score +inf
    against any ``_query`` row."""
    pad = -ea.shape[0] % lanes
    if not pad:
        return ea
    ea_pad = np.zeros((pad, ea.shape[1]), dtype=ea.dtype)
    ea_pad[:, -1] = np.inf
    return np.vstack([ea, ea_pad])


def _block_search(
    qa: np.ndarray,
    qx: np.ndarray,
    qid: np.ndarray,
    ea: np.ndarray,
    ex: np.ndarray,
    eid: np.ndarray,
    k: int,
    slack: float,
    lanes: int = _LANES,
) -> tuple[np.ndarray, np.ndarray]:
    """Global ids (rows, k) of each query's k nearest candidates other than itself, and
    their float64 squared distances.

    ``qa``/``ea`` are float32 query/candidate rows from ``_query``/``_augment``
    (candidates padded by ``_padded``), ``qx``/``ex`` the float64 rows, ``qid``/``eid``
    their ids. The same idea as the exact ``brute`` block: the (k+1)-th smallest of
    the minima over groups of ``lanes`` candidates bounds the k-th neighbour's float32
    score (the query itself may be among the candidates), only scores under the bound
    are kept, and those are ranked by float64 distance, then id. Fewer lanes mean
    fewer kept pairs but more groups, which pays off on small candidate sets.
    Missing neighbours: -1, inf.
    """
    rows, ne = qa.shape[0], ea.shape[0]
    groups = ne // lanes
    need = min(k + 1, groups)
    # candidates down, queries across: a group is _LANES consecutive candidates, and
    # its minimum is an elementwise minimum of _LANES contiguous rows of the tile
    score = ea @ qa.T
    mins = score.reshape(groups, lanes, rows).min(axis=1)
    if groups < k + 1:
        # too few groups for their minima to bound the k-th neighbour: keep every pair
        bound = np.full(rows, np.inf, dtype=score.dtype)
    else:
        # along contiguous rows: a third cheaper than partitioning down the columns
        bound = np.partition(np.ascontiguousarray(mins.T), need - 1, axis=1)[:, need - 1] + slack
    hit_group, hit_row = np.nonzero(mins <= bound[None, :])
    cols = hit_group[:, None] * lanes + np.arange(lanes)[None, :]
    cand = eid[cols]
    keep = (score.ravel()[cols * rows + hit_row[:, None]] <= bound[hit_row][:, None]) & (
        cand != qid[hit_row][:, None]
    )
    keep &= cand >= 0
    hi, ci = np.nonzero(keep)
    fr, fc = hit_row[hi], cols[hi, ci]
    diff = ex[fc] - qx[fr]
    d2 = np.einsum("ij,ij->i", diff, diff)
    fid = cand[hi, ci]
    order = np.lexsort((fid, d2, fr))
    fr, fid = fr[order], fid[order]
    first = np.searchsorted(fr, np.arange(rows))
    count = np.diff(np.append(first, fr.size))
    pos = np.minimum(first[:, None] + np.arange(k)[None, :], max(fr.size - 1, 0))
    missing = np.arange(k)[None, :] >= count[:, None]
    if not fr.size:
        return np.full((rows, k), -1, dtype=np.int64), np.full((rows, k), np.inf)
    return np.where(missing, -1, fid[pos]), np.where(missing, np.inf, d2[order][pos])


def _merge(ids: np.ndarray, d2: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the k distinct ids (-1: none) of smallest (distance, id), and their
    distances (inf: none)."""
    rows, c = ids.shape
    d2 = np.where(ids >= 0, d2, np.inf)
    r = np.repeat(np.arange(rows), c)
    o = np.lexsort((ids.ravel(), d2.ravel(), r))
    si, sd = ids.ravel()[o].reshape(rows, c), d2.ravel()[o].reshape(rows, c)
    # the same id has the same distance, so its copies are adjacent after the sort
    sd[:, 1:][si[:, 1:] == si[:, :-1]] = np.inf
    best = np.argsort(sd, axis=1, kind="stable")[:, :k]
    bd = np.take_along_axis(sd, best, axis=1)
    return np.where(np.isfinite(bd), np.take_along_axis(si, best, axis=1), -1), bd


def _slack(ea: np.ndarray) -> float:
    """float32 rounding of the scores: pairs within this much of the bound are kept."""
    return 1e-4 * (float(ea[:, -1].max()) + 1.0)


def _slices(
    ea: np.ndarray, ex: np.ndarray, eid: np.ndarray, lanes: int = _LANES
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Candidates in slices of ``_SEARCH_COLS`` rows, each padded to a multiple of ``lanes``."""
    step = _SEARCH_COLS
    return [
        _padded(ea[c : c + step], ex[c : c + step], eid[c : c + step], lanes)
        for c in range(0, ea.shape[0], step)
    ]


def _search_rows(
    xq32: np.ndarray,
    xq: np.ndarray,
    qid: np.ndarray,
    slices: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
    k: int,
    slack: float,
    lanes: int = _LANES,
) -> tuple[np.ndarray, np.ndarray]:
    """k nearest candidates of a few query rows and their distances: each slice's k
    best, ranked together."""
    qa = _query(xq32)
    parts = [_block_search(qa, xq, qid, *sl, k, slack, lanes) for sl in slices]
    if len(parts) == 1:
        return parts[0]
    return _merge(np.hstack([p[0] for p in parts]), np.hstack([p[1] for p in parts]), k)


def _search(
    xq32: np.ndarray,
    xq: np.ndarray,
    qid: np.ndarray,
    ea: np.ndarray,
    ex: np.ndarray,
    eid: np.ndarray,
    k: int,
    slack: float,
    rows: int = _SEARCH_ROWS,
    lanes: int = _LANES,
) -> tuple[np.ndarray, np.ndarray]:
    """k nearest candidates of every query row and their distances, on the calling
    thread, ``rows`` query rows at a time."""
    slices = _slices(ea, ex, eid, lanes)
    out = np.empty((qid.size, k), dtype=np.int64)
    dist = np.empty((qid.size, k))
    for s in range(0, qid.size, rows):
        e = min(qid.size, s + rows)
        out[s:e], dist[s:e] = _search_rows(xq32[s:e], xq[s:e], qid[s:e], slices, k, slack, lanes)
    return out, dist


def _kmeans(x32: np.ndarray, cells: int, steps: int) -> np.ndarray:
    """Centroids (cells, d) of Lloyd's k-means on a fixed random sample (float64 sums)."""
    n = x32.shape[0]
    gen = np.random.Generator(np.random.PCG64(_IVF_SEED))
    sample = x32[np.sort(gen.choice(n, size=min(n, 32 * cells), replace=False))]
    cent = sample[gen.choice(sample.shape[0], size=cells, replace=False)].copy()
    for _ in range(steps):
        near = _top_cells(sample, cent, 1)[:, 0]
        count = np.bincount(near, minlength=cells)
        sums = np.stack(
            [np.bincount(near, weights=sample[:, j], minlength=cells) for j in range(x32.shape[1])],
            axis=1,
        )
        filled = count > 0
        cent[filled] = (sums[filled] / count[filled, None]).astype(np.float32)
    return cent


def _centroid_tiles(cent: np.ndarray) -> np.ndarray:
    """Centroids as ``_augment`` rows, padded to a multiple of ``_TOP_LANES``."""
    return _pad_scores(_augment(cent), _TOP_LANES)


def _top_block(x32: np.ndarray, ca: np.ndarray, cells: int, t: int) -> np.ndarray:
    """The t nearest of ``cells`` centroids (``_centroid_tiles``) for a block of rows.

    Scores are float32 ``||c||^2/2 - x.c``. Rather than a partition of every row's
    scores, the centroids sit in groups of ``_TOP_LANES``: the t-th smallest of a row's
    group minima bounds its t-th smallest score from above (the t smallest minima are
    t scores from t different centroids), so only the few scores under the bound are
    ranked, by (score, cell).
    """
    rows = x32.shape[0]
    q = _query(x32)
    if t == 1:
        return np.argmin(q @ ca[:cells].T, axis=1)[:, None]
    groups = ca.shape[0] // _TOP_LANES
    sc = ca @ q.T  # centroids down, rows across
    if groups >= t:
        mins = sc.reshape(groups, _TOP_LANES, rows).min(axis=1)
        bound = np.partition(mins, t - 1, axis=0)[t - 1]
        hit_row, hit_group = np.nonzero(bound[:, None] >= mins.T)  # by row, then group
    else:
        hit_row, hit_group = np.divmod(np.arange(rows * groups), groups)
        bound = np.full(rows, np.inf, dtype=sc.dtype)
    cand = hit_group[:, None] * _TOP_LANES + np.arange(_TOP_LANES)[None, :]
    score = sc.ravel()[cand * rows + hit_row[:, None]]
    keep = (score <= bound[hit_row][:, None]) & (cand < cells)
    hi, li = np.nonzero(keep)
    row, cell, score = hit_row[hi], cand[hi, li], score[hi, li]
    # in (row, cell) order already: a stable sort by (row, score) breaks ties by cell
    order = np.lexsort((score, row))
    first = np.searchsorted(row[order], np.arange(rows))
    return cell[order][first[:, None] + np.arange(t)[None, :]]


_TOP_LANES = 16
_TOP_STEP = 256  # rows per block: the score tile of a few thousand centroids stays in cache


def _top_cells(x32: np.ndarray, cent: np.ndarray, t: int) -> np.ndarray:
    """The t nearest centroids of every row, nearest first (equal scores: lower cell first).

    "Equal" is of the float32 scores as computed here, ``_TOP_STEP`` rows at a time on
    single-threaded BLAS: BLAS may round the same dot product differently by its place in
    a tile, so identical centroids can score one rounding apart and need not tie.
    """
    cells = cent.shape[0]
    t = min(t, cells)
    ca = _centroid_tiles(cent)
    n = x32.shape[0]
    out = np.empty((n, t), dtype=np.int32)

    def block(s: int) -> None:
        e = min(n, s + _TOP_STEP)
        out[s:e] = _top_block(x32[s:e], ca, cells, t)

    _parallel(block, range(0, n, _TOP_STEP))
    return out


def _ivf(x: np.ndarray, k: int, probes: int, spill: int, tick: Tick | None = None) -> np.ndarray:
    """Approximate k nearest neighbours: exact search inside a few k-means cells per row.

    Every row is filed in the ``spill`` cells whose centroids are nearest to it, and
    searches the ``probes`` cells nearest to it: two rows meet when a cell is among
    both lists. In each cell, every row filed to search there gets its k nearest among
    the rows filed there (``_block_search``); a row's k nearest over its cells, by
    distance rounded to float32 then index, are its answer. All work is split by cell, in a fixed
    order, so the answer does not depend on the number of threads.
    """
    n = x.shape[0]
    x32 = np.ascontiguousarray(x, dtype=np.float32)
    cells = max(1, round(n / IVF_CELL_ROWS))
    probes, spill = min(probes, cells), min(spill, cells)
    cent = _kmeans(x32, cells, IVF_KMEANS_STEPS)
    top = _top_cells(x32, cent, max(probes, spill))
    ea_all = _augment(x32)
    slack = _slack(ea_all)
    ids = np.arange(n, dtype=np.int64)

    # row numbers and positions in 32 bits while they fit (half the memory of the lists)
    index = np.int32 if n * max(probes, spill) < 2**31 else np.int64

    def lists(width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Rows filed in each cell (ascending), cell starts, and the filing order."""
        cell = top[:, :width].ravel()
        # a stable sort of 16-bit keys is a radix sort
        order = np.argsort(cell.astype(np.int16) if cells <= 32767 else cell, kind="stable")
        starts = np.searchsorted(cell[order], np.arange(cells + 1))
        return (order // width).astype(index), starts, order.astype(index)

    q_rows, q_starts, q_order = lists(probes)
    e_rows, e_starts, _ = lists(spill)
    # each cell's findings as sortable keys: float32 distance bits above, row id below
    found = np.full((n * probes, k), _NO_KEY, dtype=np.uint64)  # in q_rows order
    q_pos = np.empty_like(q_order)
    q_pos[q_order] = np.arange(q_order.size, dtype=index)
    del q_order

    def cell_work(c: int) -> None:
        qs, qe = q_starts[c], q_starts[c + 1]
        er = e_rows[e_starts[c] : e_starts[c + 1]]
        if qs == qe or not er.size:  # nobody searches here, or nobody is filed here
            return
        qr = q_rows[qs:qe]
        nb, d2 = _search(
            x32[qr], x[qr], qr, ea_all[er], x[er], er, k, slack, _IVF_SEARCH_ROWS, _IVF_LANES
        )
        found[qs:qe] = _pack(nb, d2)

    def cells_done(c: int) -> None:  # the rows filed to search in cells 0..c, as rows
        if tick is not None:
            tick(int(n * int(q_starts[c + 1]) // max(1, int(q_starts[-1]))), n)

    _parallel(cell_work, range(cells), cells_done)
    out = np.empty((n, k), dtype=np.int64)
    step = 4096

    def merge(s: int) -> None:  # back to (row, probe) order, then each row's best k
        e = min(n, s + step)
        out[s:e] = _best_keys(found[q_pos[s * probes : e * probes]].reshape(e - s, probes * k), k)

    _parallel(merge, range(0, n, step))
    short = np.flatnonzero((out < 0).any(axis=1))
    if short.size:  # rows whose cells held fewer than k others: search everything
        out[short] = _search(x32[short], x[short], short, ea_all, x, ids, k, slack)[0]
    return out


_NO_KEY = np.uint64(np.iinfo(np.uint64).max)
_ID_MASK = np.uint64(0xFFFF_FFFF)


def _best_keys(keys: np.ndarray, k: int) -> np.ndarray:
    """Per row of packed keys, the ids (-1: none) of the k smallest keys with distinct ids.

    A neighbour found in two cells has two keys, equal but for float rounding of its
    distance: with the halves swapped, a sort brings an id's keys together, and all but
    its smallest are dropped before the k smallest are taken.
    """
    half = np.uint64(32)
    swapped = (keys << half) | (keys >> half)  # sorts as (id, distance)
    swapped.sort(axis=1)
    again = np.zeros(swapped.shape, dtype=bool)
    again[:, 1:] = (swapped[:, 1:] >> half) == (swapped[:, :-1] >> half)
    keys = (swapped << half) | (swapped >> half)
    keys[again] = _NO_KEY
    keys.sort(axis=1)
    keys = keys[:, :k]
    return np.where(keys == _NO_KEY, -1, (keys & _ID_MASK).astype(np.int64))


def _pack(nb: np.ndarray, d2: np.ndarray) -> np.ndarray:
    """Keys that sort as (float32 distance, id): a non-negative float32's bits order as
    its value. Missing neighbours (-1) get ``_NO_KEY``."""
    bits = d2.astype(np.float32).view(np.uint32).astype(np.uint64)
    return np.where(nb >= 0, (bits << np.uint64(32)) | nb.astype(np.uint64), _NO_KEY)


def sample_recall(x: np.ndarray, found: np.ndarray, size: int = RECALL_SAMPLE) -> float:
    """recall@k of ``found`` on a fixed random sample of rows, against an exact search."""
    n = x.shape[0]
    gen = np.random.Generator(np.random.PCG64(_IVF_SEED + 1))
    rows = np.sort(gen.choice(n, size=min(n, size), replace=False))
    return recall_at_k(x, found, rows)


def recall_at_k(x: np.ndarray, found: np.ndarray, queries: np.ndarray) -> float:
    """Share of the true k nearest neighbours (by distance) that ``found`` holds.

    The true neighbours of the query rows come from an exact search over all rows;
    a found neighbour counts when it is no farther than the true k-th (so ties at the
    k-th distance count whichever tied row was found).
    """
    k = found.shape[1]
    x32 = np.ascontiguousarray(x, dtype=np.float32)
    ea = _augment(x32)
    slack = _slack(ea)
    ids = np.arange(x.shape[0], dtype=np.int64)
    queries = np.asarray(queries, dtype=np.int64)
    true = np.empty((queries.size, k), dtype=np.int64)

    slices = _slices(ea, x, ids)

    def block(s: int) -> None:
        e = min(queries.size, s + _SEARCH_ROWS)
        q = queries[s:e]
        true[s:e] = _search_rows(x32[q], x[q], q, slices, k, slack)[0]

    _parallel(block, range(0, queries.size, _SEARCH_ROWS))
    qx = x[queries][:, None, :]
    kth = ((x[true] - qx) ** 2).sum(axis=2).max(axis=1)
    got = ((x[found[queries]] - qx) ** 2).sum(axis=2)
    return float((got <= kth[:, None] * (1 + 1e-9) + 1e-12).mean())
