"""What a strategy is: the protocol every sampler module implements, and its options.

A strategy is a declaration plus a few hooks. The declaration (name, kind,
direction, options, engines, ...) is read by the command line (flags, help,
"ignored flag" warnings), by the request checks, by ``evaluate --strategies``
and by both engines; nothing outside a strategy's module branches on its name.

The hooks are called by the run, in this order (every one has a default that
does nothing, so a simple sampler is a declaration and little more):

    check(options, warnings)           the request, before any data is read
    setup(ctx) -> Setup                the input's schema is known: columns, refusals
    cell_check(cls, n, t)              every planned cell: refuse an impossible one
    streams(before, after)             the random stream of each cell
    program parts                      Setup.grow / weights / synthesiser
    report(setup, outcome)             the strategy's section of the report

Room for what comes next: ``needs`` says which rows a strategy must see
before it writes (``"grown"``: the rows of the cells it grows, pooled during
pass 2, as SMOTE; ``"all"``: every row's features before pass 2, as cleaning
samplers such as Tomek links and ENN need), and ``exact_counts`` is false for
samplers whose counts are only known after fitting. ``parts`` names the
strategies a composite chains (hybrid is undersample + oversample or smote).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from ..phases import Phases

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

Kind = Literal["select", "synthesise", "weight", "clean", "composite"]
Direction = Literal["under", "over", "both"]
Needs = Literal["nothing", "grown", "all"]
TARGET_KINDS: frozenset[str] = frozenset({"keyword", "ratio", "counts", "size"})


@dataclass(frozen=True)
class Option:
    """One option of a strategy: its flag, help, type and default, and its own check.

    ``owner`` is how the "ignored" warning names who uses it ("smote",
    "hybrid", "--strategy weight"); ``also`` lists stages that use it too
    (``--features`` serves ``--shrinkage``), so giving it to them is no warning.
    """

    name: str
    flag: str
    help: str
    type: type = str
    default: Any = None
    short: str | None = None
    owner: str = ""
    listed: bool = False  # comma-separated column names
    also: tuple[str, ...] = ()
    check: Callable[[Any], None] | None = None
    metavar: str | None = None
    choices: tuple[
        Any, ...
    ] = ()  # the values it takes, when they are few (``check`` refuses others)

    def given(self, value: Any) -> bool:
        """Whether a value differs from "not given" (the default)."""
        return value is not None and value != self.default


@dataclass
class SetupContext:
    """What a strategy sees once the input's schema is known."""

    schema: pl.Schema
    label: str
    by: list[str]
    options: Mapping[str, Any]
    target: Any  # the parsed --target (plan.TargetSpec)
    seed: int
    lenient: bool


@dataclass
class Outcome:
    """What a run learns while it streams (a synthesiser's findings), for the report;
    and ``phases``, where a synthesiser announces its work (the neighbour search)."""

    warnings: list[str]
    written: list[int] = field(default_factory=list)
    knn: dict[str, str] = field(default_factory=dict)
    categorical: set[str] = field(default_factory=set)
    left_out_columns: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    phases: Phases = field(default_factory=Phases)


class Cleaner:
    """Decides which rows of the cleaned cells go, from every row's features (``needs
    = "all"``). The driver reads ``columns`` of every row that takes part (the train
    rows, with a split) in input order before pass 2, as float64 (null: NaN), and the
    rows ``fit`` drops are dropped in pass 2 by (cell, position in cell)."""

    columns: list[str]

    def fit(
        self, x: np.ndarray, codes: np.ndarray, cells: CleanCells, outcome: Outcome
    ) -> np.ndarray:
        """A keep flag per row of ``x`` (rows of cells that are not cleaned must be kept)."""
        raise NotImplementedError


@dataclass(frozen=True)
class CleanCells:
    """What a cleaner is told of the cells: which are cleaned, the group of each (rows
    are compared within their group only), and how messages name each."""

    cleaned: np.ndarray  # bool per cell
    group: np.ndarray  # int per cell
    shown: tuple[str, ...]


@dataclass(frozen=True)
class Seeds:
    """What a synthesiser needs of the rows it grows from, for an engine that must check
    them itself (Spark, growing a cell too big for the driver within partitions)."""

    columns: tuple[str, ...]  # a row with a null, NaN or infinite value here cannot seed
    lenient: bool  # such rows are left out (with ``left_out``), else ``bad_seed`` is raised
    min_rows: int  # the fewest usable rows a pool needs (SMOTE: k + 1)
    seed: int  # --seed, from which each partition's own seed is drawn


