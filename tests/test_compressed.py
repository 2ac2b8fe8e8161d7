"""Compressed output (``-o x.csv.gz``, ``.csv.zst``, ``.ndjson.gz``, …) and names that
contradict ``--output-format``.

A compressed output holds, once decompressed, exactly the bytes of the uncompressed
run; it is written as one stream through the same atomic temporary file, so its own
bytes do not depend on the chunk size either.
"""

from __future__ import annotations

import errno
import gzip
import json
import tempfile
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rebalance_cli.io import sinks
from tests.faults import Faults, Point

from .conftest import digest, listing, mixed_frame

EXTENSIONS = ["csv.gz", "csv.zst", "tsv.gz", "ndjson.gz", "ndjson.zst", "jsonl.zstd"]


def decompress(path: Path) -> bytes:
    if path.name.endswith(".gz"):
        return gzip.decompress(path.read_bytes())
    with pa.input_stream(str(path), compression="zstd") as fh:
        return fh.read()


@pytest.fixture
def src(tmp_path: Path) -> Path:
    path = tmp_path / "in.parquet"
    mixed_frame({"a": 300, "b": 90, "c": 40}).write_parquet(path)
    return path


def smote(cli, src: Path, out: Path, test: Path, *extra: object):
    return cli("apply", src, "-l", "y", "-s", "smote", "--id-columns", "id", "--seed", "7",
               "--test-size", "0.2", "--test-output", test, "-o", out, *extra)  # fmt: skip


@pytest.mark.parametrize("ext", EXTENSIONS)
def test_compressed_output_holds_the_bytes_of_the_plain_run(cli, src, tmp_path, ext) -> None:
    plain_ext = ext.rsplit(".", 1)[0]
    res = smote(cli, src, tmp_path / f"o.{plain_ext}", tmp_path / f"t.{plain_ext}")
    assert res.code == 0, res.stderr
    res = smote(
        cli, src, tmp_path / f"o.{ext}", tmp_path / f"t.{ext}", "--report", tmp_path / "r.json"
    )
    assert res.code == 0, res.stderr
    for name in ("o", "t"):
        packed, plain = tmp_path / f"{name}.{ext}", tmp_path / f"{name}.{plain_ext}"
        assert packed.read_bytes()[:2] != plain.read_bytes()[:2]  # compressed indeed
        assert decompress(packed) == plain.read_bytes()
    report = json.loads((tmp_path / "r.json").read_text())
    codec = "gzip" if ext.endswith(".gz") else "zstd"
    fmt = {"csv": "csv", "tsv": "tsv", "ndjson": "ndjson", "jsonl": "ndjson"}[plain_ext]
    assert report["output"] == {
        "path": str(tmp_path / f"o.{ext}"),
        "format": fmt,
        "bytes": (tmp_path / f"o.{ext}").stat().st_size,
        "compression": codec,
    }
    assert report["split"]["compression"] == codec
    # another chunk size: the same compressed bytes, not only the same rows
    again = smote(cli, src, tmp_path / f"o2.{ext}", tmp_path / f"t2.{ext}", "--chunk-size", "37")
    assert again.code == 0, again.stderr
    assert digest(tmp_path / f"o2.{ext}") == digest(tmp_path / f"o.{ext}")
    assert digest(tmp_path / f"t2.{ext}") == digest(tmp_path / f"t.{ext}")
    # and it reads back: inspect counts what apply wrote
    shown = json.loads(cli("inspect", tmp_path / f"o.{ext}", "-l", "y", "--json").stdout)
    assert {c["class"]: c["count"] for c in shown["classes"]} == report["class_counts"]["after"]


def test_bags_are_compressed_one_by_one(cli, src, tmp_path) -> None:
    base = ("apply", src, "-l", "y", "-s", "undersample", "--bags", "3", "--seed", "2")
    assert cli(*base, "-o", tmp_path / "p-{bag}.csv").code == 0
    res = cli(*base, "-o", tmp_path / "z-{bag}.csv.gz", "--report", tmp_path / "r.json")
    assert res.code == 0, res.stderr
    for b in (1, 2, 3):
        assert decompress(tmp_path / f"z-{b}.csv.gz") == (tmp_path / f"p-{b}.csv").read_bytes()
    bags = json.loads((tmp_path / "r.json").read_text())["bags"]
    assert [b["compression"] for b in bags] == ["gzip"] * 3


def test_a_shuffled_compressed_output_is_the_shuffled_plain_one(cli, src, tmp_path) -> None:
    base = ("apply", src, "-l", "y", "-s", "oversample", "--shuffle", "--seed", "4")
    assert cli(*base, "-o", tmp_path / "p.ndjson").code == 0
    assert cli(*base, "-o", tmp_path / "z.ndjson.zst").code == 0
    assert decompress(tmp_path / "z.ndjson.zst") == (tmp_path / "p.ndjson").read_bytes()


