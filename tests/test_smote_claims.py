"""SMOTE as the README states it, checked from the written file alone.

"x = seed + u·(neighbour − seed), one u ~ U[0,1) per row, the neighbour one of the seed's
k nearest ... every real row seeds floor or ceil of (t_c − n_c)/n_c synthetic rows", and
"Integer features are rounded back to their type (to the nearest integer, halves to even)".

The synthetic rows are taken apart without the package's help: the neighbours come from a
full pairwise sort, each synthetic row is matched to the one (seed, neighbour) segment it
lies on, and u is recovered per feature from the values. So a u outside [0, 1) shows even
where the clip to the segment would hide it (a clipped u lands exactly on the neighbour:
u = 1), a neighbour slot never chosen shows in the slot counts, and a rounding rule shows
on values built to land exactly on .5.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats

from rebalance_cli import rebalance
from rebalance_cli.samplers.smote import interpolate_integers
from rebalance_cli.stages.shrinkage import Shrink

TWO53 = 2**53


def nearest_by_distance_then_index(x: np.ndarray, k: int) -> np.ndarray:
    d2 = ((x[:, None, :] - x[None, :, :]) ** 2).sum(axis=2)
    np.fill_diagonal(d2, np.inf)
    return np.argsort(d2, axis=1, kind="stable")[:, :k]


# --- integer features: exact, nearest, halves to even -----------------------------------------

INT64 = st.integers(-(2**63), 2**63 - 1)
UINT64 = st.integers(0, 2**64 - 1)


def expected(a: int, b: int, m: int) -> int:
    """round(a + m / 2**53 * (b - a)), exactly; Python's round of a Fraction is to the
    nearest integer with halves to even."""
    return round(Fraction(a) + Fraction(m, TWO53) * (b - a))


def run(a: list[int], b: list[int], m: list[int], dtype: type) -> list[int]:
    u = np.array(m, dtype=np.float64) / TWO53
    got = interpolate_integers(np.array(a, dtype=dtype), np.array(b, dtype=dtype), u)
    return [int(v) for v in got]


@settings(max_examples=300, deadline=None)
@given(data=st.data(), signed=st.booleans())
def test_integer_features_are_interpolated_exactly(data, signed):
    values = INT64 if signed else UINT64
    pairs = data.draw(st.lists(st.tuples(values, values, st.integers(0, TWO53 - 1)), min_size=1))
    a, b, m = (list(t) for t in zip(*pairs, strict=True))
    got = run(a, b, m, np.int64 if signed else np.uint64)
    assert got == [expected(*p) for p in pairs]
    assert all(min(x, y) <= v <= max(x, y) for x, y, v in zip(a, b, got, strict=True))


def halfway(span: int, w: int) -> int:
    """A 53-bit m with m * span / 2**53 = j + 1/2 exactly: span = 2**v * odd (v <= 52),
    m = 2**(52 - v) * w with w odd."""
    v = (span & -span).bit_length() - 1
    return (1 << (52 - v)) * w


@settings(max_examples=300, deadline=None)
@given(a=INT64, b=INT64, w=st.integers(0, 2**52))
def test_exact_halves_go_to_the_even_neighbour(a, b, w):
    span = abs(b - a)
    assume(span and (span & -span).bit_length() - 1 <= 52)
    v = (span & -span).bit_length() - 1
    m = halfway(span, (2 * w + 1) % (1 << (v + 1)))
    exact = Fraction(a) + Fraction(m, TWO53) * (b - a)
    assert exact.denominator == 2  # on .5 by construction
    (got,) = run([a], [b], [m], np.int64)
    assert got % 2 == 0 and abs(got - exact) == Fraction(1, 2)


def test_halves_round_to_even_on_both_sides_and_in_both_directions():
    h = 1 << 52  # u = 0.5 and u = 0.5 + 2**-53 on spans of 1 and 2**52
    cases = [  # (a, b, m, rounded)
        (1, 2, h, 2),  # 1.5 -> 2
        (2, 3, h, 2),  # 2.5 -> 2
        (3, 2, h, 2),  # 2.5, going down -> 2
        (2, 1, h, 2),  # 1.5, going down -> 2
        (-1, 0, h, 0),  # -0.5 -> 0
        (-2, -1, h, -2),  # -1.5 -> -2
        (1, 1 + 2**52, 1, 2),  # 1 + 1/2 -> 2 (an odd low end: rint of the step gave 1)
        (1 + 2**52, 1, 1, 2**52),  # 2**52 + 1/2, going down -> 2**52
        (2**63 - 1, 2**63 - 2, h, 2**63 - 2),  # the int64 top: 2**63 - 1.5 -> even
        (-(2**63), -(2**63) + 1, h, -(2**63)),
    ]
    for a, b, m, want in cases:
        assert expected(a, b, m) == want
        assert run([a], [b], [m], np.int64) == [want], (a, b, m)
    assert run([2**64 - 1], [2**64 - 2], [h], np.uint64) == [2**64 - 2]
    assert run([3], [4], [h + 1], np.uint64) == [4]  # just over the half: up
    assert run([4], [3], [h + 1], np.uint64) == [3]  # just over the half, going down


def test_u_must_be_a_whole_number_of_2_to_the_minus_53():
    a = np.array([0], dtype=np.int64)
    for bad in (1.0, -0.25, 2.0**-60):
        with pytest.raises(ValueError, match="multiples of 2"):
            interpolate_integers(a, a + 10, np.array([bad]))


def two_row_class(tmp_path: Path, new_rows: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A class of two rows (k = 1: each row's neighbour is the other) grown by ``new_rows``.

    Feature f is 0 and 1, so a synthetic row's f is u (from row 0) or 1 - u (from row 1),
    both exact, and it stands at the point x = a + f * (b - a) measured from row 0 either
    way. The integer columns span 2**52 (or a multiple) from an odd end, so x lands
    exactly on .5 whenever u's last bit is set: half the rows.
    """
    small = pl.DataFrame(
        {
            "f": [0.0, 1.0],
            "i64": pl.Series([1, 1 + 2**52], dtype=pl.Int64),
            "neg": pl.Series([-1 - 3 * 2**52, -1], dtype=pl.Int64),
            "u64": pl.Series([2**64 - 1, 2**64 - 1 - 2**52], dtype=pl.UInt64),
            "i32": pl.Series([-7, 8], dtype=pl.Int32),
            "y": ["small", "small"],
        }
    )
    rng = np.random.default_rng(3)
    big = pl.DataFrame(
        {
            "f": rng.normal(5, 1, 40),
            "i64": pl.Series(rng.integers(0, 100, 40), dtype=pl.Int64),
            "neg": pl.Series(rng.integers(-100, 0, 40), dtype=pl.Int64),
            "u64": pl.Series(rng.integers(0, 100, 40), dtype=pl.UInt64),
            "i32": pl.Series(rng.integers(0, 100, 40), dtype=pl.Int32),
            "y": ["big"] * 40,
        }
    )
    df = pl.concat([big.head(20), small, big.tail(20)])
    src, out = tmp_path / "in.parquet", tmp_path / "out.parquet"
    df.write_parquet(src)
    rebalance(
        src, out, label="y", strategy="smote", k_neighbors=1, seed=5,
        target=f"small={2 + new_rows}",
    )  # fmt: skip
    written = pl.read_parquet(out)
    assert written.schema == df.schema
    assert written.head(df.height).equals(df)
    return small, written.slice(df.height)


