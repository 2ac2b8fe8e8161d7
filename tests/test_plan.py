"""The plan: counts + target -> per-class targets (pure, no files)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from imblearn.utils import check_sampling_strategy

from rebalance_cli.errors import DataError, UsageError
from rebalance_cli.plan import make_plan, parse_target, round_half_up

BINARY = [("a", 900), ("b", 100)]
MULTI = [("a", 700), ("b", 200), ("c", 80), ("d", 20)]

IMBLEARN_NAMES = {
    "auto": "auto",
    "minority": "minority",
    "majority": "majority",
    "not-minority": "not minority",
    "not-majority": "not majority",
    "all": "all",
}


def imblearn_after(counts: list[tuple[str, int]], target, strategy: str) -> dict[str, int]:
    """imbalanced-learn's resolved sampling_strategy_, as counts after the run."""
    y = np.repeat([c for c, _ in counts], [n for _, n in counts])
    kind = "under-sampling" if strategy == "undersample" else "over-sampling"
    resolved = check_sampling_strategy(target, y, kind)
    after = dict(counts)
    for cls, v in resolved.items():
        after[cls] = v if kind == "under-sampling" else after[cls] + v
    return after


def after(plan) -> dict[str, int]:
    return dict(zip(plan.classes, plan.after, strict=True))


# The expected plans, written out by hand from semantics.md.
EXPECTED = {
    ("oversample", "auto", "binary"): {"a": 900, "b": 900},
    ("oversample", "minority", "binary"): {"a": 900, "b": 900},
    ("oversample", "not-minority", "binary"): {"a": 900, "b": 100},
    ("oversample", "not-majority", "binary"): {"a": 900, "b": 900},
    ("oversample", "all", "binary"): {"a": 900, "b": 900},
    ("oversample", "0.5", "binary"): {"a": 900, "b": 450},
    ("oversample", "b=300", "binary"): {"a": 900, "b": 300},
    ("undersample", "auto", "binary"): {"a": 100, "b": 100},
    ("undersample", "majority", "binary"): {"a": 100, "b": 100},
    ("undersample", "not-minority", "binary"): {"a": 100, "b": 100},
    ("undersample", "not-majority", "binary"): {"a": 900, "b": 100},
    ("undersample", "all", "binary"): {"a": 100, "b": 100},
    ("undersample", "0.5", "binary"): {"a": 200, "b": 100},
    ("undersample", "a=250", "binary"): {"a": 250, "b": 100},
    ("oversample", "auto", "multi"): {"a": 700, "b": 700, "c": 700, "d": 700},
    ("oversample", "minority", "multi"): {"a": 700, "b": 200, "c": 80, "d": 700},
    ("oversample", "not-minority", "multi"): {"a": 700, "b": 700, "c": 700, "d": 20},
    ("oversample", "not-majority", "multi"): {"a": 700, "b": 700, "c": 700, "d": 700},
    ("oversample", "all", "multi"): {"a": 700, "b": 700, "c": 700, "d": 700},
    ("oversample", "0.5", "multi"): {"a": 700, "b": 350, "c": 350, "d": 350},
    ("oversample", "c=100,d=40", "multi"): {"a": 700, "b": 200, "c": 100, "d": 40},
    ("undersample", "auto", "multi"): {"a": 20, "b": 20, "c": 20, "d": 20},
    ("undersample", "majority", "multi"): {"a": 20, "b": 200, "c": 80, "d": 20},
    ("undersample", "not-minority", "multi"): {"a": 20, "b": 20, "c": 20, "d": 20},
    ("undersample", "not-majority", "multi"): {"a": 700, "b": 20, "c": 20, "d": 20},
    ("undersample", "all", "multi"): {"a": 20, "b": 20, "c": 20, "d": 20},
    ("undersample", "0.25", "multi"): {"a": 80, "b": 80, "c": 80, "d": 20},
    ("undersample", "a=300,b=0", "multi"): {"a": 300, "b": 0, "c": 80, "d": 20},
}


@pytest.mark.parametrize("case", sorted(EXPECTED), ids=lambda c: "-".join(c))
def test_plan_matches_the_contract(case):
    strategy, target, data = case
    counts = BINARY if data == "binary" else MULTI
    plan = make_plan(counts, strategy, target)
    assert after(plan) == EXPECTED[case]
    if strategy == "oversample":
        assert after(make_plan(counts, "smote", target)) == EXPECTED[case]


@pytest.mark.parametrize("strategy", ["undersample", "oversample"])
@pytest.mark.parametrize("counts", [BINARY, MULTI], ids=["binary", "multi"])
@pytest.mark.parametrize("kw", sorted(IMBLEARN_NAMES))
def test_keywords_equal_imbalanced_learn(strategy, counts, kw):
    try:
        expected = imblearn_after(counts, IMBLEARN_NAMES[kw], strategy)
    except ValueError:
        with pytest.raises(UsageError):
            make_plan(counts, strategy, kw)
        return
    assert after(make_plan(counts, strategy, kw)) == expected


@pytest.mark.parametrize("strategy", ["undersample", "oversample"])
def test_explicit_counts_equal_imbalanced_learn(strategy):
    want = {"a": 300} if strategy == "undersample" else {"b": 640}
    text = ",".join(f"{k}={v}" for k, v in want.items())
    assert after(make_plan(BINARY, strategy, text)) == imblearn_after(BINARY, want, strategy)


