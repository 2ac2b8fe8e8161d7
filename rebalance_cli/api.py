"""The public Python API: ``inspect``, ``rebalance`` and ``resample_frame``.

Each is a thin shim: its keyword arguments become one checked
:class:`~rebalance_cli.request.Request`, which the local engine runs. The
strategies (``rebalance_cli.strategies``) and stages (``rebalance_cli.stages``)
do the work; see docs/architecture.md.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from typing import Any

import polars as pl

from .classes import Distribution
from .columns import check_label
from .engines import local
from .errors import SeedDrawnWarning
from .io import ReadOptions, open_source
from .phases import Observer, Phases
from .plan import TargetSpec
from .report import Report
from .request import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_MAX_CLASSES,
    DEFAULT_MAX_OUTPUT_ROWS,
    from_keywords,
)


def inspect(
    data: str | os.PathLike[str],
    label: str,
    *,
    read: ReadOptions | None = None,
    max_classes: int | None = DEFAULT_MAX_CLASSES,
    progress: Observer | None = None,
) -> Distribution:
    """Count the classes of ``label`` in a file (or ``-`` for stdin).

    Its phases are ``spool`` (stdin), ``read`` and ``count``; ``progress`` hears of them.
    """
    phases = Phases.for_run(progress)
    source = open_source(data, read, phases=phases)
    try:
        with source.guard():
            lf, schema = local.read_schema(source, phases)
            check_label(schema, label, source.display)
            with phases.phase("count"):
                index = local.count_classes(lf, label, source.display, max_classes)
    finally:
        source.close()
    counts = index.counts
    majority = minority = None
    if counts:
        majority = index.tokens[counts.index(max(counts))]
        minority = index.tokens[counts.index(min(counts))]
    return Distribution(label, index.tokens, counts, index.nulls, majority, minority)


def rebalance(
    data: str | os.PathLike[str],
    output: str | os.PathLike[str] | None,
    *,
    label: str,
    strategy: str,
    target: str | float | dict[str, int] | TargetSpec | None = "auto",
    seed: int | None = None,
    k_neighbors: int = 5,
    features: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    id_columns: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    scale: str = "none",
    grow_with: str | None = None,
    weight_column: str | None = None,
    bags: int | None = None,
    test_size: float | str | None = None,
    test_output: str | os.PathLike[str] | None = None,
    by: Sequence[str] | None = None,
    group_policy: str = "keep",
    shrinkage: float | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    options: dict[str, Any] | None = None,
    read: ReadOptions | None = None,
    output_format: str | None = None,
    force: bool = False,
    dry_run: bool = False,
    drop_null_labels: bool = False,
    shuffle: bool = False,
    lenient: bool = False,
    max_classes: int | None = DEFAULT_MAX_CLASSES,
    max_output_rows: int | None = DEFAULT_MAX_OUTPUT_ROWS,
    report_path: str | os.PathLike[str] | None = None,
    progress: Observer | None = None,
    command: list[str] | None = None,
    settings: dict[str, Any] | None = None,
) -> Report:
    """Rebalance ``data`` into ``output`` (``-`` for stdout) and return the report.

    Nothing is written when ``dry_run`` is true. The output and the report are
    written to temporary files and renamed into place only when all succeeded.
    ``lenient`` drops rows with a null label and, for SMOTE, leaves rows with a
    null, NaN or infinite feature out of the seed pool, instead of failing.

    Beyond the three sampling strategies: ``strategy="weight"`` adds a weight
    column instead of changing rows; ``"hybrid"`` brings every class to the
    target, cutting the big ones and growing the small ones ``grow_with``
    oversample or smote; ``bags=K`` writes K undersampled bags in one pass;
    ``test_size`` holds out a stratified test split, untouched, in
    ``test_output``; ``by`` plans each group on its own.
    ``settings`` (effective option values and their sources) goes into the report.
    ``progress`` is called with every :class:`~rebalance_cli.phases.PhaseEvent` of the
    run (phases started, progress inside them, phases ended), from the thread doing
    the work; an exception it raises ends the run.
    """
    keywords = {k: v for k, v in locals().items() if k != "data"}
    return local.run(from_keywords(keywords), data)


def resample_frame(
    frame: pl.DataFrame,
    *,
    label: str,
    strategy: str,
    target: str | float | dict[str, int] | TargetSpec | None = "auto",
    seed: int | None = 0,
    k_neighbors: int = 5,
    features: Sequence[str] | None = None,
    exclude: Sequence[str] | None = None,
    id_columns: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    scale: str = "none",
    grow_with: str | None = None,
    weight_column: str | None = None,
    by: Sequence[str] | None = None,
    group_policy: str = "keep",
    shrinkage: float | None = None,
    drop_null_labels: bool = False,
    lenient: bool = False,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    options: dict[str, Any] | None = None,
) -> pl.DataFrame:
    """Rebalance an in-memory frame; the same rows, in the same order, as ``rebalance``.

    For notebooks, cross-validation folds and other engines: no file is read or
    written. Errors are the exceptions of :mod:`rebalance_cli.errors`.

    ``seed`` is 0 by default, so a call is reproducible as it stands. ``seed=None``
    draws a fresh seed for each call, as the command line does, and says which in a
    :class:`~rebalance_cli.errors.SeedDrawnWarning` ("resample_frame drew seed 123...;
    pass seed=123... to get these rows again"); to keep it, catch the warning or pass
    a seed of your own.
    """
    keywords = {k: v for k, v in locals().items() if k != "frame"}
    request = from_keywords({**keywords, "file_run": False, "max_classes": None})
    out = local.run_frame(request, frame)
    if request.seed_source == "drawn":
        warnings.warn(
            f"resample_frame drew seed {request.seed}; pass seed={request.seed} to get these "
            "rows again",
            SeedDrawnWarning,
            stacklevel=2,
        )
    return out
