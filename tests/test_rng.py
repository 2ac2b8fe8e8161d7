"""Counter-based keys and the exact k-smallest threshold."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rebalance_cli import rng


def test_keys_are_distinct_and_depend_only_on_position():
    base = rng.stream_base(7, "undersample", "a")
    whole = rng.keys(base, np.arange(100_000, dtype=np.uint64))
    assert np.unique(whole).size == whole.size
    parts = np.concatenate(
        [rng.keys(base, np.arange(s, s + 777, dtype=np.uint64)) for s in range(0, 100_000, 777)]
    )[:100_000]
    assert np.array_equal(whole, parts)


def test_streams_differ_by_seed_and_class():
    p = np.arange(1000, dtype=np.uint64)
    a = rng.keys(rng.stream_base(1, "s", "a"), p)
    assert not np.array_equal(a, rng.keys(rng.stream_base(2, "s", "a"), p))
    assert not np.array_equal(a, rng.keys(rng.stream_base(1, "s", "b"), p))
    assert rng.stream_base(1, "s", "a") == rng.stream_base(1, "s", "a")


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 5000), frac=st.floats(0, 1), seed=st.integers(0, 2**32))
def test_threshold_selects_exactly_k(n, frac, seed):
    k = round(frac * n)
    base = rng.stream_base(seed, "t", "c")
    any_, thr = rng.chosen(base, n, k)
    ks = rng.keys(base, np.arange(n, dtype=np.uint64))
    picked = (ks <= thr) & any_
    assert int(picked.sum()) == k
    if 0 < k < n:
        assert set(np.flatnonzero(picked)) == set(np.argsort(ks)[:k])


def test_block_path_equals_direct_path(monkeypatch):
    base = rng.stream_base(3, "t", "big")
    n = 300_000
    ks = np.sort(rng.keys(base, np.arange(n, dtype=np.uint64)))
    monkeypatch.setattr(rng, "_BLOCK", 50_000)
    for k in (1, 2, 4_567, 150_000, n - 1, n):
        assert rng.kth_key(base, n, k) == ks[k - 1]


def test_uniform_and_below_ranges():
    ks = rng.keys(rng.stream_base(0, "u", "x"), np.arange(200_000, dtype=np.uint64))
    u = rng.uniform(ks)
    assert u.min() >= 0.0 and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 0.01
    b = rng.below(ks, 5)
    assert set(np.unique(b).tolist()) == {0, 1, 2, 3, 4}
    assert np.bincount(b.astype(np.intp)).min() > 39_000


def test_kth_key_rejects_bad_k():
    with pytest.raises(ValueError):
        rng.kth_key(np.uint64(1), 10, 11)
