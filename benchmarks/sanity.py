"""Alias kept for old commands: ``python benchmarks/sanity.py ARGS`` runs ``bench.py ARGS``."""

from __future__ import annotations

import runpy
from pathlib import Path

if __name__ == "__main__":
    runpy.run_path(str(Path(__file__).with_name("bench.py")), run_name="__main__")
