"""The Spark engine: the one program of engines/program.py, run inside ``mapInArrow``.

The driver does what every engine does (``driver.prepare``): pass 1 is one
``groupBy(spark_partition_id(), *by, label).count()``, collected into the
local ``Layout`` (``cells.counts_layout``); the plan, the program and the
report are the local ones. Pass 2 runs the program in every partition: the
partition's runner is first moved to the position of its first row within
every cell (``Program.positions``: one pass on the driver over the
per-partition counts; ``Runner.move_to`` in the partition), then fed each
Arrow batch with its cell codes. A row's fate depends only on
(seed, stream, cell, position in cell), so every partitioning gives the local
rows, in the local order.

One ``mapInArrow`` per sink (the output, the test split, each bag) and one for
the pool of the cells a synthesiser grows: the program is deterministic, so
each pass selects the same rows. The pool is collected to the driver in input
order and synthesised there; the new rows follow the input rows, as locally.

Row order is (partition, row within partition): for one file read by Spark,
the file order however it is split. Every partition checks that it held the
rows pass 1 counted, so an input whose order changes between two reads fails
instead of giving other rows.

The one approximate path: a grown cell larger than ``smote_driver_rows`` is
synthesised within each partition (neighbours from the same partition only;
the counts stay exact), with a warning. It needs a synthesiser that declares
its ``seeds()`` (and makes ``reseeded`` copies; its messages about bad seed rows
are its own) and runs without ``--by`` and ``--test-size``.

pyspark is imported inside the functions, so the base install needs no JVM.
"""

from .api import inspect_spark, rebalance_spark, resample_dataframe, resample_spark
from .run import allocate, partition_seed
from .session import get_session, spark_available

__all__ = [
    "allocate",
    "get_session",
    "inspect_spark",
    "partition_seed",
    "rebalance_spark",
    "resample_dataframe",
    "resample_spark",
    "spark_available",
]
