"""`make mutate`: break the package on purpose, one way at a time, and check the tests notice.

Each mutation replaces one exact piece of source in a scratch copy of the repository
(the piece must occur exactly once: a mutation whose code has moved is reported as
stale, never skipped quietly), then runs the part of the test suite meant to catch it,
with the scratch copy first on the import path. A mutation is

- ``caught`` when a selected test fails, and that test passes on an unmutated copy
  (so the failure is the mutation's, not a broken test's);
- ``SURVIVED`` when every selected test passes: a claim the suite does not guard;
- ``STALE`` when its code is not found once, ``ERROR`` when pytest could not run the
  selection (exit 2-5: collection error, nothing selected), ``TIMEOUT``, or ``INVALID``
  when the failing test fails without the mutation too.

The exit status is 0 only when every mutation is caught. Run time is kept down by
selecting a few tests per mutation (about 10-15 minutes in all on 2 busy cores);
``--only NAME`` runs some of them, ``--list`` shows them. This is not part of
``make test``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COPIED = ("rebalance_cli", "tests", "docs", "sample_data", "pyproject.toml", "README.md")


@dataclass(frozen=True)
class Mutation:
    """One deliberate breakage: in ``path``, each ``(old, new)`` of ``edits`` in turn,
    and the pytest arguments (files, node ids, ``-k``) of the tests that must catch it."""

    name: str
    breaks: str
    path: str
    edits: tuple[tuple[str, str], ...]
    tests: tuple[str, ...]


def mutation(name: str, breaks: str, path: str, *edits: tuple[str, str], tests: str) -> Mutation:
    """``tests``: pytest paths or node ids, then optionally `` -k EXPRESSION``."""
    paths, _, expression = tests.partition(" -k ")
    return Mutation(
        name, breaks, path, edits, (*paths.split(), *(("-k", expression) if expression else ()))
    )


SMOTE = "rebalance_cli/samplers/smote.py"
FLOAT_STEP = "v = np.clip(a + u * (b - a), np.minimum(a, b), np.maximum(a, b))"
LOSSY_FLUSH = (
    "block = pl.concat(pending, rechunk=False)",
    "block = pl.concat(pending[: max(1, len(pending) // 8)], rechunk=False)",
)

MUTATIONS: tuple[Mutation, ...] = (
    mutation(
        "stream-renamed",
        "a random stream keeps its name (SMOTE's u stream renamed)",
        SMOTE,
        ('"smote-gap"', '"smote-u"'),
        tests="tests/test_golden.py::test_cli_golden -k smote-plain-parquet",
    ),
    mutation(
        "split-stream-renamed",
        "the test split's random stream keeps its name",
        "rebalance_cli/stages/split.py",
        ('STREAM = "test-split"', 'STREAM = "test_split"'),
        tests="tests/test_golden.py::test_cli_golden -k undersample-test",
    ),
    mutation(
        "splitmix-constant",
        "SplitMix64's first multiplier (still odd, still a bijection)",
        "rebalance_cli/rng.py",
        ("0xBF58476D1CE4E5B9", "0xBF58476D1CE4E5BB"),
        tests="tests/test_rng.py",
    ),
    mutation(
        "splitmix-gamma",
        "SplitMix64's increment",
        "rebalance_cli/rng.py",
        ("0x9E3779B97F4A7C15", "0x9E3779B97F4A7C17"),
        tests="tests/test_rng.py",
    ),
    mutation(
        "write-in-place",
        "every file is written beside its target and renamed into place (here: in place)",
        "rebalance_cli/io/sinks.py",
        (
            "        self.committed = False\n",
            "        self.committed = False\n"
            "        if not self.stream and self.target is not None:\n"
            "            self.tmp.unlink()\n"
            "            self.tmp = self.target\n",
        ),
        tests="tests/test_commit.py -k new_file_in_place",
    ),
    mutation(
        "shuffle-loses-rows",
        "--shuffle keeps every row (here a bucket flush keeps an eighth of what it holds)",
        "rebalance_cli/stages/shuffle.py",
        LOSSY_FLUSH,
        tests="tests/test_shuffle.py -k many_flushes",
    ),
    mutation(
        "shuffle-loses-rows-unguarded",
        "the same, with the shuffle's own count of the rows it gives removed",
        "rebalance_cli/stages/shuffle.py",
        LOSSY_FLUSH,
        ("if not emitted == position == rows:", "if False:"),
        tests="tests/test_shuffle.py tests/test_strategy_checks.py -k flushes or report_counts",
    ),
    mutation(
        "smote-u-0-2",
        "SMOTE's u is in [0, 1) (here [0, 2) on float features, then clipped to the segment)",
        SMOTE,
        (FLOAT_STEP, FLOAT_STEP.replace("a + u", "a + 2 * u")),
        tests="tests/test_smote_claims.py -k one_u_per_row",
    ),
    mutation(
        "smote-u-per-feature",
        "one u per synthetic row, shared by all its features (here one per feature)",
        SMOTE,
        (
            FLOAT_STEP,
            FLOAT_STEP.replace(
                "a + u", "a + rng.uniform(rng.keys(self.base_u + np.uint64(len(cols)), j))"
            ),
        ),
        tests="tests/test_smote_claims.py -k one_u_per_row",
    ),
    mutation(
        "never-kth-neighbour",
        "each of the k neighbours is equally likely (here the k-th is never chosen)",
        SMOTE,
        ("rng.keys(self.base_nb, j), self.k)", "rng.keys(self.base_nb, j), self.k - 1)"),
        tests="tests/test_smote_claims.py -k one_u_per_row",
    ),
    mutation(
        "ties-to-higher-index-brute",
        "equal distances go to the lower row index (brute and ivf; here the higher)",
        "rebalance_cli/knn.py",
        ("order = np.lexsort((fid, d2, fr))", "order = np.lexsort((-fid, d2, fr))"),
        tests="tests/test_knn.py -k lower_index",
    ),
    mutation(
        "ties-to-higher-index-kd-tree",
        "equal distances go to the lower row index (the k-d tree; here the higher)",
        "rebalance_cli/knn.py",
        ("order = np.lexsort((row, d2, who))", "order = np.lexsort((-row, d2, who))"),
        tests="tests/test_knn.py -k lower_index",
    ),
    mutation(
        "kd-tree-misses-tied-points",
        "the k-d tree gathers every point tied at the k-th distance (here only those returned)",
        "rebalance_cli/knn.py",
        ("tied = np.flatnonzero(dist[:, -1] <= radius)", "tied = np.flatnonzero(dist[:, -1] < 0)"),
        tests="tests/test_knn.py -k lower_index or gathers",
    ),
    mutation(
        "kd-tree-no-radius-search",
        "the k-d tree gathers ties past even its wider query (here it stops at the wider query)",
        "rebalance_cli/knn.py",
        ("still = within_r[:, -1] & (wider < m)", "still = within_r[:, -1] & False"),
        tests="tests/test_knn.py -k lower_index or gathers",
    ),
    mutation(
        "integer-halves-away-from-seed",
        "SMOTE's integer features round halves to even (here away from the seed)",
        SMOTE,
        ("step = (rest > _HALF) | ((rest == _HALF) & odd)", "step = rest >= _HALF"),
        tests="tests/test_smote_claims.py -k halves or integer",
    ),
    mutation(
        "integer-halves-toward-seed",
        "SMOTE's integer features round halves to even (here toward the seed)",
        SMOTE,
        ("odd = (near & one).astype(bool)", "odd = np.zeros(near.shape, dtype=bool)"),
        tests="tests/test_smote_claims.py -k halves or integer",
    ),
    mutation(
        "shrinkage-halves-up",
        "--shrinkage rounds integer columns halves to even (here half up)",
        "rebalance_cli/stages/shrinkage.py",
        ("np.clip(np.rint(values),", "np.clip(np.floor(values + 0.5),"),
        tests="tests/test_smote_claims.py -k shrinkage",
    ),
    mutation(
        "split-half-down",
        "--test-size rounds F * n_c half up (here half down)",
        "rebalance_cli/stages/split.py",
        (
            "tuple(round_half_up(share * n) for n in counts)",
            "tuple(int(-((Fraction(1, 2) - share * n) // 1)) for n in counts)",
        ),
        tests="tests/test_beyond.py -k halves_up",
    ),
    mutation(
        "report-duplicated-count",
        "the report's rows.duplicated is the file's (here synthetic rows counted in it)",
        "rebalance_cli/engines/driver.py",
        ('"duplicated": grown - synthetic,', '"duplicated": grown,'),
        tests="tests/test_strategy_checks.py -k report_counts and smote",
    ),
    mutation(
        "report-written-count",
        "the report's rows.written is the file's (here the test rows counted in it)",
        "rebalance_cli/engines/driver.py",
        ('"written": sum(program.after),', '"written": sum(program.after) + test_rows,'),
        tests="tests/test_strategy_checks.py -k report_counts and undersample",
    ),
    mutation(
        "writer-drops-last-group",
        "the split and bag writers write every row (here the last partial row group is lost)",
        "rebalance_cli/io/sinks.py",
        ("            self._emit(pl.concat(self.buf, rechunk=False))\n", ""),
        tests="tests/test_beyond.py -k halves_up",
    ),
    mutation(
        "reader-drops-last-batch",
        "pass 2 reads every batch (here the last one is dropped)",
        "rebalance_cli/engines/local.py",
        (
            "for batch in frame_batches(scan, chunk_size):",
            "for batch in list(frame_batches(scan, chunk_size))[:-1]:",
        ),
        tests="tests/test_strategy_checks.py -k counts_equal_plan and oversample",
    ),
    mutation(
        "key-depends-on-chunk",
        "a jitter key is the copy's place in its cell, not in its batch (--shrinkage)",
        "rebalance_cli/stages/shrinkage.py",
        (
            "d = class_positions(c, self.offsets)",
            "d = class_positions(c, np.zeros_like(self.offsets))",
        ),
        tests="tests/test_golden.py::test_chunk_size_does_not_change_a_byte -k shrinkage",
    ),
    mutation(
        "undersample-threshold-off-by-one",
        "undersample keeps exactly t_c rows (here the key threshold admits one more)",
        "rebalance_cli/samplers/select.py",
        ("rng.chosen(self.bases[i], n, r)", "rng.chosen(self.bases[i], n, r + 1)"),
        tests="tests/test_strategy_checks.py -k counts_equal_plan and undersample",
    ),
    mutation(
        "weight-sums",
        "balanced weights are n / (K * n_c), each class summing to n / K (here n / (K + 1))",
        "rebalance_cli/plan.py",
        ("[Fraction(sum(n), len(n))]", "[Fraction(sum(n), len(n) + 1)]"),
        tests="tests/test_beyond.py -k weight_balanced",
    ),
    mutation(
        "evaluate-nan-label-class",
        "evaluate takes a NaN label for a null label (here a class of its own again)",
        "rebalance_cli/evaluate/data.py",
        (
            "labels.to_frame().select(has_label(label, labels.dtype))[label]",
            "labels.is_not_null()",
        ),
        tests="tests/test_labels.py -k evaluate",
    ),
)


@dataclass
class Outcome:
    name: str
    result: str
    seconds: float
    caught_by: str
    detail: str


def copy_tree(root: Path, dest: Path) -> None:
    """The parts of the repository the tests need, without caches."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis", ".pytest_cache")
    for name in COPIED:
        src = root / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=ignore)
        elif src.exists():
            shutil.copy2(src, dest / name)


