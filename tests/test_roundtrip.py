"""Round trips that must never lose data silently: late NDJSON keys, late CSV values,
header names, 128-bit integers, compressed stdin. Each case is a reported bug."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from .conftest import digest, listing

LABELS = ("a", "a", "b")


def _refused(res, folder: Path, before: set[str], src: Path, sha: str, *words: str) -> None:
    """Exit 3, one line on stderr naming ``words``, nothing written, input untouched."""
    assert res.code == 3, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("rebalance: data error: ")
    for word in words:
        assert word in lines[0], lines[0]
    assert listing(folder) == before
    assert digest(src) == sha
    assert res.stdout == ""


def _ndjson(path: Path, rows: list[dict], ensure_ascii: bool = True) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=ensure_ascii) + "\n" for r in rows))
    return path


def _apply(cli, src: Path, out: Path, *extra: str, strategy: str = "undersample"):
    return cli("apply", src, "-l", "label", "-s", strategy, "--seed", "3", "-o", out, *extra)


# -- 4. 128-bit integers in every writer ------------------------------------------------

BIG = [123456789012345678901234 + i * 10**21 for i in range(12)]
NEG = [-(2**126) - i for i in range(12)]


def _wide_csv(path: Path) -> Path:
    rows = "".join(f"{i},{BIG[i]},{NEG[i]},{LABELS[i % 3]}\n" for i in range(12))
    path.write_text("id,big,neg,label\n" + rows)
    return path


READERS = {
    "csv": pl.read_csv,
    "tsv": lambda p: pl.read_csv(p, separator="\t"),
    "parquet": pl.read_parquet,
    "arrow": pl.read_ipc,
    "ndjson": pl.read_ndjson,
}


@pytest.mark.parametrize("fmt", list(READERS))
@pytest.mark.parametrize("strategy", ["undersample", "oversample"])
def test_int128_round_trips_in_every_format(tmp_path, cli, fmt, strategy):
    src = _wide_csv(tmp_path / "in.csv")
    assert pl.read_csv(src).schema["big"] == pl.Int128
    out = tmp_path / f"o.{fmt}"
    res = _apply(cli, src, out, strategy=strategy)
    assert res.code == 0, res.stderr
    got = READERS[fmt](out)
    assert got.schema["big"] == pl.Int128 and got.schema["neg"] == pl.Int128
    pairs = dict(zip(BIG, NEG, strict=True))
    assert all(pairs[b] == n for b, n in got.select("big", "neg").iter_rows())
    if strategy == "oversample":
        assert set(got["big"]) == set(BIG)


@pytest.mark.parametrize("fmt", ["parquet", "arrow", "csv", "ndjson"])
def test_uint128_from_arrow_round_trips(tmp_path, cli, fmt):
    values = [2**128 - 1 - i for i in range(12)]
    df = pl.DataFrame(
        {
            "u": pl.Series(values, dtype=pl.UInt128),
            "label": [LABELS[i % 3] for i in range(12)],
        }
    )
    src = tmp_path / "in.arrow"
    df.write_ipc(src)
    out = tmp_path / f"o.{fmt}"
    res = _apply(cli, src, out, strategy="oversample")
    assert res.code == 0, res.stderr
    if fmt in ("parquet", "arrow"):
        got = READERS[fmt](out)
        assert got.schema["u"] == pl.UInt128 and set(got["u"]) == set(values)
    else:  # polars reads no integer above 2^127 from text; the digits are all there
        text = out.read_text()
        assert all(str(v) in text for v in values)


def test_int128_ipc_bytes_do_not_depend_on_the_chunk_size(tmp_path, cli):
    src = _wide_csv(tmp_path / "in.csv")
    digests = set()
    for chunk in ("2", "5", "65536"):
        out = tmp_path / f"o{chunk}.arrow"
        res = _apply(cli, src, out, "--chunk-size", chunk, strategy="oversample")
        assert res.code == 0, res.stderr
        digests.add(digest(out))
    assert len(digests) == 1


def test_int128_with_shuffle(tmp_path, cli):
    src = _wide_csv(tmp_path / "in.csv")
    out = tmp_path / "o.parquet"
    res = _apply(cli, src, out, "--shuffle", strategy="oversample")
    assert res.code == 0, res.stderr
    assert set(pl.read_parquet(out)["big"]) == set(BIG)


@pytest.mark.parametrize("fmt", ["arrow", "parquet"])
def test_int128_test_split_in_arrow_or_parquet_is_a_clear_error(tmp_path, cli, fmt):
    src = _wide_csv(tmp_path / "in.csv")
    before, sha = listing(tmp_path), digest(src)
    res = _apply(
        cli,
        src,
        tmp_path / "o.csv",
        "--test-size",
        "0.25",
        "--test-output",
        tmp_path / f"t.{fmt}",
    )
    name = {"arrow": "Arrow IPC", "parquet": "Parquet"}[fmt]
    _refused(res, tmp_path, before, src, sha, "'big'", "Int128", name)


def test_int128_test_split_in_csv_round_trips(tmp_path, cli):
    src = _wide_csv(tmp_path / "in.csv")
    test = tmp_path / "t.ndjson"
    res = _apply(cli, src, tmp_path / "o.csv", "--test-size", "0.25", "--test-output", test)
    assert res.code == 0, res.stderr
    assert set(pl.read_ndjson(test)["big"]) <= set(BIG)