class Synthesiser:
    """Makes new rows for the cells a strategy grows, from their pooled input rows.

    ``section`` is its key in the engine's part of the report, ``timing`` the key of
    the seconds it took in the report's timings. A synthesiser that
    can grow a cell within each Spark partition returns its ``seeds`` and makes
    ``reseeded`` copies; the messages about bad seed rows are its own (both
    engines use them).
    """

    section: ClassVar[str] = "synthesis"
    timing: ClassVar[str] = "synthesis"

    def prepare(self, pool: pl.DataFrame, cell: Any, new_rows: int, outcome: Outcome) -> Any:
        raise NotImplementedError

    def batches(self, prepared: Any, schema: pl.Schema, size: int) -> Iterator[pl.DataFrame]:
        raise NotImplementedError

    def seeds(self) -> Seeds | None:
        """Its rule for seed rows, or None: it cannot grow a cell within partitions."""
        return None

    def reseeded(self, seed: int) -> Synthesiser:
        """The same synthesiser on another seed (one partition's)."""
        raise NotImplementedError

    def bad_seed(self, column: str, count: int, cls: str) -> Exception:
        """The error for ``count`` bad values of ``column`` in class ``cls`` (not lenient)."""
        raise NotImplementedError

    def left_out(self, count: int, cls: str) -> str:
        """The warning for ``count`` rows of class ``cls`` left out of the seeds (lenient)."""
        raise NotImplementedError


@dataclass
class Setup:
    """A strategy's decisions about one input: which cells grow, extra columns, parameters."""

    parameters: dict[str, Any] = field(default_factory=dict)
    synthesiser: Synthesiser | None = None
    weight_column: str | None = None  # a weighting strategy's new column
    cleaner: Cleaner | None = None  # a cleaning strategy's (needs "all")
    cell_check: Callable[[str, int, int], None] | None = None


class Strategy:
    """The protocol of a strategy module. Subclass it and register one instance."""

    name: ClassVar[str]
    summary: ClassVar[str]  # one line for --help and the README
    kind: ClassVar[Kind]
    direction: ClassVar[Direction]
    exact_counts: ClassVar[bool] = True  # false: the driver may fit its counts (a cleaner)
    engines: ClassVar[frozenset[str]] = frozenset({"local", "spark"})
    options: ClassVar[tuple[Option, ...]] = ()
    needs: ClassVar[Needs] = "nothing"
    target_kinds: ClassVar[frozenset[str]] = TARGET_KINDS
    weighs: ClassVar[bool] = False  # targets are total weights, rows are not changed
    evaluable: ClassVar[bool] = True  # offered by `evaluate --strategies`
    evaluated_by_default: ClassVar[bool] = True  # and run by `evaluate` without --strategies
    parts: ClassVar[tuple[str, ...]] = ()  # a composite's strategies
    grows_rows: ClassVar[bool] = False  # duplicates rows (so --shrinkage can jitter them)
    random: ClassVar[bool] = True  # its rows depend on --seed (cleaners and weights do not)

    def uses(self, options: Mapping[str, Any]) -> set[str]:
        """The options this request uses (a composite may use a part's options)."""
        return {o.name for o in self.options}

    def grows_by_duplicates(self, options: Mapping[str, Any]) -> bool:
        """Whether the rows it adds are copies of input rows (``--shrinkage`` jitters those)."""
        return self.grows_rows

    def check(self, options: Mapping[str, Any], warnings: list[str]) -> None:
        """Refuse option values that do not fit, before any data is read."""

    def setup(self, ctx: SetupContext) -> Setup:
        """Decide what this input needs (columns, refusals); the schema is known."""
        return Setup()

    def streams(self, before: Sequence[int], after: Sequence[int]) -> list[str]:
        """The random stream of each cell (a cell's rows draw their keys from it)."""
        return [self.name] * len(before)

    def report(self, setup: Setup, outcome: Outcome | None) -> dict[str, Any]:
        """The strategy's entries in the report's ``parameters``."""
        return dict(setup.parameters)

    def weights(self, plan_weights: Sequence[float] | None) -> np.ndarray | None:
        """A weight per cell, for a weighting strategy."""
        return None

    def __repr__(self) -> str:
        return f"<strategy {self.name}>"