@settings(max_examples=30, deadline=None)
@given(
    data=st.binary(min_size=0, max_size=20_000),
    cuts=st.lists(st.integers(0, 20_000), max_size=12),
    codec=st.sampled_from(["gzip", "zstd"]),
)
def test_a_compressed_file_does_not_depend_on_how_its_writes_were_cut(
    tmp_path_factory, data: bytes, cuts: list[int], codec: str
) -> None:
    folder = tmp_path_factory.mktemp("cuts")
    whole, pieces = folder / "whole", folder / "pieces"
    f = sinks.open_binary(whole, codec)
    f.write(data)
    f.close()
    f = sinks.open_binary(pieces, codec)
    at = 0
    for cut in sorted({c for c in cuts if c <= len(data)} | {len(data)}):
        f.write(data[at:cut])
        f.flush()  # does nothing: no block may end where a writer happened to flush
        at = cut
    f.close()
    assert pieces.read_bytes() == whole.read_bytes()
    name = whole.with_suffix(".gz" if codec == "gzip" else ".zst")
    whole.rename(name)
    assert decompress(name) == data


def test_a_failing_compressed_write_leaves_nothing(cli, src, tmp_path, monkeypatch) -> None:
    """The compressed bytes go through the file layer: its first write failing (a full
    disk) is the output's I/O error, and no file is left. (tests/test_faults.py fails
    every point of a compressed run in turn.)"""
    faults = Faults(monkeypatch, tmp_path, Path(tempfile.gettempdir()))
    faults.arm(Point("write", ".o.csv.gz.tmp#1", 1), errno.ENOSPC)
    before = listing(tmp_path)
    d = digest(src)
    res = cli("apply", src, "-l", "y", "-s", "oversample", "-o", tmp_path / "o.csv.gz",
              "--test-size", "0.2", "--test-output", tmp_path / "t.csv")  # fmt: skip
    assert faults.fired == Point("write", ".o.csv.gz.tmp#1", 1)
    assert res.code == 4
    assert res.stderr == "rebalance: I/O error: cannot write the output: No space left on device\n"
    assert listing(tmp_path) == before and digest(src) == d


# ---------------------------------------------------------------- names and --output-format


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["-o", "out.csv", "--output-format", "parquet"],
            "-o {d}/out.csv ends like CSV, but --output-format says Parquet (give -o a name "
            "that ends like the format, or leave out --output-format)",
        ),
        (
            ["-o", "out.csv.gz", "--output-format", "ndjson"],
            "-o {d}/out.csv.gz ends like CSV, but --output-format says NDJSON (give -o a name "
            "that ends like the format, or leave out --output-format)",
        ),
        (
            [
                "-o",
                "out.csv",
                "--test-size",
                "0.2",
                "--test-output",
                "t.arrow",
                "--output-format",
                "csv",
            ],
            "--test-output {d}/t.arrow ends like Arrow IPC, but --output-format says CSV "
            "(give --test-output a name that ends like the format, or leave out "
            "--output-format)",
        ),
        (
            ["-o", "out.parquet.gz"],
            "-o {d}/out.parquet.gz asks for gzip around Parquet, which is compressed inside the "
            "file already (leave out the .gz ending; only CSV, TSV and NDJSON are written "
            "compressed)",
        ),
        (
            ["-o", "out.arrow.zst"],
            "-o {d}/out.arrow.zst asks for zstd around Arrow IPC, which is compressed inside the "
            "file already (leave out the .zst ending; only CSV, TSV and NDJSON are written "
            "compressed)",
        ),
    ],
)
def test_a_name_that_contradicts_the_format_is_a_usage_error(cli, src, tmp_path, args, message):
    before = listing(tmp_path)
    given = [str(tmp_path / a) if a.startswith(("out.", "t.")) else a for a in args]
    res = cli("apply", src, "-l", "y", "-s", "undersample", *given)
    assert res.code == 2
    assert res.stderr == f"rebalance: usage error: {message.format(d=tmp_path)}\n"
    assert res.stdout == "" and listing(tmp_path) == before


def test_names_that_agree_with_the_format(cli, src, tmp_path) -> None:
    base = ("apply", src, "-l", "y", "-s", "undersample", "--seed", "1")
    # .txt says "text": CSV or TSV
    assert cli(*base, "-o", tmp_path / "o.txt", "--output-format", "tsv").code == 0
    assert (tmp_path / "o.txt").read_text().splitlines()[0].split("\t")[:2] == ["id", "age"]
    # a name without a known extension takes the flag, compressed or not
    assert cli(*base, "-o", tmp_path / "o.gz", "--output-format", "csv").code == 0
    assert cli(*base, "-o", tmp_path / "o.csv", "--output-format", "csv").code == 0
    assert decompress(tmp_path / "o.gz") == (tmp_path / "o.csv").read_bytes()
    assert cli(*base, "-o", tmp_path / "o.jsonl", "--output-format", "ndjson").code == 0


def test_spark_refuses_a_compressed_output(cli, src, tmp_path) -> None:
    pytest.importorskip("pyspark")
    res = cli("apply", src, "-l", "y", "-s", "undersample", "--engine", "spark",
              "-o", tmp_path / "o.csv.gz")  # fmt: skip
    assert res.code == 2
    assert res.stderr == (
        f"rebalance: usage error: the Spark engine writes a folder of uncompressed part files, "
        f"not {tmp_path}/o.csv.gz (name the output without its compressed ending (Parquet is "
        "compressed inside), or run without --engine spark)\n"
    )
