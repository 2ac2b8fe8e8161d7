"""The run report: one JSON object, written atomically like the data."""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InputOutputError
from .io import AtomicFile, fs

SCHEMA_VERSION = 1


def package_versions() -> dict[str, str]:
    """Versions of the tool and of the libraries that shape its output."""
    from importlib import metadata

    out = {"python": platform.python_version()}
    for dist in ("rebalance-cli", "polars", "pyarrow", "numpy", "scikit-learn", "typer", "rich"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "unknown"
    return out


@dataclass
class Report:
    """What a run did. ``to_dict()`` is the JSON document of semantics.md."""

    input: dict[str, Any]
    label: str
    label_dtype: str
    strategy: str
    parameters: dict[str, Any]
    plan: dict[str, Any]
    counts_before: dict[str, int]
    counts_after: dict[str, int]
    rows: dict[str, int]
    output: dict[str, Any] | None
    timings: dict[str, float]
    warnings: list[str] = field(default_factory=list)
    command: list[str] | None = None
    dry_run: bool = False
    extra: dict[str, Any] = field(default_factory=dict)  # groups, bags, split, settings

    @property
    def seed(self) -> int:
        return int(self.parameters["seed"])

    def to_dict(self) -> dict[str, Any]:
        versions = package_versions()
        return {
            "schema_version": SCHEMA_VERSION,
            "tool": {"name": "rebalance", "version": versions.pop("rebalance-cli")},
            "versions": versions,
            "command": self.command,
            "dry_run": self.dry_run,
            "input": self.input,
            "label": {"column": self.label, "dtype": self.label_dtype},
            "strategy": self.strategy,
            "parameters": self.parameters,
            "plan": self.plan,
            "class_counts": {"before": self.counts_before, "after": self.counts_after},
            "rows": self.rows,
            "output": self.output,
            "timings_s": {k: round(v, 4) for k, v in self.timings.items()},
            "warnings": self.warnings,
            **self.extra,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"


def write_report(report: Report, target: Path | None) -> AtomicFile:
    """Write the report to a temporary file beside ``target``; the caller commits."""
    sink = AtomicFile(target, what="report")
    try:
        fs.write_file(sink.tmp, report.to_json().encode("utf-8"))
    except OSError as exc:
        sink.discard()
        raise InputOutputError(f"cannot write the report: {exc.strerror or exc}") from None
    except BaseException:
        sink.discard()
        raise
    return sink
