"""``rebalance apply``: rebalance a file with a registered strategy and the stages."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import typer

from .. import strategies as registry
from ..errors import UsageError
from ..phases import Observer
from .common import (
    command_line,
    engine_of,
    guarded,
    printing,
    read_options,
    settings_of,
    split_names,
)
from .config import require
from .render import console, is_terminal, show_apply


@contextmanager
def _progress(enabled: bool) -> Iterator[Observer | None]:
    """The phases of the run as a progress bar on stderr, on a terminal only."""
    if not enabled or not is_terminal(sys.stderr):
        yield None
        return
    from .progress import phase_bar

    with phase_bar(console(sys.stderr)) as bar:
        yield bar


def apply_cmd(ctx: typer.Context, data: str, config: str | None = None, **_: Any) -> None:
    """``rebalance apply``: its options are declared in :data:`.options.APPLY`."""
    from ..api import rebalance

    with guarded():
        settings = settings_of(ctx, "apply", config)
        o = {k: v["value"] for k, v in settings.items()}
        label = require(settings, "label", "--label", "apply")
        strategy = require(settings, "strategy", "--strategy", "apply")
        output = o["output"]
        as_json = o["as_json"]
        if as_json and output == "-":
            raise UsageError("--json and -o - both want stdout", hint="use --report FILE instead")
        quiet = o["quiet"]
        with _progress(not quiet and not as_json and output != "-") as progress:
            result = engine_of(o["engine"], o["spark_master"], rebalance)(
                data,
                output,
                label=label,
                strategy=strategy,
                target=o["target"],
                seed=o["seed"],
                options={opt.name: o[opt.name] for opt in registry.all_options()},
                bags=o["bags"],
                test_size=o["test_size"],
                test_output=o["test_output"],
                by=split_names(o["by"]),
                group_policy=o["group_policy"],
                shrinkage=o["shrinkage"],
                chunk_size=o["chunk_size"],
                read=read_options(
                    o["input_format"], o["separator"], o["encoding"], o["infer_schema_length"]
                ),
                output_format=o["output_format"],
                force=o["force"],
                dry_run=o["dry_run"],
                drop_null_labels=o["drop_null_labels"],
                shuffle=o["shuffle"],
                lenient=not o["strict"],
                max_classes=o["max_classes"],
                max_output_rows=o["max_output_rows"],
                report_path=o["report"],
                progress=progress,
                command=command_line(ctx),
                settings=settings,
            )
        with printing():
            show_apply(
                result,
                output=output,
                report_path=o["report"],
                as_json=as_json,
                dry_run=o["dry_run"],
                quiet=quiet,
            )
