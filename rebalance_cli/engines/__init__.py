"""Engines: where pass 1 and pass 2 run. Both run the one program of engines/program.py.

    local   polars in this process (engines/local.py)
    spark   a Spark DataFrame, the program inside mapInArrow (engines/spark/)

An engine opens the input, counts the cells (pass 1), answers the per-cell
queries a stage needs before pass 2 (``cell_std``), pools the rows a
synthesiser needs, and feeds every batch of the input in order to a
:class:`~rebalance_cli.engines.program.Runner`, writing what comes out.
"""
