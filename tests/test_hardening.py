"""Bad inputs and faults a cron job can meet: a clear line, the right code, nothing damaged."""

from __future__ import annotations

import gzip
import json
import os
import re
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import argv, digest, listing, mixed_frame, run_process


def expect(res, code: int, fragment: str, folder: Path, before: set[str], inputs: dict) -> None:
    """The exit code, the fragment on one stderr line, nothing left, inputs byte-identical."""
    assert res.code == code, (res.code, res.stderr)
    assert fragment in res.stderr, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("rebalance: "), res.stderr
    assert listing(folder) == before
    for path, d in inputs.items():
        assert digest(path) == d


def apply(cli, src: Path, *extra: str, out: Path | None = None, strategy: str = "undersample"):
    out = out or src.parent / "out.csv"
    return cli("apply", src, "-l", "y", "-s", strategy, "--seed", "1", "-o", out, *extra)


INPUT_CASES = {
    "header-only.csv": (b"a,b,y\n", 3, "has no rows with a label"),
    "ragged-long.csv": (b"a,b,y\n1,2,x\n3,4,z\n5,6,z,9\n", 3, "more fields than the header"),
    "semicolons.csv": (
        b"a;b;y\n1;2;x\n3;4;z\n",
        3,
        "the separator looks like ';'; pass --separator ';'",
    ),
    "latin1.csv": (b"a,b,y\n1,2,caf\xe9\n3,4,x\n", 3, "pass --encoding utf8-lossy"),
    "binary.csv": (bytes(range(256)) * 8, 3, "looks binary (it has NUL bytes), not CSV"),
    "one-line.csv": (b"x" * (2 << 20), 3, "first line of"),
    "garbage.parquet": (b"PAR1" + b"\x00" * 100, 3, "looks truncated or corrupt"),
    "notes.arrow": (b"hello,y\n1,2\n", 3, "is not a Arrow IPC file"),
}


@pytest.mark.parametrize("name", sorted(INPUT_CASES))
def test_bad_inputs(tmp_path, cli, name):
    content, code, fragment = INPUT_CASES[name]
    src = tmp_path / name
    src.write_bytes(content)
    before = listing(tmp_path)
    expect(apply(cli, src), code, fragment, tmp_path, before, {src: digest(src)})


def test_ragged_short_row_reads_as_null_label(tmp_path, cli):
    src = tmp_path / "short.csv"
    src.write_bytes(b"a,b,y\n1,2,x\n3,4\n5,6,z\n")
    before = listing(tmp_path)
    expect(
        apply(cli, src),
        3,
        "label column 'y' has 1 null value",
        tmp_path,
        before,
        {src: digest(src)},
    )