def test_smote_rounds_integer_halves_to_even_end_to_end(tmp_path):
    small, syn = two_row_class(tmp_path, 3000)
    assert syn.height == 3000 and (syn["y"] == "small").all()
    halves = 0
    for column in ("i64", "neg", "u64", "i32"):
        a, b = (int(v) for v in small[column])
        for f, got in zip(syn["f"].to_list(), syn[column].to_list(), strict=True):
            exact = Fraction(a) + Fraction(f) * (b - a)
            assert got == round(exact), (column, f, got, exact)
            halves += exact.denominator == 2
    # i64, neg and u64 land on .5 for every odd u * 2**53: about 3 x 1500 halves (i32 never)
    assert 4000 < halves < 5000


def test_shrinkage_rounds_integer_halves_to_even(monkeypatch):
    """--shrinkage jitters integer columns in float64 and rounds back to the nearest
    integer, halves to even: a jitter of exactly +0.5 shows which way halves go."""
    from rebalance_cli import rng as rng_mod

    monkeypatch.setattr(rng_mod, "normal", lambda k1, k2: np.ones(k1.shape))
    values = [-3, -2, -1, 0, 1, 2, 3, 4]
    df = pl.DataFrame({"v": pl.Series(values, dtype=pl.Int64), "f": [0.0] * 8})
    shrink = Shrink(
        ["v", "f"], np.array([[0.5, 0.5]]), np.zeros((1, 2), np.uint64), np.zeros(1, np.int64), 1
    )
    out = shrink.apply(df, np.zeros(8, np.int64), np.ones(8, bool))
    assert out["v"].to_list() == [-2, -2, 0, 0, 2, 2, 4, 4]  # -2.5 -1.5 -0.5 .5 1.5 2.5 3.5 4.5
    assert out["f"].to_list() == [0.5] * 8
    assert out["v"].dtype == pl.Int64


