"""Default values shared by the Python API and the command line.

A module of constants only, so the command line can show them in ``--help``
without importing the engines (and polars, numpy, pyarrow with them).
"""

from __future__ import annotations

DEFAULT_CHUNK_SIZE = 65_536
DEFAULT_MAX_CLASSES = 1000
DEFAULT_MAX_OUTPUT_ROWS = 10_000_000_000
DEFAULT_INFER_SCHEMA_LENGTH = 10_000
