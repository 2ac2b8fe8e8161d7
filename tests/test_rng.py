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


# Pinned answers: renaming a stream, changing a constant of SplitMix64 or the way keys map to
# numbers changes every user's output; these vectors make such a change fail here first.


def test_keys_from_base_zero_are_the_reference_splitmix64_outputs():
    # SplitMix64 seeded with 0 (Steele, Lea and Flood's generator; the published first outputs)
    got = rng.keys(np.uint64(0), np.arange(3, dtype=np.uint64))
    assert [int(v) for v in got] == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]


def test_stream_bases_are_pinned():
    assert int(rng.stream_base(42, "undersample", "a")) == 0x48976A33A69E6D10
    assert int(rng.stream_base(0, "smote", "1")) == 0x9F4B2760E6C6F856


def _digest(a: np.ndarray) -> str:
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def test_uniform_below_and_normal_are_pinned():
    p = np.arange(10_000, dtype=np.uint64)
    k1 = rng.keys(rng.stream_base(7, "normal", "x"), p)
    k2 = rng.keys(rng.stream_base(7, "normal", "y"), p)
    assert _digest(rng.uniform(k1)) == (
        "81680669c6383aa372513b9f6b3e4501e9f9f90b01bd297cee8d87bd6473cbff"
    )
    assert _digest(rng.below(k1, 7)) == (
        "c5eca77ed73d3c63946b77ecfd21608e7df1e7b554cc17274d065810a377b9ec"
    )
    # the same bits on every CPU: numpy's own log and cos differ in the last bit between
    # its AVX-512 and SSE loops, which is why rng has its own
    assert _digest(rng.normal(k1, k2)) == (
        "22b1b379bb9d20422f83c3d5cd7775cac78d3889c70d9b0854f06b8e2c36be80"
    )
    assert rng.normal(k1[:3], k2[:3]).tolist() == [
        1.6290687146598624,
        0.03988727653991254,
        0.8051318204603347,
    ]


def test_portable_log_and_cos_are_accurate():
    x = np.concatenate(
        [np.random.default_rng(0).random(200_000), [1.0, 2.0**-53, 0.5, np.sqrt(0.5), 1e-300]]
    )
    ref = np.log(x)
    assert np.max(np.abs(rng.log_unit(x) - ref) / np.maximum(np.abs(ref), 1e-300)) < 1e-15
    t = np.concatenate([np.random.default_rng(1).random(200_000), [0.0, 0.25, 0.5, 0.75]])
    assert np.max(np.abs(rng.cos_turns(t) - np.cos(2 * np.pi * t))) < 2e-15


def test_normal_draws_are_standard_normal():
    p = np.arange(400_000, dtype=np.uint64)
    z = rng.normal(
        rng.keys(rng.stream_base(3, "n", "a"), p), rng.keys(rng.stream_base(3, "n", "b"), p)
    )
    assert abs(z.mean()) < 0.01
    assert abs(z.std() - 1.0) < 0.01
    assert abs(np.mean(z**4) - 3.0) < 0.05
    # about 4.55% of a standard normal lies beyond 2 standard deviations
    assert abs(np.mean(np.abs(z) > 2.0) - 0.0455) < 0.002


def test_normal_does_not_depend_on_numpy_simd(tmp_path):
    """Run the draws with numpy's optional SIMD loops (AVX2, AVX-512, ...) switched off."""
    import subprocess
    import sys

    from numpy._core._multiarray_umath import __cpu_baseline__, __cpu_features__

    extra = [f for f, on in __cpu_features__.items() if on and f not in __cpu_baseline__]
    code = (
        "import hashlib, numpy as np\n"
        "from rebalance_cli import rng\n"
        "p = np.arange(10_000, dtype=np.uint64)\n"
        "z = rng.normal(rng.keys(rng.stream_base(7, 'normal', 'x'), p),"
        " rng.keys(rng.stream_base(7, 'normal', 'y'), p))\n"
        "print(hashlib.sha256(z.tobytes()).hexdigest())\n"
    )
    env = {**__import__("os").environ, "NPY_DISABLE_CPU_FEATURES": " ".join(extra)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == (
        "22b1b379bb9d20422f83c3d5cd7775cac78d3889c70d9b0854f06b8e2c36be80"
    )
