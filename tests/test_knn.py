"""The approximate (ivf) kNN path for large classes: threshold, recall, determinism, segments.

The switch threshold and the cell size are lowered through module constants so that a few
thousand rows exercise the same code as a million.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from threadpoolctl import threadpool_limits

from rebalance_cli import knn
from rebalance_cli.api import rebalance
from rebalance_cli.samplers.smote import SmoteSettings, prepare_smote


@pytest.fixture
def small_ivf(monkeypatch):
    """ivf from 3,000 rows on, cells of 100 rows."""
    monkeypatch.setattr(knn, "APPROX_MIN_ROWS", 3000)
    monkeypatch.setattr(knn, "IVF_CELL_ROWS", 100)


def gaussian(n: int, d: int = 20, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((n, d)) + 0.5


def exact(x: np.ndarray, k: int) -> np.ndarray:
    d2 = ((x[:, None, :] - x[None, :, :]) ** 2).sum(axis=2)
    np.fill_diagonal(d2, np.inf)
    return np.argsort(d2, axis=1, kind="stable")[:, :k]


def test_switch_threshold_is_respected(small_ivf):
    assert knn.method_for(2999, 20) == "brute"
    assert knn.method_for(3000, 20) == "ivf"
    assert knn.method_for(3000, knn.KD_TREE_MAX_DIMS) == "kd-tree"  # exact when it is cheap
    _, below = knn.neighbours(gaussian(2999), 5)
    assert below == "brute"
    _, above = knn.neighbours(gaussian(3000), 5)
    probes, spill = knn.IVF_WIDTHS[0]
    assert above.startswith(f"ivf (approximate: {probes} probes, spill {spill}; recall@5 ")
    assert above.endswith(" on 2000 sampled rows)")


def test_recall_at_k_counts_the_true_neighbours():
    x = gaussian(1000, seed=4)
    truth = exact(x, 5)
    rows = np.arange(0, 1000, 3)
    assert knn.recall_at_k(x, truth, rows) == 1.0
    far = np.argmax(((x[:, None, :] - x[None, :, :]) ** 2).sum(axis=2), axis=1)
    wrong = truth.copy()
    wrong[::2, 4] = far[::2]  # the farthest row in place of every other row's 5th neighbour
    expected = 1 - (rows % 2 == 0).sum() / (rows.size * 5)
    assert knn.recall_at_k(x, wrong, rows) == pytest.approx(expected)


def test_ivf_recall_is_above_the_floor_on_gaussian_data(small_ivf):
    x = gaussian(4000, seed=1)
    found, how = knn.neighbours(x, 5)
    recall = knn.recall_at_k(x, found, np.arange(4000))
    assert recall >= knn.RECALL_FLOOR
    assert f"recall@5 {knn.sample_recall(x, found):.4f}" in how
    assert not (found == np.arange(4000)[:, None]).any()
    assert ((found >= 0) & (found < 4000)).all()
    # each row's neighbours are distinct and ordered by distance
    d2 = ((x[found] - x[:, None, :]) ** 2).sum(axis=2)
    assert (np.diff(d2, axis=1) >= 0).all()
    assert (np.sort(found, axis=1)[:, 1:] != np.sort(found, axis=1)[:, :-1]).all()


def test_low_recall_widens_the_search_then_falls_back_to_exact(small_ivf, monkeypatch):
    x = gaussian(3000, seed=2)
    monkeypatch.setattr(knn, "RECALL_FLOOR", 1.01)  # never reached
    found, how = knn.neighbours(x, 5)
    assert how.startswith("brute (ivf recall@5 ")
    assert np.array_equal(found, knn.nearest_neighbours(x, 5, "brute"))


def test_ivf_does_not_depend_on_threads_or_workers(small_ivf, monkeypatch):
    x = gaussian(3500, seed=3)
    first, _ = knn.neighbours(x, 5)
    for workers in (1, 3):
        monkeypatch.setattr(knn, "WORKERS", workers)
        with threadpool_limits(limits=workers):
            again, _ = knn.neighbours(x, 5)
        assert np.array_equal(first, again)


def test_ivf_keeps_ties_in_index_order(small_ivf):
    # binary features: distances tie massively; the answer must still be fixed
    rng = np.random.default_rng(5)
    x = rng.integers(0, 2, size=(3200, 20)).astype(np.float64)
    found, _ = knn.neighbours(x, 5)
    again, _ = knn.neighbours(x.copy(), 5)
    assert np.array_equal(found, again)
    d2 = ((x[found] - x[:, None, :]) ** 2).sum(axis=2)
    for i in range(0, 3200, 97):  # within equal distances, lower row index first
        same = d2[i, 1:] == d2[i, :-1]
        assert (found[i, 1:][same] > found[i, :-1][same]).all()


def test_synthetic_rows_lie_on_segments_to_a_found_neighbour(small_ivf):
    x = gaussian(3000, seed=6)
    pool = pl.DataFrame({f"f{i}": x[:, i] for i in range(20)}).with_columns(y=pl.lit("b"))
    sc = prepare_smote(
        pool, "b", "b", 1500, "y", SmoteSettings([f"f{i}" for i in range(20)], [], 5, 7)
    )
    assert sc.knn_method.startswith("ivf (approximate")
    syn = pl.concat(list(sc.batches(pool.schema, 400)))
    s = syn.select([f"f{i}" for i in range(20)]).to_numpy()
    assert syn.height == 1500 and (syn["y"] == "b").all()
    a = x[:, None, :]  # (n, 1, d) real seed
    b = x[sc.nbrs]  # (n, k, d) its found neighbours
    span = b - a
    for row in s[::7]:
        with np.errstate(divide="ignore", invalid="ignore"):
            u = (row - a) / span
        lo, hi = np.nanmin(u, axis=2), np.nanmax(u, axis=2)
        assert ((hi - lo < 1e-6) & (lo >= -1e-9) & (hi <= 1 + 1e-9)).any()


SCRIPT = """
import sys
from hypothesis import given, settings
from hypothesis import strategies as st
from threadpoolctl import threadpool_limits
from rebalance_cli import knn
from rebalance_cli.api import rebalance
knn.APPROX_MIN_ROWS = 3000
knn.IVF_CELL_ROWS = 100
knn.WORKERS = int(sys.argv[3])
with threadpool_limits(limits=int(sys.argv[3])):
    report = rebalance(sys.argv[1], sys.argv[2], label="y", strategy="smote", seed=9,
                       target="big=4000,small=3100", chunk_size=int(sys.argv[4]))
