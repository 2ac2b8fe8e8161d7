"""``--bags K``: K undersampled bags from one pass, each with a seed of its own.

The bag stage replaces the one row selector by K selectors (one per bag, on
seeds derived from the run's seed and recorded in the report) feeding K sinks.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..errors import UsageError

EXTENSIONS = {"tsv": "tsv", "csv": "csv", "parquet": "parquet", "ipc": "arrow"}


def derived_seed(seed: int, what: str, i: int) -> int:
    """A seed of its own for bag ``i``: recorded in the report, replayable alone."""
    digest = hashlib.blake2b(f"{seed}\x1f{what}\x1f{i}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 33  # 31 bits: easy to retype


def bag_seeds(seed: int, bags: int) -> tuple[int, ...]:
    return tuple(derived_seed(seed, "bag", b + 1) for b in range(bags))


def bag_paths(output: str, bags: int, fmt_flag: str | None, input_fmt: str) -> list[str]:
    """The file of every bag: OUT with ``{bag}`` replaced, or files in the folder OUT."""
    if "{bag}" in output:
        return [output.replace("{bag}", str(b)) for b in range(1, bags + 1)]
    if output.endswith(("/", os.sep)) or Path(output).is_dir():
        fmt = fmt_flag or input_fmt
        ext = EXTENSIONS.get(fmt, fmt)
        return [str(Path(output) / f"bag-{b}.{ext}") for b in range(1, bags + 1)]
    raise UsageError(
        f"--bags {bags} needs an output that holds {{bag}} or is a folder (got {output!r})",
        hint="e.g. -o 'bags/train-{bag}.parquet' or -o bags/",
    )
