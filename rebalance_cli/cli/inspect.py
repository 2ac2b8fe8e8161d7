"""``rebalance inspect``: the class distribution of a label column, and a CI gate."""

from __future__ import annotations

import math
import sys
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from ..api import Distribution
from ..errors import CheckFailed, UsageError
from .common import (
    engine_of,
    guarded,
    printing,
    read_options,
    settings_of,
)
from .config import require
from .render import show_distribution


def inspect_cmd(ctx: typer.Context, data: str, config: str | None = None, **_: Any) -> None:
    """``rebalance inspect``: its options are declared in :data:`.options.INSPECT`."""
    import json

    from ..api import inspect

    with guarded():
        settings = settings_of(ctx, "inspect", config)
        o = {k: v["value"] for k, v in settings.items()}
        label = require(settings, "label", "--label", "inspect")
        max_ratio = o["max_ratio"]
        if max_ratio is not None and not (math.isfinite(max_ratio) and max_ratio >= 1):
            raise UsageError(f"--max-ratio must be a finite number of at least 1 (got {max_ratio})")
        dist = engine_of(o["engine"], o["spark_master"], inspect)(
            data,
            label,
            read=read_options(
                o["input_format"], o["separator"], o["encoding"], o["infer_schema_length"]
            ),
            max_classes=o["max_classes"],
        )
        with printing():
            if o["as_json"]:
                doc = dist.to_dict()
                if max_ratio is not None:
                    doc["max_ratio"] = max_ratio
                doc["settings"] = settings
                sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
            else:
                show_distribution(dist)
        if max_ratio is not None:
            check_ratio(dist, max_ratio)


def check_ratio(dist: Distribution, max_ratio: float) -> None:
    """The ``--max-ratio`` gate, closed when the ratio is undefined: no labelled row,
    or a single class, fails it rather than passing it by default."""
    if not dist.counts:
        nulls = (
            f" ({dist.nulls:,} null label{'s' if dist.nulls != 1 else ''})" if dist.nulls else ""
        )
        raise CheckFailed(
            f"no row has a label{nulls}: the imbalance ratio is undefined, so "
            f"--max-ratio {max_ratio:g} cannot pass"
        )
    if len(dist.counts) == 1:
        raise CheckFailed(
            f"only one class {dist.classes[0]!r}: the imbalance ratio is undefined, so "
            f"--max-ratio {max_ratio:g} cannot pass"
        )
    ratio = dist.imbalance_ratio
    assert ratio is not None
    if ratio > max_ratio:
        raise CheckFailed(
            f"imbalance ratio {ratio:.4g} ({dist.majority} over {dist.minority}) "
            f"exceeds --max-ratio {max_ratio:g}"
        )
