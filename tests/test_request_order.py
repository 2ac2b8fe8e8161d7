"""The first error wins, in the order the checks ran before the request object existed.

Each command line below breaks two or more rules; the expected line is the one the package
of e441871 (before ``request.build``) printed for it, checked by running both trees on these
same lines when this test was written. A change of order in ``request.build`` (or a check
moved in front of another) changes which message a user sees first, and fails here.
"""

from __future__ import annotations

import pytest

from tests.conftest import REPO

TARGET_WORDS = (
    "use auto, minority, majority, not-minority, not-majority, all, a ratio in (0, 1], "
    "a class size such as 5000, or counts such as a=100,b=250"
)

CASES = [
    # --target is read before SMOTE's --k-neighbors
    (
        "-s undersample --target 7x --k-neighbors 0",
        f"--target '7x' is not a target ({TARGET_WORDS})",
    ),
    (
        "-s smote --k-neighbors 0 --target 2.5",
        "--target ratio 2.5 is outside (0, 1] "
        "(a ratio r raises classes to round(M*r) or cuts them to round(m/r))",
    ),
    # the test split's pairing before its share, before --bags' count
    (
        "-s oversample --test-size 1.5 --bags 0",
        "--test-size and --test-output go together "
        "(e.g. --test-size 0.2 --test-output test.parquet)",
    ),
    ("-s oversample --bags 0 --shrinkage -1", "--shrinkage must be 0 or more (got -1.0)"),
    # a stage that does not fit the strategy, before the test split's pairing
    (
        "-s undersample --shrinkage 0.5 --test-size 0.2",
        "--shrinkage jitters duplicated rows: it needs --strategy oversample "
        "(or hybrid growing with oversample)",
    ),
    (
        "-s weight --target 0.5 --bags 2",
        "--bags makes undersampled bags; --strategy weight does not fit "
        "(use --strategy undersample)",
    ),
    ("-s hybrid --target auto --grow-with nope", "--grow-with 'nope' is not a way to grow"),
    # an option's own check before the columns it names are looked up
    ("-s smote --features nope --k-neighbors 0", "--k-neighbors must be at least 1 (got 0)"),
    ("-s undersample --by nope --target nope", f"--target 'nope' is not a target ({TARGET_WORDS})"),
]


@pytest.mark.parametrize(("words", "first"), CASES, ids=[c[0] for c in CASES])
def test_the_first_broken_rule_is_the_one_reported(cli, tmp_path, words, first):
    src = REPO / "sample_data" / "transactions.csv"
    out = tmp_path / ("o-{bag}.csv" if "--bags" in words else "o.csv")
    res = cli("apply", src, "-l", "is_fraud", *words.split(), "-o", out)
    assert res.code == 2, res.stderr
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith(f"rebalance: usage error: {first}"), lines[0]
    assert list(tmp_path.iterdir()) == []