print(report.parameters["knn"]["big"])
"""


def test_smote_file_output_is_the_same_for_any_threads_and_chunk_size(tmp_path):
    x = gaussian(3400, seed=8)
    df = pl.DataFrame({f"f{i}": x[:, i] for i in range(20)})
    df = df.with_columns(y=pl.Series(np.where(np.arange(3400) < 3100, "big", "small")))
    src = tmp_path / "in.parquet"
    df.write_parquet(src)
    digests = set()
    for workers, chunk in ((1, 1000), (2, 65536), (3, 777)):
        out = tmp_path / f"out{workers}.csv"
        proc = subprocess.run(
            [sys.executable, "-c", SCRIPT, str(src), str(out), str(workers), str(chunk)],
            capture_output=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith(b"ivf (approximate"), proc.stdout
        digests.add(hashlib.sha256(out.read_bytes()).hexdigest())
    assert len(digests) == 1


def test_report_records_the_method_and_recall(small_ivf, tmp_path):
    x = gaussian(3300, seed=10)
    df = pl.DataFrame({f"f{i}": x[:, i] for i in range(20)})
    df = df.with_columns(y=pl.Series(np.where(np.arange(3300) < 3000, "a", "b")))
    src = tmp_path / "in.parquet"
    df.write_parquet(src)
    report = rebalance(
        src, tmp_path / "out.parquet", label="y", strategy="smote", target="a=6000,b=3000", seed=1
    )
    methods = json.loads(json.dumps(report.parameters["knn"]))
    assert methods["b"] == "brute"
    probes, spill = knn.IVF_WIDTHS[0]
    found = re.fullmatch(
        rf"ivf \(approximate: {probes} probes, spill {spill}; recall@5 (\d\.\d{{4}}) "
        r"on 2000 sampled rows\)",
        methods["a"],
    )
    assert found is not None and float(found.group(1)) >= knn.RECALL_FLOOR


TOP_CELLS_CASES = [(4000, 14), (100, 14), (33, 10), (20, 14), (50, 1), (7, 9)]


def top_cell_scores(x32: np.ndarray, cent: np.ndarray, t: int) -> np.ndarray:
    """(rows, cells) float32 scores computed as ``_top_cells`` computes them.

    BLAS does not round a product the same way for every shape, thread split or place in
    its kernel's tile: even identical centroids can score one rounding apart, so a full
    (3000 x cells) product is not the reference. Here: blocks of ``_TOP_STEP`` rows on
    single-threaded BLAS, centroid rows padded to ``_TOP_LANES`` as ``_top_block`` does,
    in its orientation (centroids down for t > 1, rows down for t == 1).
    """
    cells = cent.shape[0]
    ca = knn._centroid_tiles(cent)
    blocks = []
    with threadpool_limits(limits=1, user_api="blas"):
        for s in range(0, x32.shape[0], knn._TOP_STEP):
            q = knn._query(x32[s : s + knn._TOP_STEP])
            blocks.append(q @ ca[:cells].T if min(t, cells) == 1 else (ca @ q.T).T[:, :cells])
    return np.vstack(blocks)


@pytest.mark.parametrize("cells,t", TOP_CELLS_CASES)
def test_top_cells_equals_a_full_sort_of_the_scores(cells, t):
    """The lane-bound selection of each row's nearest centroids gives exactly the first t
    of a stable sort of all its float32 scores (so equal scores go to the lower cell)."""
    rng = np.random.default_rng(cells)
    x32 = rng.standard_normal((3000, 20)).astype(np.float32)
    cent = rng.standard_normal((cells, 20)).astype(np.float32)
    cent[1::3] = cent[::3][: cent[1::3].shape[0]]  # duplicate centroids: (near-)tied scores
    want = np.argsort(top_cell_scores(x32, cent, t), axis=1, kind="stable")[:, : min(t, cells)]
    assert np.array_equal(knn._top_cells(x32, cent, t), want)


@pytest.mark.parametrize("cells,t", TOP_CELLS_CASES)
def test_top_cells_gives_exact_ties_to_the_lower_cell(cells, t):
    """Small whole-number coordinates make every float32 score exact whatever the BLAS
    kernel or blocking, so ties are true ties: the answer is a stable sort of the exact
    scores, lower cell first."""
    rng = np.random.default_rng(cells)
    x32 = rng.integers(-3, 4, size=(3000, 20)).astype(np.float32)
    cent = rng.integers(-3, 4, size=(cells, 20)).astype(np.float32)
    cent[1::3] = cent[::3][: cent[1::3].shape[0]]  # duplicate centroids: tied scores
    c64 = cent.astype(np.float64)
    scores = 0.5 * (c64**2).sum(axis=1)[None, :] - x32.astype(np.float64) @ c64.T
    assert np.array_equal(top_cell_scores(x32, cent, t), scores)  # exact in float32
    want = np.argsort(scores, axis=1, kind="stable")[:, : min(t, cells)]
    assert np.array_equal(knn._top_cells(x32, cent, t), want)


def test_merging_keys_keeps_one_copy_of_a_neighbour_found_twice():
    """The same neighbour found in two cells may carry distances one rounding apart; the
    merge keeps its nearer copy once and fills the list with the next ids."""

    def key(d2: float, i: int) -> np.uint64:
        return knn._pack(np.array([i]), np.array([d2]))[0]

    near = np.float32(1.0)
    above = float(np.nextafter(near, np.float32(2)))  # one float32 step farther
    row = [key(1.0, 7), key(above, 7), key(0.5, 3), key(2.0, 9), key(3.0, 4), key(1.5, 7)]
    row += [knn._NO_KEY] * 2
    keys = np.array([row, [knn._NO_KEY] * 8], dtype=np.uint64)
    got = knn._best_keys(keys, 3)
    assert got.tolist() == [[3, 7, 9], [-1, -1, -1]]
    assert knn._best_keys(keys, 5).tolist()[0] == [3, 7, 9, 4, -1]


# --- ties: equal distances go to the lower row index, on every path -------------------------


def by_distance_then_index(x: np.ndarray, k: int) -> np.ndarray:
    """The reference: every pairwise squared distance in float64, each row's others in a
    stable sort (so equal distances keep index order), its first k. Exact on the
    small-integer data below, where every distance is a whole number."""
    d2 = ((x[:, None, :] - x[None, :, :]) ** 2).sum(axis=2)
    np.fill_diagonal(d2, np.inf)
    return np.argsort(d2, axis=1, kind="stable")[:, :k]


def tie_heavy(kind: str, n: int, d: int, seed: int) -> np.ndarray:
    """Data whose distances tie massively: binary features, a few rows repeated many
    times (shuffled in), or points of a small integer grid."""
    rng = np.random.default_rng(seed)
    if kind == "binary":
        return rng.integers(0, 2, size=(n, d)).astype(np.float64)
    if kind == "duplicates":
        distinct = rng.integers(-3, 4, size=(max(2, n // 9), d)).astype(np.float64)
        return distinct[rng.integers(0, distinct.shape[0], size=n)]
    assert kind == "grid"
    return rng.integers(-2, 3, size=(n, d)).astype(np.float64)


def exact_ivf(x: np.ndarray, k: int) -> np.ndarray:
    """The ivf path with every row probing every cell (cells of 25 rows): the cells,
    the per-cell search and the merge of findings, but nothing left unsearched, so the
    answer must be the exact one."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(knn, "IVF_CELL_ROWS", 25)
        cells = max(1, round(x.shape[0] / 25))
        return knn._ivf(x, k, cells, 2)


