"""One request: every option of a run, built and checked in one place.

:func:`build` turns the public keyword arguments (or the command line's
values) into a frozen :class:`Request`; the checks run in a fixed order, so
the first error a user sees does not depend on how the request was made:

    the run's own values   chunk size, --dry-run with --report, an output, the seed
    the strategy           its name, the target, every option's own check (any strategy's)
    ignored options        given but used by no active strategy or stage: a warning
    the strategy's checks  options that do not fit each other
    the stages             their values, what fits the strategy and each other (stages.check)
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from fractions import Fraction
from types import MappingProxyType
from typing import Any

from . import strategies as registry
from .defaults import DEFAULT_CHUNK_SIZE, DEFAULT_MAX_CLASSES, DEFAULT_MAX_OUTPUT_ROWS
from .errors import UsageError
from .io import ReadOptions
from .phases import Observer
from .plan import TargetSpec, parse_target
from .stages import Stages
from .stages import check as check_stages
from .stages.split import parse_share
from .strategies import Option, Strategy

_STAGE_FIELDS = frozenset(f.name for f in fields(Stages))


def resolve_seed(seed: int | None) -> tuple[int, str]:
    """The seed of a run and where it came from: ``given``, or ``drawn`` (and reported)
    when absent. A negative seed is a usage error."""
    if seed is None:
        return secrets.randbelow(2**32), "drawn"
    if seed < 0:
        raise UsageError(f"--seed must not be negative (got {seed})")
    return seed, "given"


@dataclass(frozen=True)
class Request:
    """A checked request. ``options`` holds the strategy options by name."""

    label: str
    strategy: Strategy
    target: TargetSpec
    seed: int
    seed_source: str
    options: Mapping[str, Any]
    stages: Stages
    test_share: Fraction | None = None
    chunk_size: int = DEFAULT_CHUNK_SIZE
    drop_null_labels: bool = False
    lenient: bool = False
    max_classes: int | None = DEFAULT_MAX_CLASSES
    max_output_rows: int | None = DEFAULT_MAX_OUTPUT_ROWS
    # the files of a file-to-file run
    output: str | None = None
    output_format: str | None = None
    report_path: str | None = None
    read: ReadOptions | None = None
    force: bool = False
    dry_run: bool = False
    # how it is shown
    progress: Observer | None = None  # told of the run's phases (rebalance_cli.phases)
    command: list[str] | None = None
    settings: dict[str, Any] | None = None
    warnings: tuple[str, ...] = field(default=())

    @property
    def by(self) -> list[str]:
        return list(self.stages.by or ())


def given_options(options: Mapping[str, Any] | None = None, **named: Any) -> dict[str, Any]:
    """The strategy options of the public keyword arguments (None: not given), then
    ``options`` (a plug-in's own, or any by name) over them."""
    return {k: v for k, v in named.items() if v is not None} | dict(options or {})


def from_keywords(keywords: Mapping[str, Any]) -> Request:
    """A request from the public API's flat keywords: the strategy options (by the
    registry's names, plus ``options=``) and the stages (by ``Stages``' fields) are
    picked out; the rest are :func:`build`'s own."""
    kw = dict(keywords)
    names = {o.name for o in registry.all_options()}
    named = {k: kw.pop(k) for k in list(kw) if k in names}
    opts = given_options(kw.pop("options", None), **named)
    stage = {k: kw.pop(k) for k in list(kw) if k in _STAGE_FIELDS}
    if stage.get("by") is not None:
        stage["by"] = tuple(stage["by"])
    if stage.get("test_output") is not None:
        stage["test_output"] = str(stage["test_output"])
    return build(options=opts, stages=Stages(**stage), **kw)


def _listed(value: Sequence[str] | str | None) -> list[str] | None:
    if value is None or not isinstance(value, str):
        return None if value is None else list(value)
    return [v.strip() for v in value.split(",") if v.strip()]


def _users(option: Option) -> str:
    """Who uses an option, for the "ignored" warning: its owner, or every strategy that
    declares it when several do (composites, which reuse their parts' options, aside)."""
    users = [s.name for s in registry.all_strategies() if not s.parts and option in s.options]
    if len(users) < 2:
        return option.owner
    return ", ".join(users[:-1]) + f" and {users[-1]}"


def check_strategy(
    strategy: str, target: Any, options: Mapping[str, Any], stages: Stages, warnings: list[str]
) -> tuple[Strategy, TargetSpec]:
    """The strategy, the target, every option's own check, the ignored-option warnings."""
    chosen = registry.get(strategy)
    spec = target if isinstance(target, TargetSpec) else parse_target(target)
    for option in registry.all_options():
        value = options.get(option.name, option.default)
        if option.check is not None and value is not None:
            option.check(value)
    used = chosen.uses(options)
    active = stages.active()
    for option in registry.all_options():
        if not option.owner or option.name in used or active & set(option.also):
            continue
        if option.given(options.get(option.name, option.default)):
            warnings.append(f"{option.flag} is used by {_users(option)} only and was ignored")
    chosen.check(options, warnings)
    return chosen, spec


def build(
    *,
    label: str,
    strategy: str,
    target: str | float | dict[str, int] | TargetSpec | None = "auto",
    seed: int | None = None,
    options: Mapping[str, Any] | None = None,
    stages: Stages | None = None,
    output: str | os.PathLike[str] | None = None,
    file_run: bool = True,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    dry_run: bool = False,
    report_path: str | os.PathLike[str] | None = None,
    **rest: Any,
) -> Request:
    """Check a request in the documented order and freeze it (``rest``: Request fields)."""
    stages = stages or Stages()
    opts = dict(options or {})
    for option in registry.all_options():
        if option.listed and option.name in opts:
            opts[option.name] = _listed(opts[option.name])
    warnings: list[str] = registry.load_warnings()
    seed_source = "given"
    if file_run:
        if chunk_size < 1:
            raise UsageError(f"--chunk-size must be at least 1 (got {chunk_size})")
        if dry_run and report_path is not None:
            raise UsageError(
                "--dry-run writes nothing, not even the --report", hint="use --json to see the plan"
            )
        if output is None and not dry_run:
            raise UsageError("an output is needed (-o PATH, or -o - for stdout)")
        seed, seed_source = resolve_seed(seed)
    chosen, spec = check_strategy(strategy, target, opts, stages, warnings)
    if not file_run:
        seed, seed_source = resolve_seed(seed)
    assert seed is not None
    out = None if output is None else str(output)
    check_stages(stages, chosen, opts, out)
    share = None if stages.test_size is None else parse_share(stages.test_size)
    drop = bool(rest.pop("drop_null_labels", False)) or bool(rest.get("lenient", False))
    return Request(
        label=label,
        strategy=chosen,
        target=spec,
        seed=seed,
        seed_source=seed_source,
        options=MappingProxyType(opts),
        stages=stages,
        test_share=share,
        chunk_size=chunk_size,
        drop_null_labels=drop,
        output=out,
        report_path=None if report_path is None else str(report_path),
        dry_run=dry_run,
        warnings=tuple(warnings),
        **rest,
    )