def test_truncated_and_corrupt_files(tmp_path, cli, write_data):
    df = mixed_frame({"a": 3000, "b": 300})
    csv = write_data(df, "whole.csv")
    gz = tmp_path / "cut.csv.gz"
    packed = gzip.compress(csv.read_bytes())
    gz.write_bytes(packed[: len(packed) // 2])
    pq = write_data(df, "whole.parquet")
    cut = tmp_path / "cut.parquet"
    cut.write_bytes(pq.read_bytes()[: pq.stat().st_size // 2])
    footer = tmp_path / "footer.parquet"
    raw = pq.read_bytes()
    footer.write_bytes(raw[:-40] + b"\xff" * 36 + b"PAR1")
    for src in (gz, cut, footer):
        before = listing(tmp_path)
        res = apply(cli, src)
        expect(res, 3, f"cannot read {src}", tmp_path, before, {src: digest(src)})


def test_gzip_csv_and_bom_work(tmp_path, cli, write_data):
    df = mixed_frame({"a": 300, "b": 30})
    csv = write_data(df, "plain.csv")
    gz = tmp_path / "packed.csv.gz"
    gz.write_bytes(gzip.compress(csv.read_bytes()))
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + csv.read_bytes())
    outs = []
    for src in (csv, gz, bom):
        out = tmp_path / f"out-{src.name}.csv"
        res = apply(cli, src, out=out)
        assert res.code == 0, res.stderr
        outs.append(digest(out))
    assert len(set(outs)) == 1


def test_lossy_encoding_and_separator_flags(tmp_path, cli):
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"a;y\n1;caf\xe9\n2;caf\xe9\n3;x\n")
    res = apply(cli, latin, "--encoding", "utf8-lossy", "--separator", ";")
    assert res.code == 0, res.stderr
    assert pl.read_csv(tmp_path / "out.csv")["y"].to_list() == ["caf\ufffd", "x"]
    res = apply(cli, latin, "--encoding", "latin1", "--force")
    assert res.code == 2 and "iconv" in res.stderr


def test_too_many_classes_hints_at_an_id_column(tmp_path, cli):
    src = tmp_path / "ids.csv"
    pl.DataFrame({"x": range(3000), "y": [f"u{i}" for i in range(3000)]}).write_csv(src)
    before = listing(tmp_path)
    expect(
        apply(cli, src),
        3,
        "3000 distinct values, more than --max-classes 1000",
        tmp_path,
        before,
        {src: digest(src)},
    )
    res = cli("inspect", src, "-l", "y", "--max-classes", "10")
    assert res.code == 3 and "looks like an id" in res.stderr
    assert apply(cli, src, "--max-classes", "5000", "-t", "u1=1").code == 0


def test_float_unicode_whitespace_and_case_labels(tmp_path, cli):
    labels = ["1.5"] * 6 + ["2.0"] * 3
    src = tmp_path / "f.csv"
    pl.DataFrame({"x": range(9), "y": [float(v) for v in labels]}).write_csv(src)
    res = apply(cli, src, "-t", "1.5=4", "--json", out=tmp_path / "f_out.csv")
    assert res.code == 0, res.stderr
    assert json.loads(res.stdout)["class_counts"]["after"] == {"1.5": 4, "2.0": 3}

    src = tmp_path / "u.parquet"
    pl.DataFrame(
        {"x": range(10), "y": ["été"] * 4 + ["  "] * 3 + ["Yes", "yes", "日本"]}
    ).write_parquet(src)
    res = apply(
        cli,
        src,
        "-s",
        "oversample",
        "--json",
        out=tmp_path / "u_out.parquet",
        strategy="oversample",
    )
    assert res.code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["class_counts"]["after"] == {"  ": 4, "Yes": 4, "yes": 4, "été": 4, "日本": 4}
    assert any("'Yes', 'yes' differ only by case" in w for w in doc["warnings"])
    got = pl.read_parquet(tmp_path / "u_out.parquet")["y"].value_counts()
    assert dict(got.iter_rows()) == doc["class_counts"]["after"]


def test_max_output_rows_guard(tmp_path, cli, write_data):
    src = write_data(mixed_frame({"a": 100, "b": 10}), "in.csv")
    before = listing(tmp_path)
    res = apply(cli, src, "-t", "b=20000000000", strategy="oversample")
    expect(
        res,
        2,
        "writes 20,000,000,100 rows, more than --max-output-rows 10,000,000,000",
        tmp_path,
        before,
        {src: digest(src)},
    )
    res = apply(cli, src, "-t", "b=500", "--max-output-rows", "550", strategy="oversample")
    expect(
        res,
        2,
        "the plan writes 600 rows, more than --max-output-rows 550",
        tmp_path,
        before,
        {src: digest(src)},
    )


def test_lenient_drops_null_labels_and_bad_smote_seeds(tmp_path, cli):
    rng = np.random.default_rng(1)
    x = rng.normal(size=60)
    x[55] = np.nan
    y = ["a"] * 45 + ["b"] * 14 + [None]
    src = tmp_path / "in.parquet"
    pl.DataFrame({"x": x, "y": y}).write_parquet(src)
    before = listing(tmp_path)
    expect(
        apply(cli, src, strategy="smote", out=tmp_path / "o.parquet"),
        3,
        "label column 'y' has 1 null value",
        tmp_path,
        before,
        {src: digest(src)},
    )
    expect(
        apply(cli, src, "--drop-null-labels", strategy="smote", out=tmp_path / "o.parquet"),
        3,
        "feature column 'x' has 1 null, NaN or infinite value in class 'b'",
        tmp_path,
        before,
        {src: digest(src)},
    )
    res = apply(cli, src, "--lenient", "--json", strategy="smote", out=tmp_path / "o.parquet")
    assert res.code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["parameters"]["policy"] == "lenient"
    assert doc["class_counts"]["after"] == {"a": 45, "b": 45}
    assert any("1 row of class 'b' with a null, NaN or infinite feature was left out" in w
               for w in doc["warnings"])  # fmt: skip
    out = pl.read_parquet(tmp_path / "o.parquet")
    assert out.height == 90 and out["y"].null_count() == 0
    synth = out.slice(59)
    assert synth["x"].is_finite().all()


def test_smote_constant_feature_and_duplicate_rows(tmp_path, cli):
    src = tmp_path / "dup.csv"
    pl.DataFrame(
        {"c": [3.0] * 40, "d": [1.0] * 30 + [2.0] * 10, "y": ["a"] * 30 + ["b"] * 10}
    ).write_csv(src)
    res = apply(cli, src, strategy="smote", out=tmp_path / "o.csv")
    assert res.code == 0, res.stderr
    out = pl.read_csv(tmp_path / "o.csv")
    synth = out.slice(40)
    assert synth.height == 20
    assert synth["c"].to_list() == [3.0] * 20 and synth["d"].to_list() == [2.0] * 20


def test_output_folder_not_writable(tmp_path, cli, write_data):
    src = write_data(mixed_frame({"a": 30, "b": 10}), "in.csv")
    before = listing(tmp_path)
    res = apply(cli, src, out=Path("/proc/rebalance-out.csv"))
    expect(res, 4, "cannot write the output in /proc", tmp_path, before, {src: digest(src)})


def _limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))