# --- one u per row in [0, 1), neighbours chosen uniformly among the k -------------------------

FEATURES = ("f0", "f1", "f2")


def grown(tmp_path: Path, n: int, new_rows: int, k: int, seed: int) -> tuple[np.ndarray, ...]:
    """Grow a class of n Gaussian rows by ``new_rows`` with SMOTE (k neighbours) through
    a file; the class's real rows, the synthetic rows and their integer feature."""
    rng = np.random.default_rng(seed)
    m = 3 * n
    labels = np.array(["a"] * m + ["b"] * n)[rng.permutation(m + n)]
    df = pl.DataFrame(
        {
            **{f: rng.normal(0, 1 + i, m + n) for i, f in enumerate(FEATURES)},
            "count": pl.Series(rng.integers(-500, 500, m + n), dtype=pl.Int64),
            "y": labels,
        }
    )
    src, out = tmp_path / f"in{seed}.parquet", tmp_path / f"out{seed}.parquet"
    df.write_parquet(src)
    rebalance(
        src, out, label="y", strategy="smote", k_neighbors=k, seed=seed,
        target=f"b={n + new_rows}",
    )  # fmt: skip
    written = pl.read_parquet(out)
    real = df.filter(pl.col("y") == "b")
    syn = written.slice(df.height)
    assert syn.height == new_rows and (syn["y"] == "b").all()
    return (
        real.select(FEATURES).to_numpy(),
        real["count"].to_numpy(),
        syn.select(FEATURES).to_numpy(),
        syn["count"].to_numpy(),
    )


def take_apart(
    x: np.ndarray, nbrs: np.ndarray, s: np.ndarray, seeds: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For every synthetic row of the given seed: the neighbour slot (0 = nearest) and the
    u of every float feature, on the one segment (seed, its slot-th neighbour) whose
    per-feature u agree. Asserts that exactly one of the seed's k segments fits each row."""
    a = x[seeds][:, None, :]  # (rows, 1, d)
    u = (s[:, None, :] - a) / (x[nbrs[seeds]] - a)  # (rows, k, d)
    spread = u.max(axis=2) - u.min(axis=2)
    order = np.argsort(spread, axis=1)[:, :2]
    best, second = np.take_along_axis(spread, order, axis=1).T
    assert (best < 1e-9).all(), f"{(best >= 1e-9).sum()} rows lie on no segment with one u"
    assert (second > 1e-6).all()  # and on one segment only
    slot = order[:, 0]
    return slot, u[np.arange(s.shape[0]), slot]


@pytest.mark.parametrize("k,n,seed", [(5, 60, 1), (3, 45, 2), (8, 40, 3)])
def test_one_u_per_row_in_0_1_and_every_neighbour_slot_equally_likely(tmp_path, k, n, seed):
    q = 100
    x, counts, s, s_counts = grown(tmp_path, n, q * n, k, seed)
    # the distance is over every numeric feature, the integer one too
    nbrs = nearest_by_distance_then_index(np.column_stack([x, counts]), k)
    # (t - n) / n = q exactly, so every real row seeds q rows; they come in seed order
    # (a segment and its reverse hold the same points, so the order names the seed)
    seed_row = np.arange(q * n) // q
    slot, u = take_apart(x, nbrs, s, seed_row)

    # one u per row, shared by every feature, in [0, 1): a clipped u >= 1 would sit
    # exactly on the neighbour (u = 1.0), an unclipped one past it
    assert (u.max(axis=1) - u.min(axis=1) < 1e-9).all()
    row_u = u.mean(axis=1)
    assert (u >= 0).all() and (u < 1).all(), (u.min(), u.max())
    assert stats.kstest(row_u, "uniform").pvalue > 1e-4

    # the integer feature takes the same u: nearest integer to seed + u * (neighbour - seed)
    lo, hi = counts[seed_row], counts[nbrs[seed_row, slot]]
    exact = lo + row_u * (hi - lo)
    clear = np.abs(exact - np.floor(exact) - 0.5) > 1e-6  # not within float error of .5
    assert clear.mean() > 0.99
    assert np.array_equal(s_counts[clear], np.rint(exact[clear]).astype(np.int64))

    # each of the k neighbours about 1/k of the time (chi-square, k - 1 degrees of freedom)
    per_slot = np.bincount(slot, minlength=k)
    assert per_slot.min() > 0, per_slot
    assert stats.chisquare(per_slot).pvalue > 1e-4, per_slot
