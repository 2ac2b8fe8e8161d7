"""Target specs and the plan: class counts in, per-class target counts out.

Everything here is pure: no I/O and no randomness. The plan is computed from
the counts alone, before a single row is written, and every engine consumes it.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any, Literal

from . import strategies as registry
from .errors import DataError, UsageError, did_you_mean, no_labelled_rows
from .strategies import Strategy

KEYWORDS: tuple[str, ...] = (
    "auto",
    "minority",
    "majority",
    "not-minority",
    "not-majority",
    "all",
    "balanced",
)


def strategy_of(strategy: str | Strategy) -> Strategy:
    """The registered strategy of a name (a strategy object passes through)."""
    return registry.get(strategy) if isinstance(strategy, str) else strategy


@dataclass(frozen=True)
class TargetSpec:
    """A parsed ``--target``: a keyword, a ratio, or explicit per-class counts."""

    kind: Literal["keyword", "ratio", "counts", "size"]
    keyword: str | None = None
    ratio: Fraction | None = None
    size: int | None = None
    text: str = "auto"
    counts: tuple[tuple[str, int], ...] = field(default_factory=tuple)

    def __str__(self) -> str:
        return self.text

    def to_json(self) -> Any:
        if self.kind == "counts":
            return dict(self.counts)
        return self.text


def parse_target(text: str | float | int | dict[str, int] | None) -> TargetSpec:
    """Parse the ``--target`` vocabulary (see semantics.md).

    ``auto`` and the other keywords; a ratio in (0, 1] kept as the exact decimal
    the user typed; or ``a=100,b=250``. A dict is taken as explicit counts.
    """
    if text is None:
        text = "auto"
    if isinstance(text, dict):
        items = tuple((str(k), _count(str(k), v)) for k, v in text.items())
        return TargetSpec("counts", text=_counts_text(items), counts=items)
    if isinstance(text, bool):
        raise UsageError(f"--target {text!r} is not a target")
    if isinstance(text, int) and text >= 2:
        return TargetSpec("size", size=text, text=str(text))
    if isinstance(text, int | float):
        text = repr(text)
    raw = text.strip()
    if raw.isdigit() and int(raw) >= 2:
        return TargetSpec("size", size=int(raw), text=str(int(raw)))
    low = raw.lower().replace("_", "-")
    if "=" in raw:
        raw = text  # class names may begin or end with spaces
    if low in KEYWORDS:
        return TargetSpec("keyword", keyword=low, text=low)
    if "=" in raw:
        items_list: list[tuple[str, int]] = []
        seen: set[str] = set()
        for part in raw.split(","):
            if not part.strip():
                continue
            # Names keep their spaces (a class may be " a"); make_plan falls back to
            # the stripped name, so "a=1, b=2" still works.
            name, sep, value = part.rpartition("=")
            if not sep or not name.strip() or not value.strip():
                raise UsageError(
                    f"--target {raw!r}: {part.strip()!r} is not CLASS=COUNT",
                    hint="write explicit targets as a=100,b=250",
                )
            if name in seen:
                raise UsageError(f"--target {raw!r} names class {name!r} twice")
            seen.add(name)
            items_list.append((name, _count(name, value.strip())))
        if not items_list:
            raise UsageError(f"--target {raw!r} names no class", hint="write a=100,b=250")
        items = tuple(items_list)
        return TargetSpec("counts", text=_counts_text(items), counts=items)
    try:
        dec = Decimal(raw)
    except InvalidOperation:
        dec = None
    if dec is None or not dec.is_finite():
        # a word may be a misspelt keyword ("minorty"); a number or a list is not guessed at
        near = did_you_mean(low, KEYWORDS) if re.fullmatch(r"[a-z][a-z-]*", low) else ""
        raise UsageError(
            f"--target {raw!r} is not a target",
            hint=f"{near}use auto, minority, majority, not-minority, not-majority, all, "
            "a ratio in (0, 1], a class size such as 5000, or counts such as a=100,b=250",
        )
    ratio = Fraction(dec)
    if not (0 < ratio <= 1):
        raise UsageError(
            f"--target ratio {raw} is outside (0, 1]",
            hint="a ratio r raises classes to round(M*r) or cuts them to round(m/r)",
        )
    return TargetSpec("ratio", ratio=ratio, text=raw)


def _count(name: str, value: Any) -> int:
    try:
        if isinstance(value, bool):
            raise ValueError
        n = int(value)
        if isinstance(value, float) and n != value:
            raise ValueError
    except (TypeError, ValueError):
        raise UsageError(
            f"--target: the count for class {name!r} is {value!r}, not a whole number"
        ) from None
    if n < 0:
        raise UsageError(f"--target: the count for class {name!r} is negative ({n})")
    return n


def _counts_text(items: tuple[tuple[str, int], ...]) -> str:
    return ",".join(f"{k}={v}" for k, v in items)


def round_half_up(x: Fraction) -> int:
    """Exact rounding, halves away from zero (x is never negative here)."""
    return math.floor(x + Fraction(1, 2))


@dataclass(frozen=True)
class Plan:
    """The resolved request: for each class (in sorted label order) n_c and t_c."""

    strategy: str
    target: TargetSpec
    classes: tuple[str, ...]
    before: tuple[int, ...]
    after: tuple[int, ...]
    majority: str
    minority: str
    majority_ties: tuple[str, ...]
    minority_ties: tuple[str, ...]
    warnings: tuple[str, ...] = ()
    weights: tuple[float, ...] | None = None
    cleaned: tuple[str, ...] = ()  # a cleaning strategy's classes, whose counts fitting decides

    @property
    def rows_in(self) -> int:
        return sum(self.before)

    @property
    def rows_out(self) -> int:
        return sum(self.after)

    @property
    def changes_nothing(self) -> bool:
        return self.before == self.after

    def target_of(self, cls: str) -> int:
        return self.after[self.classes.index(cls)]

    def fitted(self, removed: Sequence[int]) -> Plan:
        """A cleaning plan once fitted: ``removed[i]`` rows of class i go."""
        after = tuple(b - r for b, r in zip(self.before, removed, strict=True))
        warnings = self.warnings
        if not any(removed):
            warnings += (f"{self.strategy} found no row to remove in {', '.join(self.cleaned)}",)
        return dataclasses.replace(self, after=after, warnings=warnings)

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy,
            "target": self.target.to_json(),
            "classes": list(self.classes),
            "before": dict(zip(self.classes, self.before, strict=True)),
            "after": dict(zip(self.classes, self.after, strict=True)),
            "majority": self.majority,
            "minority": self.minority,
            "majority_ties": list(self.majority_ties),
            "minority_ties": list(self.minority_ties),
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "warnings": list(self.warnings),
            **(
                {}
                if self.weights is None
                else {"weights": dict(zip(self.classes, self.weights, strict=True))}
            ),
            **({"cleaned": list(self.cleaned)} if self.cleaned else {}),
        }


_KIND_NAMES = {
    "keyword": ("a keyword", "--target auto"),
    "ratio": ("a ratio", "--target 0.5"),
    "size": ("a class size", "--target 50000 (every class to 50000 rows)"),
    "counts": ("per-class counts", "--target a=50000,b=20000"),
}


def check_target(strategy: str | Strategy, spec: TargetSpec, classes: Sequence[str]) -> None:
    """The errors of a target that do not depend on the class counts: a target the
    strategy cannot take, a class the data does not have, a class named twice."""
    rule = strategy_of(strategy)
    way = rule.direction
    if spec.kind not in rule.target_kinds:
        kinds = [k for k in _KIND_NAMES if k in rule.target_kinds]
        raise UsageError(
            f"--target {spec} does not fit {rule.name}: it needs "
            + " or ".join(_KIND_NAMES[k][0] for k in kinds),
            hint="e.g. " + " or ".join(_KIND_NAMES[k][1] for k in kinds),
        )
    strategy = rule.name
    if spec.kind == "keyword":
        kw = spec.keyword
        if kw == "balanced" and not rule.weighs:
            raise UsageError(
                "--target balanced is a class-weight target",
                hint="use it with --strategy weight, or --target auto",
            )
        if kw == "minority" and way == "under":
            more = ", a ratio or counts" if "counts" in rule.target_kinds else ""
            raise UsageError(
                f"--target minority does not fit {strategy}: it would cut the smallest class",
                hint=f"{strategy} takes majority, not-minority, not-majority, all, auto{more}",
            )
        if kw == "majority" and way == "over":
            raise UsageError(
                f"--target majority does not fit {strategy}: it would grow the largest class",
                hint=f"{strategy} takes minority, not-minority, not-majority, all, auto, "
                "a ratio or counts",
            )
    elif spec.kind == "counts":
        seen: set[str] = set()
        for raw, _ in spec.counts:
            name = _named_class(raw, classes)
            if name in seen:
                raise UsageError(f"--target names class {name!r} twice")
            seen.add(name)


def _named_class(raw: str, classes: Sequence[str]) -> str:
    """The class a ``--target`` count names (blanks around it ignored when that helps)."""
    name = raw if raw in classes else raw.strip()
    if name not in classes:
        shown = ", ".join(classes[:20]) + (" …" if len(classes) > 20 else "")
        raise DataError(
            f"--target names class {name!r}, which is not in the data",
            hint=f"the classes are: {shown}",
        )
    return name


def _checked_counts(counts: Sequence[tuple[str, int]]) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """The class names and counts of ``counts``, once they make a plan possible."""
    if not counts:
        raise no_labelled_rows()
    classes = tuple(str(c) for c, _ in counts)
    if len(set(classes)) != len(classes):
        raise ValueError("class names must be unique")
    n = tuple(int(v) for _, v in counts)
    if any(v <= 0 for v in n):
        raise ValueError("every class count must be positive")
    if len(classes) == 1:
        raise DataError(
            f"the label has a single class ({classes[0]!r}, {n[0]} rows): there is nothing "
            "to balance",
            hint="check the --label column, or the filter that produced this file",
        )
    return classes, n


def _size_targets(way: str, n: tuple[int, ...], goal: int) -> list[int]:
    """``--target N``: every class to N rows (as far as the direction allows)."""
    if way == "over":
        return [max(v, goal) for v in n]
    if way == "under":
        return [min(v, goal) for v in n]
    return [goal] * len(n)


def _keyword_targets(
    way: str,
    keyword: str | None,
    classes: tuple[str, ...],
    n: tuple[int, ...],
    majority: str,
    minority: str,
) -> list[int]:
    """``--target auto|minority|majority|not-minority|not-majority|all|balanced``."""
    big, small = max(n), min(n)
    after = list(n)

    def every_but(skip: str | None) -> list[int]:
        goal = big if way == "over" else small
        return [v if c == skip else goal for c, v in zip(classes, n, strict=True)]

    kw = "auto" if keyword == "balanced" else keyword
    if kw == "auto":
        kw = "not-majority" if way == "over" else "not-minority"
    if kw == "minority":
        after[classes.index(minority)] = big
    elif kw == "majority":
        after[classes.index(majority)] = small
    elif kw == "not-minority":
        after = every_but(minority)
    elif kw == "not-majority":
        after = every_but(majority)
    elif kw == "all":
        after = every_but(None)
    return after


def cleaned_classes(
    keyword: str | None, classes: tuple[str, ...], majority: str, minority: str
) -> tuple[str, ...]:
    """The classes a cleaning strategy may remove rows of, by ``--target`` keyword
    (imbalanced-learn's cleaning vocabulary; ``auto`` is ``not-minority``)."""
    kw = "not-minority" if keyword in (None, "auto") else keyword
    skip = {"majority": None, "not-minority": minority, "not-majority": majority, "all": None}
    if kw == "majority":
        return (majority,)
    return tuple(c for c in classes if c != skip[kw])


def _ratio_targets(way: str, n: tuple[int, ...], ratio: Fraction) -> list[int]:
    """``--target R``: the minority-to-majority ratio brought to R."""
    if way == "over":
        goal = round_half_up(max(n) * ratio)
        return [max(v, goal) for v in n]
    goal = round_half_up(min(n) / ratio)
    return [min(v, goal) for v in n]


def _count_targets(
    rule: Strategy, spec: TargetSpec, classes: tuple[str, ...], n: tuple[int, ...]
) -> list[int]:
    """``--target a=N,b=M``: the named classes to those counts, the others kept."""
    way = rule.direction
    after = list(n)
    named = {_named_class(raw, classes): want for raw, want in spec.counts}
    for name, want in named.items():
        i = classes.index(name)
        have = n[i]
        if rule.weighs:
            pass  # a class's total weight may go down as well as up
        elif way == "over" and want < have:
            raise UsageError(
                f"{rule.name} cannot shrink class {name!r} from {have} rows to {want}",
                hint="ask for at least its current count, or use undersample",
            )
        if way == "under" and want > have:
            raise UsageError(
                f"undersample cannot grow class {name!r} from {have} rows to {want}",
                hint="ask for at most its current count, or use oversample or smote",
            )
        after[i] = want
    return after


def _targets(
    rule: Strategy,
    spec: TargetSpec,
    classes: tuple[str, ...],
    n: tuple[int, ...],
    majority: str,
    minority: str,
) -> list[int]:
    """t_c for each class, by the kind of ``--target``."""
    way = rule.direction
    if spec.kind == "size":
        assert spec.size is not None
        return _size_targets(way, n, spec.size)
    if spec.kind == "keyword":
        return _keyword_targets(way, spec.keyword, classes, n, majority, minority)
    if spec.kind == "ratio":
        assert spec.ratio is not None
        return _ratio_targets(way, n, spec.ratio)
    return _count_targets(rule, spec, classes, n)


def _weights(spec: TargetSpec, n: tuple[int, ...], after: list[int]) -> tuple[float, ...]:
    """Per-class row weights that bring each class's total weight to its target."""
    if spec.kind == "keyword" and spec.keyword in ("auto", "balanced"):
        # scikit-learn's "balanced": every class weighs n / K in total
        totals = [Fraction(sum(n), len(n))] * len(n)
    else:
        totals = [Fraction(a) for a in after]
    if any(t == 0 for t in totals):
        raise UsageError("--target gives a class a total weight of 0; drop it instead")
    return tuple(float(t / v) for t, v in zip(totals, n, strict=True))


def _tie_warnings(
    classes: tuple[str, ...],
    after: list[int],
    majority_ties: tuple[str, ...],
    minority_ties: tuple[str, ...],
) -> list[str]:
    """A warning for each tie (majority, minority) whose pick changed what the plan does."""
    warnings = []
    for role, ties in (("majority", majority_ties), ("minority", minority_ties)):
        if len({after[classes.index(c)] for c in ties}) > 1:
            warnings.append(
                f"classes {', '.join(ties)} tie as the {role}; {ties[0]!r} "
                "(first in sort order) was picked"
            )
    return warnings


def make_plan(
    counts: Sequence[tuple[str, int]],
    strategy: str | Strategy,
    target: TargetSpec | str | float | dict[str, int] | None = "auto",
) -> Plan:
    """Compute the targets t_c from the class counts n_c.

    ``counts`` lists (class, n_c) pairs in the label's sort order; that order
    decides ties between equally large (or small) classes: the first one wins.
    """
    spec = target if isinstance(target, TargetSpec) else parse_target(target)
    rule = strategy_of(strategy)
    classes, n = _checked_counts(counts)
    big = max(n)
    small = min(n)
    majority_ties = tuple(c for c, v in zip(classes, n, strict=True) if v == big)
    minority_ties = tuple(c for c, v in zip(classes, n, strict=True) if v == small)
    majority, minority = majority_ties[0], minority_ties[0]
    check_target(rule, spec, classes)
    after = _targets(rule, spec, classes, n, majority, minority)
    warnings: list[str] = []
    weights = None
    cleaned: tuple[str, ...] = ()
    if rule.kind == "clean":
        # which classes lose rows is known now; how many, only once the cleaner is fitted
        cleaned = cleaned_classes(spec.keyword, classes, majority, minority)
        after = list(n)
    elif rule.weighs:
        weights = _weights(spec, n, after)
        after = list(n)
        if all(w == 1.0 for w in weights):
            warnings.append(f"--target {spec} changes nothing for weight: every weight is 1")
    elif tuple(after) == n:
        warnings.append(
            f"--target {spec} changes nothing for {rule.name}: every class already meets it"
        )
    warnings += _tie_warnings(classes, after, majority_ties, minority_ties)
    return Plan(
        strategy=rule.name,
        target=spec,
        classes=classes,
        before=n,
        after=tuple(after),
        majority=majority,
        minority=minority,
        majority_ties=majority_ties,
        minority_ties=minority_ties,
        warnings=tuple(warnings),
        weights=weights,
        cleaned=cleaned,
    )
