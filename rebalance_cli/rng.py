"""Counter-based randomness: a row's draw depends on (seed, class, position) only.

Every random decision is a SplitMix64 key of the row's position within its
class, so it does not depend on how the stream was cut into batches, on the
number of threads, or on the file format. ``Expr.hash`` is not used: polars
documents it as unstable across versions.

SplitMix64's finaliser is a bijection on 64-bit words and the counter
``base + (i + 1) * GAMMA`` is distinct for every i, so the keys of one class
are all different: "the t smallest keys" names exactly t rows, with no ties.
"""

from __future__ import annotations

import hashlib

import numpy as np

GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)
_ONE = np.uint64(1)
_BLOCK = 1 << 20
_TOP = np.uint64(48)


def stream_base(seed: int, stream: str, cls: str) -> np.uint64:
    """The 64-bit base of one random stream: a stable digest of its names."""
    digest = hashlib.blake2b(f"{seed}\x1f{stream}\x1f{cls}".encode(), digest_size=8).digest()
    return np.uint64(int.from_bytes(digest, "little"))


def mix(z: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser, in place on a uint64 array (wrapping arithmetic)."""
    z ^= z >> _S30
    z *= _M1
    z ^= z >> _S27
    z *= _M2
    z ^= z >> _S31
    return z


def keys(base: np.uint64 | np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Keys for 0-based positions; ``base`` is a scalar or one base per position."""
    z = positions.astype(np.uint64) + _ONE
    z *= GAMMA
    z += base
    return mix(z)


def uniform(k: np.ndarray) -> np.ndarray:
    """Map keys to floats in [0, 1) with 53 random bits."""
    return (k >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)


def below(k: np.ndarray, n: int) -> np.ndarray:
    """Map keys to integers in [0, n) (multiply-shift on the top 32 bits)."""
    return ((k >> np.uint64(32)) * np.uint64(n)) >> np.uint64(32)


def kth_key(base: np.uint64, n: int, k: int) -> np.uint64:
    """The k-th smallest key (1-based) among positions 0..n-1 of one stream.

    Rows whose key is <= this value are exactly k rows, a uniform random subset.
    Memory is bounded: above a block, a histogram of the top 16 bits finds the
    bucket that holds the answer, and only that bucket's keys are kept.
    """
    if not 1 <= k <= n:
        raise ValueError(f"k={k} outside 1..{n}")
    if n <= _BLOCK:
        ks = keys(base, np.arange(n, dtype=np.uint64))
        return np.partition(ks, k - 1)[k - 1]
    hist = np.zeros(1 << 16, dtype=np.int64)
    for start in range(0, n, _BLOCK):
        ks = keys(base, np.arange(start, min(n, start + _BLOCK), dtype=np.uint64))
        hist += np.bincount((ks >> _TOP).astype(np.intp), minlength=1 << 16)
    cum = np.cumsum(hist)
    bucket = int(np.searchsorted(cum, k))
    before = int(cum[bucket - 1]) if bucket else 0
    found: list[np.ndarray] = []
    for start in range(0, n, _BLOCK):
        ks = keys(base, np.arange(start, min(n, start + _BLOCK), dtype=np.uint64))
        found.append(ks[(ks >> _TOP) == np.uint64(bucket)])
    pool = np.concatenate(found)
    return np.partition(pool, k - 1 - before)[k - 1 - before]


def chosen(base: np.uint64, n: int, k: int) -> tuple[bool, np.uint64]:
    """(any, threshold) such that position i is chosen iff any and key(i) <= threshold."""
    if k <= 0:
        return False, np.uint64(0)
    if k >= n:
        return True, np.uint64(np.iinfo(np.uint64).max)
    return True, kth_key(base, n, k)