PATHS = {
    "kd-tree": lambda x, k: knn.nearest_neighbours(x, k, "kd-tree"),
    "brute": lambda x, k: knn.nearest_neighbours(x, k, "brute"),
    "ivf": exact_ivf,
}


@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize("kind,d", [("binary", 6), ("binary", 12), ("duplicates", 3), ("grid", 2)])
@pytest.mark.parametrize("k", [1, 2, 5, 9])
def test_every_path_breaks_ties_by_the_lower_index(path, kind, d, k):
    x = tie_heavy(kind, 300, d, seed=d * 31 + k)
    want = by_distance_then_index(x, k)
    got = PATHS[path](x, k)
    assert got.shape == (300, k) and got.dtype == np.int64
    wrong = np.flatnonzero((got != want).any(axis=1))
    assert wrong.size == 0, (wrong.size, wrong[:5], got[wrong[:3]], want[wrong[:3]])


@settings(max_examples=40, deadline=None)
@given(
    kind=st.sampled_from(["binary", "duplicates", "grid"]),
    n=st.integers(12, 160),
    d=st.integers(1, 7),
    k=st.integers(1, 11),
    seed=st.integers(0, 2**32 - 1),
    path=st.sampled_from(sorted(PATHS)),
)
def test_any_tie_heavy_data_gives_the_reference_ids(kind, n, d, k, seed, path):
    x = tie_heavy(kind, n, d, seed)
    assert np.array_equal(PATHS[path](x, k), by_distance_then_index(x, k))


