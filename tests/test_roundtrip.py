"""Round trips that must never lose data silently: late NDJSON keys, late CSV values,
header names, 128-bit integers, compressed stdin. Each case is a reported bug."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import random
import shutil
from pathlib import Path

import polars as pl
import pytest

from rebalance_cli.io.formats import sniff_text

from .conftest import digest, listing, run_process

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


# -- 1. NDJSON: a key or a type the inference window did not see ------------------------


def _late_key_rows(n: int, late: int) -> list[dict]:
    rows = []
    for i in range(n):
        row = {"id": i, "x": i * 0.5, "label": LABELS[i % 3]}
        if i >= late:
            row["extra"] = f"v{i}"
        rows.append(row)
    return rows


def test_ndjson_key_after_the_default_window_is_a_data_error(tmp_path, cli):
    src = _ndjson(tmp_path / "in.ndjson", _late_key_rows(10_050, 10_020))
    before, sha = listing(tmp_path), digest(src)
    res = _apply(cli, src, tmp_path / "out.ndjson")
    _refused(res, tmp_path, before, src, sha, "'extra'", "line 10,021", "--infer-schema-length 0")


@pytest.mark.parametrize("fmt", ["ndjson", "csv", "parquet"])
def test_ndjson_infer_schema_length_0_reads_the_late_key(tmp_path, cli, fmt):
    src = _ndjson(tmp_path / "in.ndjson", _late_key_rows(40, 30))
    out = tmp_path / f"out.{fmt}"
    res = _apply(cli, src, out, "--infer-schema-length", "0", strategy="oversample")
    assert res.code == 0, res.stderr
    got = {"ndjson": pl.read_ndjson, "csv": pl.read_csv, "parquet": pl.read_parquet}[fmt](out)
    assert sorted(got["extra"].drop_nulls().unique()) == sorted(f"v{i}" for i in range(30, 40))


@pytest.mark.parametrize("strategy", ["undersample", "oversample", "smote"])
def test_ndjson_key_after_a_short_window_is_refused_for_every_strategy(tmp_path, cli, strategy):
    src = _ndjson(tmp_path / "in.ndjson", _late_key_rows(40, 30))
    before, sha = listing(tmp_path), digest(src)
    res = _apply(cli, src, tmp_path / "o.csv", "--infer-schema-length", "10", strategy=strategy)
    _refused(res, tmp_path, before, src, sha, "'extra'", "line 31", "--infer-schema-length")


def test_ndjson_late_key_in_gzip_and_on_stdin(tmp_path, cli):
    plain = _ndjson(tmp_path / "plain.ndjson", _late_key_rows(40, 30))
    src = tmp_path / "in.ndjson.gz"
    src.write_bytes(gzip.compress(plain.read_bytes(), mtime=0))
    plain.unlink()
    before, sha = listing(tmp_path), digest(src)
    res = _apply(cli, src, tmp_path / "o.ndjson", "--infer-schema-length", "10")
    _refused(res, tmp_path, before, src, sha, "'extra'", "--infer-schema-length")
    res = cli(
        "apply", "-", "-l", "label", "-s", "undersample", "--infer-schema-length", "10",
        "-o", "-", input=src.read_bytes(),
    )  # fmt: skip
    assert res.code == 3 and "'extra'" in res.stderr and res.stdout == ""


def test_ndjson_late_struct_field_is_refused(tmp_path, cli):
    rows = [{"id": i, "s": {"p": i}, "label": LABELS[i % 3]} for i in range(40)]
    rows[35]["s"]["q"] = 7
    src = _ndjson(tmp_path / "in.ndjson", rows)
    before, sha = listing(tmp_path), digest(src)
    res = _apply(cli, src, tmp_path / "o.ndjson", "--infer-schema-length", "10")
    _refused(res, tmp_path, before, src, sha, "'s.q'", "--infer-schema-length 0")
    res = _apply(cli, src, tmp_path / "o.ndjson", "--infer-schema-length", "0")
    assert res.code == 0, res.stderr
    assert 7 in pl.read_ndjson(tmp_path / "o.ndjson")["s"].struct.field("q").to_list()


@pytest.mark.parametrize(
    ("early", "late"),
    [(1, 2.5), (1, "x"), (None, 3), (True, 3), (1.5, "x")],
    ids=["int-float", "int-str", "null-int", "bool-int", "float-str"],
)
def test_ndjson_late_value_of_another_type_names_the_flag(tmp_path, cli, early, late):
    rows = [{"id": i, "v": early, "label": LABELS[i % 3]} for i in range(40)]
    rows[33]["v"] = late
    src = _ndjson(tmp_path / "in.ndjson", rows)
    before, sha = listing(tmp_path), digest(src)
    res = _apply(cli, src, tmp_path / "o.ndjson", "--infer-schema-length", "10")
    _refused(res, tmp_path, before, src, sha, "--infer-schema-length 0")


def test_ndjson_known_keys_in_any_spelling_pass_the_check(tmp_path, cli):
    # non-ASCII keys written as \\u escapes, quotes in keys and values, ": " spacing
    rows = [
        {"é": i, 'q"k': 'say "x": y', "a,b": [":z", "w"], "label": LABELS[i % 3]} for i in range(40)
    ]
    src = tmp_path / "in.ndjson"
    src.write_text(
        "".join(
            json.dumps(r, ensure_ascii=i % 2 == 0, separators=(", ", " : ")) + "\n"
            for i, r in enumerate(rows)
        )
    )
    out = tmp_path / "o.ndjson"
    res = _apply(cli, src, out, "--infer-schema-length", "10", strategy="oversample")
    assert res.code == 0, res.stderr
    assert pl.read_ndjson(out).columns == ["é", 'q"k', "a,b", "label"]


def test_unknown_key_regex_never_misses_a_new_key():
    from rebalance_cli.io.sources import unknown_key_regex

    names = ["id", "x", "label", "é", 'q"uote', "a\\b", "a-b[]^", "ab", "", "a/b", "名前"]
    rx = unknown_key_regex(names)
    assert rx is not None
    rnd = random.Random(5)
    chars = 'ab"\\:,{}[] é名\n\t/-^'
    lines, expected = [], []
    for _ in range(2000):

        def text() -> str:
            return "".join(rnd.choice(chars) for _ in range(rnd.randint(0, 5)))

        row = {rnd.choice(names): text() for _ in range(3)}
        new = text()
        if new in names:
            continue
        row[new] = text()
        items = list(row.items())
        rnd.shuffle(items)
        lines.append(json.dumps(dict(items), ensure_ascii=rnd.random() < 0.5))
        expected.append(True)
    for name in names:  # a known key alone never matches (but for a suffix after \")
        if '"' not in name:
            lines.append(json.dumps({name: 1}))
            expected.append(False)
    found = pl.Series(lines).str.contains(rx).to_list()
    assert found == expected


# -- 2. CSV: a later value that does not fit the inferred type ---------------------------


@pytest.mark.parametrize("late", ["abc", "1.5", "99999999999999999999"])
@pytest.mark.parametrize("strategy", ["undersample", "oversample", "smote"])
def test_csv_late_value_that_does_not_fit_is_an_error_never_a_null(tmp_path, cli, late, strategy):
    src = tmp_path / "in.csv"
    body = "".join(f"{i},{i % 7},{LABELS[i % 3]}\n" for i in range(40))
    src.write_text("id,v,label\n" + body + f"40,{late},a\n")
    before, sha = listing(tmp_path), digest(src)
    res = _apply(cli, src, tmp_path / "o.csv", "--infer-schema-length", "10", strategy=strategy)
    _refused(res, tmp_path, before, src, sha, "'v'", "pass --infer-schema-length 0")
    res = _apply(cli, src, tmp_path / "o.csv", "--infer-schema-length", "0", strategy="oversample")
    assert res.code == 0, res.stderr
    assert late in (tmp_path / "o.csv").read_text()


# -- 3. CSV header names: refused when duplicated, otherwise kept byte for byte ----------


@pytest.mark.parametrize(
    ("name", "header", "sep"),
    [
        ("in.csv", "id,x,x,label", ","),
        ("in.tsv", "id\tx\tx\tlabel", "\t"),
        ("in.csv", 'id,"x",x,label', ","),
        ("in.csv", "id,,,label", ","),
    ],
)
def test_duplicate_header_names_are_refused(tmp_path, cli, name, header, sep):
    src = tmp_path / name
    src.write_text(header + "\n" + "".join(sep.join(["1", "2", "3", c]) + "\n" for c in "aab"))
    before, sha = listing(tmp_path), digest(src)
    res = _apply(cli, src, tmp_path / "o.csv")
    dup = "''" if ",," in header else "'x'"
    _refused(res, tmp_path, before, src, sha, f"column {dup} appears twice in the header of")


def test_duplicate_header_names_in_a_gzip_csv_are_refused(tmp_path, cli):
    src = tmp_path / "in.csv.gz"
    src.write_bytes(gzip.compress(b"id,x,x,label\n1,2,3,a\n1,2,3,a\n1,2,3,b\n", mtime=0))
    before, sha = listing(tmp_path), digest(src)
    res = _apply(cli, src, tmp_path / "o.csv")
    _refused(res, tmp_path, before, src, sha, "'x' appears twice in the header of")


ODD_NAMES = ['q"uote', "a,b", " lead and trail ", "é ü 名前", "semi;colon", 'x""y', "tab\there"]


def _odd_csv(path: Path, sep: str) -> bytes:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, delimiter=sep, lineterminator="\n")
    writer.writerow([*ODD_NAMES, "label"])
    for i in range(12):
        writer.writerow([*(str(i * k) for k in range(len(ODD_NAMES))), LABELS[i % 3]])
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path.read_bytes().split(b"\n", 1)[0]


@pytest.mark.parametrize("strategy", ["undersample", "oversample"])
@pytest.mark.parametrize(("ext", "sep"), [("csv", ","), ("tsv", "\t")])
def test_header_names_round_trip_byte_for_byte(tmp_path, cli, strategy, ext, sep):
    src = tmp_path / f"in.{ext}"
    header = _odd_csv(src, sep)
    assert b'"q""uote"' in header
    out = tmp_path / f"o.{ext}"
    res = _apply(cli, src, out, strategy=strategy)
    assert res.code == 0, res.stderr
    assert out.read_bytes().split(b"\n", 1)[0] == header


@pytest.mark.parametrize("fmt", ["parquet", "arrow", "ndjson"])
def test_header_names_are_kept_exactly_in_other_formats(tmp_path, cli, fmt):
    src = tmp_path / "in.csv"
    _odd_csv(src, ",")
    out = tmp_path / f"o.{fmt}"
    res = _apply(cli, src, out, strategy="oversample")
    assert res.code == 0, res.stderr
    read = {"parquet": pl.read_parquet, "arrow": pl.read_ipc, "ndjson": pl.read_ndjson}[fmt]
    assert read(out).columns == [*ODD_NAMES, "label"]


def test_header_names_through_gzip_stdin(tmp_path, cli):
    src = tmp_path / "in.csv"
    header = _odd_csv(src, ",")
    res = cli(
        "apply", "-", "-l", "label", "-s", "undersample", "--seed", "1", "-o", "-",
        input=gzip.compress(src.read_bytes(), mtime=0),
    )  # fmt: skip
    assert res.code == 0, res.stderr
    assert res.stdout.encode().split(b"\n", 1)[0] == header


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


def _wide_features_csv(path: Path) -> Path:
    """40 rows: two 128-bit columns, a float feature, an id, classes a (30) and b (10)."""
    rows = "".join(
        f"{i},{BIG[i % 12] + i},{NEG[i % 12]},{(i * 37 % 101) / 7},{'a' if i % 4 else 'b'}\n"
        for i in range(40)
    )
    path.write_text("id,big,neg,x,label\n" + rows)
    return path


WIDE_RUNS = {
    "smote": ["-s", "smote", "--id-columns", "id"],
    "hybrid-smote": ["-s", "hybrid", "--target", "25", "--grow-with", "smote"],
    "shrinkage": ["-s", "oversample", "--shrinkage", "1.0"],
    "weight": ["-s", "weight"],
    "tomek": ["-s", "tomek", "--exclude", "id"],
    "enn": ["-s", "enn", "--exclude", "id"],
}


@pytest.mark.parametrize("fmt", ["csv", "parquet", "arrow", "ndjson"])
@pytest.mark.parametrize("run", list(WIDE_RUNS))
def test_int128_columns_pass_through_every_strategy_untouched(tmp_path, cli, run, fmt):
    """A 128-bit integer column (polars' type for 20+ digit numbers: ids, mostly) is never a
    feature: no distance, interpolation or jitter rounds it through float64. Every value
    written is an input value of the column, exactly (a synthetic row takes one of its
    neighbours')."""
    src = _wide_features_csv(tmp_path / "in.csv")
    frame = pl.read_csv(src)
    assert frame.schema["big"] == pl.Int128 and frame.schema["neg"] == pl.Int128
    out, report = tmp_path / f"o.{fmt}", tmp_path / "r.json"
    res = cli("apply", src, "-l", "label", "--seed", "3", "-o", out, "--report", report,
              *WIDE_RUNS[run])  # fmt: skip
    assert res.code == 0, res.stderr
    got = READERS[fmt](out)
    assert got.schema["big"] == pl.Int128 and got.schema["neg"] == pl.Int128
    assert set(got["big"]) <= set(frame["big"]) and set(got["neg"]) <= set(frame["neg"])
    doc = json.loads(report.read_text())
    for key in ("features", "shrinkage_columns"):
        assert not {"big", "neg"} & set(doc["parameters"].get(key, [])), key


@pytest.mark.parametrize(
    ("args", "who"),
    [(["-s", "smote"], "SMOTE"), (["-s", "oversample", "--shrinkage", "1"], "--shrinkage")],
)
def test_a_128_bit_feature_named_is_refused(tmp_path, cli, args, who):
    src = _wide_features_csv(tmp_path / "in.csv")
    before, sha = listing(tmp_path), digest(src)
    res = cli("apply", src, "-l", "label", "-o", tmp_path / "o.csv", "--features", "big,x", *args)
    assert res.code == 2
    assert res.stderr.splitlines() == [
        f"rebalance: usage error: feature column 'big' is Int128; {who} takes integers of up "
        "to 64 bits as features (a float64 distance or jitter would round it) (leave it out "
        "of --features: it is then neither interpolated nor jittered (SMOTE gives a synthetic "
        "row the most frequent value among the neighbours))"
    ]
    assert listing(tmp_path) == before and digest(src) == sha


@pytest.mark.parametrize("fmt", ["parquet", "arrow", "csv", "ndjson"])
def test_uint128_from_arrow_round_trips(tmp_path, cli, fmt):
    values = [2**128 - 1 - i for i in range(12)]
    df = pl.DataFrame(
        {"u": pl.Series(values, dtype=pl.UInt128), "label": [LABELS[i % 3] for i in range(12)]}
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
        cli, src, tmp_path / "o.csv", "--test-size", "0.25", "--test-output", tmp_path / f"t.{fmt}"
    )
    name = {"arrow": "Arrow IPC", "parquet": "Parquet"}[fmt]
    _refused(res, tmp_path, before, src, sha, "'big'", "Int128", name)


def test_int128_test_split_in_csv_round_trips(tmp_path, cli):
    src = _wide_csv(tmp_path / "in.csv")
    test = tmp_path / "t.ndjson"
    res = _apply(cli, src, tmp_path / "o.csv", "--test-size", "0.25", "--test-output", test)
    assert res.code == 0, res.stderr
    assert set(pl.read_ndjson(test)["big"]) <= set(BIG)


# -- 5. compressed stdin ----------------------------------------------------------------


def _tsv_looking_gzip() -> tuple[bytes, bytes]:
    """A CSV whose gzip bytes sniff as TSV (a tab and no comma before the first \\n)."""
    for seed in range(2000):
        rows = "".join(f"{i},{(i * seed) % 97},{'ab'[i % 3 == 0]}\n" for i in range(40))
        data = ("id,x,label\n" + rows).encode()
        packed = gzip.compress(data, mtime=0)
        if sniff_text(packed) == "tsv":
            return data, packed
    raise AssertionError("no such payload")


def test_gzip_csv_on_stdin_is_read_as_csv(tmp_path, cli):
    data, packed = _tsv_looking_gzip()
    plain = tmp_path / "in.csv"
    plain.write_bytes(data)
    args = ("-l", "label", "-s", "oversample", "--seed", "2", "-o", "-")
    want = cli("apply", plain, *args)
    assert want.code == 0, want.stderr
    res = cli("apply", "-", *args, input=packed)
    assert res.code == 0, res.stderr
    assert res.stdout == want.stdout
    # the way it was reported: a real pipe into a process
    proc = run_process("apply", "-", *args, stdin=packed)
    assert proc.code == 0, proc.stderr
    assert proc.stdout == want.stdout


def test_gzip_csv_in_a_file_without_an_inner_extension(tmp_path, cli):
    _, packed = _tsv_looking_gzip()
    src = tmp_path / "data.gz"
    src.write_bytes(packed)
    res = cli("apply", src, "-l", "label", "-s", "undersample", "-o", tmp_path / "o.csv")
    assert res.code == 0, res.stderr
    assert (tmp_path / "o.csv").read_text().splitlines()[0] == "id,x,label"


@pytest.mark.parametrize("flag", [[], ["--input-format", "ndjson"]])
def test_gzip_ndjson_on_stdin(tmp_path, cli, flag):
    rows = [{"id": i, "x": i / 4, "label": LABELS[i % 3]} for i in range(30)]
    payload = "".join(json.dumps(r) + "\n" for r in rows).encode()
    res = cli(
        "apply", "-", *flag, "-l", "label", "-s", "oversample", "--seed", "1",
        "--output-format", "ndjson", "-o", "-", input=gzip.compress(payload, mtime=0),
    )  # fmt: skip
    assert res.code == 0, res.stderr
    got = pl.read_ndjson(res.stdout.encode())
    assert got.columns == ["id", "x", "label"] and set(got["id"]) == set(range(30))


@pytest.mark.skipif(shutil.which("zstd") is None, reason="needs the zstd command")
def test_zstd_csv_on_stdin(tmp_path, cli):
    import subprocess

    data, _ = _tsv_looking_gzip()
    packed = subprocess.run(["zstd", "-q", "-c"], input=data, capture_output=True).stdout
    plain = tmp_path / "in.csv"
    plain.write_bytes(data)
    args = ("-l", "label", "-s", "oversample", "--seed", "2", "-o", "-")
    want = cli("apply", plain, *args)
    res = cli("apply", "-", *args, input=packed)
    assert res.code == 0, res.stderr
    assert res.stdout == want.stdout


UNWRITABLE = [
    ("binary", pl.Series([b"p", b"q", b"r", b"s"] * 10), ("csv", "tsv", "ndjson")),
    ("duration", pl.Series([dt.timedelta(seconds=i) for i in range(40)]), ("csv", "tsv")),
    ("list", pl.Series([[i] for i in range(40)]), ("csv", "tsv")),
    ("struct", pl.Series([{"q": i} for i in range(40)]), ("csv", "tsv")),
    ("list of binary", pl.Series([[b"p"]] * 40), ("csv", "tsv", "ndjson")),
]


@pytest.mark.parametrize(("kind", "values", "refused"), UNWRITABLE, ids=[u[0] for u in UNWRITABLE])
@pytest.mark.parametrize("fmt", ["csv", "tsv", "ndjson", "parquet", "arrow"])
def test_a_column_the_output_format_cannot_hold(cli, tmp_path, kind, values, refused, fmt):
    """Refused before any work, one line, exit 3, for the output, the test split and the
    bags alike; Parquet and Arrow IPC take it and keep it exactly."""
    src = tmp_path / "in.parquet"
    frame = pl.DataFrame({"v": values, "y": ["a"] * 30 + ["b"] * 10})
    frame.write_parquet(src)
    runs = {
        f"o.{fmt}": ["-o", tmp_path / f"o.{fmt}"],
        f"t.{fmt}": [
            "-o",
            tmp_path / "o.parquet",
            "--test-size",
            "0.25",
            "--test-output",
            tmp_path / f"t.{fmt}",
        ],
        f"b-{{bag}}.{fmt}": ["--bags", "2", "-o", tmp_path / f"b-{{bag}}.{fmt}"],
    }
    for name, words in runs.items():
        res = cli("apply", src, "-l", "y", "-s", "undersample", "--seed", "1", *words)
        if fmt in refused:
            assert res.code == 3, res.stderr
            assert res.stderr.count("\n") == 1, res.stderr
            assert f"column 'v' is {values.dtype}, which {fmt.upper()} cannot hold" in res.stderr
            assert listing(tmp_path) == {"in.parquet"}, name
        else:
            assert res.code == 0, res.stderr
            written = sorted(tmp_path.glob(f"[otb]*.{fmt}"))
            assert written, name
            for path in written:
                if fmt in ("parquet", "arrow"):
                    back = pl.read_ipc(path) if fmt == "arrow" else pl.read_parquet(path)
                    assert back["v"].dtype == values.dtype
                path.unlink()
            for path in tmp_path.glob("o.parquet"):
                path.unlink()


@pytest.mark.parametrize("word", ["NaN", "Infinity", "nope", "True"])
def test_a_bare_word_in_ndjson_is_a_json_error(cli, tmp_path, word):
    src = tmp_path / "in.ndjson"
    src.write_text(f'{{"x": 1, "y": "a"}}\n{{"x": {word}, "y": "b"}}\n')
    res = cli("apply", src, "-l", "y", "-s", "oversample", "--seed", "1", "-o", tmp_path / "o.csv")
    assert res.code == 3, res.stderr
    assert res.stderr == (
        f"rebalance: data error: cannot read {src}: not valid JSON at character 6 ('{word[0]}') "
        "(NaN, Infinity and unquoted words are not JSON values; write them as null)\n"
    )
    assert listing(tmp_path) == {"in.ndjson"}