@pytest.mark.parametrize(
    ("strategy", "ratio"),
    [("oversample", 0.5), ("oversample", 0.25), ("undersample", 0.5), ("undersample", 0.2)],
)
def test_binary_ratio_equals_imbalanced_learn_when_exact(strategy, ratio):
    counts = [("a", 1000), ("b", 100)]
    assert after(make_plan(counts, strategy, str(ratio))) == imblearn_after(counts, ratio, strategy)


def test_ratio_rounding_defect_is_fixed():
    # imbalanced-learn computes int(100 * 0.29) == 28 and then refuses (issue #1215).
    counts = [("a", 100), ("b", 29)]
    with pytest.raises(ValueError):
        imblearn_after(counts, 0.29, "oversample")
    plan = make_plan(counts, "oversample", "0.29")
    assert after(plan) == {"a": 100, "b": 29}
    assert plan.changes_nothing
    assert any("changes nothing" in w for w in plan.warnings)
    # and a real raise: round(100 * 0.295) = round(29.5) = 30, half up on the typed decimal
    assert after(make_plan([("a", 100), ("b", 10)], "oversample", "0.295")) == {"a": 100, "b": 30}


def test_multiclass_float_is_extended():
    # imbalanced-learn refuses a float with more than two classes.
    with pytest.raises(ValueError):
        imblearn_after(MULTI, 0.5, "oversample")
    assert after(make_plan(MULTI, "oversample", "0.3")) == {"a": 700, "b": 210, "c": 210, "d": 210}
    # m / r = 20 / 0.3 = 66.67 -> 67
    assert after(make_plan(MULTI, "undersample", "0.3")) == {"a": 67, "b": 67, "c": 67, "d": 20}


def test_ties_pick_first_in_sort_order_and_say_so():
    plan = make_plan([("x", 50), ("y", 50), ("z", 10)], "undersample", "majority")
    assert plan.majority == "x"
    assert plan.majority_ties == ("x", "y")
    assert after(plan) == {"x": 10, "y": 50, "z": 10}
    assert any("tie as the majority" in w and "'x'" in w for w in plan.warnings)


def test_wrong_way_counts_are_usage_errors_naming_the_class():
    with pytest.raises(UsageError, match=r"cannot shrink class 'a' from 900 rows to 10"):
        make_plan(BINARY, "oversample", "a=10")
    with pytest.raises(UsageError, match=r"cannot grow class 'b' from 100 rows to 1000"):
        make_plan(BINARY, "undersample", "b=1000")


def test_unknown_class_is_a_data_error_listing_the_classes():
    with pytest.raises(DataError) as err:
        make_plan(BINARY, "oversample", "zz=10")
    assert "'zz'" in str(err.value) and "the classes are: a, b" in str(err.value)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("0", "outside (0, 1]"),
        ("1.5", "outside (0, 1]"),
        ("-0.2", "outside (0, 1]"),
        ("a=1,b", "is not CLASS=COUNT"),
        ("a=x", "not a whole number"),
        ("a=-3", "negative"),
        ("a=1,a=2", "twice"),
        ("lots", "is not a target"),
        ("nan", "is not a target"),
    ],
)
def test_bad_target_text(text, fragment):
    with pytest.raises(UsageError, match=fragment.replace("(", r"\(").replace("]", r"\]")):
        parse_target(text)


def test_round_half_up_is_exact():
    assert round_half_up(Fraction(59, 2)) == 30
    assert round_half_up(Fraction(57, 2)) == 29
    assert round_half_up(Fraction(100) * Fraction("0.29")) == 29


def test_a_single_class_is_a_data_error():
    with pytest.raises(DataError, match=r"single class \('a', 5 rows\)"):
        make_plan([("a", 5)], "oversample", "auto")


counts_st = st.lists(st.integers(1, 10_000), min_size=2, max_size=7).map(
    lambda ns: [(f"c{i}", n) for i, n in enumerate(ns)]
)
targets_st = st.one_of(
    st.sampled_from(sorted(IMBLEARN_NAMES)),
    st.decimals(min_value="0.01", max_value="1", places=2).map(str),
)


@settings(max_examples=300, deadline=None)
@given(counts=counts_st, target=targets_st, strategy=st.sampled_from(["undersample", "oversample"]))
def test_plan_properties(counts, target, strategy):
    try:
        plan = make_plan(counts, strategy, target)
    except UsageError:
        assert (target, strategy) in {("minority", "undersample"), ("majority", "oversample")}
        return
    n = dict(counts)
    big, small = max(n.values()), min(n.values())
    for cls, t in after(plan).items():
        if strategy == "oversample":
            assert n[cls] <= t <= big
        else:
            assert small <= t <= n[cls]
    if target in IMBLEARN_NAMES:
        assert after(plan) == imblearn_after(counts, IMBLEARN_NAMES[target], strategy)
    elif len(counts) == 2:
        r = Fraction(target)
        exact = big * r if strategy == "oversample" else small / r
        if exact.denominator != 1:
            return  # ours rounds, theirs truncates: compared in the tests above
        float_way = int(big * float(r)) if strategy == "oversample" else int(small / float(r))
        if float_way != exact:
            # imbalanced-learn's floating-point truncation (#1215) bites here; ours is exact.
            goal = int(exact)
            for cls, t in after(plan).items():
                want = max(n[cls], goal) if strategy == "oversample" else min(n[cls], goal)
                assert t == want
            return
        try:
            theirs = imblearn_after(counts, float(r), strategy)
        except ValueError:
            # imbalanced-learn refuses requests that change nothing or go the wrong way;
            # ours leave those classes as they are (a no-op warns).
            assert any(t == v for t, v in zip(plan.after, plan.before, strict=True))
        else:
            assert after(plan) == theirs
