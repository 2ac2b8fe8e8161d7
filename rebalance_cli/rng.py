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
import math

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


# The normal draws below use only +, -, *, / and sqrt, which IEEE 754 rounds the
# same way on every machine. numpy's log and cos are not so: their SIMD loops
# (AVX-512 on one CPU, SSE on another) differ in the last bit, and a jittered
# value written with 17 digits shows it. Series accurate to about 1e-16.
_SQRT_HALF = math.sqrt(0.5)
_LN2_HI = 6.93147180369123816490e-01  # low bits zero, so e * _LN2_HI is exact
_LN2_LO = 1.90821492927058770002e-10
_ATANH = [1.0 / (2 * k + 1) for k in range(12)]  # 2 atanh(s) = 2 s sum s^2k / (2k + 1)
_COS = [(-1.0) ** k / math.factorial(2 * k) for k in range(12)]
_TWO_PI = 2.0 * math.pi


def _horner(coefficients: list[float], x: np.ndarray) -> np.ndarray:
    acc = np.full_like(x, coefficients[-1])
    for c in reversed(coefficients[:-1]):
        acc *= x
        acc += c
    return acc


def log_unit(x: np.ndarray) -> np.ndarray:
    """ln(x) for x > 0, the same bits on every machine (x = m 2^e, |ln m| < ln 2 / 2)."""
    m, e = np.frexp(x)
    low = m < _SQRT_HALF
    m = np.where(low, m * 2.0, m)
    e = (e - low).astype(np.float64)
    s = (m - 1.0) / (m + 1.0)
    return e * _LN2_HI + (e * _LN2_LO + 2.0 * s * _horner(_ATANH, s * s))


def cos_turns(t: np.ndarray) -> np.ndarray:
    """cos(2 pi t) for t in [0, 1), the same bits on every machine."""
    a = np.abs(np.where(t >= 0.5, t - 1.0, t))  # exact: a in [0, 0.5]
    flip = a > 0.25
    x = np.where(flip, 0.5 - a, a) * _TWO_PI  # [0, pi / 2]
    c = _horner(_COS, x * x)
    return np.where(flip, -c, c)


def normal(k1: np.ndarray, k2: np.ndarray) -> np.ndarray:
    """Standard normal draws from two keys each (Box-Muller), machine-independent."""
    u1 = uniform(k1)  # 1 - u1 is exact: u1 is a multiple of 2^-53
    return np.sqrt(-2.0 * log_unit(1.0 - u1)) * cos_turns(uniform(k2))