def test_disk_full_is_an_io_error_and_leaves_nothing(tmp_path, write_data):
    src = write_data(mixed_frame({"a": 20_000, "b": 2_000}), "in.parquet")
    before = listing(tmp_path)
    for out in ("out.csv", "out.parquet"):
        proc = subprocess.run(
            argv(
                "apply",
                str(src),
                "-l",
                "y",
                "-s",
                "oversample",
                "--seed",
                "1",
                "-o",
                str(tmp_path / out),
            ),
            capture_output=True,
            preexec_fn=_limit_file_size,
            timeout=120,
        )
        err = proc.stderr.decode()
        assert proc.returncode == 4, err
        assert "rebalance: I/O error: cannot write the output" in err
        assert len(err.strip().splitlines()) == 1
        assert listing(tmp_path) == before


def test_two_runs_on_one_output_leave_one_complete_file(tmp_path, write_data):
    src = write_data(mixed_frame({"a": 20_000, "b": 2_000}), "in.parquet")
    out = tmp_path / "out.csv"
    procs = [
        subprocess.Popen(
            argv(
                "apply",
                str(src),
                "-l",
                "y",
                "-s",
                "oversample",
                "--seed",
                str(seed),
                "--force",
                "--chunk-size",
                "500",
                "-o",
                str(out),
            )
        )
        for seed in (1, 2)
    ]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    singles = []
    for seed in (1, 2):
        single = tmp_path / f"single{seed}.csv"
        assert (
            run_process(
                "apply", src, "-l", "y", "-s", "oversample", "--seed", seed, "-o", single
            ).code
            == 0
        )
        singles.append(digest(single))
    assert digest(out) in singles
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".rebalance-tmp")]


def test_stdout_closed_early_exits_cleanly(tmp_path, write_data):
    src = write_data(mixed_frame({"a": 20_000, "b": 2_000}), "in.csv")
    cmd = (
        f"{sys.executable} -m rebalance_cli apply {src} -l y -s oversample --seed 1 -o - "
        "| head -n 3"
    )
    proc = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.decode().count("\n") == 3
    assert b"Traceback" not in proc.stderr and proc.stderr == b""


# -- fuzz ----------------------------------------------------------------------------------

csv_bytes = st.one_of(
    st.binary(max_size=400),
    st.lists(
        st.lists(
            st.sampled_from(["a", "b", "1", "2.5", "", "x,y", '"q"', "nan", "é", " "]),
            min_size=1,
            max_size=5,
        ).map(",".join),
        min_size=0,
        max_size=30,
    ).map(lambda rows: ("\n".join(["p,q,y", *rows]) + "\n").encode()),
)
options = st.fixed_dictionaries(
    {
        "strategy": st.sampled_from(["undersample", "oversample", "smote"]),
        "target": st.sampled_from(
            ["auto", "all", "minority", "majority", "0.5", "a=2", "b=1", "1=3", "x"]
        ),
        "extra": st.lists(
            st.sampled_from(
                [
                    "--lenient",
                    "--drop-null-labels",
                    "-k 1",
                    "--chunk-size 2",
                    "--infer-schema-length 0",
                ]
            ),
            max_size=3,
            unique=True,
        ),
        "label": st.sampled_from(["y", "q", "zz"]),
    }
)


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=csv_bytes, opts=options)
def test_fuzz_never_a_traceback_never_a_partial_file(tmp_path_factory, cli, data, opts):
    folder = tmp_path_factory.mktemp("fuzz")
    src = folder / "in.csv"
    src.write_bytes(data)
    before = listing(folder)
    extra = [w for e in opts["extra"] for w in e.split()]
    res = cli(
        "apply",
        src,
        "-l",
        opts["label"],
        "-s",
        opts["strategy"],
        "-t",
        opts["target"],
        "--seed",
        "3",
        "-o",
        folder / "out.csv",
        *extra,
    )
    assert res.code in (0, 2, 3), res.stderr
    assert "Traceback" not in res.stderr
    if res.code == 0:
        assert listing(folder) == before | {"out.csv"}
    else:
        assert res.stderr.startswith("rebalance: ") and len(res.stderr.strip().splitlines()) == 1
        assert listing(folder) == before
    assert src.read_bytes() == data


def test_environment_does_not_leak_into_output(tmp_path, write_data):
    src = write_data(mixed_frame({"a": 50, "b": 10}), "in.csv")
    outs = []
    for env in ({"POLARS_MAX_THREADS": "1"}, {"POLARS_MAX_THREADS": "2", "FORCE_COLOR": "1"}):
        out = tmp_path / f"o{len(outs)}.csv"
        proc = subprocess.run(
            argv("apply", str(src), "-l", "y", "-s", "smote", "--seed", "9", "-o", str(out)),
            capture_output=True,
            env={**os.environ, **env},
            timeout=120,
        )
        assert proc.returncode == 0
        # FORCE_COLOR does not make a pipe a terminal: the plain summary line, no escapes
        line = (
            rf"rebalance: wrote 100 rows \(a: 50, b: 50\) to {re.escape(str(out))} in \d+\.\d s\n"
        )
        assert re.fullmatch(line, proc.stderr.decode())
        outs.append(digest(out))
    assert outs[0] == outs[1]