@pytest.mark.parametrize("path", sorted(PATHS))
def test_ties_go_to_the_lower_index_not_the_higher(path):
    # on a line: 0 at rows 0..3, 1 at rows 4..11, -1 at rows 12..15; every row has at
    # least as many equally near rows as k, so the rule alone picks among them
    x = np.array([0.0] * 4 + [1.0] * 8 + [-1.0] * 4)[:, None]
    got = PATHS[path](x, 3)
    assert got[0].tolist() == [1, 2, 3]  # its three twins, lowest first (not 3, 2, 1)
    assert got[3].tolist() == [0, 1, 2]
    assert got[4].tolist() == [5, 6, 7]  # seven twins at 0: the three lowest
    assert got[11].tolist() == [4, 5, 6]  # not 10, 9, 8
    assert got[12].tolist() == [13, 14, 15]
    # the rows at distance 1 from a row of 0: 4..15 tie; with k = 6 the three other
    # zeros come first, then 4, 5, 6 (not 15, 14, 13 nor 9, 10, 11)
    assert PATHS[path](x, 6)[0].tolist() == [1, 2, 3, 4, 5, 6]
    higher = np.argsort(-np.arange(16))  # the same rule with indices reversed
    mirrored = by_distance_then_index(x[higher], 3)
    assert not np.array_equal(higher[mirrored], got)  # the test tells the two rules apart


def test_kd_tree_gathers_every_tied_point_past_what_the_tree_returns():
    # a row at the centre of a 2-d grid has 4 points at distance 1, 4 at sqrt(2), 4 at 2:
    # k = 6 cuts inside the ring at sqrt(2) whatever order the tree returns them in
    g = np.array([(a, b) for a in range(-3, 4) for b in range(-3, 4)], dtype=np.float64)
    x = np.vstack([g[::-1], g])  # every point twice, the copies far apart in index
    for k in (1, 3, 4, 6, 9, 13):
        assert np.array_equal(knn.nearest_neighbours(x, k, "kd-tree"), by_distance_then_index(x, k))
