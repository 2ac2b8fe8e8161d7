"""The version of rebalance: one constant, read by ``--version`` and by the packaging
(pyproject.toml takes it from here), so the command line needs no importlib.metadata."""

__version__ = "0.1.0"
