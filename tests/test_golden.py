"""Golden outputs: the exact bytes every strategy writes today, pinned before a refactor.

Every case runs ``rebalance apply`` in process (the ``cli`` fixture) on one deterministic
table written as CSV, Parquet and Arrow IPC, and digests every file the run leaves in its
folder: the output, the test split, every bag and the report (normalized: no timings, no
package versions, temporary folders spelled ``<run>`` and ``<in>``). The digests live in
``tests/golden/digests.json``; regenerate them with

    REBALANCE_GOLDEN_UPDATE=1 .venv/bin/python -m pytest tests/test_golden.py

Parquet and IPC bytes embed the writer's version, so those files carry two digests: the raw
sha256, compared when the installed polars and pyarrow are the versions recorded at the top
of the JSON, and a content digest (schema text plus the rows as CSV), compared otherwise.
CSV files are compared byte for byte. A case missing from the JSON fails.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow
import pytest

from rebalance_cli import resample_frame

from .conftest import REPO, run_process

GOLDEN = Path(__file__).resolve().parent / "golden" / "digests.json"
UPDATE = os.environ.get("REBALANCE_GOLDEN_UPDATE") == "1"

CHUNKS = (7, 65536)
EXT = {"csv": "csv", "parquet": "parquet", "ipc": "arrow"}
BINARY = {"parquet", "ipc"}  # formats whose bytes depend on the writer's version

# strategy name -> the options that make it
STRATEGIES: dict[str, list[str]] = {
    "undersample": ["-s", "undersample"],
    "oversample": ["-s", "oversample"],
    "smote": ["-s", "smote"],
    "hybrid": ["-s", "hybrid", "--target", "100", "--grow-with", "oversample"],
    "hybrid_smote": ["-s", "hybrid", "--target", "100", "--grow-with", "smote"],
    "weight": ["-s", "weight"],
}
# variant -> the strategies it applies to (the CLI refuses the others)
VARIANTS: dict[str, tuple[str, ...]] = {
    "plain": tuple(STRATEGIES),
    "by": tuple(STRATEGIES),
    "test": tuple(STRATEGIES),
    "bags": ("undersample",),
    "shuffle": tuple(STRATEGIES),
    "shrinkage": ("oversample", "hybrid"),
}
SPARK_STRATEGIES = ("undersample", "oversample", "smote")
SPARK_FORMATS = ("csv", "parquet")
API_STRATEGIES: dict[str, dict[str, Any]] = {
    "undersample": {"strategy": "undersample"},
    "oversample": {"strategy": "oversample"},
    "smote": {"strategy": "smote"},
    "hybrid": {"strategy": "hybrid", "target": 100},
    "hybrid_smote": {"strategy": "hybrid", "target": 100, "grow_with": "smote"},
    "weight": {"strategy": "weight"},
}
# No API case with shrinkage: its per-class std comes from a polars group-by whose float sums
# are not reproducible on an in-memory frame (see test_shrinkage_std_is_reproducible).
API_VARIANTS = ("plain", "by")


@dataclass(frozen=True)
class Case:
    strategy: str
    variant: str
    fmt: str
    chunk: int

    @property
    def id(self) -> str:
        return f"cli-{self.strategy}-{self.variant}-{self.fmt}-c{self.chunk}"

    @property
    def family(self) -> str:
        """The id without the chunk size: cases of one family write the same bytes."""
        return f"{self.strategy}-{self.variant}-{self.fmt}"


CLI_CASES = [
    Case(s, v, f, c)
    for s in STRATEGIES
    for v, allowed in VARIANTS.items()
    if s in allowed
    for f in EXT
    for c in CHUNKS
]
SPARK_IDS = [f"spark-{s}-{f}" for s in SPARK_STRATEGIES for f in SPARK_FORMATS]
API_IDS = [f"api-{s}-{v}" for s in API_STRATEGIES for v in API_VARIANTS]
ALL_IDS = [c.id for c in CLI_CASES] + API_IDS + SPARK_IDS
FAMILIES = sorted({c.family for c in CLI_CASES})


# --------------------------------------------------------------------------- input


def golden_frame() -> pl.DataFrame:
    """360 rows, classes a/b/c (240/80/40) interleaved at random; every (g, class) cell >= 12."""
    rng = np.random.default_rng(12345)
    labels = np.array(["a"] * 240 + ["b"] * 80 + ["c"] * 40, dtype=object)
    labels = labels[rng.permutation(labels.size)]
    n = labels.size
    return pl.DataFrame(
        {
            "id": pl.Series(np.arange(n), dtype=pl.Int64),
            "x1": pl.Series(rng.normal(0, 1, n).round(6), dtype=pl.Float64),
            "x2": pl.Series(rng.uniform(-5, 5, n).round(6), dtype=pl.Float64),
            "n": pl.Series(rng.integers(0, 100, n), dtype=pl.Int32),
            "cat": pl.Series(rng.choice(["red", "green", "blue"], n).tolist(), dtype=pl.String),
            "g": pl.Series(rng.choice(["u", "v"], n).tolist(), dtype=pl.String),
            "y": pl.Series(labels.tolist(), dtype=pl.String),
        }
    )


def write(frame: pl.DataFrame, path: Path, fmt: str) -> None:
    if fmt == "csv":
        frame.write_csv(path)
    elif fmt == "parquet":
        frame.write_parquet(path)
    else:
        frame.write_ipc(path)


def read(path: Path, fmt: str) -> pl.DataFrame:
    if fmt == "csv":
        return pl.read_csv(path)
    if fmt == "parquet":
        return pl.read_parquet(path)
    return pl.read_ipc(path)


# --------------------------------------------------------------------------- digests


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def content_digest(frame: pl.DataFrame) -> str:
    """Exact for values and dtypes, independent of the writer: schema text plus CSV rows."""
    schema = "\n".join(f"{name}: {dtype!r}" for name, dtype in frame.schema.items())
    return sha(schema.encode() + b"\n--\n" + frame.write_csv().encode())


def _replace_paths(value: Any, prefixes: list[tuple[str, str]]) -> Any:
    if isinstance(value, str):
        for old, new in prefixes:
            value = value.replace(old, new)
        return value
    if isinstance(value, list):
        return [_replace_paths(v, prefixes) for v in value]
    if isinstance(value, dict):
        return {k: _replace_paths(v, prefixes) for k, v in value.items()}
    return value


def _drop_binary_bytes(value: Any) -> Any:
    """Remove ``bytes`` of every Parquet/IPC file the report describes (writer-dependent)."""
    if isinstance(value, list):
        return [_drop_binary_bytes(v) for v in value]
    if isinstance(value, dict):
        binary = value.get("format") in BINARY
        return {k: _drop_binary_bytes(v) for k, v in value.items() if not (binary and k == "bytes")}
    return value


def normalize_report(text: str, prefixes: list[tuple[str, str]]) -> dict[str, Any]:
    doc = json.loads(text)
    doc.pop("timings_s", None)
    doc.pop("versions", None)
    doc.get("tool", {}).pop("version", None)
    return _replace_paths(doc, prefixes)


def dump(doc: Any) -> bytes:
    return json.dumps(doc, sort_keys=True, indent=1).encode()


def prefixes_for(**folders: Path) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for name, folder in folders.items():
        for spelling in {str(folder.resolve()), str(folder)}:
            out.append((spelling, f"<{name}>"))
    return sorted(out, key=lambda p: -len(p[0]))  # the longest prefix first


def file_entry(path: Path, fmt: str) -> dict[str, str]:
    entry = {"sha256": sha(path.read_bytes())}
    if fmt in BINARY:
        entry["content"] = content_digest(read(path, fmt))
    return entry


def report_entry(doc: dict[str, Any]) -> dict[str, str]:
    entry = {"sha256": sha(dump(doc))}
    stripped = _drop_binary_bytes(doc)
    if stripped != doc:
        entry["content"] = sha(dump(stripped))
    return entry


def without_chunk_size(doc: dict[str, Any]) -> dict[str, Any]:
    """The report with every mention of --chunk-size removed (the only wanted difference)."""
    doc = json.loads(json.dumps(doc))
    doc.get("parameters", {}).pop("chunk_size", None)
    doc.get("settings", {}).pop("chunk_size", None)
    command = doc.get("command", [])
    if "--chunk-size" in command:
        i = command.index("--chunk-size")
        del command[i : i + 2]
    return doc


# --------------------------------------------------------------------------- the store


def installed_versions() -> dict[str, str]:
    return {"polars": pl.__version__, "pyarrow": pyarrow.__version__}


def git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()


class Store:
    def __init__(self) -> None:
        self.doc: dict[str, Any] = json.loads(GOLDEN.read_text()) if GOLDEN.exists() else {}
        self.recorded: dict[str, dict[str, dict[str, str]]] = {}

    @property
    def raw_comparable(self) -> bool:
        return self.doc.get("versions") == installed_versions()

    def check(self, case_id: str, got: dict[str, dict[str, str]]) -> None:
        if UPDATE:
            self.recorded[case_id] = got
            return
        cases = self.doc.get("cases", {})
        if case_id not in cases:
            pytest.fail(
                f"golden case {case_id} is not in {GOLDEN.name}: "
                "regenerate with REBALANCE_GOLDEN_UPDATE=1"
            )
        want = cases[case_id]
        if set(want) != set(got):
            pytest.fail(
                f"golden case {case_id}: the run wrote {sorted(got)}, "
                f"the golden file lists {sorted(want)}"
            )
        bad = []
        for name in sorted(want):
            w, g = want[name], got[name]
            raw = "sha256" in w and (self.raw_comparable or "content" not in w)
            key = "sha256" if raw else "content"
            if key not in w or w[key] != g.get(key):
                bad.append(f"{name} ({key}: want {w.get(key)}, got {g.get(key)})")
        if bad:
            pytest.fail(f"golden case {case_id}: digest mismatch for " + "; ".join(bad))

    def save(self) -> None:
        old = self.doc.get("cases", {}) if self.raw_comparable else {}
        missing = [i for i in ALL_IDS if i not in self.recorded and i not in old]
        if missing and not all(i.startswith("spark-") for i in missing):
            raise RuntimeError(
                f"REBALANCE_GOLDEN_UPDATE=1 ran only part of the cases; {len(missing)} have no "
                f"digest ({missing[:3]}...): run the whole module to regenerate {GOLDEN}"
            )
        cases = {i: self.recorded.get(i, old.get(i)) for i in ALL_IDS}
        doc = {
            "about": "sha256 digests of tests/test_golden.py; "
            "regenerate with REBALANCE_GOLDEN_UPDATE=1",
            "commit": git("rev-parse", "HEAD"),
            "package_changes_not_committed": bool(git("status", "--porcelain", "rebalance_cli")),
            "python": sys.version.split()[0],
            "versions": installed_versions(),
            "cases": {i: c for i, c in cases.items() if c is not None},
        }
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")


@pytest.fixture(scope="module")
def store():
    s = Store()
    yield s
    if UPDATE:
        s.save()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("golden-in")
    frame = golden_frame()
    for fmt, ext in EXT.items():
        write(frame, folder / f"data.{ext}", fmt)
    return folder


@dataclass
class Run:
    entries: dict[str, dict[str, str]]
    data: dict[str, str]  # file -> raw sha256 of the data files
    report: dict[str, Any]  # the normalized report


class Runner:
    """Runs each CLI case once (the golden check and the chunk check share the run)."""

    def __init__(self, inputs: Path, base: Path) -> None:
        self.inputs, self.base = inputs, base
        self.done: dict[str, Run] = {}

    def __call__(self, case: Case, cli) -> Run:
        if case.id not in self.done:
            self.done[case.id] = self._run(case, cli)
        return self.done[case.id]

    def _run(self, case: Case, cli) -> Run:
        ext = EXT[case.fmt]
        run = self.base / case.id
        run.mkdir()
        args: list[Any] = ["apply", self.inputs / f"data.{ext}", "-l", "y"]
        args += STRATEGIES[case.strategy]
        args += ["--seed", "7", "--force", "-q", "--report", run / "report.json"]
        args += ["--chunk-size", case.chunk]
        out: Path | str = run / f"out.{ext}"
        if case.variant == "by":
            args += ["--by", "g"]
        elif case.variant == "test":
            args += ["--test-size", "0.25", "--test-output", run / f"test.{ext}"]
        elif case.variant == "bags":
            args += ["--bags", "3"]
            out = f"{run}/bag-{{bag}}.{ext}"
        elif case.variant == "shuffle":
            args += ["--shuffle"]
        elif case.variant == "shrinkage":
            args += ["--shrinkage", "0.5"]
        args += ["-o", out]
        res = cli(*args)
        assert res.code == 0, f"{case.id}: exit {res.code}: {res.stderr}"
        entries: dict[str, dict[str, str]] = {}
        data: dict[str, str] = {}
        report: dict[str, Any] = {}
        prefixes = prefixes_for(run=run, **{"in": self.inputs})
        for path in sorted(p for p in run.rglob("*") if p.is_file()):
            name = path.relative_to(run).as_posix()
            if name == "report.json":
                report = normalize_report(path.read_text(), prefixes)
                entries[name] = report_entry(report)
            else:
                entries[name] = file_entry(path, case.fmt)
                data[name] = entries[name]["sha256"]
        assert report, f"{case.id}: no report written"
        return Run(entries, data, report)


@pytest.fixture(scope="module")
def runner(inputs, tmp_path_factory) -> Runner:
    return Runner(inputs, tmp_path_factory.mktemp("golden-runs"))


# --------------------------------------------------------------------------- the tests


def test_every_cell_can_feed_smote_under_by():
    frame = golden_frame()
    assert frame.height == 360
    assert frame["y"].value_counts().sort("y")["count"].to_list() == [240, 80, 40]
    assert frame.group_by("g", "y").len()["len"].min() >= 12


@pytest.mark.parametrize("case", CLI_CASES, ids=[c.id for c in CLI_CASES])
def test_cli_golden(runner, cli, store, case):
    store.check(case.id, runner(case, cli).entries)


@pytest.mark.parametrize("family", FAMILIES)
def test_chunk_size_does_not_change_a_byte(runner, cli, family):
    small, large = (
        runner(next(c for c in CLI_CASES if c.family == family and c.chunk == k), cli)
        for k in CHUNKS
    )
    assert small.data == large.data, f"{family}: the files differ between chunk sizes"
    assert without_chunk_size(small.report) == without_chunk_size(large.report), (
        f"{family}: the reports differ between chunk sizes"
    )


@pytest.mark.parametrize(
    ("name", "variant"), [(s, v) for s in API_STRATEGIES for v in API_VARIANTS]
)
def test_api_golden(store, name, variant):
    kw = dict(API_STRATEGIES[name])
    if variant == "by":
        kw["by"] = ["g"]
    frame = resample_frame(golden_frame(), label="y", seed=7, **kw)
    store.check(f"api-{name}-{variant}", {"frame": {"content": content_digest(frame)}})


def test_shrinkage_std_is_reproducible():
    """The per-cell std that scales the jitter is summed in input order (it was polars'
    parallel group-by std, whose last bits changed from run to run)."""
    frame = golden_frame()
    kw = {"label": "y", "strategy": "oversample", "shrinkage": 0.5, "by": ["g"], "seed": 7}
    digests = {content_digest(resample_frame(frame, **kw)) for _ in range(40)}
    assert len(digests) == 1


def test_shrinkage_on_small_row_groups_is_byte_identical(tmp_path):
    """Many row groups made polars' std (and the output) differ between runs (seen in
    separate processes: one run in four differed before the fix; it depends on the load)."""
    rng = np.random.default_rng(5)
    n = 72_000
    frame = pl.DataFrame(
        {
            "x": rng.normal(0, 1000, n),
            "x2": rng.normal(3, 1, n),
            "z": rng.integers(0, 50, n),
            "y": rng.choice(["a", "b", "c"], n, p=[0.8, 0.15, 0.05]),
        }
    )
    src = tmp_path / "in.parquet"
    frame.write_parquet(src, row_group_size=5000)
    outs = set()
    for i in range(6):
        out = tmp_path / f"o{i}.parquet"
        args = ["apply", src, "-l", "y", "-s", "oversample", "--shrinkage", "0.5"]
        res = run_process(*args, "--seed", "7", "-o", out, "-q")
        assert res.code == 0, res.stderr
        outs.add(hashlib.sha256(out.read_bytes()).hexdigest())
    assert len(outs) == 1


def test_cell_std_equals_numpy_population_std():
    from rebalance_cli.stages.shrinkage import cell_std

    rng = np.random.default_rng(9)
    x = rng.normal(5e6, 3.0, 10_000)  # a large mean: a naive sum of squares would lose it
    codes = rng.integers(0, 3, 10_000)
    frame = pl.DataFrame({"x": x})
    batches = [(frame.slice(i, 777), codes[i : i + 777]) for i in range(0, 10_000, 777)]
    got = cell_std(batches, 4, ["x"])
    for c in range(3):
        assert got[c, 0] == pytest.approx(np.std(x[codes == c]), rel=1e-9)
    assert got[3, 0] == 0.0  # an empty cell


def test_golden_file_covers_every_case_and_nothing_else():
    if UPDATE:
        pytest.skip("REBALANCE_GOLDEN_UPDATE=1: the file is being written by this run")
    doc = json.loads(GOLDEN.read_text())
    stored = set(doc["cases"])
    missing = sorted(set(ALL_IDS) - stored)
    stale = sorted(stored - set(ALL_IDS))
    assert not missing and not stale, f"missing: {missing}; stale: {stale}"
    assert set(doc["versions"]) == {"polars", "pyarrow"}
    assert len(doc["commit"]) == 40


# --------------------------------------------------------------------------- Spark


def spark_folder_frame(folder: Path, fmt: str) -> pl.DataFrame:
    """A Spark output folder read back in part order."""
    parts = sorted(folder.glob(f"part-*.{fmt}"))
    assert parts, f"no part files in {folder}"
    return pl.concat([read(p, fmt) for p in parts])


@pytest.mark.spark
@pytest.mark.parametrize(
    ("strategy", "fmt"), [(s, f) for s in SPARK_STRATEGIES for f in SPARK_FORMATS]
)
def test_spark_golden(spark, cli, store, inputs, tmp_path, strategy, fmt):
    ext = EXT[fmt]
    out = tmp_path / f"out.{ext}"
    report = tmp_path / "report.json"
    res = cli(
        "apply", inputs / f"data.{ext}", "-l", "y", "-s", strategy, "--seed", "7", "--force",
        "-q", "--report", report, "-o", out, "--engine", "spark", "--spark-master", "local[2]",
    )  # fmt: skip
    assert res.code == 0, res.stderr
    assert out.is_dir()
    doc = normalize_report(report.read_text(), prefixes_for(run=tmp_path, **{"in": inputs}))
    assert not doc["warnings"], doc["warnings"]
    entries = {
        f"out.{ext}/": {"content": content_digest(spark_folder_frame(out, fmt))},
        # Spark's own writer (its version is not recorded) sizes the Parquet parts: content only
        "report.json": {"content": sha(dump(_drop_binary_bytes(doc)))},
    }
    store.check(f"spark-{strategy}-{fmt}", entries)