def environment(scratch: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(scratch)  # before site-packages (and an editable install)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def check_imports_from(scratch: Path) -> None:
    """The scratch copy, not the installed package, is what the tests will import."""
    proc = subprocess.run(
        [sys.executable, "-c", "import rebalance_cli; print(rebalance_cli.__file__)"],
        cwd=scratch,
        env=environment(scratch),
        capture_output=True,
        text=True,
        check=True,
    )
    where = Path(proc.stdout.strip()).resolve()
    if scratch.resolve() not in where.parents:
        raise SystemExit(f"mutate: the tests would import {where}, not the scratch copy")


def mutate(scratch: Path, mutation: Mutation) -> str | None:
    """Apply the mutation in ``scratch``; a reason when it cannot be applied."""
    path = scratch / mutation.path
    if not path.exists():
        return f"{mutation.path} does not exist"
    text = path.read_text()
    for n, (old, new) in enumerate(mutation.edits, 1):
        found = text.count(old)
        if found != 1:
            return f"the code of edit {n} occurs {found} times in {mutation.path}"
        text = text.replace(old, new)
    path.write_text(text)
    return None


def pytest(scratch: Path, args: Sequence[str], timeout: float) -> tuple[int | None, str]:
    """Exit code (None: timed out) and output of pytest over ``args`` in ``scratch``."""
    cmd = [
        sys.executable, "-m", "pytest", "-x", "-q", "-rfE", "-p", "no:cacheprovider",
        "-o", "addopts=", "-m", "not spark", *args,
    ]  # fmt: skip
    try:
        proc = subprocess.run(
            cmd,
            cwd=scratch,
            env=environment(scratch),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout if isinstance(exc.stdout, str) else ""
        return None, out
    return proc.returncode, proc.stdout + proc.stderr


FAILED = re.compile(r"^(?:FAILED|ERROR) (\S+)", re.MULTILINE)
WHY = re.compile(r"^E +(\S.*)$", re.MULTILINE)


def run_one(mutation: Mutation, clean: Path, workdir: Path, timeout: float) -> Outcome:
    scratch = workdir / mutation.name
    shutil.copytree(clean, scratch)
    started = time.perf_counter()
    try:
        reason = mutate(scratch, mutation)
        if reason is not None:
            return Outcome(mutation.name, "STALE", 0.0, "", reason)
        code, output = pytest(scratch, mutation.tests, timeout)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    seconds = time.perf_counter() - started
    tail = "\n".join(output.strip().splitlines()[-5:])
    if code is None:
        return Outcome(mutation.name, "TIMEOUT", seconds, "", f"no answer in {timeout:.0f} s")
    if code == 0:
        return Outcome(mutation.name, "SURVIVED", seconds, "", tail)
    failed = FAILED.findall(output)
    if code != 1 or not failed:
        return Outcome(mutation.name, "ERROR", seconds, "", f"pytest exit {code}: {tail}")
    test = failed[0]
    # the failing test must pass without the mutation
    again, again_out = pytest(clean, [test], timeout)
    if again != 0:
        last = "\n".join(again_out.strip().splitlines()[-3:])
        return Outcome(mutation.name, "INVALID", seconds, test, f"fails unmutated too: {last}")
    why = WHY.search(output)
    return Outcome(mutation.name, "caught", seconds, test, why.group(1)[:160] if why else "")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", default=[], help="run mutations named so")
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per pytest run")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument(
        "--root", type=Path, default=ROOT, help="the checkout to mutate (default: this one)"
    )
    args = parser.parse_args(argv)
    chosen = [m for m in MUTATIONS if not args.only or m.name in args.only]
    unknown = set(args.only) - {m.name for m in MUTATIONS}
    if unknown:
        parser.error(f"no mutation named {', '.join(sorted(unknown))}")
    if args.list:
        for m in chosen:
            print(f"{m.name:36} {m.breaks}\n{'':36} {m.path}; tests: {' '.join(m.tests)}")
        return 0
    # a SIGTERM unwinds like Ctrl-C: the running pytest is killed, the scratch copies removed
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="rebalance-mutate-") as tmp:
        workdir = Path(tmp)
        clean = workdir / "clean"
        clean.mkdir()
        copy_tree(args.root, clean)
        check_imports_from(clean)
        for m in chosen:
            outcome = run_one(m, clean, workdir, args.timeout)
            outcomes.append(outcome)
            shown = f"  ({outcome.caught_by})" if outcome.caught_by else ""
            print(f"{outcome.result:8} {outcome.seconds:6.1f}s  {m.name}{shown}", flush=True)
            if outcome.detail:
                print("         " + outcome.detail.replace("\n", "\n         "), flush=True)
    caught = sum(o.result == "caught" for o in outcomes)
    print(f"{caught} of {len(outcomes)} mutations caught")
    if args.json is not None:
        args.json.write_text(json.dumps([asdict(o) for o in outcomes], indent=2) + "\n")
    return 0 if caught == len(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
